"""Check measured media against the service's limits, family by family (the catalog's
``limits``: the 2026 Qwen-Omni page, help.aliyun.com/zh/model-studio/qwen-omni, "输入限制").

Each ``check_*`` raises InvalidRequest naming the file, the limit, the measured value and a
fix, and returns a list of warnings (things that may still work, or could not be measured).
A limit the catalog does not mark confirmed only warns. Nothing here reads files:
``probe.py`` measures, this module judges.
"""

from __future__ import annotations

import math
from typing import Sequence

from . import tokens
from .catalog import Family, MediaLimits, Model
from .errors import InvalidRequest
from .probe import MediaInfo

MB = 1024 * 1024


def human_bytes(n: int) -> str:
    """``12.3 MB``: binary megabytes, as the service's limits are stated."""
    if n < 1024:
        return f"{n} bytes"
    if n < MB:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    if n < 1024 * MB:
        return f"{n / MB:.1f}".removesuffix(".0") + " MB"
    return f"{n / (1024 * MB):.1f}".removesuffix(".0") + " GB"  # the 2026 limits say "2GB"


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


def _refuse(family: Family, message: str) -> list[str]:
    """Refuse on a confirmed limit; on an unconfirmed one, the same words as a warning."""
    if family.limits.confirmed:
        raise InvalidRequest(message)
    return [f"{message} (This limit is not confirmed by the service's documentation: the "
            "request is sent and the service decides.)"]


def check_image(info: MediaInfo, name: str, family: Family) -> list[str]:
    """Width and height over 10 px; aspect ratio at most 200:1; the file within the family's size."""
    limits = family.limits
    warnings: list[str] = []
    cap = limits.image.max_bytes
    if cap is not None and info.nbytes > cap:
        warnings += _refuse(family, (
            f"{name} is {_over(info.nbytes, cap)}; {family.label} takes images up to "
            f"{human_bytes(cap)} each. Resize it or save it as JPEG to make it smaller."))
    w, h = info.width, info.height
    small, most = limits.image_min_side, limits.image_max_ratio
    if w is None or h is None:
        warnings.append(
            f"Could not measure the size of {name}; the service needs width and height over "
            f"{small} px and an aspect ratio of at most {most}:1."
        )
        return warnings
    if w <= small or h <= small:
        if w <= small and h <= small:
            measured = f"{w}x{h} px"
        elif w <= small:
            measured = f"{w} px wide"
        else:
            measured = f"{h} px tall"
        return warnings + _refuse(family, (
            f"{name} is {measured}; the service needs width and height over {small} px. "
            f"Resize it (for example to {max(32, small + 1)} px)."))
    long, short = max(w, h), min(w, h)
    if long > most * short:  # integers: exact at the edge
        ratio = long / short
        text = f"{ratio:.1f}" if f"{ratio:.1f}" != f"{most:.1f}" else f"{ratio:.4f}"
        warnings += _refuse(family, (
            f"{name} is {w}x{h} px, an aspect ratio of {text.rstrip('0').rstrip('.')}:1; the "
            f"service takes at most {most}:1 (or 1:{most}). Crop it or pad "
            f"its short side to at least {math.ceil(long / most)} px."))
    return warnings


def check_audio(info: MediaInfo, name: str, family: Family) -> list[str]:
    """Bytes and seconds of one audio file (Qwen3.5/3.8-Omni: 2 GB, 3 h; Qwen3-Omni-Flash:
    100 MB, 20 min; Turbo: 10 MB, 3 min)."""
    return _check_timed(info, name, family, family.limits.audio, "audio files",
                        "Compress it (for example to mp3 at 64 kbit/s) or trim it.",
                        "or ask of each part of it with --segments auto (the cell's prompt, once per "
                        "window the model takes).")


def check_video(info: MediaInfo, name: str, family: Family) -> list[str]:
    """Bytes and seconds of one video file (Qwen3.5-Omni: 2 GB, 1 h; Qwen3.8-Omni-Flash: 2 GB,
    2 h; Qwen3-Omni-Flash: 256 MB, 150 s; Turbo: 150 MB, 40 s)."""
    return _check_timed(info, name, family, family.limits.video, "video files",
                        "Re-encode it at a lower resolution or bitrate, trim it, or pass frames "
                        "with --frames.", "or ask of each part of it with --segments auto (the cell's "
                        "prompt, once per window the model takes), or pass frames with --frames.")


def _check_timed(info: MediaInfo, name: str, family: Family, media: MediaLimits, what: str,
                 smaller: str, shorter: str) -> list[str]:
    warnings: list[str] = []
    max_bytes, max_seconds = media.max_bytes, media.max_seconds
    if max_bytes is not None and info.nbytes > max_bytes:
        warnings += _refuse(family, (
            f"{name} is {_over(info.nbytes, max_bytes)}; {family.label} takes {what} up to "
            f"{human_bytes(max_bytes)}. {smaller}"))
    if max_seconds is None:
        return warnings
    if info.seconds is None:
        warnings.append(
            f"Could not measure how long {name} lasts; {family.label} takes {what} up to "
            f"{_limit(max_seconds)} s{_minutes(max_seconds)}."
        )
    elif info.seconds > max_seconds:
        warnings += _refuse(family, (
            f"{name} lasts {_secs(info.seconds, max_seconds)}; {family.label} takes {what} up "
            f"to {_limit(max_seconds)} s{_minutes(max_seconds)}. Trim it to "
            f"{_limit(max_seconds)} s, {shorter}"))
    return warnings


def check_sampling(info: MediaInfo, name: str, model: Model) -> list[str]:
    """A video file against DashScope's frame sampler (the official ``smart_nframes`` and
    ``smart_resize``: 2 frames a second, at least 2 of them, frames at most 200:1), which only
    DashScope applies: call it for DashScope's models only. A frame count or rate that could
    not be measured is a warning, never a refusal: the service counts them itself."""
    if not (info.frames and info.fps and info.width and info.height):
        return [f"Could not count the frames of {name}: its video tokens are not estimated, and "
                f"whether {model.family.label}'s frame sampler (2 frames a second, at least "
                f"{tokens.FRAME_FACTOR}) takes it is left to the service."]
    try:
        tokens.video_tokens(info.width, info.height, info.frames, info.fps, model)
    except InvalidRequest as exc:
        return _refuse(model.family, f"{name}: {exc}")
    return []


def check_frames(count: int, family: Family) -> list[str]:
    """The number of images in a video given as frames (Qwen3.5/3.8: 2-2048; Qwen3-Omni-Flash:
    2-128; Turbo: 4-80)."""
    lo, hi = family.limits.frames_min, family.limits.frames_max
    span = f"{family.label} takes {lo} to {hi} images as a video"
    if count < lo:
        missing = lo - count
        video = (" A video file goes with --video (a local one given alone to --frames is taken "
                 "apart into the frames the service samples)." if count == 1 else "")
        return _refuse(family, (
            f"{count} frame{'s' if count != 1 else ''} given; {span}. Add {missing} more "
            f"frame{'s' if missing != 1 else ''}, or send {'it' if count == 1 else 'them'} "
            f"as images with --image.{video}"))
    if count > hi:
        step = math.ceil(count / hi)
        return _refuse(family, (
            f"{count} frames given; {span}. Keep at most {hi} (for example every "
            f"{_ordinal(step)} frame), or pass the video file with --video."))
    return []


def check_frame_images(
    infos: Sequence[MediaInfo], names: Sequence[str], family: Family
) -> list[str]:
    """A frame list: its length, then each frame as an image."""
    warnings = check_frames(len(infos), family)
    for info, name in zip(infos, names):
        warnings.extend(check_image(info, name, family))
    return warnings


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def encoded_length(nbytes: int) -> int:
    """Characters of the base64 text of ``nbytes`` bytes."""
    return 4 * math.ceil(nbytes / 3)


def check_inline(nbytes: int, name: str, kind: str, family: Family) -> list[str]:
    """The base64 string of one item sent inline must be under the family's cap (10 MB):
    "编码后的 Base64 字符串大小必须小于 10MB" (the 2026 Qwen-Omni page)."""
    media: MediaLimits = getattr(family.limits, "image" if kind == "frames" else kind)
    cap = media.max_inline_chars
    encoded = encoded_length(nbytes)
    if cap is None or encoded < cap:
        return []
    smaller = {"audio": "a lower bitrate, or a shorter clip", "video": "a lower resolution or "
               "bitrate, or a shorter clip"}.get(kind, "a lower resolution, or JPEG")
    return _refuse(family, (
        f"{name} is {human_bytes(nbytes)}, {_over(encoded, cap)} once base64-encoded; "
        f"{family.label} takes inline (base64) media under {human_bytes(cap)} per item. Pass it "
        f"by URL (for example a public or OSS link), or make it smaller: {smaller}."))


def check_counts(kind: str, url: int, inline: int, family: Family) -> list[str]:
    """How many items of one kind a message holds, by URL and inline."""
    media: MediaLimits = getattr(family.limits, kind)
    what = {"image": "images", "audio": "audio files", "video": "video files"}[kind]
    for count, cap, how in ((url, media.max_count_url, "by URL"),
                            (inline, media.max_count_inline, "inline (base64)")):
        if cap is not None and count > cap:
            return _refuse(family, (
                f"This message holds {count} {what} {how}; {family.label} takes at most {cap}. "
                "Send the rest in another cell (turn)."))
    return []
