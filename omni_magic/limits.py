"""Check measured media against the service's limits (SPEC §1; the seed's figures).

Each ``check_*`` raises InvalidRequest naming the file, the limit, the measured value and a
fix, and returns a list of warnings (things that may still work, or could not be measured).
Nothing here reads files: ``probe.py`` measures, this module judges.
"""

from __future__ import annotations

import math
from typing import Sequence

from .catalog import Family
from .errors import InvalidRequest
from .probe import MediaInfo

MB = 1024 * 1024
IMAGE_MAX_BYTES = 10 * MB  # each image file
IMAGE_MIN_SIDE = 10  # width and height must be MORE than this many pixels
IMAGE_MAX_RATIO = 200  # long side / short side, either orientation
# Not a documented limit: public trackers report inline (base64 data URL) items capped near
# 10 MB. Larger files should go by URL, so warn rather than refuse.
INLINE_WARN_BYTES = 10 * MB


def human_bytes(n: int) -> str:
    """``12.3 MB``: binary megabytes, as the service's limits are stated."""
    if n < 1024:
        return f"{n} bytes"
    if n < MB:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n / MB:.1f}".removesuffix(".0") + " MB"


def _over(n: int, limit: int) -> str:
    """The measured size, exact when rounding would make it look equal to the limit."""
    text = human_bytes(n)
    return f"{text} ({n:,} bytes)" if text == human_bytes(limit) else text


def _secs(seconds: float, limit: float) -> str:
    """``151.0 s``, with more digits when one decimal would hide that it is over the limit."""
    for digits in (1, 2, 3):
        text = f"{seconds:.{digits}f}"
        if float(text) > limit:
            return f"{text} s"
    return f"{seconds:.6g} s"


def _limit(value: float) -> str:
    return f"{value:g}"


def _minutes(seconds: float) -> str:
    return f" ({seconds / 60:g} min)" if seconds >= 120 else ""


def check_image(info: MediaInfo, name: str) -> list[str]:
    """Each file ≤ 10 MB; width and height over 10 px; aspect ratio at most 200:1."""
    warnings: list[str] = []
    if info.nbytes > IMAGE_MAX_BYTES:
        raise InvalidRequest(
            f"{name} is {_over(info.nbytes, IMAGE_MAX_BYTES)}; the service takes images up to "
            f"{human_bytes(IMAGE_MAX_BYTES)} each. Resize it or save it as JPEG to make it smaller."
        )
    w, h = info.width, info.height
    if w is None or h is None:
        warnings.append(
            f"Could not measure the size of {name}; the service needs width and height over "
            f"{IMAGE_MIN_SIDE} px and an aspect ratio of at most {IMAGE_MAX_RATIO}:1."
        )
        return warnings
    small = IMAGE_MIN_SIDE
    if w <= small or h <= small:
        if w <= small and h <= small:
            measured = f"{w}x{h} px"
        elif w <= small:
            measured = f"{w} px wide"
        else:
            measured = f"{h} px tall"
        raise InvalidRequest(
            f"{name} is {measured}; the service needs width and height over {small} px. "
            f"Resize it (for example to {max(32, small + 1)} px)."
        )
    long, short = max(w, h), min(w, h)
    if long > IMAGE_MAX_RATIO * short:  # integers: exact at the edge
        ratio = long / short
        text = f"{ratio:.1f}" if f"{ratio:.1f}" != f"{IMAGE_MAX_RATIO:.1f}" else f"{ratio:.4f}"
        raise InvalidRequest(
            f"{name} is {w}x{h} px, an aspect ratio of {text.rstrip('0').rstrip('.')}:1; the "
            f"service takes at most {IMAGE_MAX_RATIO}:1 (or 1:{IMAGE_MAX_RATIO}). Crop it or pad "
            f"its short side to at least {math.ceil(long / IMAGE_MAX_RATIO)} px."
        )
    return warnings


def check_audio(info: MediaInfo, name: str, family: Family, *, inline: bool = False) -> list[str]:
    """Bytes and seconds of one audio file (flash: 100 MB, 20 min; turbo: 10 MB, 3 min)."""
    warnings: list[str] = []
    max_bytes, max_seconds = family.audio_max_bytes, family.audio_max_seconds
    if info.nbytes > max_bytes:
        raise InvalidRequest(
            f"{name} is {_over(info.nbytes, max_bytes)}; {family.name} takes audio files up to "
            f"{human_bytes(max_bytes)}. Compress it (for example to mp3 at 64 kbit/s) or trim it."
        )
    if info.seconds is None:
        warnings.append(
            f"Could not measure how long {name} lasts; {family.name} takes audio up to "
            f"{_limit(max_seconds)} s{_minutes(max_seconds)}."
        )
    elif info.seconds > max_seconds:
        raise InvalidRequest(
            f"{name} lasts {_secs(info.seconds, max_seconds)}; {family.name} takes audio up to "
            f"{_limit(max_seconds)} s{_minutes(max_seconds)}. Trim it to {_limit(max_seconds)} s"
            " or split it across several cells."
        )
    if inline:
        warnings.extend(w for w in [inline_warning(info.nbytes, name)] if w)
    return warnings


def check_video(info: MediaInfo, name: str, family: Family, *, inline: bool = False) -> list[str]:
    """Bytes and seconds of one video file (flash: 256 MB, 150 s; turbo: 150 MB, 40 s)."""
    warnings: list[str] = []
    max_bytes, max_seconds = family.video_max_bytes, family.video_max_seconds
    if info.nbytes > max_bytes:
        raise InvalidRequest(
            f"{name} is {_over(info.nbytes, max_bytes)}; {family.name} takes video files up to "
            f"{human_bytes(max_bytes)}. Re-encode it at a lower resolution or bitrate, trim it, "
            "or pass frames with --frames."
        )
    if info.seconds is None:
        warnings.append(
            f"Could not measure how long {name} lasts; {family.name} takes video files up to "
            f"{_limit(max_seconds)} s."
        )
    elif info.seconds > max_seconds:
        raise InvalidRequest(
            f"{name} lasts {_secs(info.seconds, max_seconds)}; {family.name} takes video files "
            f"up to {_limit(max_seconds)} s. Trim it to {_limit(max_seconds)} s, or pass frames "
            "with --frames."
        )
    if inline:
        warnings.extend(w for w in [inline_warning(info.nbytes, name)] if w)
    return warnings


def check_frames(count: int, family: Family) -> list[str]:
    """The number of images in a video given as frames (flash: 2-128; turbo: 4-80)."""
    lo, hi = family.frames_min, family.frames_max
    span = f"{family.name} takes {lo} to {hi} images as a video"
    if count < lo:
        missing = lo - count
        raise InvalidRequest(
            f"{count} frame{'s' if count != 1 else ''} given; {span}. Add {missing} more "
            f"frame{'s' if missing != 1 else ''}, or send {'it' if count == 1 else 'them'} "
            "as images with --image."
        )
    if count > hi:
        step = math.ceil(count / hi)
        raise InvalidRequest(
            f"{count} frames given; {span}. Keep at most {hi} (for example every "
            f"{_ordinal(step)} frame), or pass the video file with --video."
        )
    return []


def check_frame_images(
    infos: Sequence[MediaInfo], names: Sequence[str], family: Family
) -> list[str]:
    """A frame list: its length, then each frame as an image."""
    warnings = check_frames(len(infos), family)
    for info, name in zip(infos, names):
        warnings.extend(check_image(info, name))
    return warnings


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def inline_warning(nbytes: int, name: str) -> str | None:
    """A warning when ``nbytes`` sent inline make a base64 payload over ~10 MB; else None."""
    encoded = 4 * math.ceil(nbytes / 3)
    if encoded <= INLINE_WARN_BYTES:
        return None
    return (
        f"{name} is {human_bytes(nbytes)}, {_over(encoded, INLINE_WARN_BYTES)} once base64-encoded "
        "inline; "
        f"public trackers report a cap near {human_bytes(INLINE_WARN_BYTES)} on inline data, so "
        "the service may refuse it. Pass it by URL (for example a public or OSS link) instead."
    )
