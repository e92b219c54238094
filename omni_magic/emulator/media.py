"""What can be learned about an attachment without a model: bytes, pixels, seconds.

URLs are never fetched (the emulator stays on loopback), so media passed by
URL is described as such and left out of the token estimate.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..errors import InvalidRequest
from ..probe import probe_audio, probe_image

# Compressed audio of unknown length is assumed to run at 128 kbit/s: a labelled guess.
ASSUMED_BITRATE = 128_000


@dataclass(frozen=True)
class Payload:
    """One media reference: inline bytes, or a URL the emulator does not fetch."""

    data: bytes | None  # None: passed by URL
    url: str | None = None

    @property
    def by_url(self) -> bool:
        return self.data is None


def load(ref: str) -> Payload:
    """Decode a data URL or bare base64; anything with a scheme is a URL."""
    if ref.startswith("data:"):
        _, _, payload = ref.partition(",")
        return Payload(_b64(payload))
    if "://" in ref:
        return Payload(None, ref)
    # vLLM-style clients send bare base64 for input_audio.
    return Payload(_b64(ref))


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) measured as the client measures it, or None when it is not an image."""
    try:
        info = probe_image(data, "the image")
    except InvalidRequest:
        return None
    return info.width or 0, info.height or 0


def audio_seconds(data: bytes) -> tuple[float, bool] | None:
    """(duration, exact): measured as the client measures it (soundfile, PyAV for mp3/m4a when
    installed), else guessed from the size; None when empty."""
    if not data:
        return None
    try:
        seconds = probe_audio(data, "the audio").seconds
    except InvalidRequest:
        seconds = None
    if seconds is None:
        return len(data) * 8 / ASSUMED_BITRATE, False
    return seconds, True


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"
