"""The live speech player: each PCM chunk goes to the page as it arrives and plays at once.

An anywidget (``static/player.js``): the kernel sends every chunk as a binary comm
message, and the page schedules them back to back with Web Audio, with controls to
pause, mute, play again from the start and download the WAV. It needs a frontend
with a widget manager; the static audio element of the whole answer is shown after
the stream as before, for frontends without one and for the saved notebook.

A player retires (its output emptied, its widget closed) when the page reports that
it has played to the end, or when the next answer's player starts: a new answer
stops the previous one's speech, as a voice assistant does.
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
from .live import close_widgets, display_widget

STATIC = Path(__file__).parent / "static"
PLACEHOLDER = "Live speech player: it needs a frontend with ipywidgets; the audio element below has the whole answer."


class LivePlayer(anywidget.AnyWidget):
    """A streaming PCM16 mono player. ``add(chunk)`` sends one chunk; ``finish()`` ends it."""

    # The module's text, not its path: anywidget watches a path for edits and never lets go of
    # the widget, so every retired player of a long session would stay alive (~17 KB a cell).
    _esm = (STATIC / "player.js").read_text(encoding="utf-8")
    _css = (STATIC / "player.css").read_text(encoding="utf-8")
    key = Unicode().tag(sync=True)  # links the page's playback state to this model's views
    sample_rate = Int(SAMPLE_RATE).tag(sync=True)
    filename = Unicode("speech.wav").tag(sync=True)
    done = Bool(False).tag(sync=True)  # no more chunks will come
    ended = Bool(False).tag(sync=True)  # set by the page: played to the end
    muted = Bool(False).tag(sync=True)

    def __init__(self, sample_rate: int = SAMPLE_RATE, filename: str = "speech.wav") -> None:
        super().__init__(key=uuid.uuid4().hex, sample_rate=sample_rate, filename=filename)
        self.chunks = 0
        self.nbytes = 0
        self._odd = b""  # a chunk may end inside a sample: its last byte waits for the next
        self._handle: Any = None
        self.observe(lambda change: self.retire() if change["new"] else None, "ended")

    def show(self) -> None:
        self._handle = display_widget(self, PLACEHOLDER)

    def add(self, data: str | bytes, rate: int | None = None) -> None:
        """Send one speech chunk: base64 text as the service sends it, or PCM bytes.

        ``rate`` is the chunk's sample rate; the first chunk's sets the player's (a
        self-hosted server may speak at another rate than the service's 24 kHz).
        """
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
            self.nbytes += cut

    def finish(self) -> None:
        self.done = True

    def retire(self) -> None:
        """Empty the player's output and close the widget (which stops its playback)."""
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)
            self._handle = None
        close_widgets(self)
