"""Real media files of every common kind, made on the spot: photos, recordings, phone videos.

Each maker writes one file into ``folder`` and returns its Path; sizes and lengths are
parameters (small by default, so tests stay fast; big when a test asks). Content is
deterministic (a seeded numpy RNG) and busy enough to compress like the real thing: noise
on gradients for photos, a moving scene for video, a speech-like voice for audio.

Long files are made in seconds, not minutes: a few seconds of sound (or picture) are encoded
once and their packets are muxed again and again with new timestamps (mp3 without the bit
reservoir, video in whole GOPs that start with a key frame), so every packet decodes on its own
terms and the file is as long as asked. ``rotation_of`` reads a video's display rotation back.

Import them: ``from media_kinds import photo, mp3, phone_video, ...``. Needs PyAV,
pillow-heif, soundfile and Pillow.
"""

from __future__ import annotations

import heapq
import io
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

SEED = 18
AUDIO_LOOP = 20.0  # seconds of sound encoded once, then repeated for longer files
VIDEO_LOOP = 4.0  # seconds of picture encoded once (two 2-second GOPs), then repeated
VFR_GAPS_MS = (40, 40, 40, 120, 60, 200)  # one cycle: 6 frames in 500 ms, 12 frames a second
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".webm": "webm", ".mkv": "matroska"}
_LAYOUTS = {1: "mono", 2: "stereo"}


# --- images ------------------------------------------------------------------------------

def _layers(width: int, height: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """int16 (height, width, 3): colour gradients with a red band along the top edge (so a
    test can tell which way is up), and seeded noise in -128..127 to lay over them."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    base = np.empty((height, width, 3), np.int16)
    base[..., 0], base[..., 1], base[..., 2] = x, y, (x + y) / 2
    base[: max(1, height // 10)] = (230, 20, 20)
    noise = np.random.default_rng(seed).integers(-128, 128, (height, width, 3), dtype=np.int16)
    return base, noise


def _compose(base: np.ndarray, noise: np.ndarray, amplitude: int) -> np.ndarray:
    return np.clip(base + noise * amplitude // 128, 0, 255).astype(np.uint8)


def _scene(width: int, height: int, noise: int) -> np.ndarray:
    """RGB uint8: the gradients under noise of ``noise`` (0-255) amplitude."""
    return _compose(*_layers(width, height), noise)


def _exif(orientation: int | None) -> Any:
    from PIL import Image

    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation  # Orientation
        exif[0x010F] = "omni_magic tests"  # Make: cameras always write one
    return exif


def _jpeg(rgb: np.ndarray, quality: int, orientation: int | None = None) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality, exif=_exif(orientation))
    return out.getvalue()


def photo(folder: Path, width: int = 640, height: int = 480, *, orientation: int = 6,
          quality: int = 90, noise: int = 24, name: str = "photo.jpg") -> Path:
    """A JPEG stored ``width``×``height`` with EXIF ``orientation`` (6: turn 90° clockwise to
    show it, so a landscape-stored picture is displayed portrait, as phones take them)."""
    path = Path(folder) / name
    path.write_bytes(_jpeg(_scene(width, height, noise), quality, orientation))
    return path


def big_photo(folder: Path, megabytes: float = 12.0, width: int = 4032, height: int = 3024, *,
              orientation: int = 6, name: str = "big_photo.jpg") -> Path:
    """A camera-sized JPEG of at least ``megabytes`` (10**6 bytes): noise compresses badly, so
    the noise amplitude, then the quality, is raised until the file is big enough."""
    target = int(megabytes * 1_000_000)
    base, grain = _layers(width, height)
    quality = 92
    # Start from the noise at which a central sixteenth of the picture comes out at a sixteenth
    # of the target (cheap to try), then raise it on the whole picture.
    h, w = height // 4, width // 4
    middle = (slice(h * 3 // 2, h * 5 // 2), slice(w * 3 // 2, w * 5 // 2))
    noise = 0
    while noise < 255 and len(_jpeg(_compose(base[middle], grain[middle], noise + 16),
                                    quality)) * 16 < target:
        noise += 16
    while len(data := _jpeg(_compose(base, grain, noise), quality, orientation)) < target:
        if noise < 255:  # small steps, so the file ends close above the target
            noise = min(255, noise + 16)
        elif quality < 100:
            quality += 2
        else:
            raise ValueError(f"{width}×{height} cannot make a {megabytes} MB JPEG (at most "
                             f"{len(data) / 1e6:.1f} MB): ask for more pixels.")
    path = Path(folder) / name
    path.write_bytes(data)
    return path


def heic(folder: Path, width: int = 640, height: int = 480, *, orientation: int = 6,
         quality: int = 80, name: str = "photo.heic") -> Path:
    """A HEIC photo stored ``width``×``height``; pillow-heif turns the EXIF ``orientation``
    into the HEIF rotation (irot), so readers show it turned (portrait for 6)."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    path = Path(folder) / name
    Image.fromarray(_scene(width, height, noise=24)).save(
        path, "HEIF", quality=quality, exif=_exif(orientation).tobytes())
    return path


def png_alpha(folder: Path, width: int = 320, height: int = 240, *,
              name: str = "alpha.png") -> Path:
    """An RGBA PNG: the left half opaque, the right half fading to fully transparent."""
    from PIL import Image

    alpha = np.full((height, width), 255, np.uint8)
    half = width // 2
    alpha[:, half:] = np.linspace(255, 0, width - half, dtype=np.float32).astype(np.uint8)
    rgba = np.dstack([_scene(width, height, noise=16), alpha])
    path = Path(folder) / name
    Image.fromarray(rgba, "RGBA").save(path, "PNG")
    return path


# --- sound -------------------------------------------------------------------------------

def speech_like(seconds: float, rate: int = 16_000, channels: int = 1,
                seed: int = SEED) -> np.ndarray:
    """float32 (channels, samples): a voiced buzz gliding in pitch (100-200 Hz, 6 harmonics)
    in syllables of about 4 a second, with pauses and a little breath noise."""
    n = int(round(seconds * rate))
    t = np.arange(n, dtype=np.float64) / rate
    pitch = 150 + 50 * np.sin(2 * np.pi * 0.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 7))
    syllables = np.sin(2 * np.pi * 2 * t) ** 2
    pauses = (np.sin(2 * np.pi * 0.17 * t) > -0.6).astype(np.float64)
    breath = np.random.default_rng(seed).standard_normal(n) * 0.01
    mono = (0.12 * voice * syllables * pauses + breath).astype(np.float32)
    # A second channel: the same voice a little later and quieter, as from a second mic.
    return np.stack([mono if c == 0 else 0.8 * np.roll(mono, 7 * c) for c in range(channels)])


def _audio_track(container: Any, codec: str, seconds: float, rate: int, channels: int,
                 bitrate: int | None, options: dict[str, str] | None = None
                 ) -> Iterator[tuple[float, Any]]:
    import av

    stream = container.add_stream(codec, rate=rate, layout=_LAYOUTS[channels])
    if bitrate:
        stream.bit_rate = bitrate
    stream.options = options or {}
    looped = seconds > AUDIO_LOOP
    samples = speech_like(min(seconds, AUDIO_LOOP), rate, channels)
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=_LAYOUTS[channels])
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    # PyAV cuts the frame into the encoder's frame size and converts the sample format.
    packets = [*stream.encode(frame), *stream.encode(None)]
    if not looped:
        return _timed(packets)
    step = stream.codec_context.frame_size
    return _repeated(stream, packets, math.ceil(seconds * rate / step), step)


def _timed(packets: list[Any]) -> Iterator[tuple[float, Any]]:
    for packet in packets:
        yield float((packet.pts or 0) * packet.time_base), packet


def _repeated(stream: Any, packets: list[Any], count: int, step: int
              ) -> Iterator[tuple[float, Any]]:
    """``count`` packets cycling through ``packets``, timestamped ``step`` ticks apart."""
    import av

    for i in range(count):
        source = packets[i % len(packets)]
        copy = av.Packet(bytes(source))
        copy.stream, copy.time_base = stream, source.time_base
        copy.pts = copy.dts = i * step
        copy.duration, copy.is_keyframe = step, source.is_keyframe
        yield float(i * step * source.time_base), copy


def _mux(container: Any, *tracks: Iterator[tuple[float, Any]]) -> None:
    # Interleaved by time, as players expect, and without buffering one whole track.
    for _, packet in heapq.merge(*tracks, key=lambda item: item[0]):
        container.mux(packet)


def _cover(container: Any, side: int = 300) -> None:
    """Album art: a JPEG in a picture stream marked attached_pic, which the mp3 muxer writes
    as an ID3v2 APIC frame and the MPEG-4 one as a ``covr`` atom."""
    import av

    art = container.add_stream("mjpeg")
    art.width, art.height, art.pix_fmt = side, side, "yuvj420p"
    art.disposition = av.stream.Disposition.attached_pic
    packet = av.Packet(_jpeg(_scene(side, side, noise=32), 85))
    packet.stream, packet.pts, packet.dts = art, 0, 0
    container.mux(packet)


def mp3(folder: Path, seconds: float = 3.0, rate: int = 16_000, channels: int = 1,
        bitrate: int = 32_000, *, cover: bool = False, name: str | None = None) -> Path:
    """An mp3 (LAME); with ``cover``, an ID3v2 APIC frame holding a 300×300 JPEG, the way
    music files carry album art. A 40-minute file takes about a second."""
    import av

    path = Path(folder) / (name or ("cover.mp3" if cover else "speech.mp3"))
    with av.open(str(path), "w", format="mp3") as container:
        # No bit reservoir: each mp3 frame holds its own bits, so frames can be repeated.
        sound = _audio_track(container, "libmp3lame", seconds, rate, channels, bitrate,
                             {"reservoir": "0"})
        if cover:
            _cover(container)
        _mux(container, sound)
    return path


def m4a(folder: Path, seconds: float = 3.0, rate: int = 44_100, channels: int = 2,
        bitrate: int = 96_000, *, cover: bool = False, name: str | None = None) -> Path:
    """AAC in an MPEG-4 container with the M4A brand, as phones and music stores write;
    with ``cover``, album art in a ``covr`` atom."""
    import av

    path = Path(folder) / (name or ("cover.m4a" if cover else "voice.m4a"))
    # FFmpeg's m4a muxer (ipod) takes no picture stream; mp4 branded M4A does.
    fmt, options = ("mp4", {"brand": "M4A "}) if cover else ("ipod", {})
    with av.open(str(path), "w", format=fmt, options=options) as container:
        sound = _audio_track(container, "aac", seconds, rate, channels, bitrate)
        if cover:
            _cover(container)
        _mux(container, sound)
    return path


def opus(folder: Path, seconds: float = 3.0, channels: int = 2, bitrate: int = 48_000, *,
         name: str = "voice.ogg") -> Path:
    """Opus in an Ogg container (what browsers and messengers record); Opus runs at 48 kHz."""
    import av

    path = Path(folder) / name
    with av.open(str(path), "w", format="ogg") as container:
        _mux(container, _audio_track(container, "libopus", seconds, 48_000, channels, bitrate))
    return path


def wav(folder: Path, seconds: float = 3.0, rate: int = 48_000, channels: int = 2, *,
        name: str = "stereo.wav") -> Path:
    """16-bit PCM WAV (soundfile), 48 kHz stereo by default, as recorders and DAWs write."""
    import soundfile as sf

    path = Path(folder) / name
    sf.write(path, speech_like(seconds, rate, channels).T, rate, subtype="PCM_16")
    return path


# --- video -------------------------------------------------------------------------------

class _Scene:
    """yuv420p frames of a scene that moves: a scrolling textured gradient and a bright
    square crossing it, so encoders have motion and detail to spend bits on."""

    def __init__(self, width: int, height: int, detail: int = 40) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"{width}×{height}: yuv420p needs an even width and height")
        self.width, self.height = width, height
        y, x = np.ogrid[0:height, 0:width]
        self.base = ((x + y) // 4 % 256).astype(np.uint8)
        rng = np.random.default_rng(SEED)
        self.texture = rng.integers(0, detail + 1, (height + 64, width + 64), dtype=np.uint8)
        self.side = max(2, min(width, height) // 6) // 2 * 2

    def frame(self, i: int) -> Any:
        import av

        w, h, s = self.width, self.height, self.side
        o = (i * 3) % 64
        luma = self.base + np.uint8(i * 2 % 256) + self.texture[o:o + h, o:o + w]
        top, left = (i * 5) % max(1, h - s), (i * 11) % max(1, w - s)
        luma[top:top + s, left:left + s] = 235
        u = np.full((h // 2, w // 2), 90 + i % 64, np.uint8)
        v = np.full((h // 2, w // 2), 160 - i % 48, np.uint8)
        return av.VideoFrame.from_ndarray(
            np.concatenate([luma, u.reshape(-1, w), v.reshape(-1, w)]), format="yuv420p")


def _codec_for(fmt: str) -> str:
    return "libvpx" if fmt == "webm" else "libx264"


def _video_stream(container: Any, codec: str, width: int, height: int, fps: int,
                  mbps: float | None, rotate: int) -> Any:
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.gop_size = 2 * fps  # a key frame every 2 s, as cameras do
    if mbps:
        stream.bit_rate = int(mbps * 1_000_000)
    if codec == "libx264":  # no B-frames in ultrafast: one packet a frame, pts == dts
        stream.options = {"preset": "ultrafast"}
    elif codec.startswith("libvpx"):  # realtime, fastest: no hidden alt-ref frames
        fastest = "16" if codec == "libvpx" else "8"  # VP8's scale runs to 16, VP9's to 8
        stream.options = {"deadline": "realtime", "cpu-used": fastest, "lag-in-frames": "0"}
    if rotate:
        # PyAV's angle is counter-clockwise (as VideoFrame.rotation reads it back); phones'
        # "rotate" tag is the clockwise turn a player applies.
        stream.set_display_rotation(-rotate)
    return stream


def _video_track(container: Any, codec: str, seconds: float, width: int, height: int,
                 fps: int, mbps: float | None, rotate: int) -> Iterator[tuple[float, Any]]:
    stream = _video_stream(container, codec, width, height, fps, mbps, rotate)
    count = int(round(seconds * fps))
    looped = seconds > VIDEO_LOOP
    scene = _Scene(width, height)
    packets = []
    for i in range(int(round(VIDEO_LOOP * fps)) if looped else count):
        frame = scene.frame(i)
        frame.pts = i
        packets += stream.encode(frame)
    packets += stream.encode(None)
    if not looped:
        return _timed(packets)
    if len(packets) != int(round(VIDEO_LOOP * fps)) or not packets[0].is_keyframe:
        raise RuntimeError(f"{codec} did not give one packet a frame from a key frame: "
                           "its packets cannot be repeated")
    return _repeated(stream, packets, count, 1)


def video(folder: Path, name: str = "clip.mp4", seconds: float = 2.0, width: int = 320,
          height: int = 240, fps: int = 25, codec: str | None = None,
          container: str | None = None, audio: bool = True, *, rotate: int = 0,
          mbps: float | None = None) -> Path:
    """A video file: H.264 (VP8 for webm) with, when ``audio``, a speech-like sound track
    (AAC 48 kHz stereo; Opus for webm). The container comes from ``name``'s suffix (.mp4,
    .mov, .webm, .mkv) unless given as an FFmpeg format name. ``rotate`` (0/90/180/270,
    clockwise, as phones tag it) writes a display matrix; ``mbps`` asks for a bitrate."""
    import av

    path = Path(folder) / name
    fmt = container or CONTAINERS[path.suffix.lower()]
    codec = codec or _codec_for(fmt)
    with av.open(str(path), "w", format=fmt) as out:
        tracks = [_video_track(out, codec, seconds, width, height, fps, mbps, rotate)]
        if audio:
            sound = ("libopus", 48_000) if fmt == "webm" else ("aac", 48_000)
            tracks.append(_audio_track(out, sound[0], seconds, sound[1], 2, 128_000))
        _mux(out, *tracks)
    return path


def phone_video(folder: Path, seconds: float = 300.0, width: int = 1920, height: int = 1080,
                fps: int = 30, *, rotate: int = 90, mbps: float = 6.0,
                name: str = "phone.mp4") -> Path:
    """What a phone held upright records: 1080p H.264 at 30 fps, AAC stereo sound, tagged to
    be turned 90° clockwise; at 6 Mbit/s a 5-minute one is about 240 MB, made in seconds."""
    return video(folder, name, seconds, width, height, fps, "libx264", None, True,
                 rotate=rotate, mbps=mbps)


def vfr_video(folder: Path, seconds: float = 4.0, width: int = 320, height: int = 240, *,
              name: str = "vfr.mp4", nominal_fps: int = 25) -> Path:
    """A variable-frame-rate H.264 video (no sound): frames ``VFR_GAPS_MS`` apart in a
    millisecond time base, 12 frames a second on average, as screen recorders and phones
    under load write; ``nominal_fps`` is the rate the stream's header claims."""
    import av

    path = Path(folder) / name
    fmt = CONTAINERS[path.suffix.lower()]
    codec = _codec_for(fmt)
    with av.open(str(path), "w", format=fmt) as out:
        stream = _video_stream(out, codec, width, height, nominal_fps, None, 0)
        stream.codec_context.time_base = Fraction(1, 1000)
        scene = _Scene(width, height)
        i = ms = 0
        while ms < seconds * 1000:
            frame = scene.frame(i)
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
            ms += VFR_GAPS_MS[i % len(VFR_GAPS_MS)]
            i += 1
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def vfr_frames(seconds: float = 4.0) -> int:
    """How many frames ``vfr_video(seconds=...)`` writes."""
    i = ms = 0
    while ms < seconds * 1000:
        ms += VFR_GAPS_MS[i % len(VFR_GAPS_MS)]
        i += 1
    return i


def rotation_of(path: Path) -> int:
    """The clockwise turn (0, 90, 180, 270) a player gives the video to show it upright.

    PyAV 18 does not expose a stream's display matrix; FFmpeg copies it onto every decoded
    frame, where ``VideoFrame.rotation`` reads it as a counter-clockwise angle in
    [-180, 180] (a phone held upright: -90). Decoding the first frame is enough."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            return int(-frame.rotation) % 360
    return 0
