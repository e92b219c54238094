"""Faults the emulator injects on request: the reliability tests' tool, and a user's.

A fault is written ``kind[:key=value,...]``:

=========================  ================================================================
``disconnect:after=N``     close the connection after N chunks, mid-answer
``malformed:after=N``      after N chunks, send one chunk whose JSON is cut in half
``truncated_audio``        the first speech chunk (at or after ``after=N``) has its base64
                           cut short
``stall:after=N,seconds=S``  after N chunks, send nothing for S seconds, then go on
``keepalive:after=N,seconds=S``  after N chunks, send only ``: keep-alive`` comments (five a
                           second) for S seconds, then go on
``wrong_types:after=N``    the first chunk with text at or after N carries it as a list
``json_answer``            answer ``200`` with the whole answer as one ``chat.completion``
``json_error``             answer ``200`` with a JSON ``{"error": ...}`` instead of a stream
``html``                   answer ``200`` with a web page (a captive portal's)
``redirect``               answer ``307`` to another address
``429:retry_after=S``      refuse with 429 Throttling and ``Retry-After: S`` (default 1)
``500``, ``503``           refuse with the service's server-error bodies
``401``                    refuse with invalid_api_key
``content_filter``         refuse with 400 data_inspection_failed
=========================  ================================================================

Choose one per request with the ``X-Omni-Fault`` header, or queue faults for the
next requests (any client, the magic included) with ``Emulator.inject(spec, times)``
or ``POST /_emulator/faults`` with ``{"fault": spec, "times": N}``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from .errors import Rejected

HEADER = "X-Omni-Fault"

# status, code, message: the service's wording where the seed or its docs give it.
_REFUSALS: dict[str, tuple[int, str, str]] = {
    "401": (401, "invalid_api_key", "Incorrect API key provided. "),
    "429": (429, "Throttling", "Requests rate limit exceeded, please try again later."),
    "500": (500, "InternalError", "An internal error has occured, please try again later."),
    "503": (503, "ServiceUnavailable", "The service is temporarily unavailable, please try again later."),
    "content_filter": (400, "data_inspection_failed", "Input data may contain inappropriate content."),
}
_IN_STREAM = ("disconnect", "malformed", "truncated_audio", "stall", "keepalive", "wrong_types")
# Answers that are not a stream at all: what proxies, portals and misconfigured servers send.
NOT_A_STREAM = ("json_answer", "json_error", "html", "redirect")
KINDS = tuple(_REFUSALS) + _IN_STREAM + NOT_A_STREAM
_PARAMS = {"after": int, "seconds": float, "retry_after": float}


class FaultSpecError(ValueError):
    """A fault spec the emulator cannot read; the message lists the kinds."""


@dataclass(frozen=True)
class Fault:
    """One injected fault: what, and (in the stream) after how many chunks."""

    kind: str
    after: int = 0
    seconds: float = 0.0
    retry_after: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> Fault:
        kind, _, params = spec.strip().partition(":")
        if kind not in KINDS:
            raise FaultSpecError(f"Unknown fault {kind!r}; use one of: {', '.join(KINDS)}.")
        values: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in params.split(","))):
            key, _, value = item.partition("=")
            if key not in _PARAMS:
                raise FaultSpecError(f"Unknown fault parameter {key!r} in {spec!r}; "
                                     f"use {', '.join(_PARAMS)}.")
            try:
                values[key] = _PARAMS[key](value)
            except ValueError:
                raise FaultSpecError(f"Fault parameter {key} needs a number, not {value!r}.") from None
        return cls(kind, **values)

    @property
    def refusal(self) -> Rejected | None:
        """The HTTP error to answer with instead of a stream, for the refusing kinds."""
        if self.kind not in _REFUSALS:
            return None
        return Rejected(*_REFUSALS[self.kind])

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": f"{self.retry_after:g}"} if self.kind == "429" else {}


def truncate_audio(data: dict[str, Any]) -> bool:
    """Cut the base64 of a speech chunk short, in place; False if it carries no speech."""
    try:
        if data.get("modality") == "audio":  # vllm-omni: a whole audio file in delta.content
            audio, key = data["choices"][0]["delta"], "content"
        else:
            audio, key = data["choices"][0]["delta"]["audio"], "data"
        b64 = audio[key]
    except (KeyError, IndexError, TypeError):
        return False
    audio[key] = b64[: len(b64) // 8 * 4 + 1]  # half of it, one more than a multiple of 4: never valid
    return True


def spoil_types(data: dict[str, Any]) -> bool:
    """Give a text chunk's content the wrong JSON type (a list), in place; False if it has none."""
    try:
        delta = data["choices"][0]["delta"]
        if not isinstance(delta.get("content"), str):
            return False
    except (KeyError, IndexError, TypeError):
        return False
    delta["content"] = [delta["content"]]
    return True


def not_a_stream(kind: str, chunks: list[dict[str, Any]], uid: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an answer of kind ``NOT_A_STREAM`` instead of the stream
    made of ``chunks``."""
    if kind == "redirect":
        return 307, {"Location": "http://127.0.0.1:9/elsewhere/v1/chat/completions"}, b""
    if kind == "html":
        page = b"<html><head><title>Hotel Wi-Fi: sign in</title></head><body>Sign in</body></html>"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page
    if kind == "json_error":
        body = {"error": {"code": "InternalError", "message": "The stream could not be started."},
                "request_id": uid}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    usage = next((c["usage"] for c in chunks if c.get("usage")), None)
    whole = {"id": uid, "object": "chat.completion", "model": chunks[0].get("model"),
             "choices": [{"index": 0, "finish_reason": "stop",
                          "message": {"role": "assistant", "content": text}}], "usage": usage}
    return 200, {"Content-Type": "application/json"}, json.dumps(whole).encode()


MALFORMED = b'data: {"choices":[{"delta":{"content":"cut her\n\n'
KEEPALIVE = b": keep-alive\n\n"


class InStream:
    """An in-stream fault as its stream goes: ``before(i, chunk)`` strikes before chunk ``i`` is
    sent, through the handler's ``send`` and ``hang_up``; False when the stream must end."""

    def __init__(self, fault: Fault | None, send: Callable[[bytes], None],
                 hang_up: Callable[[], None], stopping: threading.Event) -> None:
        self.fault = fault
        self.kind = fault.kind if fault is not None and fault.kind in _IN_STREAM else None
        self._send, self._hang_up, self._stopping = send, hang_up, stopping

    def before(self, i: int, chunk: dict[str, Any]) -> bool:
        if self.kind is None or i < self.fault.after:
            return True
        kind = self.kind
        if kind == "disconnect":
            self._hang_up()
            return False
        if kind == "stall":
            self._stopping.wait(self.fault.seconds)
        elif kind == "keepalive":
            until = time.monotonic() + self.fault.seconds
            while time.monotonic() < until and not self._stopping.wait(0.2):
                self._send(KEEPALIVE)
        elif kind == "malformed":
            self._send(MALFORMED)
        spoil = {"truncated_audio": truncate_audio, "wrong_types": spoil_types}.get(kind)
        if spoil is None or spoil(chunk):
            self.kind = None  # done: each fault strikes once
        return True


class FaultQueue:
    """Faults waiting for the next requests, in order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Fault] = deque()

    def push(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._items.extend([fault] * times)

    def pop(self) -> Fault | None:
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
