"""Dialects of the chat-completions protocol: DashScope's, and that of vLLM / vllm-omni.

Both take OpenAI-style requests and stream OpenAI-style chunks; they part ways where
speech, audio input and thinking are concerned::

                      DashScope                       vLLM, vllm-omni
    audio input       input_audio.data "data:;base64,..."   raw base64 (vLLM adds the prefix)
    frames            {"type": "video", "video": [...]}     not accepted: a video file only
    speech asked      audio {"voice", "format": "wav"}      audio {"format": "wav"}, "speaker"
    thinking          enable_thinking: true                 chat_template_kwargs.enable_thinking
    speech streamed   delta.audio.data, PCM16 pieces        delta.content of a chunk whose
                                                            top-level modality is "audio": one
                                                            whole audio file per chunk
    reasoning         delta.reasoning_content               delta.reasoning (older: _content)

Plain vLLM (the Qwen-Omni thinker, text only) reads requests the same way and ignores the
speech fields, so "vllm" is an alias of "vllm-omni". The shapes follow vllm-omni's
``entrypoints/openai/serving_chat.py`` (commit 00a3619b) and its audio protocol: each speech
chunk is written with soundfile, a complete WAV by default (raw PCM16 for ``pcm16``), with
``audio_metadata`` on the choice in newer releases.

Here: the dialect names, the request-side changes, reading ``/models`` for auto-detection,
and decoding one speech chunk. The response side needs no dialect: ``events`` sends a chunk
here only when it carries a non-text ``modality``, so DashScope's chunks never pay for it.
"""

from __future__ import annotations

import binascii
import io
import mimetypes
import struct
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._b64 import b64decode
from .catalog import SAMPLE_RATE
from .errors import InvalidRequest, ProtocolError

if TYPE_CHECKING:
    from .attachments import Attachment, InlineData
    from .events import Event

DASHSCOPE = "dashscope"
VLLM_OMNI = "vllm-omni"
AUTO = "auto"
DIALECTS = (DASHSCOPE, VLLM_OMNI)
_ALIASES = {"vllm": VLLM_OMNI}
# What ``GET /models`` says of each model on a vLLM server (vllm-omni reuses vLLM's listing).
VLLM_OWNER = "vllm"

_RAW_FORMATS = frozenset({"pcm", "pcm16"})  # headerless PCM16 little-endian
# Container signatures soundfile reads; MP3 is left to audio_metadata, because an MP3 frame
# sync (FF Ex) is also what a headerless PCM chunk may start with.
_MAGIC = (b"RIFF", b"fLaC", b"OggS", b"ID3")


def resolve(name: str, *, allow_auto: bool = False) -> str:
    """The canonical dialect for a user's spelling; InvalidRequest naming the choices."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in DIALECTS or (allow_auto and key == AUTO):
        return key
    choices = ((AUTO,) if allow_auto else ()) + DIALECTS
    raise InvalidRequest(
        f"Unknown dialect {name!r}: use {', '.join(choices)} (vllm works too and means "
        "vllm-omni: plain vLLM reads requests the same way)."
    )


def from_models(listing: Any) -> str:
    """The dialect a ``GET /models`` answer reveals: vLLM's entries are owned by "vllm"."""
    data = listing.get("data") if isinstance(listing, dict) else None
    if isinstance(data, list) and any(
        isinstance(entry, dict) and entry.get("owned_by") == VLLM_OWNER for entry in data
    ):
        return VLLM_OMNI
    return DASHSCOPE


# -- requests ----------------------------------------------------------------------------------
def ask_vllm(body: dict[str, Any], *, audio: bool, voice: str | None, thinking: bool) -> None:
    """Add what vLLM reads for speech and thinking to a body built without DashScope's fields.

    ``voice`` is sent as ``speaker`` only when the user chose one: DashScope's voice names mean
    nothing to vLLM, whose speakers are the model's own (Qwen2.5-Omni: Chelsie, Ethan), and an
    unknown one is refused by the server.
    """
    if audio:
        body["audio"] = {"format": "wav"}  # vllm-omni reads only the format from it
        if voice and "speaker" not in body:
            body["speaker"] = voice
    if thinking:
        # Qwen3's chat template switches thinking; a pass-through chat_template_kwargs is kept.
        kwargs = body.get("chat_template_kwargs")
        body["chat_template_kwargs"] = {**(kwargs if isinstance(kwargs, dict) else {}),
                                        "enable_thinking": True}


def vllm_part(attachment: Attachment) -> dict[str, Any]:
    """The content part vLLM's chat parser takes for ``attachment``."""
    if attachment.kind == "frames":
        raise InvalidRequest(
            "vLLM takes a video as a file, not as a list of frames (that part is DashScope's). "
            "Attach a video file with --video instead; ffmpeg makes one from frames: "
            "ffmpeg -framerate 2 -i frame%03d.jpg clip.mp4"
        )
    first = attachment.items()[0]
    if attachment.kind == "image":
        return {"type": "image_url", "image_url": {"url": first}}
    if attachment.kind == "video":
        url = first if isinstance(first, str) else _with_prefix(first, _video_prefix(first.name))
        return {"type": "video_url", "video_url": {"url": url}}
    if isinstance(first, str):
        # input_audio takes base64 only (vLLM builds the data URL around it): a URL goes as
        # audio_url, which vLLM fetches (or decodes, for a data: URL).
        return {"type": "audio_url", "audio_url": {"url": first}}
    return {"type": "input_audio",
            "input_audio": {"data": _with_prefix(first, ""), "format": attachment.audio_format()}}


def _with_prefix(data: InlineData, prefix: str) -> InlineData:
    return data if data.prefix == prefix else replace(data, prefix=prefix)


def _video_prefix(name: str) -> str:
    mime = mimetypes.guess_type(name)[0]
    return f"data:{mime if mime and mime.startswith('video/') else 'video/mp4'};base64,"


# -- responses ---------------------------------------------------------------------------------
def media_events(modality: Any, choice: dict[str, Any], delta: dict[str, Any],
                 out: list[Event]) -> None:
    """The events of a chunk whose top-level ``modality`` is not text (vllm-omni).

    Only speech becomes an event; other modalities (images) are no part of an OmniResponse.
    The caller reads finish_reason and usage, which every chunk shape shares.
    """
    if modality != "audio":
        return
    content = delta.get("content")
    if not content:
        return
    if not isinstance(content, str):
        raise TypeError("the speech of an audio chunk must be base64 text")
    meta = choice.get("audio_metadata")
    pcm, rate = decode_speech(content, meta if isinstance(meta, dict) else None)
    if pcm:
        from .events import AudioDelta

        out.append(AudioDelta(pcm, rate))


def decode_speech(b64: str, meta: dict[str, Any] | None = None) -> tuple[bytes, int]:
    """One vllm-omni speech chunk as (PCM16 mono little-endian bytes, sample rate).

    The chunk is a whole file (WAV unless the request asked another ``audio.format``) or raw
    PCM16. Its own header says what a file holds; ``audio_metadata`` (format, sample_rate_hz,
    channels) says what raw PCM holds, and without it raw PCM is taken as 24 kHz mono.
    """
    try:
        raw = b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"A speech chunk is not valid base64 ({exc}); the speech up to that "
                            "point is kept.") from None
    meta = meta or {}
    fmt = str(meta.get("format") or "").lower()
    if raw.startswith(_MAGIC) or fmt in ("flac", "mp3", "opus", "ogg"):
        if raw[:4] == b"RIFF":
            found = _wav_pcm16(raw)
            if found is not None:
                return _mono(*found)
        return _soundfile(raw, fmt)
    # Raw PCM: asked for with pcm16, or a header-less piece after a first WAV header.
    rate = meta.get("sample_rate_hz")
    channels = meta.get("channels")
    return _mono(raw, rate if isinstance(rate, int) and rate > 0 else SAMPLE_RATE,
                 channels if isinstance(channels, int) and channels > 0 else 1)


def _wav_pcm16(raw: bytes) -> tuple[bytes, int, int] | None:
    """(PCM bytes, rate, channels) of a PCM16 WAV, read straight from its chunks; None for
    any other WAV (float, 24-bit...), which soundfile then converts."""
    if raw[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int] | None = None  # tag, channels, rate, bits
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id = raw[pos:pos + 4]
        (size,) = struct.unpack_from("<I", raw, pos + 4)
        start = pos + 8
        if chunk_id == b"fmt " and size >= 16 and start + 16 <= len(raw):
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", raw, start)
            if tag == 0xFFFE and size >= 26 and start + 26 <= len(raw):  # WAVE_FORMAT_EXTENSIBLE
                (tag,) = struct.unpack_from("<H", raw, start + 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None or fmt[0] != 1 or fmt[3] != 16 or fmt[1] < 1:
                return None
            # Streaming writers leave the size 0 or 0xFFFFFFFF; a cut file has less than it says.
            end = len(raw) if size in (0, 0xFFFFFFFF) else min(len(raw), start + size)
            return raw[start:end], fmt[2], fmt[1]
        pos = start + size + (size & 1)  # chunks are word-aligned
    return None


def _soundfile(raw: bytes, fmt: str) -> tuple[bytes, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(raw), dtype="int16", always_2d=True)
    except (RuntimeError, ValueError, TypeError) as exc:  # LibsndfileError is a RuntimeError
        what = fmt or "an audio file"
        raise ProtocolError(f"A speech chunk ({len(raw):,} bytes, {what}) could not be decoded: "
                            f"{exc}. The speech up to that point is kept.") from None
    channels = samples.shape[1]
    if channels == 1:
        return samples.tobytes(), int(rate)
    return _mono(samples.tobytes(), int(rate), channels)


def _mono(pcm: bytes, rate: int, channels: int) -> tuple[bytes, int]:
    """Interleaved PCM16 as mono: the mean of the channels (a partial last frame is dropped)."""
    if channels == 1:
        return pcm, rate
    import numpy as np

    frames = len(pcm) // (2 * channels)
    samples = np.frombuffer(pcm, dtype="<i2", count=frames * channels).reshape(frames, channels)
    return np.rint(samples.mean(axis=1)).astype("<i2").tobytes(), rate
