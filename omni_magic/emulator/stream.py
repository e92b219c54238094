"""The chunk sequence of one streamed answer, shaped like the seed's transcripts.

Key order, ``null`` fields and the ``chatcmpl-``/``audio_`` ids follow the
service's own example streams. Audio chunks are interleaved with the text
chunks, as the service does, each text chunk followed by its share of speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .. import tokens
from ..catalog import SAMPLE_RATE
from . import speech
from .received import Received
from .replies import compose

if TYPE_CHECKING:
    import numpy as np

# 2401 samples = 4802 bytes, not a multiple of 3: every audio chunk's base64
# ends in padding, as the service's do, which breaks clients that join the
# strings before decoding.
AUDIO_CHUNK_SAMPLES = 2401
_WORD = re.compile(r"\s*[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|\s*[^\s\u3040-\u30ff"
                   r"\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


@dataclass(frozen=True)
class Chunk:
    """One SSE event's JSON; ``paced`` chunks (text, reasoning) wait Pacing.per_chunk."""

    data: dict[str, Any]
    paced: bool


@dataclass(frozen=True)
class Plan:
    """Everything one answer will stream, decided before the first byte."""

    received: Received
    reasoning: list[str]
    content: list[str]
    finish_reason: str  # stop | length
    pcm: np.ndarray | None  # int16 at catalog.SAMPLE_RATE; None when text only
    speech_label: str | None


def words(text: str) -> list[str]:
    """Word-sized pieces that join back to ``text`` ("I", " am", ...); CJK per character."""
    return _WORD.findall(text)


def plan(received: Received) -> Plan:
    """Compose the reply, apply max_tokens, and synthesize what will be spoken."""
    wants_speech = received.voice is not None
    reply = compose(received, placeholder_audio=wants_speech and not speech.available())
    content = words(reply.text)
    finish = "stop"
    if received.max_tokens is not None:
        kept: list[str] = []
        for w in content:
            if tokens.text_tokens("".join(kept + [w]), received.model) > received.max_tokens:
                finish = "length"
                break
            kept.append(w)
        content = kept
    pcm = label = None
    if wants_speech:
        pcm, label = speech.synthesize("".join(content), received.voice)
    return Plan(received, words(reply.reasoning), content, finish, pcm, label)


def chunks(p: Plan, uid: str, created: int) -> Iterator[Chunk]:
    """The answer's events in order, ending with the usage chunk when it was asked for."""
    r = p.received

    def envelope(choices: list[dict[str, Any]], counts: dict[str, Any] | None = None,
                 ) -> dict[str, Any]:
        return {"choices": choices, "object": "chat.completion.chunk", "usage": counts,
                "created": created, "system_fingerprint": None, "model": r.model_name,
                "id": f"chatcmpl-{uid}"}

    def delta(d: dict[str, Any]) -> dict[str, Any]:
        return envelope([{"delta": d, "finish_reason": None, "index": 0, "logprobs": None}])

    first = ({"content": None, "role": "assistant", "reasoning_content": ""} if r.thinking
             else {"content": "", "role": "assistant"})
    yield Chunk(envelope([{"delta": first, "index": 0, "logprobs": None,
                           "finish_reason": None}]), paced=False)
    for piece in p.reasoning:
        yield Chunk(delta({"content": None, "reasoning_content": piece}), paced=True)
    audio = [Chunk(delta({"audio": {"data": b64, "expires_at": created, "id": f"audio_{uid}"}}),
                   paced=False) for b64 in _audio_pieces(p.pcm)] if p.pcm is not None else []
    sent = 0
    for i, piece in enumerate(p.content):
        yield Chunk(delta({"content": piece}), paced=True)
        share = round((i + 1) * len(audio) / len(p.content))
        yield from audio[sent:share]
        sent = share
    yield from audio[sent:]  # all of it only when max_tokens left no text to ride on
    last = ({"audio": {"transcript": ""}} if p.pcm is not None
            else {"content": "", "reasoning_content": None})
    yield Chunk(envelope([{"finish_reason": p.finish_reason, "delta": last, "index": 0,
                           "logprobs": None}]), paced=False)
    if r.include_usage:
        yield Chunk(envelope([], usage(p)), paced=False)


def usage(p: Plan) -> dict[str, Any]:
    """The usage object in the service's shape; details only for what was present."""
    r = p.received
    completion: dict[str, int] = {}
    if p.pcm is not None:
        # The family's output rate ("输出音频 ... * 12.5", 25 for Turbo), as the service bills.
        completion["audio_tokens"] = tokens.speech_tokens(p.pcm.size / SAMPLE_RATE, r.model)
    if r.thinking:
        completion["reasoning_tokens"] = tokens.text_tokens("".join(p.reasoning), r.model)
    completion["text_tokens"] = tokens.text_tokens("".join(p.content), r.model)
    prompt = {"text_tokens": r.text_tokens}
    prompt.update({f"{m}_tokens": n for m, n in r.media_tokens.items()})
    c = sum(completion.values())
    return {"prompt_tokens": r.prompt_tokens, "completion_tokens": c,
            "total_tokens": r.prompt_tokens + c, "completion_tokens_details": completion,
            "prompt_tokens_details": prompt}


def padded(pcm: np.ndarray) -> np.ndarray:
    """The speech as DashScope's dialect sends it: one silent sample more when the last
    slice would otherwise need no base64 padding."""
    import numpy as np

    if pcm.size % AUDIO_CHUNK_SAMPLES % 3 == 0 and pcm.size % AUDIO_CHUNK_SAMPLES:
        return np.append(pcm, np.int16(0))  # one silent sample keeps the last slice padded
    return pcm


def _audio_pieces(pcm: np.ndarray) -> list[str]:
    """Base64 of consecutive PCM16 LE slices, each with a byte length not divisible by 3."""
    import base64

    raw = padded(pcm).astype("<i2").tobytes()
    step = AUDIO_CHUNK_SAMPLES * 2
    return [base64.b64encode(raw[i:i + step]).decode("ascii") for i in range(0, len(raw), step)]
