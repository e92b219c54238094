"""The chunk sequence of one streamed answer, shaped like the seed's transcripts.

Key order, ``null`` fields and the ``chatcmpl-``/``audio_`` ids follow the
service's own example streams. Audio chunks are interleaved with the text
chunks, as the service does, each text chunk followed by its share of speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

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
    spoken: int | None = None  # the first pieces of content the speech rides on; None: all


def words(text: str) -> list[str]:
    """Word-sized pieces that join back to ``text`` ("I", " am", ...); CJK per character."""
    return _WORD.findall(text)


def plan(received: Received) -> Plan:
    """Compose the reply, synthesize what will be spoken, and apply max_tokens."""
    reply = compose(received, placeholder_audio=received.voice is not None
                    and not speech.available())
    reasoning, content = words(reply.reasoning), words(reply.text)
    spoken = content if reply.spoken is None else words(reply.spoken)
    pcm = label = None
    if received.voice is not None:
        pcm, label = speech.synthesize("".join(spoken), received.voice)
        if reply.spoken is not None:  # a long answer: say plainly that most of it is silent
            label += f" (the first paragraph only: {len(spoken)} of {len(content)} words)"
    finish = "stop"
    if received.max_tokens is not None:
        reasoning, content, pcm, cut = _bounded(received, reasoning, content, len(spoken), pcm)
        finish = "length" if cut else finish
    return Plan(received, reasoning, content, finish, pcm, label,
                spoken=min(len(spoken), len(content)))


def _bounded(r: Received, reasoning: list[str], content: list[str], spoken: int,
             pcm: np.ndarray | None) -> tuple[list[str], list[str], np.ndarray | None, bool]:
    """The answer cut so that completion_tokens (reasoning, text and speech, as usage() counts
    them) stays within max_tokens, as the service stops at the limit: (reasoning, content,
    speech, whether it was cut). The speech follows the text: cut after k pieces, it keeps
    the share of samples that its spoken pieces' characters make of all the spoken text."""
    budget = r.max_tokens or 0
    kept = _longest(len(reasoning), lambda k: tokens.text_tokens("".join(reasoning[:k]), r.model),
                    budget)
    if kept < len(reasoning):
        return reasoning[:kept], [], None if pcm is None else pcm[:0], True
    budget -= tokens.text_tokens("".join(reasoning), r.model)
    said = len("".join(content[:spoken])) or 1

    def samples(k: int) -> int:
        return 0 if pcm is None else round(pcm.size * len("".join(content[:min(k, spoken)])) / said)

    def cost(k: int) -> int:
        n = samples(k)
        audio = tokens.speech_tokens(n / SAMPLE_RATE, r.model) if n else 0
        return tokens.text_tokens("".join(content[:k]), r.model) + audio

    kept = _longest(len(content), cost, budget)
    if kept == len(content):
        return reasoning, content, pcm, False
    return reasoning, content[:kept], None if pcm is None else pcm[:samples(kept)], True


def _longest(n: int, cost: Callable[[int], int], budget: int) -> int:
    """The largest k <= n with cost(k) <= budget (cost(0) is 0), by bisection: a long answer
    must not be tokenized once per word."""
    if cost(n) <= budget:
        return n
    fits, over = 0, n
    while over - fits > 1:
        mid = (fits + over) // 2
        if cost(mid) <= budget:
            fits = mid
        else:
            over = mid
    return fits


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
    spoken = len(p.content) if p.spoken is None else p.spoken
    for i, piece in enumerate(p.content):
        yield Chunk(delta({"content": piece}), paced=True)
        share = round(min(i + 1, spoken) * len(audio) / spoken) if spoken else 0
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
        # The family's output rate ("输出音频 ... * 12.5", 25 for Turbo), as the service bills;
        # none when max_tokens left no room to speak.
        completion["audio_tokens"] = (tokens.speech_tokens(p.pcm.size / SAMPLE_RATE, r.model)
                                      if p.pcm.size else 0)
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
