"""PyAV helpers for ``probe.py``: open a container, read a stream's length, count its frames.

A container that states no frame count (Matroska and WebM never do; their header rate is a
default block duration, 25 or 1000 for a variable-frame-rate recording) has its picture
stream's packets counted by demuxing that stream alone: no decoding, one pass, one packet in
memory at a time. The real average rate is that count over the stream's own span, not the
container's, which includes a longer sound track.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .errors import InvalidRequest
from .whole import reason as _reason

# Packets are counted in the first COUNT_BYTES of the file: the whole of any file under it, in
# a second or two (demuxing reads the file, it decodes nothing). A byte budget rather than a
# time budget, so that one file gets the same count, and the same token estimate, on any
# machine under any load. A larger file is sampled: the rate measured over its first
# COUNT_BYTES, times the header's duration, which is far closer than the header's nominal
# rate (1000 fps × an hour, for a screen recording).
COUNT_BYTES = 512 * 1024 * 1024


def av_open(av: Any, source: Any, name: str, wanted: str) -> Any:
    try:
        return av.open(source, "r")
    except Exception as exc:  # InvalidDataError, EOFError, OSError...: never a raw traceback
        raise InvalidRequest(
            f"{name} is not {'audio' if wanted == 'audio' else 'a video'} PyAV can read "
            f"({_reason(exc)}). Check that the file is complete and really "
            f"{'an audio file' if wanted == 'audio' else 'a video'}."
        ) from None


def duration(container: Any, stream: Any) -> float | None:
    """Seconds of ``stream``, else of the whole container; None when neither says."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE: microseconds
    return None


def demux_seconds(container: Any, stream: Any) -> float | None:
    """Last packet's end time: for raw streams whose header states no duration."""
    end = None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        stop = packet.pts + (packet.duration or 0)
        end = stop if end is None else max(end, stop)
    if end is None or not stream.time_base:
        return None
    return float(Fraction(end) * stream.time_base)


def frames_rate_seconds(av: Any, container: Any, stream: Any) -> tuple[int | None, float | None, float | None]:
    """(frames, fps, seconds) of a picture stream, from its header when it states a frame
    count (mp4, mov), else from counting its packets; None where nothing tells."""
    header = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(header) if header else None
    seconds = duration(container, stream)
    frames = int(stream.frames or 0)
    if frames:
        return frames, fps, seconds
    counted = _count(av, container, stream)
    if counted is not None:
        count, span, whole = counted
        fps = count / span
        if whole:
            return count, fps, span
        seconds = seconds or span
    return (round(seconds * fps) if seconds and fps else None), fps, seconds


def _count(av: Any, container: Any, stream: Any) -> tuple[int, float, bool] | None:
    """(packets, seconds they span, whether all were counted) of ``stream`` within the first
    COUNT_BYTES; None when there is no span to divide by or the demuxer fails (a damaged file:
    the header's figures stay, and ``whole.check_av`` gives the verdict)."""
    if not stream.time_base:
        return None
    count, first, end, read, whole = 0, None, None, 0, True
    try:
        for packet in container.demux(stream):
            if not packet.size:  # the empty packet that flushes the demuxer at the end
                continue
            count += 1
            read += packet.size
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is not None:
                stop = pts + (packet.duration or 0)
                first = pts if first is None else min(first, pts)
                end = stop if end is None else max(end, stop)
            # Where the packet sits in the file counts the other streams' bytes too; a
            # demuxer that does not say (pos -1) leaves this stream's own bytes.
            if max(packet.pos or 0, read) >= COUNT_BYTES:
                whole = False
                break
    except av.error.FFmpegError:
        return None
    if first is None or end is None or end <= first:
        return None
    return count, float(Fraction(end - first) * stream.time_base), whole


_AV_NAMES = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "mkv", "mpegts": "ts",
    "mp3": "mp3", "wav": "wav", "flac": "flac", "ogg": "ogg", "aac": "aac", "amr": "amr",
    "aiff": "aiff", "avi": "avi", "flv": "flv", "mpeg": "mpeg", "caf": "caf",
}


def av_format(av_name: str) -> str:
    return _AV_NAMES.get(av_name, av_name.split(",")[0])
