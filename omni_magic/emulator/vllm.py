"""The emulator's vllm-omni dialect: requests read, and answers streamed, the way vllm-omni's
OpenAI server does (``vllm serve Qwen/Qwen2.5-Omni-7B --omni``).

The shapes follow vllm-omni's ``entrypoints/openai/serving_chat.py`` (commit 00a3619b) and its
audio protocol (``AudioChunkMetadata``):

- every chunk is ``id, object, created, model, choices[, usage], modality, metrics``;
  text chunks say ``"modality": "text"`` and the first is ``{"role": "assistant", "content": ""}``;
- speech chunks say ``"modality": "audio"`` and carry a whole audio file, base64, in
  ``delta.content`` (a WAV with its own header unless ``audio.format`` asks pcm16, flac...),
  ``audio_metadata`` on the choice, and a usage with ``completion_tokens`` 0;
- only the last chunk of the last modality has a finish_reason;
- with ``stream_options.include_usage`` a ``choices: []`` chunk closes with the usage, whose
  completion tokens count the text only;
- errors are vLLM's ``{"error": {"message", "type", "param", "code"}}``.

The voice is a top-level ``speaker`` (or ``voice``); ``audio.voice`` is ignored, thinking is
``chat_template_kwargs.enable_thinking``, and ``input_audio.data`` is bare base64.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import tokens
from ..catalog import SAMPLE_RATE, Model
from .errors import Rejected
from .stream import Chunk, Plan, padded

if TYPE_CHECKING:
    import numpy as np

OWNED_BY = "vllm"  # what vLLM's /v1/models says of every model it serves
# Half a second of speech per chunk: with vllm-omni's async_chunk stage config the speech
# arrives in windows like these, each encoded as a file of its own.
AUDIO_CHUNK_SAMPLES = 12_000
# audio.format -> soundfile (format, subtype); "pcm16" is vllm-omni's alias of "pcm".
FORMATS = {"wav": ("WAV", "PCM_16"), "pcm": ("RAW", "PCM_16"), "flac": ("FLAC", "PCM_16"),
           "mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}
_FORMAT_ALIASES = {"pcm16": "pcm"}
_ERROR_TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError",
                429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}


def _bad(message: str) -> Rejected:
    return Rejected(400, "BadRequestError", message)


# -- requests ----------------------------------------------------------------------------------
def thinking(body: dict[str, Any], model: Model) -> bool:
    """Thinking as Qwen3's chat template reads it; other templates ignore the flag."""
    kwargs = body.get("chat_template_kwargs")
    asked = isinstance(kwargs, dict) and kwargs.get("enable_thinking") is True
    return asked and model.family.thinking.mode != "none"


def modalities(body: dict[str, Any], model: Model) -> Any:
    """What the request asks for; without ``modalities``, all the engine outputs (a thinking
    model outputs no speech)."""
    if "modalities" in body:
        return body["modalities"]
    return ["text"] if thinking(body, model) else ["text", "audio"]


def audio_format(body: dict[str, Any]) -> str:
    audio = body.get("audio")
    fmt = audio.get("format", "wav") if isinstance(audio, dict) else "wav"
    fmt = str(fmt).lower()
    return _FORMAT_ALIASES.get(fmt, fmt)


def speaker(body: dict[str, Any], model: Model) -> str:
    """The voice to speak with: ``voice`` or ``speaker``, matched without case as vLLM does;
    the model's default when neither is given."""
    name = body.get("voice") or body.get("speaker")
    if name is None:
        return model.default_voice
    if not isinstance(name, str):
        raise _bad(f"Invalid speaker {json.dumps(name)}: give a speaker's name as a string.")
    names = model.voices.names if model.voices else ()
    match = next((v for v in names if v.lower() == name.strip().lower()), None)
    if match is None:
        raise _bad(f"Invalid speaker '{name}'. Supported speakers: "
                   f"{', '.join(v.lower() for v in names)}.")
    return match


def check_output(body: dict[str, Any], model: Model) -> bool:
    """Check modalities, speaker and audio format; True when speech is asked."""
    mods = modalities(body, model)
    if (not isinstance(mods, list) or not mods
            or any(m not in ("text", "audio") for m in mods)):
        raise _bad(f"Unsupported output modalities: {json.dumps(mods)}. "
                   "This model outputs text and audio.")
    if "audio" not in mods:
        return False
    if thinking(body, model):
        raise _bad("Unsupported output modalities: ['audio']. The thinking model outputs text "
                   'only: ask for modalities ["text"].')
    if audio_format(body) not in FORMATS:
        raise _bad(f"Invalid audio format '{audio_format(body)}'. Supported formats: "
                   "wav, pcm, pcm16, flac, mp3, opus.")
    speaker(body, model)
    return True


def check_audio_data(data: str, i: int) -> None:
    """vLLM wraps input_audio.data in a data URL itself, so a data URL there cannot decode."""
    if data.startswith("data:"):
        raise _bad(f"messages[{i}]: failed to load the input_audio: its data must be bare "
                   "base64; vLLM builds the data: URL itself (send the data: URL as an "
                   "audio_url part instead).")


def error_body(error: Rejected) -> dict[str, Any]:
    """vLLM's error body (no request id: vLLM sends none)."""
    return {"error": {"message": error.message,
                      "type": _ERROR_TYPES.get(error.status, "BadRequestError"),
                      "param": None, "code": error.status}}


# -- the stream --------------------------------------------------------------------------------
def chunks(p: Plan, uid: str, created: int) -> Iterator[Chunk]:
    """The answer as vllm-omni streams it, text and speech chunks interleaved."""
    r = p.received
    ident = {"id": f"chatcmpl-{uid}", "object": "chat.completion.chunk", "created": created,
             "model": r.model_name}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish,
                "stop_reason": None, "token_ids": None}

    def text(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**ident, "choices": [choice(delta, finish)], "modality": "text", "metrics": None}

    fmt = r.audio_format
    # The samples DashScope's dialect sends, its one padding sample included, so that the
    # two dialects speak exactly alike.
    pieces = _speech_pieces(padded(p.pcm), fmt) if p.pcm is not None else []
    prompt = {"prompt_tokens": r.prompt_tokens, "completion_tokens": 0,
              "total_tokens": r.prompt_tokens}
    audio = []
    for i, (b64, frames) in enumerate(pieces):
        last = choice({"role": "assistant", "content": b64},
                      p.finish_reason if i == len(pieces) - 1 else None)
        last["audio_metadata"] = {"format": fmt, "sample_rate_hz": SAMPLE_RATE,
                                  "frame_count": frames, "channels": 1}
        audio.append(Chunk({**ident, "choices": [last], "usage": dict(prompt),
                            "modality": "audio", "metrics": None}, paced=False))
    # With speech, the last audio chunk closes the answer; without, the last text chunk.
    text_finish = None if audio else p.finish_reason
    if r.text_out:
        yield Chunk(text({"role": "assistant", "content": ""}), paced=False)
        for piece in p.reasoning:
            yield Chunk(text({"reasoning": piece}), paced=True)
        sent = 0
        for i, piece in enumerate(p.content):
            closing = text_finish if i == len(p.content) - 1 else None
            yield Chunk(text({"content": piece}, closing), paced=True)
            share = round((i + 1) * len(audio) / len(p.content))
            yield from audio[sent:share]
            sent = share
        if not p.content and text_finish is not None:
            yield Chunk(text({"content": ""}, text_finish), paced=False)
        yield from audio[sent:]  # all of it when max_tokens left no text to ride on
    else:
        yield from audio
    if r.include_usage:
        completion = (tokens.text_tokens("".join(p.content), r.model)
                      + (tokens.text_tokens("".join(p.reasoning), r.model) if r.thinking else 0))
        yield Chunk({**ident, "choices": [],
                     "usage": {"prompt_tokens": r.prompt_tokens,
                               "total_tokens": r.prompt_tokens + completion,
                               "completion_tokens": completion}}, paced=False)


def _speech_pieces(pcm: np.ndarray, fmt: str) -> list[tuple[str, int]]:
    """(base64 of one whole audio file, frames) per window, written by soundfile as
    vllm-omni writes them (raw PCM16 little-endian for "pcm")."""
    import base64

    import soundfile as sf

    container, subtype = FORMATS[fmt]
    out = []
    for start in range(0, pcm.size, AUDIO_CHUNK_SAMPLES):
        window = pcm[start:start + AUDIO_CHUNK_SAMPLES]
        if fmt == "pcm":
            data = window.astype("<i2").tobytes()
        else:
            buffer = io.BytesIO()
            sf.write(buffer, window, SAMPLE_RATE, format=container, subtype=subtype)
            data = buffer.getvalue()
        out.append((base64.b64encode(data).decode("ascii"), int(window.size)))
    return out
