"""Decoding one vllm-omni speech chunk: a whole audio file (WAV unless the request asked
another ``audio.format``) or raw PCM16, base64 in ``delta.content`` of a chunk whose top-level
``modality`` is "audio" (see dialects.py for the two dialects). ``events`` calls it; DashScope's
speech (base64 PCM16 pieces in ``delta.audio.data``) never comes here.
"""

from __future__ import annotations

import binascii
import io
import struct
from typing import Any

from ._b64 import b64decode
from .catalog import SAMPLE_RATE
from .errors import ProtocolError

# Container signatures soundfile reads; MP3 is left to audio_metadata, because an MP3 frame
# sync (FF Ex) is also what a headerless PCM chunk may start with.
_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"ID3")


def decode_speech(b64: str, meta: dict[str, Any] | None = None) -> tuple[bytes, int]:
    """One vllm-omni speech chunk as (PCM16 mono little-endian bytes, sample rate).

    The chunk is a whole file (WAV unless the request asked another ``audio.format``) or raw
    PCM16. Its own header says what a file holds; ``audio_metadata`` (format, sample_rate_hz,
    channels) says what raw PCM holds, and without it raw PCM is taken as 24 kHz mono.
    """
    try:
        raw = b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"A speech chunk is not valid base64 ({exc}); the speech up to that "
                            "point is kept.") from None
    meta = meta or {}
    fmt = str(meta.get("format") or "").lower()
    if raw.startswith(_MAGIC) or fmt in ("flac", "mp3", "opus", "ogg"):
        if raw[:4] == b"RIFF":
            found = _wav_pcm16(raw)
            if found is not None:
                return _mono(*found)
        return _soundfile(raw, fmt)
    # Raw PCM: asked for with pcm16, or a header-less piece after a first WAV header.
    rate = meta.get("sample_rate_hz")
    channels = meta.get("channels")
    return _mono(raw, rate if isinstance(rate, int) and rate > 0 else SAMPLE_RATE,
                 channels if isinstance(channels, int) and channels > 0 else 1)


def _wav_pcm16(raw: bytes) -> tuple[bytes, int, int] | None:
    """(PCM bytes, rate, channels) of a PCM16 WAV, read straight from its chunks; None for
    any other WAV (float, 24-bit...), which soundfile then converts."""
    if raw[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int] | None = None  # tag, channels, rate, bits
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id = raw[pos:pos + 4]
        (size,) = struct.unpack_from("<I", raw, pos + 4)
        start = pos + 8
        if chunk_id == b"fmt " and size >= 16 and start + 16 <= len(raw):
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", raw, start)
            if tag == 0xFFFE and size >= 26 and start + 26 <= len(raw):  # WAVE_FORMAT_EXTENSIBLE
                (tag,) = struct.unpack_from("<H", raw, start + 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None or fmt[0] != 1 or fmt[3] != 16 or fmt[1] < 1:
                return None
            # Streaming writers leave the size 0 or 0xFFFFFFFF; a cut file has less than it says.
            end = len(raw) if size in (0, 0xFFFFFFFF) else min(len(raw), start + size)
            return raw[start:end], fmt[2], fmt[1]
        pos = start + size + (size & 1)  # chunks are word-aligned
    return None


def _soundfile(raw: bytes, fmt: str) -> tuple[bytes, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(raw), dtype="int16", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as exc:  # LibsndfileError is a RuntimeError
        what = fmt or "an audio file"
        raise ProtocolError(f"A speech chunk ({len(raw):,} bytes, {what}) could not be decoded: "
                            f"{exc}. The speech up to that point is kept.") from None
    channels = samples.shape[1]
    if channels == 1:
        return samples.tobytes(), int(rate)
    return _mono(samples.tobytes(), int(rate), channels)


def _mono(pcm: bytes, rate: int, channels: int) -> tuple[bytes, int]:
    """Interleaved PCM16 as mono: the mean of the channels (a partial last frame is dropped)."""
    if channels == 1:
        return pcm, rate
    import numpy as np

    frames = len(pcm) // (2 * channels)
    samples = np.frombuffer(pcm, dtype="<i2", count=frames * channels).reshape(frames, channels)
    return np.rint(samples.mean(axis=1)).astype("<i2").tobytes(), rate
