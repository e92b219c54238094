"""Reply by voice, kernel side (issue 19): which answers offer a recorder, and what a recording
sent from it becomes: the next turn, with the cell's model, voice and options, answered under it
with a recorder of its own. What the page does with it: tests/ui/test_voice.py."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.utils.capture import capture_output

from omni_magic.notebook import reply
from omni_magic.notebook.recorder import RATE

from conftest import magics, requests_seen, run


@pytest.fixture
def offered(monkeypatch):
    """Every Reply shown, in order."""
    shown: list[reply.Reply] = []
    original = reply.Reply.show

    def show(self):
        shown.append(self)
        return original(self)

    monkeypatch.setattr(reply.Reply, "show", show)
    yield shown
    for r in shown:
        r.box.close()
        r.recorder.close()


def speak(recorder, seconds: float) -> None:
    """What the page sends for ``seconds`` of a tone: start, PCM in ~0.25 s messages, stop."""
    t = np.arange(int(seconds * RATE)) / RATE
    pcm = (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()
    recorder._message(recorder, {"type": "start"}, [])
    for at in range(0, len(pcm), RATE // 2):
        recorder._message(recorder, {"type": "pcm"}, [pcm[at:at + RATE // 2]])
    recorder._message(recorder, {"type": "stop", "limit": False}, [])


@pytest.fixture
def page(ip):
    """The shell as a page with widgets and live speech would be."""
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    ip.run_line_magic("config", "OmniMagics.live_audio = True")
    return ip


def test_a_spoken_answer_in_a_page_offers_a_reply_and_a_text_one_does_not(page, offered):
    run(page, "-v Ethan", "Why is the sky blue?")
    assert len(offered) == 1
    run(page, "--text-only", "Say it shorter.")
    assert len(offered) == 1  # no speech: nobody is listening to answer back


@pytest.mark.parametrize("setting", ["OmniMagics.display_mode = 'text'", "OmniMagics.live_audio = False"])
def test_no_reply_in_a_terminal_or_a_headless_run(page, offered, setting):
    page.run_line_magic("config", setting)  # the demo runner turns live speech off
    run(page, "", "Why is the sky blue?")
    assert offered == []


def test_a_recording_is_the_next_turn_with_the_cells_model_voice_and_options(page, offered):
    run(page, "-m qwen3-omni-flash -v Ethan --max-tokens 300 --system 'You teach children.'",
        "Why is the sky blue?")
    first = offered[0]
    with capture_output():
        speak(first.recorder, 2.0)
    conversation = magics(page).conversation
    assert requests_seen(page) == 2 and len(conversation) == 2
    turn = conversation.turns[1]
    assert [p["type"] for p in turn.user["content"]] == ["input_audio"]  # the voice, no text
    assert turn.model == "qwen3-omni-flash"
    body = first.response.request
    assert body["model"] == "qwen3-omni-flash" and body["audio"]["voice"] == "Ethan"
    assert body["max_tokens"] == 300
    assert body["messages"][0] == {"role": "system", "content": "You teach children."}
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert "2.0 seconds" in first.response.text and first.response.audio_chunks
    # The reply's answer has a recorder of its own: a chain of replies.
    assert len(offered) == 2
    with capture_output():
        speak(offered[1].recorder, 1.0)
    assert len(conversation) == 3 and "1.0 seconds" in offered[1].response.text
    history = repr(_history(page))
    assert "3 turns" in history
    assert "(audio 1.0 s: your reply)" in history  # a turn said in sound, not words


def test_a_refused_reply_says_why_where_the_answer_would_be(page, offered):
    run(page, "", "Why is the sky blue?")
    with capture_output() as cap:
        offered[0].send(np.zeros(0, dtype=np.int16))  # samples with no rate: refused, not sent
    shown = "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "Traceback" not in shown and "--rate" in shown
    assert len(magics(page).conversation) == 1 and requests_seen(page) == 1


def _history(shell):
    from omni_magic.notebook import view

    return view.Table.history(magics(shell).conversation)


def test_the_next_cell_turns_earlier_recorders_into_their_replies(page, offered):
    """A saved notebook cannot show a widget without its kernel, and keeps nothing of an Output
    widget: when another cell starts, each recorder gives its place to static outputs."""
    run(page, "", "Why is the sky blue?")
    first = offered[0]
    with capture_output():
        speak(first.recorder, 1.5)
    nested = offered[1]
    updates = []
    first._handle = type("Handle", (), {"update": lambda self, obj: updates.append(obj)})()
    with capture_output():
        page.run_cell("1 + 1")  # any cell: pre_run_cell retires what was shown before it
    assert len(updates) == 1
    html_ = updates[0]._repr_html_()
    assert "You replied by voice</b> (1.5 s)" in html_ and "1.5 seconds" in html_ and "<audio" in html_
    assert first.recorder.comm is None and nested.recorder.comm is None  # closed, both
    assert not magics(page)._replies
