"""OmniResponse: the answer, folded from stream events as they arrive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .audio import PCMAssembler, save_wav
from .catalog import SAMPLE_RATE
from .errors import OmniError, ProtocolError, StreamError
from .events import (
    AudioDelta,
    Event,
    Finished,
    Note,
    ReasoningDelta,
    Started,
    TextDelta,
    Transcript,
    Usage,
)
from .tokens import TokenEstimate

if TYPE_CHECKING:
    import numpy as np


class OmniResponse:
    """What the service answered: text, reasoning, speech, usage, and how it ended.

    ``error`` is None for a complete answer, or the error that cut the stream
    short; in that case everything that arrived before it is still here.
    """

    def __init__(
        self,
        model: str,
        *,
        voice: str | None = None,
        estimate: TokenEstimate | None = None,
        request: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.voice = voice
        self.estimate = estimate or TokenEstimate()
        self.request = request  # the body sent (kept for history and for --dry-run views)
        self.id: str | None = None
        self.usage: Usage | None = None  # the reported dict, with typed views (events.Usage)
        self.finish_reason: str | None = None
        self.transcript: str | None = None
        self.error: OmniError | None = None
        self.notes: list[str] = []  # what the client noticed about the answer (events.Note)
        self.sample_rate = SAMPLE_RATE
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._pcm = PCMAssembler(SAMPLE_RATE)
        self.started_at = time.perf_counter()
        self.first_token_at: float | None = None
        self.finished_at: float | None = None

    # -- folding -------------------------------------------------------------------------
    def feed(self, event: Event) -> None:
        """Fold one event into the response."""
        kind = type(event)
        if kind is TextDelta:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            self._text.append(event.text)
        elif kind is AudioDelta:
            if event.rate != self.sample_rate:
                self._adopt_rate(event.rate)
            self._pcm.add(event.data)
        elif kind is ReasoningDelta:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            self._reasoning.append(event.text)
        elif kind is Usage:
            self.usage = event
        elif kind is Finished:
            self.finish_reason = event.reason
        elif kind is Transcript:
            self.transcript = event.text
        elif kind is Note:
            self.notes.append(event.text)
        elif kind is Started:
            self.id = event.id
            if event.model:
                self.model = event.model

    def _adopt_rate(self, rate: int) -> None:
        """Speech at another rate than 24 kHz (a self-hosted server's): fine from the start,
        not midway, where the samples already kept would play at the wrong speed."""
        if self._pcm.nbytes:
            raise ProtocolError(
                f"The server changed the speech's sample rate mid-answer ({self.sample_rate} Hz, "
                f"then {rate} Hz): the answer up to that point is kept."
            )
        self.sample_rate = self._pcm.sample_rate = rate

    def close(self, error: OmniError | None = None) -> None:
        self.error = error
        self.finished_at = time.perf_counter()

    # -- results -------------------------------------------------------------------------
    @property
    def text(self) -> str:
        if len(self._text) > 1:
            self._text[:] = ["".join(self._text)]  # join once, keep appends cheap
        return self._text[0] if self._text else ""

    @property
    def reasoning(self) -> str:
        if len(self._reasoning) > 1:
            self._reasoning[:] = ["".join(self._reasoning)]
        return self._reasoning[0] if self._reasoning else ""

    @property
    def audio(self) -> "np.ndarray":
        """The speech as 1-D int16 samples at ``sample_rate`` (empty without speech)."""
        return self._pcm.samples()

    @property
    def audio_seconds(self) -> float:
        return self._pcm.duration

    @property
    def audio_chunks(self) -> int:
        return self._pcm.chunks

    @property
    def complete(self) -> bool:
        return self.error is None and self.finish_reason is not None

    def wav_bytes(self) -> bytes:
        """The speech as a WAV file in memory (what ``IPython.display.Audio`` plays)."""
        return self._pcm.wav_bytes()

    def save_audio(self, path: str | Path) -> Path:
        """Write the speech to ``path`` (.wav; .flac and .ogg work too)."""
        if not self._pcm.nbytes:
            raise OmniError("This answer has no speech to save (it was text only).")
        return save_wav(path, self._pcm.pcm_bytes(), self.sample_rate)

    @property
    def elapsed(self) -> float:
        end = self.finished_at or time.perf_counter()
        return end - self.started_at

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started_at

    def __repr__(self) -> str:
        text = self.text
        short = text if len(text) <= 60 else text[:57] + "..."
        parts = [f"model={self.model!r}", f"text={short!r}"]
        if self.reasoning:
            parts.append(f"reasoning={len(self.reasoning)} chars")
        if self._pcm.nbytes:
            parts.append(f"audio={self.audio_seconds:.1f}s")
        if self.usage:
            parts.append(f"total_tokens={self.usage.total}")
        if self.error is not None:
            parts.append(f"error={type(self.error).__name__}")
        return f"OmniResponse({', '.join(parts)})"


def collect(
    events: Iterable[Event],
    response: OmniResponse,
    on_event: Callable[[Event], None] | None = None,
) -> OmniResponse:
    """Fold ``events`` into ``response``, keeping what arrived if the stream breaks.

    Errors raised before the stream started (refusals, HTTP errors, no
    connection) propagate; a StreamError is stored on ``response.error``.
    """
    error: OmniError | None = None
    try:
        for event in events:
            response.feed(event)
            if on_event is not None:
                on_event(event)
    except StreamError as exc:
        error = exc
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # stop the generator so the HTTP response is released now
        response.close(error)
    return response
