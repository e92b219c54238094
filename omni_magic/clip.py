"""A recording: mono 16-bit samples and their rate, as ``%omni record`` stores it.

A ``Clip`` is a ``(samples, rate)`` tuple, so ``-a NAME`` attaches it the way it attaches any
such tuple (``attachments._to_bytes`` writes it as a WAV); ``wav()`` and ``save()`` give the
same bytes to a user who wants the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from .errors import InvalidRequest


class Clip(NamedTuple):
    """Mono int16 samples (a 1-D numpy array) at ``rate`` Hz."""

    samples: Any  # numpy.ndarray of int16: numpy is imported only when a clip is made
    rate: int

    @classmethod
    def from_pcm(cls, pcm: bytes, rate: int) -> Clip:
        """A clip of little-endian 16-bit PCM bytes (an odd last byte is dropped)."""
        import numpy as np

        return cls(np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int16), rate)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    def wav(self) -> bytes:
        """The clip as a 16-bit PCM WAV file."""
        from .samples import to_wav

        return to_wav(self.samples, self.rate, "the recording")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the clip as a WAV file at ``path`` (".wav" added when it has no suffix)."""
        target = Path(path).expanduser()
        if not target.suffix:
            target = target.with_suffix(".wav")
        elif target.suffix.lower() != ".wav":
            raise InvalidRequest(f"{target.name}: a recording is saved as WAV; give a name ending in .wav.")
        try:
            target.write_bytes(self.wav())
        except OSError as exc:
            raise InvalidRequest(f"Could not write {target}: {exc.strerror or exc}. Choose a folder "
                                 "you can write to.") from None
        return target

    def __repr__(self) -> str:
        return f"Clip({self.seconds:.1f} s, {self.rate} Hz mono, {len(self.samples):,} samples)"
