"""The live answer, kernel side (issue 16): what the page is sent, and when; the widget's place
at the end; the handover of the speech; an interrupt. What the page does with it is the browser
test's (tests/ui/test_browser.py); the bundle's own functions are tests/test_bundle.py's."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from IPython.utils.capture import capture_output

from omni_magic import tokens
from omni_magic.events import AudioDelta, ReasoningDelta, TextDelta
from omni_magic.notebook.answer import PLACEHOLDER, LiveAnswer
from omni_magic.notebook.live import REDRAW_INTERVAL, WidgetView
from omni_magic.response import OmniResponse

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def sent(monkeypatch):
    """Every comm message the live answers send: (content, buffers)."""
    messages = []
    monkeypatch.setattr(LiveAnswer, "send",
                        lambda self, content, buffers=None: messages.append((content, buffers)))
    return messages


class Clock:
    """Time that moves only when told: message counts independent of the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def deltas(sent) -> list[dict]:
    return [content for content, _ in sent if content["type"] == "delta"]


def streamed(sent, field: str = "text") -> str:
    return "".join(d[field] for d in deltas(sent))


@pytest.fixture
def view(ip, sent):
    clock = Clock()
    live = WidgetView("emulator", clock=clock, speech=True)
    response = OmniResponse("qwen3-omni-flash", voice="Cherry")
    with capture_output() as cap:
        live.start(response)
    assert WIDGET in cap.outputs[0].data and cap.outputs[0].data["text/plain"] == PLACEHOLDER

    def feed(event) -> None:
        response.feed(event)
        live.update(event)

    yield live, response, clock, feed
    live.widget.retire()


# -- append, don't resend --------------------------------------------------------------------------

def test_the_page_gets_each_piece_of_text_once_in_at_most_twenty_messages_a_second(view, sent):
    live, response, clock, feed = view
    for i in range(2000):  # 2,000 chunks in one simulated second
        clock.now = i / 2000
        feed(TextDelta(f"w{i} "))
    response.close()
    with capture_output():
        live.finish(response, show_usage=False, autoplay=False)
    assert len(deltas(sent)) <= 1 / REDRAW_INTERVAL + 3  # the start, ~20 a second, the end
    assert streamed(sent) == response.text  # nothing lost, nothing twice
    assert sum(len(d["text"]) for d in deltas(sent)) == len(response.text)


def test_text_held_back_goes_with_the_next_event_of_any_kind(view, sent):
    live, response, clock, feed = view
    feed(TextDelta("Hello"))
    clock.now += REDRAW_INTERVAL / 10
    feed(TextDelta(" world"))  # too soon: held back
    assert streamed(sent) == "Hello"
    clock.now += REDRAW_INTERVAL
    feed(AudioDelta(base64.b64encode(b"\x00\x00").decode()))  # speech keeps flowing
    assert streamed(sent) == "Hello world"
    count = len(deltas(sent))
    clock.now += REDRAW_INTERVAL
    feed(AudioDelta(base64.b64encode(b"\x00\x00").decode()))
    assert len(deltas(sent)) == count  # nothing new: no message


def test_reasoning_and_answer_go_apart_each_message_with_the_status_line(ip, sent):
    clock = Clock()
    live = WidgetView("emulator", clock=clock, thinking=True)
    response = OmniResponse("qwen3.8-omni-flash")
    with capture_output():
        live.start(response)
    for i, event in enumerate([ReasoningDelta("Let me think."), TextDelta("**Blue**, because")]):
        clock.now = i
        response.feed(event)
        live.update(event)
    assert live.widget.thinking and not live.widget.speech
    assert streamed(sent, "reasoning") == "Let me think." and streamed(sent) == "**Blue**, because"
    assert all(d["status"].startswith("qwen3.8-omni-flash") for d in deltas(sent))
    live.widget.retire()


def test_the_live_rate_never_tokenises_the_whole_text_again(view, sent, monkeypatch):
    live, response, clock, feed = view
    counted = []
    real = tokens.text_tokens
    monkeypatch.setattr(tokens, "text_tokens", lambda text, model=None: counted.append(len(text))
                        or real(text, model))
    for i in range(3000):
        clock.now = i / 100  # the view's clock: 30 s of messages to the page
        feed(TextDelta("word "))
    response.started_at -= 30  # and the response's: the rate is shown once it means something
    response.first_token_at -= 30
    clock.now += 1
    feed(TextDelta("end."))
    assert sum(counted) <= 2 * len(response.text)  # linear: each delta once (O(n²) before)
    assert re.search(r"≈\d+ tok/s", deltas(sent)[-1]["status"])


# -- speech --------------------------------------------------------------------------------------

def test_speech_goes_out_whole_samples_at_a_time_however_it_is_cut(sent):
    pcm = np.arange(-500, 500, dtype="<i2").tobytes()
    widget = LiveAnswer(speech=True)
    for piece in [pcm[:3], pcm[3:1001], pcm[1001:1002], pcm[1002:]]:  # cut inside samples
        widget.pcm(base64.b64encode(piece).decode())
    chunks = [b[0] for c, b in sent if c["type"] == "pcm"]
    assert all(len(c) % 2 == 0 for c in chunks) and b"".join(chunks) == pcm
    widget.pcm(b"\x01\x00\x02\x00")  # PCM a dialect already decoded passes as it is
    assert sent[-1][1][0] == b"\x01\x00\x02\x00"
    widget.retire()


def test_the_first_chunk_sets_the_rate_a_server_speaks_at(sent):
    widget = LiveAnswer(speech=True)
    widget.pcm(b"\x00\x00", 16000)
    widget.pcm(b"\x00\x00", 16000)
    assert widget.sample_rate == 16000
    widget.retire()


def run(ip, line, cell="Say hello"):
    with capture_output() as cap:
        result = ip.run_cell(f"%%omni {line}\n{cell}")
    return cap, result


def test_one_voice_the_static_audio_element_takes_the_speech_over(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    ip.run_line_magic("config", "OmniMagics.autoplay = True")  # asked for, and still one voice
    cap, _ = run(ip, "--out reply")
    reply = ip.user_ns["reply"]
    live = ip.magics_manager.registry["OmniMagics"]._live
    assert b"".join(b[0] for c, b in sent if c["type"] == "pcm") == reply.audio.tobytes()
    assert live.done and not live.ended and live.comm is not None  # speaking on in the page
    # The widget's place became the static answer (a display update), and the audio element
    # below names the live answer it takes over from; it never autoplays (one voice).
    assert any(o.update and "text/markdown" in o.data for o in cap.outputs)
    audio = [o.data["text/html"] for o in cap.outputs if "<audio" in o.data.get("text/html", "")]
    assert len(audio) == 1 and f'data-omni-speech="{live.key}"' in audio[0]
    assert "autoplay" not in audio[0]
    with capture_output():
        live.ended = True  # the page handed over (or played to the end)
    assert live.comm is None


@pytest.fixture
def shown_widgets(monkeypatch):
    """Every live answer shown, in order."""
    widgets = []
    real = LiveAnswer.show
    monkeypatch.setattr(LiveAnswer, "show", lambda self: widgets.append(self) or real(self))
    return widgets


def test_a_text_only_answer_closes_its_widget_when_it_ends(ip, sent, shown_widgets):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    run(ip, "")
    speaking = ip.magics_manager.registry["OmniMagics"]._live
    cap, _ = run(ip, "--text-only")
    assert shown_widgets[-1].comm is None  # its place is static: nothing left open
    assert speaking.comm is not None  # the earlier answer's speech plays on
    assert not any('data-omni-speech' in o.data.get("text/html", "") for o in cap.outputs)


def test_speech_of_a_stream_cut_short_is_handed_over_too(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    run(ip, "--text-only")  # starts the embedded emulator
    ip.magics_manager.registry["OmniMagics"]._client._emulator.inject("disconnect:after=30")
    cap, _ = run(ip, "--out cut", "Tell me about rivers.")
    assert ip.user_ns["cut"].error is not None and ip.user_ns["cut"].audio_chunks
    live = ip.magics_manager.registry["OmniMagics"]._live
    audio = [o.data["text/html"] for o in cap.outputs if "<audio" in o.data.get("text/html", "")]
    assert audio and f'data-omni-speech="{live.key}"' in audio[0]  # not a second voice
    assert {"type": "stop"} not in [c for c, _ in sent]


def test_a_new_spoken_answer_stops_the_previous_one(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    run(ip, "")
    first = ip.magics_manager.registry["OmniMagics"]._live
    run(ip, "")
    assert first.comm is None and ip.magics_manager.registry["OmniMagics"]._live is not first


@pytest.mark.parametrize("line, config", [
    ("--text-only", ""),
    ("-m qwen3-omni-flash --think", ""),
    ("", "OmniMagics.live_audio = False"),
])
def test_no_speech_is_sent_to_the_page_without_speech_or_consent(ip, sent, line, config):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    if config:
        ip.run_line_magic("config", config)
    run(ip, line)
    assert [c for c, _ in sent if c["type"] == "pcm"] == []


def test_live_audio_follows_the_environment(monkeypatch):
    from omni_magic.notebook.magics import OmniMagics

    monkeypatch.setenv("OMNI_LIVE_AUDIO", "0")
    assert OmniMagics().live_audio is False
    monkeypatch.setenv("OMNI_LIVE_AUDIO", "1")
    assert OmniMagics().live_audio is True


# -- stop means stop -------------------------------------------------------------------------------

class Interrupting:
    """A stream that raises KeyboardInterrupt after ``after`` events, as Ctrl-C / Interrupt does."""

    def __init__(self, events, after: int) -> None:
        self.events, self.after = events, after

    def __iter__(self):
        for i, event in enumerate(self.events):
            if i == self.after:
                raise KeyboardInterrupt
            yield event

    def close(self) -> None:
        self.events.close()


@pytest.fixture
def interrupting(ip, monkeypatch):
    from omni_magic.client import OmniClient

    real = OmniClient.send
    monkeypatch.setattr(OmniClient, "send", lambda self, request, **kw: Interrupting(
        real(self, request, **kw), after=40))
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")


def test_an_interrupt_silences_the_page_at_once_and_says_so_once(ip, sent, interrupting,
                                                                 monkeypatch):
    replaced_at = []
    real = LiveAnswer.replace
    monkeypatch.setattr(LiveAnswer, "replace", lambda self, output: replaced_at.append(len(sent))
                        or real(self, output))
    cap, result = run(ip, "--out reply", "Tell me about rivers.")
    reply = ip.user_ns["reply"]
    assert result.error_in_exec is None and reply.audio_chunks and reply.text
    kinds = [c["type"] for c, _ in sent]
    assert "stop" in kinds[:replaced_at[0]]  # silenced before the static outputs take its place
    shown = " ".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert shown.count("Interrupted") == 1 and "Interrupted: The stream was stopped" in shown
    audio = [o.data["text/html"] for o in cap.outputs if "<audio" in o.data.get("text/html", "")]
    assert audio and "data-omni-speech" not in audio[0]  # nothing is handed over: it stopped


def test_save_after_an_interrupt_keeps_an_earlier_complete_file(ip, sent, interrupting, tmp_path):
    target = tmp_path / "answer.wav"
    target.write_bytes(b"an earlier, complete answer")
    cap, _ = run(ip, f"--save {target}", "Tell me about rivers.")
    assert target.read_bytes() == b"an earlier, complete answer"
    partial = tmp_path / "answer.partial.wav"
    assert partial.exists()
    shown = " ".join(str(o.data) for o in cap.outputs)
    assert "cut short" in shown and "answer.partial.wav" in shown and " s of speech so far" in shown
