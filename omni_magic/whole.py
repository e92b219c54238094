"""Is a media file whole? Decode just enough to know, in bounded memory, before it is sent.

A JPEG cut at 3 kB of 14 kB, or the first half of an mp4 whose index comes first, opens
fine and reports its full size or length from its header: the probe's header checks pass,
and the service gets a broken file (or answers about half of it). Here the end of the data
is read: the image is decoded (a JPEG at 1/8 scale), and for audio and video the last
seconds the header promises are demuxed after a seek, never the whole file.

Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left False (its default): Pillow's own
"image file is truncated" is the signal.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .errors import InvalidRequest

# Images up to this many pixels are decoded whole (at most ~200 MB as RGBA); larger ones keep
# the header and chunk checks of Pillow's verify() only. JPEGs are decoded at 1/8 scale, so
# any JPEG the decompression-bomb guard lets through is checked.
FULL_DECODE_PIXELS = 50_000_000
TAIL_SECONDS = 3.0  # how much of the end of an audio or video stream is demuxed
TAIL_BYTES = 64 * 1024 * 1024  # a seek that lands far from the end stops here: no verdict
TAIL_FRAMES = 4096  # samples read at the end of a soundfile-readable file
FIX = ("Check that the file is complete (a download or a copy may still be running), "
       "or export it again.")


def reason(exc: BaseException) -> str:
    """A decoder's complaint in a few words: no object reprs, no errno numbers."""
    if type(exc).__name__ == "UnidentifiedImageError":
        return "format not recognised"
    text = getattr(exc, "strerror", None) or str(exc)
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text or type(exc).__name__


def readable(source: bytes | str | Path) -> Any:
    """What a decoder opens: bytes wrapped as a file, or the path, which the decoder reads
    piece by piece itself (a long recording is never loaded whole)."""
    return io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


def incomplete(name: str, what: str) -> InvalidRequest:
    return InvalidRequest(f"{name} is incomplete or damaged: {what}. {FIX}")


def check_image(data: bytes | str | Path, name: str) -> None:
    """Decode the first picture to its last byte; InvalidRequest when the data ends early."""
    from PIL import Image

    try:
        with Image.open(readable(data)) as image:
            if image.format in ("JPEG", "MPO"):
                # libjpeg reads the whole stream but keeps 1/64 of the pixels.
                image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
            elif image.width * image.height > FULL_DECODE_PIXELS:
                return
            image.load()
    except Exception as exc:  # OSError "image file is truncated", SyntaxError, ValueError...
        raise incomplete(name, f"its picture could not be decoded to the end ({reason(exc)})") from None


def check_soundfile(data: bytes | str | Path, name: str) -> None:
    """Read the last samples the header promises (flac, mp3, ogg): a file cut short has none.

    A WAV cut short is left alone: libsndfile counts the samples that are there, so it is
    measured, estimated and heard as the shorter sound it now is."""
    import soundfile as sf

    try:
        with sf.SoundFile(readable(data)) as sound:
            if sound.format == "WAV" or sound.frames <= 0:
                return
            want = min(sound.frames, TAIL_FRAMES)
            sound.seek(sound.frames - want)
            got = len(sound.read(want, dtype="int16"))
    except Exception as exc:  # LibsndfileError on a seek past the data, ...
        raise incomplete(name, f"its last samples cannot be read ({reason(exc)})") from None
    if got < want:
        raise incomplete(name, "its header promises more sound than the file holds")


def check_av(av: Any, container: Any, streams: list[Any], name: str) -> None:
    """Seek to the last seconds the header promises for ``streams`` and demux them (no decoding).

    A file cut short has no packets there, or a last packet that is partial. A container that
    states no length (a raw stream, a live recording) has nothing to compare: it passes."""
    end = _promised_end(container, streams)
    if end is None or not streams:
        return
    start = (container.start_time or 0) / 1_000_000
    try:
        container.seek(int(max(start, end - TAIL_SECONDS) * 1_000_000), backward=True, any_frame=False)
    except av.error.FFmpegError:
        return  # a container that cannot seek (some FLV files): no verdict rather than a full read
    try:
        reached, nbytes = None, 0
        for packet in container.demux(streams):
            if packet.is_corrupt:
                raise incomplete(name, "its last packet is cut short")
            nbytes += packet.size
            if packet.pts is not None and packet.time_base:
                stop = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                reached = stop if reached is None else max(reached, stop)
            if nbytes > TAIL_BYTES:
                return  # the seek did not land near the end: no verdict rather than a full read
    except av.error.FFmpegError as exc:
        raise incomplete(name, f"its last seconds cannot be read ({reason(exc)})") from None
    # Some slack: the last frame may state no duration, and headers round the length.
    slack = 0.5 + 0.02 * (end - start)
    if reached is None or reached < end - slack:
        held = "no sound or picture" if reached is None else f"{max(0.0, reached - start):.1f} s"
        raise incomplete(name, f"its header promises {end - start:.1f} s but the file holds {held}")


def _promised_end(container: Any, streams: list[Any]) -> float | None:
    """Where the header says the last stream ends, in seconds on the packets' clock."""
    ends = [float(((s.start_time or 0) + s.duration) * s.time_base)
            for s in streams if s.duration and s.time_base]
    if ends:
        return max(ends)
    if container.duration:
        return ((container.start_time or 0) + container.duration) / 1_000_000
    return None
