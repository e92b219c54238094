"""The live answer: one anywidget for the status line, the reasoning fold, the answer and its
speech while they stream (``static/live.js``, built from ``js/live.js``).

The kernel sends only what is new: text and reasoning deltas, coalesced into at most one
message per ``WidgetView``'s redraw interval, with the status line; speech as binary PCM the
moment it arrives. The page renders the Markdown incrementally (finished blocks once, the open
block at the end again). Before, each redraw sent the whole text and the page rendered all of
it again: O(n²) in bytes and in work for a long answer.

When the stream ends the widget's place is taken by static outputs (the answer as Markdown, the
audio element, the token table), so a saved notebook holds no widget. The widget itself lives
on while its speech plays: the page hands the speech over to the static audio element at the
position reached, then reports ``ended`` and the kernel closes the widget.
"""

from __future__ import annotations

import binascii
import uuid
from pathlib import Path
from typing import Any

import anywidget
from traitlets import Bool, Int, Unicode

from .._b64 import b64decode
from ..catalog import SAMPLE_RATE
from .widgets import close_widgets, display_widget

STATIC = Path(__file__).parent / "static"
PLACEHOLDER = ("Live answer: it needs a frontend with ipywidgets; the answer appears here when it "
               "is complete.")


class LiveAnswer(anywidget.AnyWidget):
    """One answer while it streams. ``text``/``reasoning`` queue deltas and ``flush`` sends them;
    ``pcm`` sends speech at once; ``finish`` says no more will come; ``stop`` silences the page."""

    # The module's text, not its path: anywidget watches a path for edits and never lets go of
    # the widget, so every retired widget of a long session would stay alive.
    _esm = (STATIC / "live.js").read_text(encoding="utf-8")
    _css = (STATIC / "live.css").read_text(encoding="utf-8")
    key = Unicode().tag(sync=True)  # links the page's state, and the final audio element, to it
    sample_rate = Int(SAMPLE_RATE).tag(sync=True)
    filename = Unicode("speech.wav").tag(sync=True)
    thinking = Bool(False).tag(sync=True)  # show the reasoning fold
    speech = Bool(False).tag(sync=True)  # show the speech controls
    done = Bool(False).tag(sync=True)  # set here: nothing more will come
    ended = Bool(False).tag(sync=True)  # set by the page: played to the end, handed over, stopped
    muted = Bool(False).tag(sync=True)

    def __init__(self, *, thinking: bool = False, speech: bool = False,
                 filename: str = "speech.wav") -> None:
        super().__init__(key=uuid.uuid4().hex, thinking=thinking, speech=speech, filename=filename)
        self.chunks = 0  # speech chunks sent
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._status = ""
        self._odd = b""  # a chunk may end inside a sample: its last byte waits for the next
        self._handle: Any = None
        self.observe(lambda change: self.retire() if change["new"] else None, "ended")

    # -- the stream ------------------------------------------------------------------------------
    def show(self) -> Any:
        self._handle = display_widget(self, PLACEHOLDER)
        return self._handle

    def text(self, delta: str) -> None:
        self._text.append(delta)

    def reasoning(self, delta: str) -> None:
        self._reasoning.append(delta)

    def status(self, line: str) -> None:
        self._status = line

    @property
    def pending(self) -> bool:
        return bool(self._text or self._reasoning or self._status)

    @property
    def queued(self) -> str:
        """The text and reasoning the next ``flush`` sends."""
        return "".join(self._text) + "".join(self._reasoning)

    def flush(self) -> None:
        """Send what was queued since the last flush as one message."""
        if not self.pending:
            return
        self.send({"type": "delta", "text": "".join(self._text),
                   "reasoning": "".join(self._reasoning), "status": self._status})
        self._text.clear()
        self._reasoning.clear()
        self._status = ""

    def pcm(self, data: str | bytes, rate: int | None = None) -> None:
        """Send one speech chunk: base64 text as the service sends it, or PCM bytes. ``rate`` is
        the chunk's sample rate; the first chunk's sets the page's (a self-hosted server may
        speak at another rate than the service's 24 kHz)."""
        if rate and not self.chunks and rate != self.sample_rate:
            self.sample_rate = rate
        if isinstance(data, str):
            try:
                data = b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                return  # the response reports the bad chunk; the page just skips it
        pcm = self._odd + data
        cut = len(pcm) - len(pcm) % 2
        self._odd = pcm[cut:]
        if cut:
            self.send({"type": "pcm"}, [pcm[:cut]])
            self.chunks += 1

    def finish(self) -> None:
        """The stream ended: the last deltas go out, and the page may hand the speech over."""
        self.flush()
        self.done = True
        if not self.chunks:  # nothing to play on: its place is static already
            self.retire()

    def stop(self) -> None:
        """The user interrupted: the page silences the speech at once (what played is kept)."""
        self.flush()
        if self.chunks:
            self.send({"type": "stop"})

    # -- the end ---------------------------------------------------------------------------------
    def replace(self, output: Any) -> None:
        """Put ``output`` (the static answer) in the widget's place."""
        if self._handle is not None:
            self._handle.update(output)

    def retire(self) -> None:
        """Close the widget; speech still playing live fades out first (closing alone would cut
        it mid-sample: a click)."""
        if self.chunks and not self.ended and self.comm is not None:
            self.send({"type": "stop"})
        close_widgets(self)
