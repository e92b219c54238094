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

    samples = _audio_samples(item.read())
    width, height = WAVE_SIZE
    image = Image.new("RGB", WAVE_SIZE, "white")
    draw = ImageDraw.Draw(image)
    if samples.size:
        columns = np.array_split(samples, width)
        peak = float(np.abs(samples).max()) or 1.0
        mid = height / 2
        for x, col in enumerate(columns):
            if col.size:
                top, bottom = col.max() / peak, col.min() / peak
                draw.line([(x, mid - top * mid), (x, mid - bottom * mid)], fill=(40, 90, 160))
    return _png(image)


def _audio_samples(data: bytes) -> Any:
    """Mono float samples, decimated: soundfile first, PyAV for mp3/m4a."""
    import numpy as np

    try:
        import soundfile as sf

        samples, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
    except Exception:
        import av

        with av.open(io.BytesIO(data)) as container:
            parts = [frame.to_ndarray().astype("float32").reshape(-1) for frame in container.decode(audio=0)]
        mono = np.concatenate(parts) if parts else np.zeros(0, dtype="float32")
    step = max(1, mono.size // 20000)
    return mono[::step]


def _video_strip(attachment: Attachment, item: InlineData) -> list[tuple[str, bytes | None]]:
    info = attachment.probe()[0]
    caption = attachment.name or "video"
    if info is not None and info.seconds:
        caption += f" · {info.seconds:.1f} s · {info.width}×{info.height}"
    try:
        import av
        from PIL import Image

        source = str(item.path) if item.path is not None else io.BytesIO(item.read())
        with av.open(source) as container:
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"  # key frames only: cheap on long videos
            frames = []
            for frame in container.decode(stream):
                image = frame.to_image()
                image.thumbnail((THUMB, THUMB))
                frames.append(image)
        thumbs = [frames[i] for i in _evenly(len(frames), STRIP)]
        strip = Image.new("RGB", (sum(t.width for t in thumbs) + 4 * len(thumbs), max(t.height for t in thumbs)), "white")
        x = 0
        for thumb in thumbs:
            strip.paste(thumb, (x, 0))
            x += thumb.width + 4
        return [(caption, _png(strip))]
    except Exception:
        return [(caption, None)]
