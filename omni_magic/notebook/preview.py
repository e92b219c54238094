"""Small pictures of what is being sent: thumbnails, a waveform, a strip of frames.

Pure rendering to PNG bytes (Pillow, numpy, PyAV when present); ``view.py``
puts them in the notebook as static HTML so they stay in the saved file. A
preview is a courtesy: if one cannot be drawn, the request still goes out.
"""

from __future__ import annotations

import io
from typing import Any

from ..attachments import Attachment, InlineData

THUMB = 160
STRIP = 6  # frames shown for a video or a long frame list
WAVE_SIZE = (360, 64)


def previews(attachment: Attachment) -> list[tuple[str, bytes | None]]:
    """(caption, PNG bytes or None) for each picture of the attachment."""
    items = attachment.items()
    if attachment.kind == "frames":
        picks = _evenly(len(items), STRIP)
        return [(f"frame {i + 1}/{len(items)}", _safe(_thumb, items[i])) for i in picks]
    item = items[0]
    if isinstance(item, str):
        return [(f"{attachment.kind} by URL: {attachment.name}", None)]
    if attachment.kind == "image":
        return [(attachment.name or "image", _safe(_thumb, item))]
    if attachment.kind == "audio":
        info = attachment.probe()[0]
        seconds = f" · {info.seconds:.1f} s" if info and info.seconds else ""
        return [(f"{attachment.name}{seconds}", _safe(_waveform, item))]
    return _video_strip(attachment, item)


def _safe(render: Any, item: Any) -> bytes | None:
    if isinstance(item, str):
        return None
    try:
        return render(item)
    except Exception:  # a preview must never stop the request
        return None


def _evenly(count: int, most: int) -> list[int]:
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _thumb(item: InlineData) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(item.read())) as image:
        image.thumbnail((THUMB, THUMB))
        return _png(image.convert("RGB"))


def _waveform(item: InlineData) -> bytes:
    import numpy as np
    from PIL import Image, ImageDraw

    lo, hi = _audio_envelope(_source(item))
    width, height = WAVE_SIZE
    image = Image.new("RGB", WAVE_SIZE, "white")
    draw = ImageDraw.Draw(image)
    if lo.size:
        peak = float(max(-lo.min(), hi.max())) or 1.0  # the loudest sample, either way
        mid = height / 2
        for x, (low, high) in enumerate(zip(np.array_split(lo, width), np.array_split(hi, width))):
            if low.size:
                top, bottom = high.max() / peak, low.min() / peak
                draw.line([(x, mid - top * mid), (x, mid - bottom * mid)], fill=(40, 90, 160))
    return _png(image)


def _source(item: InlineData) -> Any:
    """What a decoder opens: the path, read piece by piece, or the bytes already in memory."""
    return str(item.path) if item.path is not None else io.BytesIO(item.read())


def _audio_envelope(source: Any) -> tuple[Any, Any]:
    """Per-bucket (min, max) of the mono sound, decoded block by block: soundfile first,
    PyAV for m4a/aac and whatever else soundfile cannot read."""
    envelope = _Envelope()
    try:
        import soundfile as sf

        with sf.SoundFile(source) as sound:
            for block in sound.blocks(blocksize=BLOCK, dtype="float32", always_2d=True):
                envelope.add(block.mean(axis=1))
    except Exception:
        import av

        if not isinstance(source, str):
            source.seek(0)
        envelope = _Envelope()
        with av.open(source) as container:
            for frame in container.decode(audio=0):
                envelope.add(_mono(frame))
    return envelope.extremes()


def _mono(frame: Any) -> Any:
    import numpy as np

    samples = frame.to_ndarray().astype(np.float32)
    if frame.format.name.startswith("u8"):
        samples -= 128  # unsigned 8-bit: silence is 128
    if frame.format.is_planar:  # one row per channel
        return samples.mean(axis=0)
    return samples.reshape(-1, max(1, len(frame.layout.channels))).mean(axis=1)


BLOCK = 65_536  # samples decoded at a time by soundfile
ENVELOPE = 65_536  # buckets kept at most: a sound shorter than this keeps every sample


class _Envelope:
    """The min and max of consecutive buckets of samples, fed block by block.

    Buckets start one sample wide, so a short sound is drawn from every sample; past
    ENVELOPE buckets neighbours merge and buckets double in width, so memory stays bounded
    however long the sound, and a click shorter than a pixel still reaches its column."""

    def __init__(self) -> None:
        import numpy as np

        self.width = 1
        self.lo: list[Any] = []
        self.hi: list[Any] = []
        self.count = 0
        self.carry = np.zeros(0, dtype=np.float32)  # samples not yet filling a bucket

    def add(self, mono: Any) -> None:
        import numpy as np

        block = np.concatenate([self.carry, mono]) if self.carry.size else mono
        full = block.size - block.size % self.width
        self.carry = block[full:].copy()
        if full:
            rows = block[:full].reshape(-1, self.width)
            self.lo.append(rows.min(axis=1))
            self.hi.append(rows.max(axis=1))
            self.count += rows.shape[0]
        while self.count > ENVELOPE:
            self._merge()

    def _merge(self) -> None:
        import numpy as np

        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)
        pairs = lo.size - lo.size % 2
        # An odd last bucket stays as it is: later samples shift by under one bucket.
        self.lo = [np.minimum(lo[:pairs:2], lo[1:pairs:2]), lo[pairs:]]
        self.hi = [np.maximum(hi[:pairs:2], hi[1:pairs:2]), hi[pairs:]]
        self.count = pairs // 2 + lo.size % 2
        self.width *= 2

    def extremes(self) -> tuple[Any, Any]:
        """(min, max) of every bucket, the last, partial one included."""
        import numpy as np

        lo, hi = list(self.lo), list(self.hi)
        if self.carry.size:
            lo.append(self.carry.min(keepdims=True))
            hi.append(self.carry.max(keepdims=True))
        if not lo:
            return self.carry, self.carry  # no sound at all: empty arrays
        return np.concatenate(lo), np.concatenate(hi)


def _video_strip(attachment: Attachment, item: InlineData) -> list[tuple[str, bytes | None]]:
    info = attachment.probe()[0]
    caption = attachment.name or "video"
    if info is not None and info.seconds:
        caption += f" · {info.seconds:.1f} s · {info.width}×{info.height}"
    try:
        from PIL import Image

        thumbs = _video_thumbs(_source(item))
        strip = Image.new("RGB", (sum(t.width for t in thumbs) + 4 * len(thumbs), max(t.height for t in thumbs)), "white")
        x = 0
        for thumb in thumbs:
            strip.paste(thumb, (x, 0))
            x += thumb.width + 4
        return [(caption, _png(strip))]
    except Exception:
        return [(caption, None)]


def _video_thumbs(source: Any) -> list[Any]:
    """Thumbnails of the key frames at STRIP evenly spaced times: a seek and one decoded
    frame each, so a long video costs what a short one does."""
    import av

    with av.open(source) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"  # a seek lands on a key frame anyway
        start, end = _span(container, stream)
        times = [start + (end - start) * i // (STRIP - 1) for i in range(STRIP)]
        thumbs, seen = [], set()
        for index, when in enumerate(times):
            # The first one is read from where the file starts: no seek, which a raw stream
            # with no index (a .h264 file) may not allow.
            frame = _key_frame_at(av, container, stream, None if index == 0 else when)
            if frame is None or frame.pts in seen:  # few key frames: a seek finds the same one
                continue
            seen.add(frame.pts)
            image = frame.to_image()
            image.thumbnail((THUMB, THUMB))
            thumbs.append(image)
        return thumbs


def _span(container: Any, stream: Any) -> tuple[int, int]:
    """First and last timestamps of ``stream`` in its time base; (start, start) when no
    header says how long it is (the strip then shows the first key frame)."""
    start = stream.start_time or 0
    if stream.duration:
        return start, start + stream.duration
    if container.duration and stream.time_base:  # AV_TIME_BASE: microseconds
        return start, start + int(container.duration / 1_000_000 / stream.time_base)
    return start, start


def _key_frame_at(av: Any, container: Any, stream: Any, when: int | None) -> Any:
    """The first frame decoded from the last key frame at or before ``when`` (from where
    the container is when None); None if there is none."""
    try:
        if when is not None:
            container.seek(when, stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            for frame in packet.decode():
                return frame
    except av.error.FFmpegError:  # a container that cannot seek there: one thumbnail fewer
        return None
    return None
