"""What can be learned about an attachment without a model: bytes, pixels, seconds.

Every reference becomes bytes the same way: a data URL or bare base64 is decoded, an http(s)
URL is downloaded (fetch.py), so media by URL is measured exactly as media sent inline.
"""

from __future__ import annotations

import base64
import binascii
import re

from ..errors import InvalidRequest
from ..probe import probe_audio, probe_image, sniff_kind
from .errors import Rejected
from .fetch import Fetcher, is_url, refused

# Compressed audio of unknown length is assumed to run at 128 kbit/s: a labelled guess.
ASSUMED_BITRATE = 128_000
_SPACE = re.compile(rb"\s+")


def load(ref: str, where: str, fetcher: Fetcher, cap: int | None = None, *,
         bare: bool = False) -> bytes:
    """The bytes of one reference: a data URL, an http(s) URL (downloaded, at most ``cap``
    bytes when the catalog states it), or with ``bare`` plain base64 (vLLM-style clients send
    it for input_audio). Anything else is the service's 400 naming ``where``."""
    if ref.startswith("data:"):
        header, comma, payload = ref.partition(",")
        if not comma or not header.lower().endswith(";base64"):
            raise refused(f"{where}: a data URL must be data:<mime>;base64,<data>.")
        return _b64(payload, where)
    if is_url(ref):
        return fetcher.get(ref, where, cap)
    if bare:
        return _b64(ref, where)
    raise refused(f"{where}: The provided URL does not appear to be valid. Ensure it is correctly "
              "formatted: an http(s) URL or a data URL.")


def _b64(text: str, where: str) -> bytes:
    """Strict base64 (whitespace aside): garbage is refused, not decoded to stray bytes."""
    compact = _SPACE.sub(b"", text.encode("ascii", "replace"))
    try:
        data = base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise refused(f"{where}: the base64 data cannot be decoded. Encode the file's bytes with "
                  "standard base64.") from None
    if not data:
        raise refused(f"{where}: the media is empty.")
    return data


def not_the_kind(where: str, data: bytes, wanted: str) -> Rejected:
    """The 400 for bytes that are not the media the part claims (text sent as image_url)."""
    found = sniff_kind(data)
    what = (f"{found} data, not {wanted}" if found else
            f"not {wanted}: they match no image, audio or video format the service reads")
    return refused(f"{where}: the {human_bytes(len(data))} received are {what}. "
                   f"Send {wanted} in this part.")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) measured as the client measures it, or None when it is not an image."""
    try:
        info = probe_image(data, "the image")
    except InvalidRequest:
        return None
    return info.width or 0, info.height or 0


def audio_seconds(data: bytes) -> tuple[float, bool] | None:
    """(duration, exact): measured as the client measures it (soundfile, PyAV for mp3/m4a when
    installed), else guessed from the size when the bytes look like audio; None when empty
    or not audio."""
    if not data:
        return None
    try:
        seconds = probe_audio(data, "the audio").seconds
    except InvalidRequest:
        seconds = None
    if seconds is None:
        if sniff_kind(data) != "audio":
            return None
        return len(data) * 8 / ASSUMED_BITRATE, False
    return seconds, True


def human_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"
