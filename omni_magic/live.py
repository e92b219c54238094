"""The live view while an answer streams: ipywidgets in a notebook, plain text elsewhere.

Both views take ``start(response)``, ``update(event, response)`` for every
event, then ``finish(...)`` or ``abort()``. The widget view coalesces redraws
(at most one per ``REDRAW_INTERVAL``, whatever the chunk rate) and loses no
text: each redraw draws everything received so far, text that arrived since the
last one is drawn at the next event of any kind, and ``finish`` draws the end.
When the stream ends the widget's output is replaced by static outputs (see
``view.py``), so a saved notebook shows the answer once, with no widget state.
"""

from __future__ import annotations

import html
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from IPython.display import display

from .events import Event, ReasoningDelta, TextDelta
from .response import OmniResponse
from .view import Answer, Notice, UsageTable, show_tail, status_line

REDRAW_INTERVAL = 0.05  # at most ~20 redraws a second
WAITING = "Streaming… the answer appears here when it is complete."


class WidgetView:
    """A status line, the reasoning in a fold, and the answer as Markdown, redrawn in place."""

    def __init__(self, backend: str, clock: Callable[[], float] = time.perf_counter) -> None:
        import ipywidgets as widgets

        self.backend = backend
        self.redraws = 0
        self._clock = clock
        # Output widgets render Markdown with the frontend's own renderer, the one that shows
        # the final static answer: status line and answer look the same before and after.
        self._status = widgets.Output().add_class("omni-status")
        self._reasoning = widgets.HTML()
        self._fold = widgets.Accordion(children=[self._reasoning], titles=("Reasoning",))
        self._fold.layout.display = "none"  # shown when reasoning arrives
        self._answer = widgets.Output().add_class("omni-answer")
        self._box = widgets.VBox([self._status, self._fold, self._answer])
        self._handle: Any = None
        self._last = float("-inf")
        self._dirty = False
        self._drawn_text = ""

    def start(self, response: OmniResponse) -> None:
        self._draw_status(response)
        # A frontend with no widget manager shows the text/plain twin: say what is happening
        # instead of the widget's repr; the static answer replaces it at the end.
        bundle = self._box._repr_mimebundle_()
        bundle["text/plain"] = WAITING
        self._handle = display(bundle, raw=True, display_id=True)

    def update(self, event: Event, response: OmniResponse) -> None:
        kind = type(event)
        if kind is TextDelta or kind is ReasoningDelta:
            self._dirty = True
        if self._dirty:
            now = self._clock()
            if now - self._last >= REDRAW_INTERVAL:
                self._last = now
                self._redraw(response)

    def _redraw(self, response: OmniResponse) -> None:
        self._dirty = False
        self.redraws += 1
        reasoning, text = response.reasoning, response.text
        if reasoning:
            if self._fold.layout.display == "none":
                self._fold.layout.display = None
            self._reasoning.value = _pre(reasoning)
            # Open while the model thinks; fold away once the answer starts.
            wanted = None if text else 0
            if self._fold.selected_index != wanted:
                self._fold.selected_index = wanted
        if text != self._drawn_text:
            self._drawn_text = text
            self._answer.outputs = (_markdown_output(text or "…", text),)
        self._draw_status(response)

    def _draw_status(self, response: OmniResponse) -> None:
        line = status_line(response, self.backend, streaming=True)
        self._status.outputs = (_markdown_output(f"<sub>{html.escape(line)}</sub>", line),)

    def abort(self) -> None:
        """No answer came: drop the waiting widget (the error is shown on its own)."""
        if self._handle is not None:
            self._handle.update(Notice("No answer: see the error below.", "error"))
        self._close()

    def _close(self) -> None:
        """Close every widget of the view, with its layout and style: closing a box leaves its
        children (and every widget's layout) open, in the kernel and in the page, cell after cell."""
        for widget in (self._status, self._reasoning, self._fold, self._answer, self._box):
            for part in (getattr(widget, "style", None), widget.layout, widget):
                if part is not None:
                    part.close()

    def finish(self, response: OmniResponse, *, show_usage: bool, autoplay: bool,
               notes: list[Notice] | None = None) -> None:
        answer = Answer(response, status_line(response, self.backend))
        if self._handle is not None:
            self._handle.update(answer)  # the widget's place becomes static Markdown
        else:
            display(answer)
        self._close()
        show_tail(response, show_usage=show_usage, autoplay=autoplay, notes=notes)


class TextView:
    """Plain streamed text for terminals and frontends without widgets."""

    def __init__(self, backend: str, out: Any = None) -> None:
        self.backend = backend
        self.out = out or sys.stdout
        self._in_reasoning = False

    def start(self, response: OmniResponse) -> None:
        pass

    def update(self, event: Event, response: OmniResponse) -> None:
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
        if response.audio_chunks:
            path = Path(tempfile.gettempdir()) / f"omni-{response.id or int(time.time())}.wav"
            response.save_audio(path)
            self.out.write(f"Speech ({response.audio_seconds:.1f} s) saved to {path}\n")
        for note in notes or ():
            self.out.write(f"{note!r}\n")
        if response.error is not None:
            self.out.write(f"{type(response.error).__name__}: {response.error}\n")
        if show_usage and (response.usage or response.estimate.parts):
            self.out.write(repr(UsageTable(response)) + "\n")
        self.out.flush()


def _markdown_output(markdown: str, plain: str) -> dict[str, Any]:
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/markdown": markdown, "text/plain": plain}}


def _pre(text: str) -> str:
    return f"<div style='white-space:pre-wrap;line-height:1.45'>{html.escape(text)}</div>"

