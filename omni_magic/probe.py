"""Measure media without sending it: kind, real format, bytes, pixels, seconds, frames.

The format always comes from the data (magic bytes, then the decoder), never from the file
name: the request's ``input_audio.format`` must name the real container, and a PNG passed as
audio must be caught here, with a message, rather than refused by the service.

Pillow reads images, soundfile reads wav/flac/ogg (and mp3 on libsndfile >= 1.1), PyAV (the
``video`` extra) reads video and the audio containers soundfile cannot (m4a, aac, ...). All
three are imported when first needed. Whether a file is whole (not cut short) is checked by
``whole.py`` once it is measured; HEIC photos are read through ``heic.py``.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from . import heic, whole
from .errors import InvalidRequest
from .probe_av import av_format as _av_format
from .probe_av import av_open as _av_open
from .probe_av import demux_seconds as _demux_seconds
from .probe_av import duration as _duration
from .probe_av import frames_rate_seconds
from .whole import reason as _reason

VIDEO_EXTRA = "pip install 'omni_magic[video]'"

MIMES = {
    "png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
    "bmp": "image/bmp", "tiff": "image/tiff", "heic": "image/heic", "avif": "image/avif",
    "ico": "image/x-icon",
    "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg",
    "m4a": "audio/mp4", "aac": "audio/aac", "amr": "audio/amr", "aiff": "audio/aiff",
    "opus": "audio/ogg", "caf": "audio/x-caf",
    "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
    "avi": "video/x-msvideo", "flv": "video/x-flv", "3gp": "video/3gpp", "mpeg": "video/mpeg",
    "ts": "video/mp2t",
}
_ARTICLE = {"image": "an image", "audio": "an audio file", "video": "a video"}
_OPTION = {"image": "--image", "audio": "--audio", "video": "--video"}


@dataclass(frozen=True)
class MediaInfo:
    """What was measured about one piece of media; None where it does not apply or is unknown."""

    kind: str  # image | audio | video
    nbytes: int
    format: str | None = None  # the real container: png, jpeg, wav, mp3, m4a, mp4, ...
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    fps: float | None = None
    frames: int | None = None
    has_audio: bool | None = None  # video only: whether it carries a sound track
    audio_seconds: float | None = None  # video only: the sound track, billed separately


# --- magic bytes -------------------------------------------------------------------------

_FTYP_IMAGE = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_FTYP_AUDIO = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, format) from the first bytes, or None when the signature is unknown."""
    head = bytes(data[:64])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "gif"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image", "tiff"
    if head.startswith(b"BM") and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "image", "bmp"
    if head.startswith(b"\x00\x00\x01\x00") and len(head) >= 22 and head[4] > 0:
        return "image", "ico"
    if head.startswith(b"RIFF") and len(head) >= 12:
        riff = head[8:12]
        if riff == b"WEBP":
            return "image", "webp"
        if riff == b"WAVE":
            return "audio", "wav"
        if riff == b"AVI ":
            return "video", "avi"
        return None
    if head.startswith((b"RF64", b"BW64")) and head[8:12] == b"WAVE":
        return "audio", "wav"
    if head.startswith(b"fLaC"):
        return "audio", "flac"
    if head.startswith(b"OggS"):
        return ("audio", "opus") if b"OpusHead" in head else ("audio", "ogg")
    if head.startswith(b"ID3"):
        return "audio", "mp3"
    if head.startswith(b"#!AMR"):
        return "audio", "amr"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio", "aiff"
    if head.startswith(b"caff"):
        return "audio", "caf"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS: sync word, layer bits 00
            return "audio", "aac"
        if (len(head) >= 3 and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0
                and head[2] >> 4 not in (0, 15) and head[2] & 0x0C != 0x0C):
            return "audio", "mp3"  # an MPEG audio frame header with a valid bitrate and rate
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_IMAGE:
            # A generic major brand (mif1) leaves the codec to the compatible brands that follow.
            avif = brand.startswith(b"avi") or (brand in (b"mif1", b"msf1") and b"avif" in head[16:64])
            return "image", "avif" if avif else "heic"
        if brand in _FTYP_AUDIO:
            return "audio", "m4a"
        if brand == b"qt  ":
            return "video", "mov"
        if brand.startswith(b"3g"):
            return "video", "3gp"
        return "video", "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm" if b"webm" in head else "mkv"
    if head.startswith(b"FLV\x01"):
        return "video", "flv"
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video", "mpeg"
    if len(data) > 188 and data[0] == 0x47 and data[188] == 0x47:
        return "video", "ts"
    return None


def sniff_kind(data: bytes) -> str | None:
    """``image``, ``audio`` or ``video`` from the magic bytes; None when unknown."""
    found = sniff(data)
    return found[0] if found else None


HEAD_BYTES = 512  # enough for every signature above (an MPEG-TS needs 189)


def media_type(path: str | Path | None = None, data: bytes | None = None, *,
               decode: bool = False) -> tuple[str, str | None] | None:
    """(kind, MIME type) of a file or of bytes: the one policy for a data URL and a batch.

    The first bytes decide (``really_jpeg.png`` is a JPEG, ``notes.txt`` holding a PNG is an
    image); with ``decode``, Pillow then reads the header of an image format the signatures
    above do not know; the name only when the bytes say nothing: an unknown signature, or a
    file that cannot be read or does not exist yet. None when nothing tells image, audio or
    video."""
    head = bytes(data[:HEAD_BYTES]) if data is not None else _head(path)
    found = sniff(head) if head else None
    if found:
        return found[0], MIMES.get(found[1])
    if decode and head:
        from PIL import Image

        try:  # open() reads the header only
            with Image.open(io.BytesIO(data) if data is not None else path) as image:  # type: ignore[arg-type]
                if Image.MIME.get(image.format or ""):
                    return "image", Image.MIME[image.format or ""]
        except Exception:  # not an image Pillow knows: the name decides, the probe explains
            pass
    mime = mimetypes.guess_type(str(path))[0] if path is not None else None
    kind = mime.split("/", 1)[0] if mime else None
    return (kind, mime) if kind in ("image", "audio", "video") else None


def _head(path: str | Path | None) -> bytes:
    if path is None:
        return b""
    try:
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError:  # missing, a folder, unreadable: the name is all there is
        return b""


# Bytes already in memory, or a local path: a path is opened by the decoders themselves, so a
# 2 GB video or a 2-hour WAV is measured without being read into memory.
Source = Union[bytes, bytearray, memoryview, str, Path]


def _source(data_or_path: Source, name: str) -> tuple[bytes, int, bytes | str]:
    """(the first bytes, the size, what the decoders open: the bytes or the path)."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        data = bytes(data_or_path)
        return data[:HEAD_BYTES], len(data), data
    path = Path(data_or_path)
    try:
        nbytes = path.stat().st_size
        with path.open("rb") as handle:
            return handle.read(HEAD_BYTES), nbytes, str(path)
    except OSError as exc:
        raise InvalidRequest(f"Cannot read {name}: {exc.strerror or exc}. Check the path.") from None


def _mislabelled(name: str, wanted: str, found: tuple[str, str]) -> InvalidRequest:
    kind, fmt = found
    return InvalidRequest(
        f"{name} was given as {wanted} but its bytes look like {_ARTICLE[kind]} ({fmt.upper()}). "
        f"Pass it with {_OPTION[kind]}, or check that the right file was attached."
    )


# --- images ------------------------------------------------------------------------------

def probe_image(data_or_path: Source, name: str) -> MediaInfo:
    """Size and format of an encoded image (bytes or a local path); InvalidRequest when
    Pillow cannot read it."""
    head, nbytes, data = _source(data_or_path, name)
    found = sniff(head)
    if found and found[0] != "image":
        raise _mislabelled(name, "an image", found)
    if found == ("image", "heic"):
        heic.register(name)  # attachments send HEIC as JPEG; the probe reads it as it is
    from PIL import Image  # lazy: Pillow is heavy

    try:
        with Image.open(whole.readable(data)) as im:
            width, height = im.size
            fmt = (im.format or "").lower() or None
            # verify() walks the file (PNG chunk CRCs, ...) without decoding every pixel.
            im.verify()
    except Image.DecompressionBombError as exc:
        raise InvalidRequest(
            f"{name} is too large for Pillow to open safely ({exc}). "
            "Resize it to a few thousand pixels per side; the service shrinks images anyway."
        ) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise InvalidRequest(
            f"{name} is not an image Pillow can read ({_reason(exc)}). "
            "Attach a PNG, JPEG, WEBP, GIF or BMP file, or check that the file is complete."
        ) from None
    whole.check_image(data, name)
    if fmt == "mpo":  # a JPEG with extra pictures (phone cameras): the service sees a JPEG
        fmt = "jpeg"
    mime = MIMES.get(fmt or "") or Image.MIME.get((fmt or "").upper())
    return MediaInfo("image", nbytes, fmt, mime, width=width, height=height)


# --- audio -------------------------------------------------------------------------------

_SF_FORMATS = {"wavex": "wav", "rf64": "wav", "w64": "wav", "mpeg": "mp3", "aiff": "aiff"}


def probe_audio(data_or_path: Source, name: str) -> MediaInfo:
    """Duration and real format of an audio file (bytes or a local path); InvalidRequest
    naming the file otherwise."""
    head, nbytes, data = _source(data_or_path, name)
    found = sniff(head)
    if found and found[0] == "image":
        raise _mislabelled(name, "audio", found)
    measured = _soundfile_seconds(data)
    if measured is not None:
        sf_format, seconds = measured
        whole.check_soundfile(data, name)
        fmt = found[1] if found else _SF_FORMATS.get(sf_format.lower(), sf_format.lower())
        return MediaInfo("audio", nbytes, fmt, MIMES.get(fmt), seconds=seconds)
    try:
        import av  # lazy, optional: the video extra
    except ImportError:
        if found and found[0] == "video":
            raise _mislabelled(name, "audio", found) from None
        if found:
            raise InvalidRequest(
                f"{name} is {found[1].upper()} audio, which soundfile cannot measure. To read "
                f"mp3/m4a/aac durations, install the video extra: {VIDEO_EXTRA} (PyAV); "
                "or convert it to wav or flac."
            ) from None
        raise InvalidRequest(
            f"{name} is not audio soundfile can read. If it is mp3/m4a/aac, install the video "
            f"extra: {VIDEO_EXTRA} (PyAV) to read its duration; otherwise check the file."
        ) from None
    return _av_audio(av, data, nbytes, name, found)


def _soundfile_seconds(data: bytes | str) -> tuple[str, float] | None:
    """(soundfile's format name, seconds), or None when soundfile cannot read the data."""
    import soundfile as sf  # lazy: loads libsndfile

    try:
        info = sf.info(whole.readable(data))
    except Exception:  # LibsndfileError (a RuntimeError), TypeError on odd headers, ...
        return None
    if not info.samplerate or not 0 <= info.frames < 2**62:  # huge: length unknown
        return None
    return info.format, info.frames / info.samplerate


def _av_audio(av: Any, data: bytes | str, nbytes: int, name: str,
              found: tuple[str, str] | None) -> MediaInfo:
    container = _av_open(av, whole.readable(data), name, "audio")
    try:
        if not container.streams.audio:
            if container.streams.video:
                raise _mislabelled(name, "audio", ("video", found[1] if found else "video"))
            raise InvalidRequest(f"{name} has no sound track PyAV can find. Attach an audio file.")
        if container.streams.video and not _only_cover_art(container):
            fmt = found[1] if found else _av_format(container.format.name)
            raise InvalidRequest(
                f"{name} is a video ({fmt.upper()}) with a sound track, given as audio. "
                "Pass it with --video (its sound is understood too), or extract the sound "
                "to an audio file."
            )
        stream = container.streams.audio[0]
        seconds = _duration(container, stream)
        if seconds is None:
            seconds = _demux_seconds(container, stream)  # read to the end: whole by definition
        else:
            whole.check_av(av, container, [stream], name)
        fmt = found[1] if found else _av_format(container.format.name)
        if fmt == "mp4":
            fmt = "m4a"  # an MPEG-4 container with only sound is an m4a file
    except av.error.FFmpegError as exc:
        raise InvalidRequest(f"{name} is not audio PyAV can read ({_reason(exc)}).") from None
    finally:
        container.close()
    return MediaInfo("audio", nbytes, fmt, MIMES.get(fmt), seconds=seconds)


_ATTACHED_PIC = 0x400  # AV_DISPOSITION_ATTACHED_PIC: album art, not a picture track


def _is_cover(stream: Any) -> bool:
    return bool(int(getattr(stream, "disposition", 0) or 0) & _ATTACHED_PIC)  # PyAV >= 13


def _only_cover_art(container: Any) -> bool:
    # mp3/m4a files carry album art as a one-picture "video" stream.
    return all(_is_cover(s) for s in container.streams.video)


# --- video -------------------------------------------------------------------------------

def probe_video(data_or_path: Source, name: str) -> MediaInfo:
    """Pixels, frames, fps, seconds and sound track of a video file (bytes or a local path)."""
    head, nbytes, data = _source(data_or_path, name)
    found = sniff(head)
    if found and found[0] == "image":
        raise _mislabelled(name, "a video", found)
    try:
        import av  # lazy, optional: the video extra
    except ImportError:
        raise InvalidRequest(
            f"Reading video needs PyAV: {VIDEO_EXTRA} (needed to measure {name})."
        ) from None
    container = _av_open(av, whole.readable(data), name, "video")
    try:
        video = [s for s in container.streams.video if not _is_cover(s)]
        if not video:
            if container.streams.audio:
                raise _mislabelled(name, "a video", ("audio", found[1] if found else "audio"))
            raise InvalidRequest(f"{name} has no picture PyAV can find. Attach a video file.")
        stream = video[0]
        ctx = stream.codec_context
        width, height = (ctx.width or None), (ctx.height or None)
        # Counted when the container states no frame count (Matroska/WebM): see probe_av.
        frames, fps, seconds = frames_rate_seconds(av, container, stream)
        audio = container.streams.audio
        audio_seconds = _duration(container, audio[0]) if audio else None
        fmt = found[1] if found else _av_format(container.format.name)
        whole.check_av(av, container, [*video, *audio], name)
    except av.error.FFmpegError as exc:
        raise InvalidRequest(f"{name} is not a video PyAV can read ({_reason(exc)}).") from None
    finally:
        container.close()
    return MediaInfo(
        "video", nbytes, fmt, MIMES.get(fmt), width=width, height=height, seconds=seconds,
        fps=fps, frames=frames or None, has_audio=bool(audio), audio_seconds=audio_seconds,
    )
