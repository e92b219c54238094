"""The live views on their own: coalesced redraws, no lost text, the reasoning fold, the status."""

from __future__ import annotations

import io
import re

import pytest
from IPython.utils.capture import capture_output

from omni_magic.events import AudioDelta, ReasoningDelta, TextDelta, Usage
from omni_magic.notebook.live import REDRAW_INTERVAL, TextView, WidgetView
from omni_magic.notebook.view import status_line
from omni_magic.response import OmniResponse


class Clock:
    """Time that moves only when told: redraw counts independent of the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def feed(view, response, event) -> None:
    response.feed(event)
    view.update(event)


def drawn_markdown(view: WidgetView) -> str:
    """The answer as drawn: the last output of the answer widget."""
    return view._answer.outputs[-1]["data"]["text/plain"]


def drawn_status(view: WidgetView) -> str:
    status = view._status if view._status is not None else view._answer
    return status.outputs[0]["data"]["text/markdown"]


def start(thinking: bool = False):
    clock = Clock()
    view = WidgetView("emulator", clock=clock, thinking=thinking)
    response = OmniResponse("qwen3-omni-flash", voice=None if thinking else "Cherry")
    with capture_output() as cap:
        view.start(response)
    shown = cap.outputs[0].data
    assert "application/vnd.jupyter.widget-view+json" in shown
    # Frontends without a widget manager show this instead of "Output(...)".
    assert shown["text/plain"].startswith("Streaming…")
    return view, response, clock


@pytest.fixture
def widget(ip):  # a shell, so that display() reaches the captured outputs
    view, response, clock = start()
    yield view, response, clock
    view._close()


@pytest.fixture
def thinking(ip):
    view, response, clock = start(thinking=True)
    yield view, response, clock
    view._close()


def test_redraws_are_coalesced_to_twenty_a_second_whatever_the_chunk_rate(widget):
    view, response, clock = widget
    for i in range(2000):  # 2,000 chunks in one simulated second
        clock.now = i / 2000
        feed(view, response, TextDelta(f"w{i} "))
    assert view.redraws <= 1 / REDRAW_INTERVAL + 1
    assert view.redraws >= 1 / REDRAW_INTERVAL - 1  # but it does keep redrawing


def test_text_held_back_by_the_throttle_is_drawn_by_the_next_event_of_any_kind(widget):
    view, response, clock = widget
    feed(view, response, TextDelta("Hello"))
    clock.now += REDRAW_INTERVAL / 10
    feed(view, response, TextDelta(" world"))  # too soon: not drawn yet
    assert drawn_markdown(view) == "Hello"
    clock.now += REDRAW_INTERVAL
    feed(view, response, AudioDelta("AAAA"))  # speech keeps flowing; the text catches up
    assert drawn_markdown(view) == "Hello world"
    redraws = view.redraws
    clock.now += REDRAW_INTERVAL
    feed(view, response, AudioDelta("AAAA"))
    assert view.redraws == redraws  # nothing new to draw: no redraw


def test_the_answer_is_markdown_and_the_reasoning_folds_when_it_starts(thinking):
    view, response, clock = thinking
    assert view._fold.selected_index == 0  # open from the start: the model thinks first
    feed(view, response, ReasoningDelta("Let me think."))
    assert "Let me think." in view._reasoning.value and view._fold.selected_index == 0
    clock.now += 1
    feed(view, response, TextDelta("**Blue**, because"))
    assert view._fold.selected_index is None  # folded away once the answer starts
    output = view._answer.outputs[-1]
    assert output["output_type"] == "display_data" and output["data"]["text/markdown"] == "**Blue**, because"
    view._fold.selected_index = 0  # the reader opens it again: later redraws leave it open
    clock.now += 1
    feed(view, response, TextDelta(" the sky"))
    assert view._fold.selected_index == 0


def test_without_thinking_the_view_is_one_widget_with_status_and_answer(widget):
    view, response, clock = widget
    feed(view, response, TextDelta("Hi"))
    assert view._root is view._answer and view._fold is None
    assert [o["data"]["text/plain"] for o in view._answer.outputs][1] == "Hi"
    assert drawn_status(view).startswith("<sub>qwen3-omni-flash · Cherry")


def test_status_line_names_model_voice_first_token_rate_and_elapsed(widget):
    view, response, clock = widget
    assert "waiting for the first token" in drawn_status(view)
    feed(view, response, TextDelta("one two three four"))
    assert "tok/s" not in status_line(response, "emulator", streaming=True)  # too soon to tell
    response.started_at -= 1.0  # a second of streaming later
    response.first_token_at -= 1.0
    live = status_line(response, "emulator", streaming=True)
    assert live.startswith("qwen3-omni-flash · Cherry · first token ")
    assert re.search(r" · ≈[4-6] tok/s · 1\.0 s · emulator · streaming…$", live)
    feed(view, response, Usage({
        "completion_tokens": 60, "prompt_tokens": 1, "total_tokens": 61,
        "completion_tokens_details": {"audio_tokens": 20, "text_tokens": 40}}))
    response.first_token_at = response.started_at + 0.5
    response.finished_at = response.started_at + 2.5
    final = status_line(response, "emulator")
    assert "first token 500 ms" in final and "20 tok/s" in final and "2.5 s" in final
    # The reported text tokens (speech left out, as in the live estimate), not the estimate.
    assert "≈" not in final and "streaming" not in final


@pytest.mark.parametrize("view_kind", ["widget", "thinking"])
def test_finish_replaces_the_widget_with_static_markdown(view_kind, request):
    view, response, clock = request.getfixturevalue(view_kind)
    feed(view, response, TextDelta("All of it"))
    response.close()
    with capture_output() as cap:
        view.finish(response, show_usage=False, autoplay=False)
    # Every widget of the view is closed, layouts included: nothing left open cell after cell.
    parts = [w for w in (view._status, view._reasoning, view._fold, view._answer, view._root) if w]
    assert all(w.comm is None and w.layout.comm is None for w in parts)
    # The answer went into the widget's place (an update of its display), not below it.
    assert [(o.update, o.data["text/markdown"].endswith("All of it")) for o in cap.outputs] == [(True, True)]


def test_text_view_prints_reasoning_and_answer_apart():
    out = io.StringIO()
    view = TextView("emulator", out=out)
    response = OmniResponse("qwen3-omni-flash")
    for event in (ReasoningDelta("Hmm."), TextDelta("Yes"), TextDelta(".")):
        feed(view, response, event)
    response.close()
    view.finish(response, show_usage=False, autoplay=False)
    assert out.getvalue().startswith("[reasoning] Hmm.\n[answer] Yes.\nqwen3-omni-flash")
