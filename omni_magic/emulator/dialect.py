"""One strategy object per dialect the emulator speaks: how it reads a request's output
options and audio input, which media parts it takes, how it streams the answer and words its
errors. The server and the checks ask the object instead of testing the dialect's name.

    DashScope   the service's own protocol (SPEC §1-4): audio.voice, enable_thinking or
                reasoning_effort, speech as base64 PCM16 pieces in delta.audio.data
    VllmOmni    vllm-omni's OpenAI server (vllm.py): speaker, chat_template_kwargs, speech as
                whole audio files in delta.content of "modality": "audio" chunks
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .. import dialects
from ..catalog import Model
from . import stream, validate, vllm
from .errors import Rejected
from .stream import Chunk, Plan


@dataclass(frozen=True)
class Dialect:
    """What differs between the dialects, and nothing else."""

    name: str
    owned_by: str  # what GET /models says of each model
    media_kinds: tuple[str, ...]  # the content part types a user message may hold
    system_rule: bool  # Turbo's "no system message while speaking" is DashScope's rule
    hidden_speech_prompt: bool  # the service counts a hidden prompt when asked to speak
    check_output: Callable[[dict[str, Any], Model, str], bool]  # True when speech is asked
    check_audio_data: Callable[[str, int], None]  # refuses audio input it cannot read
    reads: Callable[[dict[str, Any], Model], tuple[str | None, bool, str, bool]]
    chunks: Callable[[Plan, str, int], Iterator[Chunk]]
    error_body: Callable[[Rejected, str], dict[str, Any]]


def _dashscope_reads(body: dict[str, Any], model: Model) -> tuple[str | None, bool, str, bool]:
    """(voice, thinking, speech format, text out) as DashScope reads them."""
    wants_audio = "audio" in body.get("modalities", ["text"])
    voice = body["audio"]["voice"] if wants_audio else None
    return voice, validate.thinks(body, model), "wav", True


def _vllm_reads(body: dict[str, Any], model: Model) -> tuple[str | None, bool, str, bool]:
    """(voice, thinking, speech format, text out) as vllm-omni reads them."""
    modalities = vllm.modalities(body, model)
    voice = vllm.speaker(body, model) if "audio" in modalities else None
    return voice, vllm.thinking(body, model), vllm.audio_format(body), "text" in modalities


def _accept(data: str, i: int) -> None:
    """DashScope takes audio input as a data URL, a bare URL or base64: nothing to refuse."""


DASHSCOPE = Dialect(
    name=dialects.DASHSCOPE, owned_by="system", media_kinds=validate.MEDIA_KINDS,
    system_rule=True, hidden_speech_prompt=True, check_output=validate.check_output,
    check_audio_data=_accept, reads=_dashscope_reads, chunks=stream.chunks,
    error_body=lambda error, uid: error.body(uid),
)
VLLM_OMNI = Dialect(
    name=dialects.VLLM_OMNI, owned_by=vllm.OWNED_BY, media_kinds=validate.MEDIA_KINDS + ("audio_url",),
    system_rule=False, hidden_speech_prompt=False,
    check_output=lambda body, model, name: vllm.check_output(body, model),
    check_audio_data=vllm.check_audio_data, reads=_vllm_reads, chunks=vllm.chunks,
    error_body=lambda error, uid: vllm.error_body(error),
)


def for_name(name: str) -> Dialect:
    """The strategy for a dialect's name or alias (InvalidRequest naming the choices)."""
    return {dialects.DASHSCOPE: DASHSCOPE, dialects.VLLM_OMNI: VLLM_OMNI}[dialects.resolve(name)]
