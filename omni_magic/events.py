"""Typed stream events, and the translation of one service chunk into them.

A chunk of the OpenAI-compatible stream is a JSON object; only the fields named
here are read. Unknown and misspelled fields (the service's own examples show
``"reated"`` and ``"systm_fingerprint"``) are ignored, never an error. A chunk with a
top-level non-text ``modality`` is vllm-omni's: its speech is a whole audio file, read by
``speech.py``; other modalities (images) are no part of an OmniResponse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from .catalog import SAMPLE_RATE
from .speech import decode_speech


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's thinking (``enable_thinking``)."""

    text: str


@dataclass(frozen=True, slots=True)
class AudioDelta:
    """One speech chunk of PCM16 mono at ``rate`` Hz.

    ``data`` is the base64 text as DashScope sent it (decoded once, by the response), or
    bytes a dialect already decoded from a whole audio file (vllm-omni's chunks).
    """

    data: str | bytes
    rate: int = SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class Transcript:
    """The transcript the last audio delta carries (often empty)."""

    text: str


class Usage(dict):
    """Token usage as the service reported it: the reported object itself (``usage["prompt_tokens"]``,
    the service's own names, unknown keys kept), with typed views of it in the manner of llm's
    ``Usage(input, output, details)``. A figure the service left out is None (details: empty)."""

    __slots__ = ()

    @property
    def input(self) -> int | None:
        """Prompt tokens: text, media and what the service adds (a speech prompt)."""
        return _int(self.get("prompt_tokens"))

    @property
    def output(self) -> int | None:
        """Completion tokens: the answer, its reasoning and its speech."""
        return _int(self.get("completion_tokens"))

    @property
    def total(self) -> int | None:
        return _int(self.get("total_tokens"))

    @property
    def input_details(self) -> dict[str, int]:
        """``prompt_tokens_details`` by modality: ``{"text_tokens": 11, "image_tokens": 66}``."""
        return _ints(self.get("prompt_tokens_details"))

    @property
    def output_details(self) -> dict[str, int]:
        """``completion_tokens_details``: text, audio and reasoning tokens."""
        return _ints(self.get("completion_tokens_details"))

    # The service's names for the same figures.
    prompt_tokens = input
    completion_tokens = output
    total_tokens = total
    prompt_details = input_details
    completion_details = output_details

    @property
    def raw(self) -> dict[str, Any]:
        """The reported object as a plain dict."""
        return dict(self)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ints(details: Any) -> dict[str, int]:
    if not isinstance(details, dict):
        return {}
    return {k: v for k, v in details.items() if isinstance(v, int) and not isinstance(v, bool)}


@dataclass(frozen=True, slots=True)
class Finished:
    """The choice closed: ``stop`` or ``length``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """Something the client noticed about the answer that the user should read (a server that
    sent the whole answer at once, instead of streaming it)."""

    text: str


@dataclass(frozen=True, slots=True)
class Started:
    """The first chunk's identity: the completion id and the model that answers."""

    id: str | None
    model: str | None


Event = Union[Started, TextDelta, ReasoningDelta, AudioDelta, Transcript, Usage, Finished, Note]


_TEXT = ("text", None)  # vllm-omni's text chunks carry "modality": "text"


def usage_from(raw: Any) -> Usage:
    """The usage object, refused (TypeError) when it or a figure in it has the wrong type:
    token counts as strings would break every sum made of them later."""
    if not isinstance(raw, dict):
        raise TypeError("usage must be an object")
    for value in (raw.get("prompt_tokens"), raw.get("completion_tokens"), raw.get("total_tokens")):
        if value is not None and _int(value) is None:
            raise TypeError("a token count of usage is not an integer")
    for details in (raw.get("prompt_tokens_details"), raw.get("completion_tokens_details")):
        if details is not None and not isinstance(details, dict):
            raise TypeError("usage details must be an object")
    return Usage(raw)


def started_from(chunk: dict[str, Any]) -> Started:
    """The first chunk's identity; TypeError when its id or model is not a string (the status
    line shows the model, far from the chunk)."""
    ident, model = chunk.get("id"), chunk.get("model")
    return Started(None if ident is None else _text(ident, "id"),
                   None if model is None else _text(model, "model"))


def _text(value: Any, what: str) -> str:
    """A delta's text field: a string, or the chunk is of an unexpected shape (TypeError)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _vllm_speech(choice: dict[str, Any], delta: dict[str, Any], out: list[Event]) -> None:
    """vllm-omni's speech: an audio file, base64 in ``delta.content``, described by the
    choice's ``audio_metadata`` in newer releases."""
    content = delta.get("content")
    if not content:
        return
    if not isinstance(content, str):
        raise TypeError("the speech of an audio chunk must be base64 text")
    meta = choice.get("audio_metadata")
    pcm, rate = decode_speech(content, meta if isinstance(meta, dict) else None)
    if pcm:
        out.append(AudioDelta(pcm, rate))


def events_from_chunk(chunk: Any, out: list[Event]) -> None:
    """Append the events one decoded chunk carries to ``out``.

    Raises TypeError when the chunk, or a field read from it, has the wrong type (the
    caller turns that into a ProtocolError with context): a number for the speech's base64
    or a list for the reasoning would otherwise fail later, far from the chunk.
    """
    if not isinstance(chunk, dict):
        raise TypeError(f"expected a JSON object, got {type(chunk).__name__}")
    choices = chunk.get("choices")
    if choices:
        choice = choices[0]
        delta = choice.get("delta") or {}
        if "modality" in chunk and chunk["modality"] not in _TEXT:
            if chunk["modality"] == "audio":
                _vllm_speech(choice, delta, out)
        else:
            # vLLM names the thinking "reasoning"; DashScope and older vLLM "reasoning_content".
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                out.append(ReasoningDelta(_text(reasoning, "reasoning")))
            content = delta.get("content")
            if content:
                out.append(TextDelta(_text(content, "content")))
            audio = delta.get("audio")
            if audio:
                data = audio.get("data")
                if data:
                    out.append(AudioDelta(_text(data, "audio.data")))
                transcript = audio.get("transcript")
                if transcript is not None:
                    out.append(Transcript(_text(transcript, "audio.transcript")))
        reason = choice.get("finish_reason")
        if reason:
            out.append(Finished(_text(reason, "finish_reason")))
    usage = chunk.get("usage")
    if usage:
        out.append(usage_from(usage))
