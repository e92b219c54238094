"""A batch's progress while it runs: a widget bar in a notebook, one rewritten line elsewhere.

Both take ``update(progress)`` as often as the caller likes (they redraw only when
something changed) and ``finish(progress, interrupted)``. The widget's place is then
given a static summary, so a saved notebook holds no widget state.
"""

from __future__ import annotations

import sys
from typing import Any

from ..batch import Progress
from .view import BatchSummary, progress_line
from .widgets import close_widgets, display_widget


class BatchProgressBar:
    """ipywidgets: a bar (blue while all is well, orange once an item failed) and a label."""

    def __init__(self, total: int) -> None:
        import ipywidgets as widgets

        self._bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), bar_style="info")
        self._label = widgets.HTML()
        self._root = widgets.HBox([self._bar, self._label]).add_class("omni-batch")
        self._last: str | None = None
        self._handle = display_widget(
            self._root, f"Batch of {total}: the summary appears here when it is done.")

    def update(self, progress: Progress) -> None:
        line = progress_line(progress)
        if line == self._last:
            return
        self._last = line
        self._bar.value = progress.finished
        self._bar.bar_style = "warning" if progress.failed else "info"
        self._label.value = f"<span style='font-size:0.9em'>{line}</span>"

    def finish(self, progress: Progress, interrupted: bool) -> None:
        self._handle.update(BatchSummary(progress, interrupted))
        close_widgets(self._bar, self._label, self._root)


class BatchProgressLine:
    """Plain text: one line, rewritten in place with a carriage return."""

    def __init__(self, total: int, out: Any = None) -> None:
        self.out = out or sys.stdout
        self._last: str | None = None

    def update(self, progress: Progress) -> None:
        line = progress_line(progress)
        if line != self._last:
            self._write(line)

    def finish(self, progress: Progress, interrupted: bool) -> None:
        self._write(repr(BatchSummary(progress, interrupted)))
        self.out.write("\n")
        self.out.flush()

    def _write(self, line: str) -> None:
        # Pad over the previous line's tail: a carriage return does not erase it.
        self.out.write("\r" + line.ljust(len(self._last or "")))
        self.out.flush()
        self._last = line
