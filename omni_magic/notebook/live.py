"""The live view while an answer streams: ipywidgets in a notebook, plain text elsewhere.

Both views take ``start(response)``, then ``update(event)`` for every event (the
response has folded it in already), then ``finish(...)`` or ``abort()``. The widget
view coalesces redraws (at most one per ``REDRAW_INTERVAL``, whatever the chunk
rate) and loses no text: each redraw draws everything received so far, text that arrived since the
last one is drawn at the next event of any kind, and ``finish`` draws the end.
When the stream ends the widget's output is replaced by static outputs (see
``view.py``), so a saved notebook shows the answer once, with no widget state.
"""

from __future__ import annotations

import html
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

from IPython.display import display

from ..events import AudioDelta, Event, ReasoningDelta, TextDelta
from ..response import OmniResponse
from .targets import SAVE_HINT, Saved
from .view import Answer, Notice, UsageTable, show_tail, status_line, status_markdown

if TYPE_CHECKING:
    from .player import LivePlayer

REDRAW_INTERVAL = 0.05  # at most ~20 redraws a second
WAITING = "Streaming… the answer appears here when it is complete."


class WidgetView:
    """The status line and the answer as Markdown, redrawn in place; in thinking mode the
    reasoning streams into a fold between them, which closes when the answer starts.

    Output widgets render Markdown with the frontend's own renderer, the one that shows
    the final static answer, so nothing changes style at the end. Without thinking the
    view is one Output widget (status and answer as its two outputs): every widget costs
    a comm and a layout, in the kernel and in the page.
    """

    def __init__(self, backend: str, clock: Callable[[], float] = time.perf_counter,
                 thinking: bool = False, player: LivePlayer | None = None) -> None:
        import ipywidgets as widgets

        self.backend = backend
        self.player = player  # plays the speech as it arrives, under the answer
        self.redraws = 0
        self.first_text_at: float | None = None  # clock() when answer text was first drawn
        self._clock = clock
        self._answer = widgets.Output().add_class("omni-answer")
        self._status: Any = None
        self._fold: Any = None
        self._reasoning: Any = None
        self._root: Any = self._answer
        if thinking:
            self._status = widgets.Output().add_class("omni-status")
            self._reasoning = widgets.HTML()
            self._fold = widgets.Accordion(children=[self._reasoning], titles=("Reasoning",),
                                           selected_index=0)
            self._root = widgets.VBox([self._status, self._fold, self._answer])
        self._handle: Any = None
        self._response: OmniResponse | None = None
        self._last = float("-inf")
        self._dirty = False
        self._folded = False

    def start(self, response: OmniResponse) -> None:
        self._response = response
        self._draw()
        self._handle = display_widget(self._root, WAITING)  # the static answer replaces it
        if self.player is not None:
            self.player.show()

    def update(self, event: Event) -> None:
        kind = type(event)
        if kind is TextDelta or kind is ReasoningDelta:
            self._dirty = True
        elif kind is AudioDelta and self.player is not None:
            self.player.add(event.data, event.rate)
        if self._dirty:
            now = self._clock()
            if now - self._last >= REDRAW_INTERVAL:
                self._last = now
                self._draw()

    def _draw(self) -> None:
        response = self._response
        self._dirty = False
        self.redraws += 1
        text = response.text
        if text and self.first_text_at is None:
            self.first_text_at = self._clock()
        line = status_line(response, self.backend, streaming=True)
        status = _markdown_output(status_markdown(line), line)
        answer = _markdown_output(text or "…", text)
        if self._fold is None:
            self._answer.outputs = (status, answer)
            return
        self._status.outputs = (status,)
        self._answer.outputs = (answer,)
        if response.reasoning:
            self._reasoning.value = _pre(response.reasoning)
        if text and not self._folded:  # once: after that the reader opens and closes it
            self._fold.selected_index = None
            self._folded = True

    def abort(self) -> None:
        """No answer came: drop the waiting widget (the error is shown on its own)."""
        if self._handle is not None:
            self._handle.update(Notice("No answer: see the error below.", "error"))
        if self.player is not None:
            self.player.retire()
        self._close()

    def _close(self) -> None:
        close_widgets(self._status, self._reasoning, self._fold, self._answer, self._root)

    def finish(self, response: OmniResponse, *, show_usage: bool, autoplay: bool,
               notes: list[Notice] | None = None) -> None:
        answer = Answer(response, status_line(response, self.backend))
        if self._handle is not None:
            self._handle.update(answer)  # the widget's place becomes static Markdown
        else:
            display(answer)
        self._close()
        if self.player is not None:
            self.player.finish()
            autoplay = False  # the live player is already speaking
        show_tail(response, show_usage=show_usage, autoplay=autoplay, notes=notes)


class TextView:
    """Plain streamed text for terminals and frontends without widgets."""

    def __init__(self, backend: str, out: Any = None) -> None:
        self.backend = backend
        self.out = out or sys.stdout
        self._in_reasoning = False

    def start(self, response: OmniResponse) -> None:
        pass

    def update(self, event: Event) -> None:
        kind = type(event)
        if kind is ReasoningDelta:
            if not self._in_reasoning:
                self.out.write("[reasoning] ")
                self._in_reasoning = True
            self.out.write(event.text)
        elif kind is TextDelta:
            if self._in_reasoning:
                self.out.write("\n[answer] ")
                self._in_reasoning = False
            self.out.write(event.text)
        else:
            return
        self.out.flush()

    def abort(self) -> None:
        pass

    def finish(self, response: OmniResponse, *, show_usage: bool, autoplay: bool,
               notes: list[Notice] | None = None) -> None:
        self.out.write("\n" + status_line(response, self.backend) + "\n")
        # Nothing plays speech here, and nothing is written unasked: say how to keep it.
        if response.audio_chunks and not any(isinstance(note, Saved) for note in notes or ()):
            self.out.write(f"Speech ({response.audio_seconds:.1f} s): save it with {SAVE_HINT}, "
                           "or add --save FILE to the cell.\n")
        for note in notes or ():
            self.out.write(f"{note!r}\n")
        if response.error is not None:
            self.out.write(f"{type(response.error).__name__}: {response.error}\n")
        if show_usage and (response.usage or response.estimate.parts):
            self.out.write(repr(UsageTable(response)) + "\n")
        self.out.flush()


def display_widget(widget: Any, placeholder: str) -> Any:
    """Show ``widget`` under a display id and return the handle. A frontend with no widget
    manager shows ``placeholder`` (the text/plain twin) instead of the widget's repr."""
    bundle = widget._repr_mimebundle_()
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)  # anywidget: (data, metadata)
    data["text/plain"] = placeholder
    return display(data, raw=True, display_id=True)


def close_widgets(*widgets: Any) -> None:
    """Close each widget (None is skipped) with its layout and style: closing a box leaves its
    children, and every widget's layout, open in the kernel and in the page."""
    for widget in widgets:
        if widget is not None:
            for part in (getattr(widget, "style", None), widget.layout, widget):
                if part is not None:
                    part.close()


def _markdown_output(markdown: str, plain: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/markdown": markdown, "text/plain": plain}}


def _pre(text: str) -> str:
    # Muted, like the quoted reasoning of the final answer: never mistaken for the answer.
    return f"<div style='white-space:pre-wrap;line-height:1.45;color:#666'>{html.escape(text)}</div>"

