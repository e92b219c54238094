"""Re-encode media so that it fits a model: images with Pillow, sound and video with PyAV.

``fit.py`` (``--fit``) and ``segments.py`` (``--segments``) decide the sizes; this module only
encodes. Sources are read as streams, one decoded frame at a time from the file (PyAV reads a
path itself), and results, which the callers size under the service's 10 MB inline cap, are
written to memory: memory follows the output, never the input (a 2 GB video is never read whole).

The choices, and why:

- Sound goes as 16 kHz mono: MP3 for an audio file, AAC inside an MP4. The Qwen-Omni page lists
  both among the formats it takes ("文件格式：支持AMR、WAV、3GP、3GPP、AAC、MP3等主流格式", the Chinese
  Qwen-Omni page, help.aliyun.com/zh/model-studio/qwen-omni, 2026-11 edition, 音频+文本输入) and states no sample rate; 16 kHz is the rate the open Qwen-Omni
  models' audio encoder resamples every input to (their processors' Whisper feature extractor),
  so nothing the model hears is lost.
- Video goes as H.264 in MP4 (the same page, 视频文件形式: "文件格式：MP4、AVI、MKV、MOV、FLV、WMV 等"), holding only the
  frames the service's sampler takes, each at its own time and at the size the service's
  ``smart_resize`` gives it: sampling this file, the service takes every frame and resizes none.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence, Union

from .errors import InvalidRequest
from .probe import VIDEO_EXTRA

AUDIO_RATE = 16_000
AAC_KBPS = 32  # the sound of a video: speech stays clear at 16 kHz mono
JPEG_QUALITY = 85  # frames of a frame list: each far under the cap at the sizes the service uses
TIME_BASE = Fraction(1, 1000)  # output timestamps in milliseconds: each frame keeps its time

Source = Union[str, Path, bytes]


@dataclass(frozen=True)
class Span:
    """The part of a recording to encode, in seconds from its start (``end`` None: to the end)."""

    start: float = 0.0
    end: float | None = None

    def holds(self, t: float) -> bool:
        return t >= self.start and (self.end is None or t < self.end)


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise InvalidRequest(f"Re-encoding audio and video needs PyAV: {VIDEO_EXTRA}.") from None
    return av


def _open(source: Source, name: str) -> Any:
    av = _av()
    try:
        return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), "r")
    except Exception as exc:  # InvalidDataError, OSError...: one sentence, not a traceback
        raise InvalidRequest(f"{name} cannot be opened to re-encode it ({_reason(exc)}).") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


def _picture_stream(container: Any) -> Any:
    # mp3/m4a album art is a one-picture "video" stream: never the picture track.
    streams = [s for s in container.streams.video if not int(s.disposition or 0) & 0x400]
    return streams[0] if streams else None


# -- sound ---------------------------------------------------------------------------------------

class _Sound:
    """Decoded sound as 16 kHz mono float frames of the encoder's size, trimmed to a span."""

    def __init__(self, stream: Any, encoder: Any, span: Span, origin: float | None = None) -> None:
        av = _av()
        self.stream, self.encoder, self.span = stream, encoder, span
        self.size = encoder.frame_size or 1024
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
        self._origin = _start(stream) if origin is None else origin
        self._clock: float | None = None  # the time of the next resampled sample
        self._held: list[Any] = []
        self._written = 0

    def frames(self, decoded: Any) -> Iterator[Any]:
        """Encoder-ready frames for one decoded frame (None: the end, flush what is held)."""
        import numpy as np

        if decoded is not None and self._clock is None and decoded.time is not None:
            self._clock = decoded.time - self._origin
        for out in self._resampler.resample(decoded):
            samples = out.to_ndarray().reshape(-1)
            start = self._clock or 0.0
            self._clock = start + len(samples) / AUDIO_RATE
            first = max(0, round((self.span.start - start) * AUDIO_RATE))
            last = len(samples) if self.span.end is None else \
                min(len(samples), round((self.span.end - start) * AUDIO_RATE))
            if last > first:
                self._held.append(samples[first:last])
        held = np.concatenate(self._held) if self._held else np.zeros(0, dtype="float32")
        whole = len(held) if decoded is None else len(held) // self.size * self.size
        for at in range(0, whole, self.size):
            yield self._frame(held[at:at + self.size])
        self._held = [held[whole:]] if whole < len(held) else []

    def done(self) -> bool:
        return self.span.end is not None and self._clock is not None and self._clock >= self.span.end

    def _frame(self, samples: Any) -> Any:
        av = _av()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts, frame.time_base = self._written, Fraction(1, AUDIO_RATE)
        self._written += frame.samples
        return frame


def _start(stream: Any) -> float:
    """Seconds at which a stream's first packet is stamped."""
    return float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0


def _origin(streams: Sequence[Any]) -> float:
    """One clock for a recording's tracks: the earliest start. Sound that starts a second after
    the picture stays a second after it in what is sent (each track counted from its own start
    would pull them together)."""
    return min(_start(s) for s in streams)


def _sound_stream(output: Any, codec: str, kbps: int) -> Any:
    stream = output.add_stream(codec, rate=AUDIO_RATE, layout="mono")
    stream.bit_rate = kbps * 1000
    if codec == "libmp3lame":
        # LAME's -q 7 ("fast, ok quality"): 2.5x faster than its default at the same bitrate;
        # at 24-64 kbit/s of 16 kHz speech the slower searches buy nothing a listener hears.
        stream.options = {"compression_level": "7"}
    return stream


def mp3(source: Source, name: str, kbps: int, span: Span = Span()) -> bytes:
    """The sound of ``source`` (audio, or a video's sound track) in ``span`` as 16 kHz mono MP3."""
    av = _av()
    out = io.BytesIO()
    with _open(source, name) as container:
        if not container.streams.audio:
            raise InvalidRequest(f"{name} has no sound track to re-encode.")
        stream = container.streams.audio[0]
        _seek(container, stream, span.start)
        with av.open(out, "w", format="mp3") as output:
            encoder = _sound_stream(output, "libmp3lame", kbps)
            sound = _Sound(stream, encoder, span)
            for decoded in _decoded(container, [stream], name):
                for frame in sound.frames(decoded):
                    output.mux(encoder.encode(frame))
                if sound.done():
                    break
            for frame in sound.frames(None):
                output.mux(encoder.encode(frame))
            output.mux(encoder.encode(None))
    return out.getvalue()


def _seek(container: Any, stream: Any, start: float) -> None:
    """Jump to the key frame before ``start`` (seconds from the stream's start), if any."""
    if start <= 0 or not stream.time_base:
        return
    origin = stream.start_time or 0
    container.seek(origin + int(start / stream.time_base), stream=stream, backward=True)


# -- pictures ------------------------------------------------------------------------------------

def sample_times(span_start: float, span_end: float, count: int, fps: float) -> list[float]:
    """The times of the ``count`` frames the service's sampler takes from a span of a video at
    ``fps``: frames ``round(linspace(0, total - 1, count))``, as Qwen's vision utilities pick
    them (QwenLM's qwen-vl-utils; the page's estimator code gives only how many: smart_nframes),
    the first and the last frame of the span included."""
    total = max(1, round((span_end - span_start) * fps))
    if count <= 1:
        return [span_start]
    return [span_start + round(i * (total - 1) / (count - 1)) / fps for i in range(count)]


class _Pictures:
    """The decoded frame on screen at each of ``times``, turned upright and resized."""

    def __init__(self, stream: Any, size: tuple[int, int], times: Sequence[float],
                 origin: float | None = None) -> None:
        self.stream, self.size, self.times = stream, size, list(times)
        self._origin = _start(stream) if origin is None else origin
        rate = stream.average_rate or stream.guessed_rate
        self._slack = 0.5 / float(rate) if rate else 0.02
        self._next = 0
        self._previous: Any = None

    def pick(self, frame: Any) -> Iterator[tuple[float, Any]]:
        """(time, PIL image) for every target time this frame ends (None: the stream ended)."""
        t = None if frame is None or frame.time is None else frame.time - self._origin
        while self._next < len(self.times) and (t is None or self.times[self._next] < t - self._slack):
            chosen = self._previous if self._previous is not None else frame
            if chosen is None:
                return
            yield self.times[self._next], self._image(chosen)
            self._next += 1
        if frame is not None:
            self._previous = frame

    @property
    def done(self) -> bool:
        return self._next >= len(self.times)

    def _image(self, frame: Any) -> Any:
        from PIL import Image

        turn = round(getattr(frame, "rotation", 0) or 0) % 360  # the display matrix (phones)
        width, height = self.size
        sideways = turn in (90, 270)
        image = frame.to_image(width=height if sideways else width,
                               height=width if sideways else height, interpolation="AREA")
        if turn:
            # FFmpeg's rotation is counter-clockwise, as Pillow's rotate() counts it.
            image = image.rotate(turn, expand=True, resample=Image.Resampling.NEAREST)
        return image


def rotation(source: Source, name: str) -> int:
    """The display rotation a video's frames carry (phones record sideways and say so), in
    degrees counter-clockwise: 0, 90, 180 or 270. Read from the first decoded frame."""
    with _open(source, name) as container:
        stream = _picture_stream(container)
        if stream is None:
            return 0
        for frame in _decoded(container, [stream], name):
            return round(getattr(frame, "rotation", 0) or 0) % 360
    return 0


DAMAGED_MOST = 100  # damaged packets skipped (as FFmpeg does) before a file counts as broken


def _decoded(container: Any, streams: Sequence[Any], name: str) -> Iterator[Any]:
    """Decoded frames of ``streams``; a damaged packet is skipped, as players and FFmpeg skip it
    (the frame on screen before it stands in), unless too many are."""
    av = _av()
    from .whole import reason

    damaged = 0
    try:
        for packet in container.demux(*streams):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError as exc:
                damaged += 1
                if damaged > DAMAGED_MOST:
                    raise InvalidRequest(f"{name} is damaged: more than {DAMAGED_MOST} of its "
                                         f"packets cannot be decoded ({reason(exc)}). Export it "
                                         "again, or check that the copy is complete.") from None
                continue
            yield from frames
    except av.error.FFmpegError as exc:
        raise InvalidRequest(f"{name} could not be read to the end ({reason(exc)}). Export it "
                             "again, or check that the copy is complete.") from None


def mp4(source: Source, name: str, *, size: tuple[int, int], times: Sequence[float], kbps: int,
        sound: bool, span: Span = Span(), frame_seconds: float = 0.04) -> bytes:
    """An H.264 MP4 of the frames on screen at ``times`` (seconds from the recording's start,
    within ``span``), ``size`` (width, height) each at its own time, with the sound in ``span``
    as 16 kHz mono AAC when ``sound``. ``kbps`` is the picture's average bitrate, held by a
    VBV buffer of one second so the file does not overshoot it. ``frame_seconds`` is how long the
    last frame shows (the source's frame duration): the picture then ends where the span does."""
    av = _av()
    out = io.BytesIO()
    width, height = size
    with _open(source, name) as container:
        stream = _picture_stream(container)
        if stream is None:
            raise InvalidRequest(f"{name} has no picture to re-encode.")
        stream.thread_type = "AUTO"  # decode on every core: the decode is most of the time
        audio = container.streams.audio[0] if sound and container.streams.audio else None
        _seek(container, stream, span.start)
        with av.open(out, "w", format="mp4") as output:
            # The service's rate; each frame's own timestamp says when it was on screen.
            video = output.add_stream("libx264", rate=Fraction(2))
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.bit_rate = kbps * 1000
            video.codec_context.time_base = TIME_BASE
            video.options = {"preset": "veryfast", "maxrate": f"{kbps}k", "bufsize": f"{kbps}k"}
            encoder = _sound_stream(output, "aac", AAC_KBPS) if audio is not None else None
            streams = [stream] + ([audio] if audio is not None else [])
            origin = _origin(streams)
            sound_part = _Sound(audio, encoder, span, origin) if audio is not None else None
            pictures = _Pictures(stream, size, times, origin)
            for decoded in _decoded(container, streams, name):
                if isinstance(decoded, av.AudioFrame):
                    for frame in sound_part.frames(decoded):
                        output.mux(encoder.encode(frame))
                else:
                    for at, image in pictures.pick(decoded):
                        _mux(output, video.encode(_video_frame(av, image, at - span.start)), frame_seconds)
                if pictures.done and (sound_part is None or sound_part.done()):
                    break
            for at, image in pictures.pick(None):
                _mux(output, video.encode(_video_frame(av, image, at - span.start)), frame_seconds)
            _mux(output, video.encode(None), frame_seconds)
            if encoder is not None:
                for frame in sound_part.frames(None):
                    output.mux(encoder.encode(frame))
                output.mux(encoder.encode(None))
    return out.getvalue()


def _video_frame(av: Any, image: Any, at: float) -> Any:
    frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
    frame.pts, frame.time_base = round(max(0.0, at) / TIME_BASE), TIME_BASE
    return frame


def _mux(output: Any, packets: Sequence[Any], seconds: float) -> None:
    """Mux picture packets, each lasting ``seconds`` (a source frame): the MP4 keeps only the last
    one's, so the picture ends where the span does, not half a second (the encoder's 2 fps) on."""
    for packet in packets:
        if packet.time_base:
            packet.duration = max(1, round(seconds / packet.time_base))
        output.mux(packet)


def jpeg_frames(source: Source, name: str, *, size: tuple[int, int], times: Sequence[float]) -> list[bytes]:
    """The frames on screen at ``times``, ``size`` each, as JPEG files (a frame list)."""
    out: list[bytes] = []
    with _open(source, name) as container:
        stream = _picture_stream(container)
        if stream is None:
            raise InvalidRequest(f"{name} has no picture to take frames from.")
        stream.thread_type = "AUTO"
        _seek(container, stream, times[0] if times else 0.0)
        pictures = _Pictures(stream, size, times)
        for decoded in _decoded(container, [stream], name):
            out += [_jpeg(image, JPEG_QUALITY) for _, image in pictures.pick(decoded)]
            if pictures.done:
                break
        out += [_jpeg(image, JPEG_QUALITY) for _, image in pictures.pick(None)]
    return out


def _jpeg(image: Any, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# -- images --------------------------------------------------------------------------------------

JPEG_QUALITIES = (90, 85, 75, 65, 50)


@dataclass(frozen=True)
class Picture:
    """An image re-encoded: its bytes, format and size, and what was done on the way."""

    data: bytes
    format: str  # "JPEG" or "PNG"
    width: int
    height: int
    steps: tuple[str, ...]


def upright(data: bytes, name: str) -> tuple[Any, str | None]:
    """The image decoded with its EXIF orientation applied, and a note when it had one."""
    from PIL import Image, ImageOps

    from . import heic, probe

    if probe.sniff(data) == ("image", "heic"):
        heic.register(name)
    try:
        image = Image.open(io.BytesIO(data))
        orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation
        image = ImageOps.exif_transpose(image)
        image.load()
    except Exception as exc:  # the probe read it already; a decoder error here is still one sentence
        raise InvalidRequest(f"{name} cannot be decoded to re-encode it ({_reason(exc)}).") from None
    return image, (f"turned upright (EXIF orientation {orientation})" if orientation not in (None, 1) else None)


def picture(image: Any, size: tuple[int, int], cap: int, *, pad_to: tuple[int, int] | None = None) -> Picture:
    """``image`` at ``size`` (padded to ``pad_to`` first), as PNG when it has transparency and
    fits, else JPEG at the best of JPEG_QUALITIES that fits ``cap`` bytes, smaller if none does."""
    from PIL import Image

    steps: list[str] = []
    if pad_to is not None and pad_to != image.size:
        canvas = Image.new(image.mode if image.mode in ("RGB", "RGBA", "L") else "RGB", pad_to, "white")
        canvas.paste(image, ((pad_to[0] - image.width) // 2, (pad_to[1] - image.height) // 2))
        image = canvas
        steps.append(f"padded with white to {pad_to[0]}×{pad_to[1]}")
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if transparent:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= cap:
            return Picture(buffer.getvalue(), "PNG", *image.size, tuple(steps))
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.convert("RGBA").getchannel("A"))
        image = flat
        steps.append("its transparency flattened onto white")
    while True:
        for quality in JPEG_QUALITIES:
            data = _jpeg(image, quality)
            if len(data) <= cap:
                return Picture(data, "JPEG", *image.size, tuple(steps))
        # Not even the lowest quality fits: fewer pixels than the model would use, said so.
        smaller = (max(1, round(image.width * 0.8)), max(1, round(image.height * 0.8)))
        if smaller == image.size:
            raise InvalidRequest("An image could not be made small enough to send inline.")
        image = image.resize(smaller, Image.Resampling.LANCZOS)
        steps.append(f"shrunk to {smaller[0]}×{smaller[1]} to fit")
