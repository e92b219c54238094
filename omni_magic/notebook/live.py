"""The live view while an answer streams: one anywidget in a notebook, plain text elsewhere.

Both views take ``start(response)``, then ``update(event)`` for every event (the
response has folded it in already), then ``finish(...)``, ``stop()`` (an interrupt) or
``abort()`` (no answer). The widget view sends the page only what is new (see ``answer.py``),
at most once per ``REDRAW_INTERVAL`` whatever the chunk rate, and loses no text: what arrived
since the last message goes with the next one, and ``finish`` sends the end. When the stream
ends the widget's place is taken by static outputs (see ``view.py``), so a saved notebook
shows the answer once, with no widget state.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from .. import tokens
from ..events import AudioDelta, Event, ReasoningDelta, TextDelta
from ..response import OmniResponse
from .status import status_line
from .targets import SAVE_HINT, Saved
from .view import Answer, Notice, UsageTable, show_tail

REDRAW_INTERVAL = 0.05  # at most ~20 messages to the page a second


class WidgetView:
    """The status line, the reasoning fold (thinking) and the answer, appended to in the page;
    with ``speech``, the speech plays there as it arrives, and goes on after the stream ends
    until the page hands it over to the static audio element."""

    def __init__(self, backend: str, clock: Callable[[], float] = time.perf_counter,
                 thinking: bool = False, speech: bool = False, filename: str = "speech.wav") -> None:
        from .answer import LiveAnswer

        self.backend = backend
        self.widget = LiveAnswer(thinking=thinking, speech=speech, filename=filename)
        self.redraws = 0
        self.first_text_at: float | None = None  # clock() when answer text was first sent
        self._clock = clock
        self._response: OmniResponse | None = None
        self._last = float("-inf")
        self._dirty = False
        self._tokens = 0  # text tokens so far, counted per message: never the whole text again
        self._stopped = False

    def start(self, response: OmniResponse) -> None:
        self._response = response
        self.widget.status(status_line(response, self.backend, streaming=True, live_tokens=0))
        self.widget.show()
        self.widget.flush()

    def update(self, event: Event) -> None:
        kind = type(event)
        if kind is TextDelta:
            self.widget.text(event.text)
            self._dirty = True
            if self.first_text_at is None:
                self.first_text_at = self._clock()
        elif kind is ReasoningDelta:
            self.widget.reasoning(event.text)
            self._dirty = True
        elif kind is AudioDelta and self.widget.speech:
            self.widget.pcm(event.data, event.rate)  # speech goes at once: it plays as it comes
        if self._dirty:  # text waiting goes with the next event of any kind, after the interval
            now = self._clock()
            if now - self._last >= REDRAW_INTERVAL:
                self._last = now
                self._send()

    def _send(self) -> None:
        # The tokens of what goes out now, counted once: a word's worth per chunk would
        # overcount (a token spans chunks), the whole text again would be quadratic.
        self._tokens += tokens.text_tokens(self.widget.queued, self._response.model)
        self._dirty = False
        self.redraws += 1
        self.widget.status(status_line(self._response, self.backend, streaming=True,
                                       live_tokens=self._tokens))
        self.widget.flush()

    def stop(self) -> None:
        """An interrupt: the speech in the page goes silent now; ``finish`` follows."""
        self.widget.stop()
        self._stopped = True

    def abort(self) -> None:
        """No answer came: the widget's place says so (the error is shown on its own)."""
        self.widget.replace(Notice("No answer: see the error below.", "error"))
        self.widget.retire()

    def finish(self, response: OmniResponse, *, show_usage: bool, autoplay: bool,
               notes: list[Notice] | None = None) -> None:
        # Its place first, then its end: a widget closed before being replaced would leave the
        # output empty for a moment.
        self.widget.replace(Answer(response, status_line(response, self.backend)))
        self.widget.finish()
        # Speech still playing live (a stream cut short too, unless the user stopped it) is
        # handed over to this element at the point reached, which never starts by itself when
        # any speech was played live: one voice.
        live = bool(self.widget.speech and self.widget.chunks and not self._stopped)
        show_tail(response, show_usage=show_usage, autoplay=autoplay and not self.widget.chunks,
                  notes=notes, speech_key=self.widget.key if live else None)


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

    def stop(self) -> None:
        pass

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
