"""``--fit``: a local file that breaks a limit a transformation can cure is transformed, not
refused, and a note says exactly what was done. Without ``fit``, the refusal says what it would do.

What each cure keeps, from the service's own rules (the Chinese Qwen-Omni page,
help.aliyun.com/zh/model-studio/qwen-omni, 2026-11 edition: "图片+文本输入", "音频+文本输入",
"视频文件形式", "输入 Base64 编码的本地文件" and the token rules' estimator code):

- an image goes at the size the service's ``smart_resize`` gives it (the most pixels the model
  uses, 1,280 or 16,384 tokens' worth), turned upright, as JPEG (PNG while its transparency
  fits): the model sees the same pixels;
- audio goes as 16 kHz mono MP3 at the highest bitrate that fits (see transcode.py);
- a video goes as the frames the service samples (``smart_nframes``: 2 a second within the
  family's frame limits) at the size it resizes them to, with its sound as 16 kHz mono AAC; a
  silent one, when no bitrate left for the picture is worth sending, as a list of those frames
  (one with sound is not cured that way: it would lose its sound; --segments keeps it).

A limit a transformation cannot cure (a recording longer than the model takes) is not touched:
``--segments`` asks of each window instead. URLs are the service's to fetch and are never fitted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import tokens, transcode
from .attachments import Attachment, InlineData
from .catalog import Family, MediaLimits, Model
from .errors import InvalidRequest
from .limits import encoded_length, human_bytes

MP3_KBPS = (64, 48, 40, 32, 24, 16, 8)  # MPEG-2 Layer III bitrates at 16 kHz, highest first
AUDIO_SLACK = 8_192  # bytes of an MP3's headers
MARGIN = 0.95  # of a cap: container overhead and the encoder's overshoot stay under it
MIN_FRAME_BYTES = 6_000  # below this much H.264 per sampled frame, a frame list says more
TRIES = 3  # encodes of one video at falling bitrates before it goes as a frame list
VIDEO_SLACK = 16_384  # bytes of an MP4's boxes
MAX_VIDEO_KBPS = 4_000  # with room to spare: plenty for frames of the size the service uses


@dataclass(frozen=True)
class Cure:
    """What ``--fit`` does (``run``) or would do (``offer``) to one attachment."""

    name: str
    offer: str  # "downscale it to 1312×960 ... and save it as JPEG"
    run: Callable[[], Attachment]


def raw_cap(media: MediaLimits) -> float:
    """The most bytes one inline item of this kind may have: under the base64 cap (a string of
    ``4·ceil(n/3)`` characters must stay under ``max_inline_chars``) and the size cap."""
    caps = [math.inf]
    if media.max_inline_chars is not None:
        caps.append((media.max_inline_chars - 1) // 4 * 3)
    if media.max_bytes is not None:
        caps.append(media.max_bytes)
    return min(caps)


def _too_big(nbytes: int, media: MediaLimits) -> bool:
    inline = media.max_inline_chars is not None and encoded_length(nbytes) >= media.max_inline_chars
    return inline or (media.max_bytes is not None and nbytes > media.max_bytes)


def _local(attachment: Attachment) -> InlineData | None:
    item = attachment.items()[0]
    return item if isinstance(item, InlineData) else None


def _original_size(attachment: Attachment, item: InlineData) -> int:
    """The file's own size (a HEIC photo is converted to JPEG before anything else sees it)."""
    if isinstance(attachment.source, (str, Path)):
        try:
            return os.stat(Path(attachment.source).expanduser()).st_size
        except OSError:
            pass
    return item.nbytes


# -- images ---------------------------------------------------------------------------------------

def image_cure(attachment: Attachment, model: Model, hi_res: bool, item: InlineData | None = None,
               name: str | None = None) -> Cure | None:
    """Downscale, pad or enlarge an image that breaks a size, side or aspect-ratio limit."""
    item = item or _local(attachment)
    info = attachment.probe()[attachment.items().index(item)] if item is not None else None
    if item is None or info is None or not info.width or not info.height:
        return None
    name = name or str(attachment.name)
    family = model.family
    limits = family.limits
    w, h = info.width, info.height
    small, most = limits.image_min_side, limits.image_max_ratio
    tiny = w <= small or h <= small
    skewed = max(w, h) > most * min(w, h)
    if not (_too_big(item.nbytes, limits.image) or tiny or skewed):
        return None
    turned = _exif_turned(item)
    if turned:
        w, h = h, w
    pad = None
    if skewed:  # pad the short side to the steepest ratio the service takes
        pad = (w, max(h, math.ceil(w / most))) if w > h else (max(w, math.ceil(h / most)), h)
    base = pad or (w, h)
    size = tokens.image_size(*base, model, hi_res=hi_res)
    if not tiny and size[0] * size[1] >= base[0] * base[1]:
        size = base  # the service would not shrink it: only the encoding changes
    cap = int(raw_cap(limits.image) * MARGIN)
    mode = " with --hi-res" if hi_res else ""
    resize = (f"keep its {size[0]}×{size[1]} pixels" if size == base else
              f"resize it to {size[0]}×{size[1]} (the size {model.id} resizes it to{mode})")
    offer = ("turn it upright, " if turned else "") + (f"pad it with white to {pad[0]}×{pad[1]}, " if pad else "") + (
        f"{resize} and save it as JPEG (PNG if its transparency fits) under {human_bytes(cap)}")

    def run() -> Attachment:
        image, upright = transcode.upright(item.read(), name)
        picture = transcode.picture(image, size, cap, pad_to=pad)
        steps = [s for s in (upright, *picture.steps) if s]
        same = picture.width == size[0] and picture.height == size[1] and \
            tokens.image_size(picture.width, picture.height, model, hi_res=hi_res) == size
        note = (f"{name}: {info.width}×{info.height} → {picture.width}×{picture.height} "
                f"{picture.format}, {human_bytes(_original_size(attachment, item))} → "
                f"{human_bytes(len(picture.data))}" + "".join(f"; {s}" for s in steps)
                + ("; the model sees the same pixels." if same and not pad else "."))
        return Attachment("image", picture.data, name=name, note=note)

    return Cure(name, offer, run)


def _exif_turned(item: InlineData) -> bool:
    """Whether the image's EXIF orientation swaps its sides (5-8: a quarter turn)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(item.read())) as image:
            return image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # the probe refuses what cannot be read; here it only means "not turned"
        return False


# -- audio ---------------------------------------------------------------------------------------

def audio_cure(attachment: Attachment, model: Model) -> Cure | None:
    """Re-encode audio over the size or inline cap as 16 kHz mono MP3 at the highest bitrate
    that fits. A recording longer than the model takes is not curable here."""
    item = _local(attachment)
    info = attachment.probe()[0]
    family = model.family
    media = family.limits.audio
    if item is None or info is None or not info.seconds or not _too_big(item.nbytes, media):
        return None
    if _too_long(info.seconds, media, family):
        return None
    kbps = next(iter(mp3_rates(info.seconds, raw_cap(media) * MARGIN)), None)
    if kbps is None:
        return None  # even 8 kbit/s is too much: the refusal says --segments
    name = str(attachment.name)
    offer = (f"re-encode it as 16 kHz mono MP3 at {kbps} kbit/s (about "
             f"{human_bytes(int(info.seconds * kbps * 125))})")

    def run() -> Attachment:
        data = transcode.mp3(item.path or item.read(), name, kbps)
        note = (f"{name}: {(info.format or 'audio').upper()}, {human_bytes(item.nbytes)} → 16 kHz mono "
                f"MP3 at {kbps} kbit/s, {human_bytes(len(data))}; all {info.seconds:.1f} s of it.")
        return Attachment("audio", data, name=name, note=note)

    return Cure(name, offer, run)


def mp3_bytes(seconds: float, kbps: int) -> float:
    """Bytes of ``seconds`` of MP3 at ``kbps``, with the encoder's overshoot."""
    return seconds * kbps * 125 * 1.02


def mp3_rates(seconds: float, cap: float) -> list[int]:
    """The MP3 bitrates, highest first, at which ``seconds`` of sound fit in ``cap`` bytes."""
    return [k for k in MP3_KBPS if mp3_bytes(seconds, k) <= cap - AUDIO_SLACK]


def _too_long(seconds: float, media: MediaLimits, family: Family) -> bool:
    return media.max_seconds is not None and seconds > media.max_seconds and family.limits.confirmed


# -- video ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sampling:
    """The frames the service takes from a video (or a span of it), and their size."""

    times: list[float]
    size: tuple[int, int]
    frame_seconds: float  # how long one frame of the source shows

    @classmethod
    def of(cls, source: object, name: str, width: int, height: int, fps: float, start: float,
           end: float, model: Model) -> Sampling:
        count = max(1, round((end - start) * fps))
        nframes = tokens.sampled_frames(count, fps, model)
        if transcode.rotation(source, name) in (90, 270):
            width, height = height, width
        size = tokens.frame_size(width, height, nframes, model)
        return cls(transcode.sample_times(start, end, nframes, fps), size, 1.0 / fps)


def pace(count: int, seconds: float, family: Family) -> str:
    """How the sampled frames are spread, in words: 2 a second, or fewer at the family's most."""
    if count >= tokens.FPS * seconds - 1.5:
        return "2 a second"
    return f"spread over its {seconds:.0f} s: {family.label} samples at most {family.limits.frames_max}"


def picture_budget(cap: float, seconds: float, sound: bool) -> float:
    """Bytes left for the picture of ``seconds`` of video under ``cap``: less the MP4's boxes and,
    with ``sound``, its AAC track (with the encoder's overshoot)."""
    return cap - VIDEO_SLACK - (transcode.AAC_KBPS * 125 * 1.05 * seconds if sound else 0.0)


def encode_video(source: object, name: str, sampling: Sampling, cap: float, sound: bool,
                 seconds: float, span: transcode.Span | None = None) -> bytes | None:
    """The sampled frames (and the sound in ``span``, which lasts ``seconds``) as an MP4 under
    ``cap`` bytes, at the bitrate the budget allows, lower on each of TRIES tries; None when
    none fits."""
    kbps = int(min(picture_budget(cap, seconds, sound) * 8 / seconds / 1000, MAX_VIDEO_KBPS))
    for _ in range(TRIES):
        data = transcode.mp4(source, name, size=sampling.size, times=sampling.times, kbps=kbps,
                             sound=sound, span=span or transcode.Span(),
                             frame_seconds=sampling.frame_seconds)
        if len(data) <= cap:
            return data
        kbps = int(kbps * 0.7)
    return None


def video_cure(attachment: Attachment, model: Model) -> Cure | None:
    """Re-encode a video over the size or inline cap as the frames the service samples, with its
    sound; or turn it into a frame list when the picture would get too few bytes."""
    item = _local(attachment)
    info = attachment.probe()[0]
    family = model.family
    media = family.limits.video
    if item is None or info is None or not _too_big(item.nbytes, media):
        return None
    if not (info.seconds and info.fps and info.width and info.height):
        return None
    if _too_long(info.seconds, media, family):
        return None
    name = str(attachment.name)
    source = item.path or item.read()
    try:
        sampling = Sampling.of(source, name, info.width, info.height, info.fps, 0.0, info.seconds, model)
    except InvalidRequest:
        return None  # the sampler's own refusal (too short, too skewed) stands
    sound = bool(info.has_audio)
    cap = raw_cap(media) * MARGIN
    count, (w, h) = len(sampling.times), sampling.size
    as_video = picture_budget(cap, info.seconds, sound) / count >= MIN_FRAME_BYTES
    if not as_video and sound:
        return None  # a frame list would lose the sound: the refusal points to --segments
    rate = pace(count, info.seconds, family)
    if as_video:
        offer = (f"re-encode it as {w}×{h} H.264 holding the {count} frames the service samples "
                 f"({rate}){', with its sound as 16 kHz mono AAC' if sound else ''}, under "
                 f"{human_bytes(int(cap))}")
    else:
        offer = f"send it as the {count} frames the service samples ({rate}), {w}×{h} JPEG"

    def run() -> Attachment:
        lead = (f"{name}: {info.width}×{info.height}, {info.seconds:.1f} s, "
                f"{human_bytes(item.nbytes)} → ")
        data = encode_video(source, name, sampling, cap, sound, info.seconds) if as_video else None
        if data is not None:
            note = (f"{lead}{w}×{h} H.264 of the {count} frames the service samples ({rate})"
                    f"{' with its sound (16 kHz mono AAC)' if sound else ''}, "
                    f"{human_bytes(len(data))}; the model sees the frames it would sample, "
                    "at the size it would resize them to.")
            return Attachment("video", data, name=name, note=note)
        if sound:
            raise InvalidRequest(f"{name} could not be re-encoded with its sound under "
                                 f"{human_bytes(int(cap))}: --segments auto asks the cell's prompt "
                                 "of each part of it, each small enough to send.")
        frames = transcode.jpeg_frames(source, name, size=(w, h), times=sampling.times)
        note = (f"{lead}the {count} frames the service samples ({rate}), {w}×{h} JPEG, "
                f"{human_bytes(sum(map(len, frames)))} in all.")
        return Attachment("frames", frames, name=name, note=note)

    return Cure(name, offer, run)


# -- frame lists ---------------------------------------------------------------------------------

def frames_cure(attachment: Attachment, model: Model, hi_res: bool) -> Cure | None:
    """Keep at most the family's frame count (evenly spread), and fit each frame as an image."""
    family = model.family
    items = attachment.items()
    if any(not isinstance(item, InlineData) for item in items):
        return None
    keep = list(range(len(items)))
    most = family.limits.frames_max
    if len(items) > most:
        keep = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    cures = {i: image_cure(attachment, model, hi_res, item=items[i], name=items[i].name) for i in keep}
    if len(keep) == len(items) and not any(cures.values()):
        return None
    fixed = sum(c is not None for c in cures.values())
    parts = ([f"keep {len(keep)} of its {len(items)} frames, evenly spread"] if len(keep) < len(items) else []) \
        + ([f"resize {fixed} frame{'s' if fixed != 1 else ''} as images"] if fixed else [])
    name = str(attachment.name)

    def run() -> Attachment:
        sources = [cures[i].run().source if cures[i] else items[i].read() for i in keep]
        note = f"{name}: " + "; ".join(parts).replace("keep", "kept", 1).replace("resize", "resized", 1) + "."
        return Attachment("frames", sources, name=name, note=note)

    return Cure(name, " and ".join(parts), run)


# -- a video given as frames (--frames VIDEO) ----------------------------------------------------

def is_video_frames(attachment: Attachment) -> bool:
    """A frame list of one source that is a video file: the frames are to be taken from it."""
    from .probe import media_type

    if attachment.kind != "frames" or len(attachment.source) != 1:
        return False
    source = attachment.source[0]
    if isinstance(source, (str, Path)) and not str(source).startswith(("http://", "https://", "oss://", "data:")):
        found = media_type(Path(source).expanduser())
    elif isinstance(source, (bytes, bytearray)):
        found = media_type(data=bytes(source))
    else:
        return False
    return found is not None and found[0] == "video"


def video_as_frames(attachment: Attachment, model: Model) -> Attachment:
    """The frames the service would sample from the video (2 a second within the family's frame
    limits), at the size it would resize them to, as a frame list."""
    from .probe import probe_video

    source = attachment.source[0]
    source = Path(source).expanduser() if isinstance(source, (str, Path)) else bytes(source)
    name = str(attachment.name)
    info = probe_video(source, name)
    if not (info.seconds and info.fps and info.width and info.height):
        raise InvalidRequest(f"{name}: its length or frame rate could not be measured, so the frames "
                             "the service would sample cannot be chosen. Pass it with --video instead.")
    sampling = Sampling.of(source, name, info.width, info.height, info.fps, 0.0, info.seconds, model)
    frames = transcode.jpeg_frames(source, name, size=sampling.size, times=sampling.times)
    w, h = sampling.size
    note = (f"{name}: the {len(frames)} frames {model.family.label} samples from its "
            f"{info.seconds:.1f} s ({pace(len(frames), info.seconds, model.family)}), "
            f"{w}×{h} JPEG, sent as a frame list" + ("; its sound is not sent (pass it with "
                                                     "--video to keep it)." if info.has_audio else "."))
    return Attachment("frames", frames, name=name, note=note)


# -- the request's media -------------------------------------------------------------------------

def cure_for(attachment: Attachment, model: Model, hi_res: bool) -> Cure | None:
    if attachment.kind == "image":
        return image_cure(attachment, model, hi_res)
    if attachment.kind == "audio":
        return audio_cure(attachment, model)
    if attachment.kind == "video":
        return video_cure(attachment, model)
    return frames_cure(attachment, model, hi_res)


def _uncurable(attachment: Attachment, model: Model) -> None:
    """A local recording too large to send inline that no re-encoding fits (it lasts too long):
    its refusal says that --segments sends it in parts."""
    item = _local(attachment) if attachment.kind in ("audio", "video") else None
    info = attachment.probe()[0] if item is not None else None
    media = getattr(model.family.limits, attachment.kind, None)
    if item is None or info is None or media is None or not _too_big(item.nbytes, media) \
            or (info.seconds is not None and _too_long(info.seconds, media, model.family)):
        return  # nothing to fit, or too long: the limit's own refusal says --segments
    try:
        attachment.check(model)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{exc} Re-encoded, it would still be too large to send inline (it "
                             "lasts too long): --segments auto asks the cell's prompt of each part "
                             "of it, each small enough to send.") from None


def fit_media(attachments: Sequence[Attachment], model: Model, hi_res: bool, *,
              apply: bool, check: bool = True) -> list[Attachment]:
    """The attachments to send: a video given as frames turned into them; then (``check``: the
    server applies DashScope's limits) each that breaks a curable limit transformed (``apply``),
    or, without ``apply``, refused with what ``--fit`` would do (InvalidRequest)."""
    out: list[Attachment] = []
    for attachment in attachments:
        if is_video_frames(attachment):
            attachment = video_as_frames(attachment, model)
        cure = cure_for(attachment, model, hi_res) if check else None
        if cure is None:
            if check:
                _uncurable(attachment, model)
            out.append(attachment)
        elif apply:
            out.append(cure.run())
        else:
            try:
                attachment.check(model)
            except InvalidRequest as exc:
                raise InvalidRequest(f"{exc} With --fit (fit=True), omni_magic would {cure.offer}.") from None
            out.append(attachment)  # an unconfirmed limit: warned by the checks, sent as it is
    return out
