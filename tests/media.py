"""Tiny media generated on the fly for tests: nothing is committed, everything is bytes.

Import them: ``from media import png, wav, mp4``. Images come from Pillow, wav/flac from
soundfile, mp3/m4a/mp4 from PyAV (the ``video`` extra); ``needs_av`` and ``needs_mp3``
skip a test with a reason when PyAV or its mp3 encoder is missing. ``served(files)`` puts
media on a loopback HTTP server, for media passed by URL.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator, Mapping
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest


def _image(width: int, height: int, fmt: str, **save: object) -> bytes:
    from PIL import Image

    # A gradient, not a flat colour, so the encoders produce ordinary files.
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, axis=1)
    rgb = np.stack([x, y, np.full_like(x, 128)], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format=fmt, **save)
    return buf.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    return _image(width, height, "PNG")


def jpeg(width: int = 64, height: int = 48, quality: int = 80) -> bytes:
    return _image(width, height, "JPEG", quality=quality)


def gif(width: int = 64, height: int = 48) -> bytes:
    return _image(width, height, "GIF")


def webp(width: int = 64, height: int = 48) -> bytes:
    return _image(width, height, "WEBP")


def tone(seconds: float, rate: int = 16_000, freq: float = 440.0) -> np.ndarray:
    """A quiet sine wave, float32 mono."""
    t = np.arange(int(round(seconds * rate)), dtype=np.float32) / rate
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _soundfile(seconds: float, rate: int, fmt: str, subtype: str) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, tone(seconds, rate), rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    return _soundfile(seconds, rate, "WAV", "PCM_16")


def flac(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    return _soundfile(seconds, rate, "FLAC", "PCM_16")


def ogg(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    return _soundfile(seconds, rate, "OGG", "VORBIS")


def can_encode(codec: str) -> bool:
    """Whether the installed PyAV has an encoder for ``codec``."""
    try:
        import av

        av.codec.Codec(codec, "w")
    except Exception:
        return False
    return True


def _has_av() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


needs_av = pytest.mark.skipif(
    not _has_av(), reason="PyAV is not installed (pip install 'omni_magic[video]')"
)
needs_mp3 = pytest.mark.skipif(
    not can_encode("libmp3lame"), reason="this PyAV build has no mp3 encoder (libmp3lame)"
)


def _audio_stream(container, codec: str, rate: int):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "mono"
    return stream


def _encode_tone(container, stream, seconds: float) -> None:
    """Encode a tone of ``seconds`` into ``stream`` and mux it."""
    import av

    rate = stream.codec_context.sample_rate
    samples = tone(seconds, rate)
    chunk = stream.codec_context.frame_size or 1024
    pts = 0
    for start in range(0, len(samples), chunk):
        piece = samples[start:start + chunk]
        # Packed float; the encoder converts it to the sample format it prefers.
        frame = av.AudioFrame.from_ndarray(piece[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        pts += len(piece)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def mp3(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as container:
        _encode_tone(container, _audio_stream(container, "libmp3lame", rate), seconds)
    return buf.getvalue()


def m4a(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """AAC in an MPEG-4 container with the M4A brand, as phones record it."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="ipod") as container:
        _encode_tone(container, _audio_stream(container, "aac", rate), seconds)
    return buf.getvalue()


def mp4(
    seconds: float = 1.0,
    fps: int = 10,
    width: int = 64,
    height: int = 48,
    with_audio: bool = True,
    codec: str | None = None,
    container_format: str = "mp4",
) -> bytes:
    """A moving gradient (h264, else mpeg4; yuv420p) with an optional AAC tone."""
    import av

    codec = codec or ("libx264" if can_encode("libx264") else "mpeg4")
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        # Every stream exists before the first packet is muxed (the header is written then).
        sound = _audio_stream(container, "aac", 16_000) if with_audio else None
        base = np.linspace(0, 255, width * height, dtype=np.float32).reshape(height, width)
        for i in range(int(round(seconds * fps))):
            gray = ((base + 8 * i) % 256).astype(np.uint8)
            rgb = np.stack([gray, gray[::-1], np.full_like(gray, 60)], axis=-1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if sound is not None:
            _encode_tone(container, sound, seconds)
    return buf.getvalue()


@contextlib.contextmanager
def served(files: Mapping[str, tuple[str, bytes]],
           redirects: Mapping[str, str] | None = None) -> Iterator[str]:
    """A loopback HTTP server answering each path of ``files`` with its (MIME type, bytes),
    each path of ``redirects`` with a 302 to its location, anything else with a 404; yields
    its base URL (``http://127.0.0.1:PORT``)."""
    moved = dict(redirects or {})

    class Media(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in moved:
                self.send_response(302)
                self.send_header("Location", moved[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            mime, data = files.get(self.path, ("text/plain", b"not found"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Media)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
