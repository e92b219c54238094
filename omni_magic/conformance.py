"""Protocol conformance: a stream's payloads against what this project expects from the
documentation (SPEC §1 "The stream", §4: the Japanese Qwen-Omni page of 2025-11-20, its stream
transcripts, and the Chinese page, help.aliyun.com/zh/model-studio/qwen-omni, 2026-11 edition,
its "返回结果" samples), each difference listed as a ``Finding``.

The client reads only the fields it needs and ignores the rest, so a renamed field, a new
one or a different end of stream does not show as an error where it first happens: it shows
later as an empty answer, silent speech or a stream "cut short". The doctor runs its own
requests' payloads through ``check_stream`` to name each difference. A difference is a
finding, not a failure; ``breaks`` marks the ones that break the answer (the client cannot
read the text, the speech or the end of the stream).

Pure, no I/O: payloads are the SSE ``data`` strings in order, ``[DONE]`` included.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ._b64 import b64decode
from .sse import DONE

# What each object of the service's chunks holds, and the JSON types of its values (the seed's
# transcripts and the 2026 page's samples). None in a tuple: null is allowed.
TOP = {"id": (str,), "object": (str,), "created": (int,), "model": (str,), "choices": (list,),
       "usage": (dict, None), "system_fingerprint": (str, None)}
TOP_REQUIRED = ("id", "object", "created", "model", "choices")
CHOICE = {"index": (int,), "delta": (dict,), "finish_reason": (str, None), "logprobs": (dict, None)}
CHOICE_REQUIRED = ("index", "delta", "finish_reason")
DELTA = {"content": (str, None), "role": (str,), "reasoning_content": (str, None), "audio": (dict,)}
AUDIO = {"data": (str,), "id": (str,), "expires_at": (int,), "transcript": (str,)}
AUDIO_WITH_DATA = ("id", "expires_at")  # every speech chunk names its audio and its expiry
USAGE = {"prompt_tokens": (int,), "completion_tokens": (int,), "total_tokens": (int,),
         "prompt_tokens_details": (dict,), "completion_tokens_details": (dict,)}
PROMPT_DETAILS = ("text_tokens", "image_tokens", "audio_tokens", "video_tokens")
COMPLETION_DETAILS = ("text_tokens", "audio_tokens", "reasoning_tokens")
# vLLM's additions, documented by vllm-omni (see dialects.py): expected from that dialect.
VLLM = {"top": {"modality", "prompt_logprobs", "prompt_token_ids", "kv_transfer_params"},
        "choice": {"audio_metadata", "stop_reason", "token_ids"},
        "delta": {"reasoning", "tool_calls"}}
# Fields the client reads: a wrong type there breaks the answer, elsewhere it is only noted.
READ = {"choices", "choices[0].delta", "choices[0].delta.content", "choices[0].delta.reasoning_content",
        "choices[0].delta.audio", "choices[0].delta.audio.data", "choices[0].delta.audio.transcript",
        "choices[0].finish_reason", "usage", "id", "model", "usage.prompt_tokens",
        "usage.completion_tokens", "usage.total_tokens", "usage.prompt_tokens_details",
        "usage.completion_tokens_details"}
KINDS = ("unknown_field", "missing_field", "wrong_type", "order", "end_of_stream", "not_json",
         "speech")


@dataclass
class Finding:
    """One difference between what a server sent and what the documentation leads us to expect."""

    kind: str  # one of KINDS
    field: str  # a dotted path in the chunk ("choices[0].delta.audio.expires_at"), or "stream"
    detail: str  # one line: what was expected, what came
    step: str = ""  # the doctor's request it was seen in
    chunk: int | None = None  # the first chunk (1-based) it was seen in; None: the whole stream
    count: int = 1  # in how many chunks
    breaks: bool = False  # the answer cannot be read as it should

    def line(self) -> str:
        where = f"chunk {self.chunk}" if self.chunk is not None else "the stream"
        times = f" (in {self.count} chunks)" if self.count > 1 else ""
        mark = " — breaks the answer" if self.breaks else ""
        step = f"{self.step}, " if self.step else ""
        return f"[{step}{where}] {self.kind.replace('_', ' ')}: {self.detail}{times}{mark}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _State:
    """What one stream showed so far, for the stream-level checks."""

    step: str
    vllm: bool
    found: dict[tuple[str, str], Finding] = field(default_factory=dict)
    content_at: int | None = None  # the first chunk with answer text
    reasoning_after: int | None = None  # the first reasoning piece after the answer began
    reasoning: bool = False
    speech: bool = False
    transcript: bool = False
    finish_at: int | None = None
    usage_at: int | None = None
    done_at: int | None = None
    after_done: int = 0

    def add(self, kind: str, path: str, detail: str, chunk: int | None, breaks: bool = False) -> None:
        key = (kind, path)
        if key in self.found:
            self.found[key].count += 1
        else:
            self.found[key] = Finding(kind, path, detail, self.step, chunk, 1, breaks)


def check_stream(payloads: list[str], *, step: str = "", audio: bool = False, thinking: bool = False,
                 include_usage: bool = True, dialect: str = "dashscope",
                 stopped: str | None = None) -> list[Finding]:
    """Every difference in one stream's ``payloads`` (``[DONE]`` included when it came).

    ``audio``, ``thinking`` and ``include_usage`` are what the request asked for: speech, reasoning
    and a usage chunk that should then arrive. ``dialect`` "vllm-omni" expects vLLM's additions.
    ``stopped``: why the client stopped reading before the stream's end (its error); what the
    rest of the stream held is then unknown, so the end-of-stream checks are not made.
    """
    state = _State(step, dialect.startswith("vllm"))
    for number, data in enumerate(payloads, start=1):
        if state.done_at is not None:
            state.after_done += 1
            continue
        if data == DONE:
            state.done_at = number
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            state.add("not_json", "stream", f"a payload is not JSON ({data[:40]!r}…)", number, True)
            continue
        if not isinstance(chunk, dict):
            state.add("wrong_type", "chunk", f"a chunk is {_type(chunk)}, not an object", number, True)
            continue
        _chunk(chunk, number, state)
    if stopped is None:
        _stream_end(state, audio, thinking, include_usage)
    else:  # "no [DONE]" would be false: the client stopped reading, the server may have sent it
        state.add("end_of_stream", "stream", f"the stream was not read to its end: {stopped}", None)
    return list(state.found.values())


def _chunk(chunk: dict[str, Any], number: int, state: _State) -> None:
    if "error" in chunk and not chunk.get("choices"):
        state.add("end_of_stream", "error", f"the server reported an error mid-stream: "
                  f"{str(chunk['error'])[:80]}", number, True)
        return
    _fields(chunk, TOP, "", number, state, VLLM["top"])
    _required(chunk, TOP_REQUIRED, "", number, state)
    usage = chunk.get("usage")
    if isinstance(usage, dict) and usage:
        _usage(usage, chunk.get("choices"), number, state)
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices:
        return
    choice = choices[0]
    if not isinstance(choice, dict):
        state.add("wrong_type", "choices[0]", f"a choice is {_type(choice)}, not an object", number, True)
        return
    _fields(choice, CHOICE, "choices[0].", number, state, VLLM["choice"])
    _required(choice, CHOICE_REQUIRED, "choices[0].", number, state)
    if choice.get("finish_reason") and state.finish_at is None:
        state.finish_at = number
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return
    _fields(delta, DELTA, "choices[0].delta.", number, state, VLLM["delta"])
    if chunk.get("modality") not in (None, "text"):  # vllm-omni's speech rides in content
        state.speech = state.speech or bool(delta.get("content"))
        return
    reasoning = delta.get("reasoning_content") or (delta.get("reasoning") if state.vllm else None)
    if reasoning:
        state.reasoning = True
        if state.content_at is not None and state.reasoning_after is None:
            state.reasoning_after = number
    if delta.get("content") and state.content_at is None:
        state.content_at = number
    audio = delta.get("audio")
    if isinstance(audio, dict):
        _audio(audio, number, state)


def _audio(audio: dict[str, Any], number: int, state: _State) -> None:
    path = "choices[0].delta.audio."
    _fields(audio, AUDIO, path, number, state)
    data = audio.get("data")
    if "transcript" in audio:
        state.transcript = True
    if not data:
        return
    state.speech = True
    _required(audio, AUDIO_WITH_DATA, path, number, state)
    if isinstance(data, str):
        try:
            raw = b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            state.add("speech", path + "data", "a speech chunk is not valid base64 on its own (each "
                      "chunk should decode alone)", number, True)
            return
        if len(raw) % 2:
            state.add("speech", path + "data", "a speech chunk ends inside a 16-bit sample (an odd "
                      "number of bytes); the client carries the byte over", number)


def _usage(usage: dict[str, Any], choices: Any, number: int, state: _State) -> None:
    state.usage_at = state.usage_at or number
    if choices != []:
        state.add("order", "choices", "usage arrived in a chunk whose choices are not [] (the "
                  "documentation sends it alone, with \"choices\": [])", number)
    _fields(usage, USAGE, "usage.", number, state)
    _required(usage, tuple(USAGE), "usage.", number, state)
    for name, known in (("prompt_tokens_details", PROMPT_DETAILS),
                        ("completion_tokens_details", COMPLETION_DETAILS)):
        details = usage.get(name)
        if isinstance(details, dict):
            _fields(details, {k: (int,) for k in known}, f"usage.{name}.", number, state)


def _stream_end(state: _State, audio: bool, thinking: bool, include_usage: bool) -> None:
    if state.content_at is None and not (audio and state.speech):
        state.add("missing_field", "choices[0].delta.content", "no chunk carried the answer's text "
                  "in choices[0].delta.content", None, True)
    if thinking and not state.reasoning:
        state.add("missing_field", "choices[0].delta.reasoning_content", "thinking was asked for, "
                  "and no chunk carried reasoning_content", None)
    if state.reasoning_after is not None:
        state.add("order", "choices[0].delta.reasoning_content", "reasoning arrived after the "
                  f"answer had begun (answer from chunk {state.content_at}); the documentation "
                  "streams all reasoning first", state.reasoning_after)
    if audio and not state.speech:
        state.add("missing_field", "choices[0].delta.audio.data", "speech was asked for, and no "
                  "chunk carried choices[0].delta.audio.data", None, True)
    if audio and state.speech and not state.transcript and not state.vllm:
        state.add("missing_field", "choices[0].delta.audio.transcript", "no audio delta carried "
                  "a transcript (the documentation puts one in the last)", None)
    if state.finish_at is None:
        state.add("end_of_stream", "choices[0].finish_reason", "no chunk carried a finish_reason",
                  None, True)
    if include_usage and state.usage_at is None:
        state.add("missing_field", "usage", "stream_options.include_usage was sent, and no usage "
                  "chunk came", None)
    elif state.usage_at is not None and state.finish_at is not None and state.usage_at < state.finish_at:
        state.add("order", "usage", "usage arrived before the finish_reason", state.usage_at)
    if state.done_at is None:
        state.add("end_of_stream", "[DONE]", "the stream ended without data: [DONE] (the client "
                  "then reports it cut short)", None, True)
    elif state.after_done:
        state.add("end_of_stream", "[DONE]", f"{state.after_done} payload(s) came after [DONE]",
                  state.done_at + 1)


def _fields(obj: dict[str, Any], known: dict[str, tuple[Any, ...]], path: str, number: int,
            state: _State, allowed: set[str] | frozenset[str] = frozenset()) -> None:
    for name, value in obj.items():
        where = path + name
        if name not in known:
            if not (state.vllm and name in allowed):
                state.add("unknown_field", where, f"a field the documentation does not list: {where} "
                          f"({_type(value)})", number)
            continue
        types = known[name]
        if value is None and None in types:
            continue
        if not any(t is not None and _is(value, t) for t in types):
            want = " or ".join("null" if t is None else _NAMES[t] for t in types)
            state.add("wrong_type", where, f"{where} is {_type(value)}, expected {want}", number,
                      where in READ)


def _required(obj: dict[str, Any], names: tuple[str, ...], path: str, number: int, state: _State) -> None:
    for name in names:
        if name not in obj:
            state.add("missing_field", path + name, f"{path + name} is missing", number,
                      path + name in READ and name in ("choices", "delta"))


_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def _is(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number"
    return _NAMES.get(type(value), type(value).__name__)
