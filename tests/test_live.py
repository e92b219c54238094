"""The status line, and the plain-text view (the widget view: tests/test_live_answer.py)."""

from __future__ import annotations

import io
import re

from omni_magic.events import ReasoningDelta, TextDelta, Usage
from omni_magic.notebook.live import TextView
from omni_magic.notebook.status import status_line
from omni_magic.response import OmniResponse


def feed(view, response, event) -> None:
    response.feed(event)
    view.update(event)


def test_status_line_names_model_voice_first_token_rate_and_elapsed():
    response = OmniResponse("qwen3-omni-flash", voice="Cherry")
    assert "waiting for the first token" in status_line(response, "emulator", streaming=True)
    response.feed(TextDelta("one two three four"))
    assert "tok/s" not in status_line(response, "emulator", streaming=True)  # too soon to tell
    response.started_at -= 1.0  # a second of streaming later
    response.first_token_at -= 1.0
    live = status_line(response, "emulator", streaming=True)
    assert live.startswith("qwen3-omni-flash · Cherry · first token ")
    assert re.search(r" · ≈[4-6] tok/s · 1\.0 s · emulator · streaming…$", live)
    response.feed(Usage({
        "completion_tokens": 60, "prompt_tokens": 1, "total_tokens": 61,
        "completion_tokens_details": {"audio_tokens": 20, "text_tokens": 40}}))
    response.first_token_at = response.started_at + 0.5
    response.finished_at = response.started_at + 2.5
    final = status_line(response, "emulator")
    assert "first token 500 ms" in final and "20 tok/s" in final and "2.5 s" in final
    # The reported text tokens (speech left out, as in the live estimate), not the estimate.
    assert "≈" not in final and "streaming" not in final


def test_text_view_prints_reasoning_and_answer_apart():
    out = io.StringIO()
    view = TextView("emulator", out=out)
    response = OmniResponse("qwen3-omni-flash")
    for event in (ReasoningDelta("Hmm."), TextDelta("Yes"), TextDelta(".")):
        feed(view, response, event)
    response.close()
    view.finish(response, show_usage=False, autoplay=False)
    assert out.getvalue().startswith("[reasoning] Hmm.\n[answer] Yes.\nqwen3-omni-flash")
