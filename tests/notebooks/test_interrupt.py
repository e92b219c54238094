"""Interrupting a real kernel mid-answer (SIGINT, as the stop button sends it).

The kernel streams from an emulator in this process, slowed down so that the
interrupt lands in the middle of the answer. What must hold: the stream stops at
once and its connection is closed (the emulator sees the client hang up), the
partial answer and speech stay on screen and in ``--out`` and ``_``, and the next
cell works.
"""

from __future__ import annotations

import time

import pytest

from omni_magic.emulator import Emulator, Pacing

from conftest import execute, iopub, printed

LONG_PROMPT = "Tell me everything about " + "the history of notebooks, " * 8


@pytest.fixture
def emulator():
    with Emulator(auth=False, pacing=Pacing(first_token=0.05, per_chunk=0.08)) as server:
        yield server


def custom(msg: dict) -> dict:
    """The live answer's message to the page (``{"type": "delta", ...}``), or {}."""
    data = msg["content"].get("data", {}) if msg["msg_type"] == "comm_msg" else {}
    return data.get("content", {}) if data.get("method") == "custom" else {}


class AnswerDrawn:
    """True once the deltas sent to the page add up to a few words of the answer."""

    def __init__(self) -> None:
        self.text = ""

    def __call__(self, msg: dict) -> bool:
        if custom(msg).get("type") == "delta":
            self.text += custom(msg)["text"]
        return len(self.text.split()) >= 4


def test_an_interrupt_stops_the_stream_and_keeps_the_partial_answer(emulator, kernel):
    manager, client = kernel
    reply, _ = execute(client, f"%load_ext omni_magic\n%config OmniMagics.base_url = {emulator.base_url!r}")
    assert reply["status"] == "ok"

    msg_id = client.execute(f"%%omni --out partial\n{LONG_PROMPT}")
    drawn = AnswerDrawn()
    iopub(client, msg_id, 60, until=drawn)
    assert len(drawn.text.split()) >= 4  # the answer is on screen and growing
    manager.interrupt_kernel()
    after = iopub(client, msg_id, 30)
    # The page is told to go silent at once, before the static outputs take the widget's place.
    kinds = [custom(m).get("type") or m["msg_type"] for m in after]
    assert "stop" in kinds and kinds.index("stop") < kinds.index("update_display_data")
    reply = client.get_shell_msg(timeout=30)["content"]
    assert reply["status"] == "ok"  # handled: no traceback for the user

    # The connection was closed at once: the emulator saw its client hang up mid-answer.
    deadline = time.monotonic() + 10
    while emulator.abandoned_count < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.abandoned_count == 1

    # The partial answer replaced the live widget as static Markdown, with speech and the note.
    final = [m["content"]["data"] for m in after if m["msg_type"] == "update_display_data"]
    assert final and "text/markdown" in final[-1]
    partial_md = final[-1]["text/markdown"]
    assert "This is the omni_magic" in partial_md
    shown = [m["content"]["data"] for m in after if m["msg_type"] == "display_data"]
    assert any("<audio" in d.get("text/html", "") for d in shown)
    assert any("Interrupted" in d.get("text/plain", "") for d in shown)

    reply, messages = execute(client, "print(type(partial.error).__name__, partial.finish_reason, "
                                  "_ is partial, len(partial.text), partial.audio_seconds > 0)")
    said = printed(messages)
    name, finish, underscore, length, speech = said.split()
    assert (name, finish, underscore, speech) == ("Interrupted", "None", "True", "True")
    full_length = len(partial_md.split("\n", 2)[-1])  # what was shown: the same partial text
    assert 0 < int(length) <= full_length

    # The next cell works, on the same client.
    reply, messages = execute(client, "%%omni --text-only --out again\nStill there?")
    assert reply["status"] == "ok"
    reply, messages = execute(client, "print(again.error, again.finish_reason)")
    assert printed(messages).split() == ["None", "stop"]
