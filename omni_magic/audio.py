"""Speech assembly: base64 PCM16 chunks (or PCM bytes a dialect decoded) in, samples and
WAV bytes out.

Each chunk is its own base64 string and is decoded on its own: joining the
strings first and decoding once silently drops data whenever a chunk carries
padding (the service's own example does exactly that). A chunk may also end
inside a sample, so an odd trailing byte is carried into the next chunk.
"""

from __future__ import annotations

import binascii
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from ._b64 import b64decode
from .catalog import SAMPLE_RATE
from .errors import InvalidRequest, ProtocolError

if TYPE_CHECKING:
    import numpy as np


class PCMAssembler:
    """Collects decoded PCM16 little-endian bytes, chunk by chunk."""

    __slots__ = ("_pcm", "_chunks", "sample_rate")

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        self._pcm = bytearray()
        self._chunks = 0
        self.sample_rate = sample_rate

    def add(self, data: str | bytes) -> int:
        """Add one chunk, base64 text or PCM bytes already decoded; return how many whole new
        samples it completed."""
        if type(data) is str:
            try:
                raw = b64decode(data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProtocolError(
                    f"Speech chunk {self._chunks + 1} is not valid base64 ({exc}); "
                    "the speech up to that point is kept."
                ) from None
        else:
            raw = data
        before = len(self._pcm) // 2
        self._pcm += raw
        self._chunks += 1
        return len(self._pcm) // 2 - before

    @property
    def chunks(self) -> int:
        return self._chunks

    @property
    def nbytes(self) -> int:
        return len(self._pcm)

    @property
    def duration(self) -> float:
        return (len(self._pcm) // 2) / self.sample_rate

    def samples(self, start: int = 0) -> "np.ndarray":
        """The whole samples from ``start`` on, as 1-D int16 (a copy; an odd byte waits)."""
        import numpy as np

        end = len(self._pcm) // 2
        return np.frombuffer(self._pcm, dtype="<i2", count=end - start, offset=start * 2).astype(
            np.int16
        )

    def pcm_bytes(self) -> bytes:
        """The whole samples as raw PCM16 bytes."""
        return bytes(self._pcm[: len(self._pcm) // 2 * 2])

    def wav_bytes(self) -> bytes:
        """The whole samples as a WAV file, copied once (no intermediate PCM copy)."""
        with memoryview(self._pcm) as pcm:  # released at once: the buffer must stay growable
            return wav_bytes(pcm[: len(pcm) // 2 * 2], self.sample_rate)


def wav_bytes(pcm: bytes | memoryview, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono 16-bit WAV file around raw PCM bytes (header written by hand: no copy via numpy)."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE",
        b"fmt ", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16,
        b"data", len(pcm),
    )
    return b"".join((header, pcm))


# The formats speech is saved in, by the file's suffix, with the encoding each takes: OGG holds
# Vorbis, not PCM (soundfile refuses PCM_16 there).
SPEECH_FORMATS = {".wav": "PCM_16", ".flac": "PCM_16", ".ogg": "VORBIS"}
SPEECH_SUFFIXES = tuple(SPEECH_FORMATS)


def save_wav(path: str | Path, pcm: bytes, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write speech to ``path`` with soundfile (WAV, or FLAC/OGG by the file's suffix)."""
    import numpy as np
    import soundfile as sf

    path = Path(path).expanduser()
    subtype = SPEECH_FORMATS.get(path.suffix.lower())
    if subtype is None or path.is_dir():
        raise InvalidRequest(f"Cannot save speech to {path}: give a file name ending in .wav, "
                             ".flac or .ogg.")
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.frombuffer(pcm, dtype="<i2")
    sf.write(str(path), samples, sample_rate, subtype=subtype)
    return path

