"""``--segments``: a recording longer than the model takes, asked window by window.

The service's own advice for long recordings is to split them ("长音频需要细粒度描述时，建议分段处理",
the Chinese Qwen-Omni page, help.aliyun.com/zh/model-studio/qwen-omni, 2026-11 edition, 音频理解).
A local audio or video file is cut into windows (``windows``), each re-encoded to fit the
service's inline cap (``cut``: the same encodings as ``--fit``, see fit.py and transcode.py), and
the notebook asks the cell's prompt of each through the batch runner. ``answers_text`` labels
each window's answer with its time range, for a question over all of them (``--then``) and for
the conversation, so a later cell can refer to "the part from 00:20:00".

Times are written ``hh:mm:ss`` everywhere (labels, the table's start and end columns, the
answers' labels), rounded to the second; a window runs from its start to its end.

How long a window may be (``limits``):

- the model: the family's ``max_seconds`` for the kind (Qwen3-Omni-Flash takes 20 minutes of
  audio, 150 s of video), and for ``auto`` a video window also no longer than the family's frame
  limit at the service's 2 frames a second (128 frames: 64 s), so every frame is kept;
- the inline cap (10 MB of base64): ``auto`` keeps a decent quality (audio: 16 kHz mono MP3 at
  24 kbit/s or more; video: at least ``fit.MIN_FRAME_BYTES`` of H.264 per sampled frame, plus
  its sound as AAC); an explicit length may go down to 8 kbit/s for audio.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import fit, transcode
from .attachments import Attachment
from .catalog import Model
from .errors import InvalidRequest
from .limits import human_bytes
from .probe import MediaInfo

AUTO_OVERLAP = 10.0  # seconds: an auto window's overlap at most (length/20 for short ones)
SHORTEST = 1.0  # seconds: a tail window shorter than this is merged into the one before
AUTO_KBPS = 24  # the lowest MP3 bitrate ``auto`` accepts: speech stays clear at 16 kHz mono
SAMPLED_FPS = 2.0  # the service samples video at 2 frames a second


# -- lengths and times ---------------------------------------------------------------------------

_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_length(text: str) -> float | None:
    """Seconds of ``10m``, ``90s``, ``1h30m``, ``1.5h`` or ``600`` (seconds); None for ``auto``."""
    value = re.sub(r"\s+", "", str(text)).lower()
    if value == "auto":
        return None
    seconds: float | None = None
    try:
        seconds = float(value)
    except ValueError:
        parts = _PART.findall(value)
        units = [unit for _, unit in parts]
        if parts and "".join(n + u for n, u in parts) == value and len(set(units)) == len(units) \
                and units == sorted(units, key="hms".index):
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds is None or not math.isfinite(seconds):
        raise InvalidRequest(f"--segments takes a length such as 10m, 90s, 1h30m or 600 (seconds), "
                             f"or auto (the longest the model takes), not {text!r}. Nothing was sent.")
    if seconds <= 0:
        raise InvalidRequest(f"--segments {text}: a window must last more than 0 s. Nothing was sent.")
    return seconds


def clock(seconds: float) -> str:
    """``hh:mm:ss``, rounded to the second: the one way times are written here."""
    total = int(round(seconds))
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


def length_text(seconds: float) -> str:
    """A length as ``--segments`` takes it back: ``20m``, ``1h30m``, ``7m40s``, ``64s``."""
    total = int(seconds)  # down: a length given back must stay within the limit it names
    hours, minutes, secs = total // 3600, total // 60 % 60, total % 60
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


@dataclass(frozen=True)
class Window:
    """One part of a recording, ``start`` to ``end`` in seconds; ``index`` counts from 0."""

    index: int
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def label(self) -> str:
        return f"{clock(self.start)}–{clock(self.end)}"

    @property
    def slug(self) -> str:
        """The label as a file name may hold it (a window's speech is saved as NAME_SLUG.wav)."""
        return f"{clock(self.start)}_{clock(self.end)}".replace(":", "-")


def windows(seconds: float, length: float, overlap: float = 0.0, *, most: float | None = None,
            shortest: float = SHORTEST) -> list[Window]:
    """Windows of ``length`` covering ``seconds``, each starting ``overlap`` before the one before
    ends; the last may be shorter. When the last would add less than ``shortest`` seconds, it is
    merged into the one before, unless that would make it longer than ``most`` (the model's
    limit): then it stays, made ``shortest`` long at least by starting earlier."""
    if length <= 0 or not 0 <= overlap < length:
        raise ValueError(f"windows of {length} s overlapping by {overlap} s")
    out: list[Window] = []
    start = 0.0
    while True:
        end = min(start + length, seconds)
        out.append(Window(len(out), start, end))
        if end >= seconds:
            break
        start = end - overlap
    if len(out) >= 2 and out[-1].end - out[-2].end < shortest:
        before, tail = out[-2], out[-1]
        if most is None or tail.end - before.start <= most:
            out[-2:] = [Window(before.index, before.start, tail.end)]
        elif tail.seconds < shortest:
            out[-1] = Window(tail.index, max(0.0, tail.end - shortest), tail.end)
    return out


# -- how long a window may be --------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """The longest window, and why (a sentence naming the model or the cap)."""

    seconds: float
    why: str


def limits(info: MediaInfo, model: Model, *, auto: bool) -> list[Limit]:
    """What bounds a window of this recording on ``model``: the model's longest recording and
    the inline cap (at ``auto``'s decent quality, or at the least an explicit length accepts)."""
    family = model.family
    kind = info.kind
    media = family.limits.audio if kind == "audio" else family.limits.video
    found: list[Limit] = []
    if media.max_seconds is not None and (auto or family.limits.confirmed):
        found.append(Limit(float(media.max_seconds),
                           f"{model.id} takes at most {length_text(media.max_seconds)} of {kind} in a request"))
    cap = fit.raw_cap(media) * fit.MARGIN
    if kind == "audio":
        kbps = AUTO_KBPS if auto else fit.MP3_KBPS[-1]
        most = (cap - fit.AUDIO_SLACK) / fit.mp3_bytes(1.0, kbps)
        if math.isfinite(most):
            found.append(Limit(most, f"a longer window does not fit the {human_bytes(int(cap))} inline "
                                     f"cap as 16 kHz mono MP3 at {kbps} kbit/s"))
        return found
    frames_max = family.limits.frames_max
    if auto:
        found.append(Limit(frames_max / SAMPLED_FPS, f"{model.id} samples at most {frames_max} frames "
                           f"of a video, {SAMPLED_FPS:g} a second"))
    # A second of video costs its sound plus two sampled frames; past the frame limit (an
    # explicit length), only the sound grows.
    sound = fit.picture_budget(cap, 0.0, False) - fit.picture_budget(cap, 1.0, True) if info.has_audio else 0.0
    budget = fit.picture_budget(cap, 0.0, False)
    most = budget / (sound + SAMPLED_FPS * fit.MIN_FRAME_BYTES)
    if not auto and most > frames_max / SAMPLED_FPS:
        most = (budget - frames_max * fit.MIN_FRAME_BYTES) / sound if sound else math.inf
    if math.isfinite(most):
        found.append(Limit(most, f"a longer window does not fit the {human_bytes(int(cap))} inline "
                                 f"cap with {human_bytes(fit.MIN_FRAME_BYTES)} of H.264 a sampled "
                                 "frame" + (" and its sound" if sound else "")))
    return found


def auto_length(info: MediaInfo, model: Model) -> tuple[float, float]:
    """(length, overlap) of ``auto``: the longest window the model takes that still fits inline
    at a decent quality, in whole seconds, overlapping by ``min(10 s, length/20)``."""
    bounds = limits(info, model, auto=True)
    longest = min((b.seconds for b in bounds), default=math.inf)
    if not math.isfinite(longest):
        longest = info.seconds or 0.0  # nothing bounds it: the whole recording at once
    length = float(max(1, math.floor(longest)))
    return length, float(min(AUTO_OVERLAP, length // 20))


def check_length(length: float, info: MediaInfo, model: Model, name: str) -> None:
    """Refuse an explicit window longer than the model takes or the inline cap holds, naming the
    longest it takes, before anything is encoded or sent."""
    for bound in limits(info, model, auto=False):
        if length > bound.seconds + 1e-9:
            raise InvalidRequest(
                f"--segments {length_text(length) if length >= 1 else f'{length:g}s'}: {bound.why}, so "
                f"windows of {name} can be at most {length_text(bound.seconds)} long. Give "
                f"--segments {length_text(bound.seconds)} or less, or auto. Nothing was sent.")


def plan(info: MediaInfo, model: Model, length: float | None, name: str) -> list[Window]:
    """The windows of a measured recording: ``length`` None is ``auto`` (with an overlap), else
    that length checked (no overlap: 10m gives 00:00:00–00:10:00, 00:10:00–00:20:00, ...)."""
    if not info.seconds:
        raise InvalidRequest(f"{name}: its length could not be measured, so it cannot be cut into "
                             "windows. Nothing was sent.")
    auto = length is None
    if length is None:
        length, overlap = auto_length(info, model)
    else:
        check_length(length, info, model, name)
        overlap = 0.0
    most = min((b.seconds for b in limits(info, model, auto=auto)), default=None)
    shortest = SHORTEST if info.kind == "audio" else max(SHORTEST, model.family.limits.frames_min / SAMPLED_FPS)
    return windows(info.seconds, length, overlap, most=most, shortest=shortest)


# -- one window, re-encoded ----------------------------------------------------------------------

def cut(path: str | Path, kind: str, window: Window, model: Model, *, info: MediaInfo | None = None,
        name: str | None = None) -> Attachment:
    """The ``window`` of the recording at ``path`` as an attachment that fits inline: audio as
    16 kHz mono MP3 at the highest bitrate that fits; video as the frames the service samples from
    the window, at the size it resizes them to, with its sound (as ``--fit`` does). Named
    ``lecture.mp3 [00:10:00–00:20:00]``, with a note saying what was sent."""
    name = name or Path(path).name
    source = str(Path(path).expanduser())
    media = model.family.limits.audio if kind == "audio" else model.family.limits.video
    cap = fit.raw_cap(media) * fit.MARGIN
    span = transcode.Span(window.start, window.end)
    called = f"{name} [{window.label}]"
    if kind == "audio":
        rates = fit.mp3_rates(window.seconds, cap)
        for kbps in rates:  # the estimate holds for MP3's constant bitrate; a miss tries lower
            data = transcode.mp3(source, name, kbps, span)
            if len(data) <= cap:
                note = (f"{called}: {window.seconds:.1f} s of {name} as 16 kHz mono MP3 at {kbps} "
                        f"kbit/s, {human_bytes(len(data))}.")
                return Attachment("audio", data, name=called, note=note)
    else:
        return _video_cut(source, name, called, window, model, info, cap)
    raise InvalidRequest(f"{called} could not be re-encoded under {human_bytes(int(cap))}: give "
                         "--segments a shorter length. Nothing was sent.")


def _video_cut(source: str, name: str, called: str, window: Window, model: Model,
               info: MediaInfo | None, cap: float) -> Attachment:
    from .probe import probe_video

    info = info or probe_video(source, name)
    if not (info.fps and info.width and info.height):
        raise InvalidRequest(f"{name}: its frame rate or size could not be measured, so the frames "
                             "the service would sample cannot be chosen. Nothing was sent.")
    sampling = fit.Sampling.of(source, name, info.width, info.height, info.fps, window.start,
                               window.end, model)
    sound = bool(info.has_audio)
    (w, h), count = sampling.size, len(sampling.times)
    data = fit.encode_video(source, name, sampling, cap, sound, window.seconds,
                            transcode.Span(window.start, window.end))
    if data is not None:
        note = (f"{called}: the {count} frames the service samples from these {window.seconds:.1f} s "
                f"({fit.pace(count, window.seconds, model.family)}), {w}×{h} H.264{' with its sound (16 kHz mono AAC)' if sound else ''}, "
                f"{human_bytes(len(data))}.")
        return Attachment("video", data, name=called, note=note)
    raise InvalidRequest(f"{called} could not be re-encoded under {human_bytes(int(cap))}: give "
                         "--segments a shorter length. Nothing was sent.")


# -- the answers ---------------------------------------------------------------------------------

def answers_text(name: str, windows: Sequence[Window], rows: Sequence[Any | None], prompt: str = "") -> str:
    """Each window's answer under its time range. ``rows`` are the batch's rows (``answer``,
    ``error``) in the windows' order, None for a window the run did not reach."""
    asked = f" to {prompt.strip()!r}" if prompt.strip() else ""
    lines = [f"Answers{asked} for each window of {name} (times hh:mm:ss from its start):"]
    for window, row in zip(windows, rows):
        if row is None:
            body = "(not asked: the run was stopped first)"
        elif row.error is not None:
            body = f"(no answer: {row.error})"
        else:
            body = row.answer.strip()
        lines.append(f"\n[{window.label}]\n{body}")
    return "\n".join(lines)


COLUMNS = ["start", "end", "answer", "usage", "error"]


def table(windows: Sequence[Window], rows: Sequence[Any | None]) -> Any:
    """One row per window: start and end as ``hh:mm:ss`` (the labels the answers carry), the
    answer, its usage and its error (a window the run did not reach says so). A pandas
    DataFrame when pandas is installed (the ``tables`` extra), else a list of dicts."""
    records = [{"start": clock(w.start), "end": clock(w.end),
                "answer": row.answer if row is not None else "",
                "usage": row.usage if row is not None else None,
                "error": row.error if row is not None else "not asked: the run was stopped first"}
               for w, row in zip(windows, rows)]
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame.from_records(records, columns=COLUMNS)
