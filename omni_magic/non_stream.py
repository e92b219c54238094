"""What an answer that is not an event stream says: a whole ``chat.completion``, a JSON
error, an HTML page, a redirect, or something else.

A request asks for ``text/event-stream``; a server (or a proxy, a captive portal, a load
balancer) may answer ``200`` with anything. Each is told for what it is instead of as "the
stream ended early": a whole answer is turned into the events a stream would have carried
(so it is shown and kept), an error object gives its message, an HTML page its status and
title, a redirect where it points (never followed: the key goes only where the user sent it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from typing import TYPE_CHECKING, Any

from . import api_errors
from .errors import UnexpectedAnswer, excerpt
from .events import Event, Note, events_from_chunk, started_from

if TYPE_CHECKING:
    import httpx

READ_LIMIT = 64 * 1024 * 1024  # a whole answer with speech is a few MB; anything beyond is not one
_SSE_START = (b"data:", b":", b"event:", b"id:", b"retry:")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
NOT_STREAMED = ("The server sent the whole answer at once instead of streaming it (a JSON "
                "chat.completion): it is shown as it arrived.")


def is_stream(response: httpx.Response) -> bool:
    """True for ``text/event-stream``, and for a body whose type is not stated."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return kind in ("", "text/event-stream")


def read_head(chunks: Iterator[bytes], limit: int = READ_LIMIT) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a body, and whether there was more."""
    head = bytearray()
    for chunk in chunks:
        head += chunk
        if len(head) > limit:
            return bytes(head[:limit]), True
    return bytes(head), False


def looks_like_sse(head: bytes) -> bool:
    """A mislabelled stream (``text/plain`` from some proxies) still starts like one."""
    return head.lstrip().startswith(_SSE_START)


def redirect(response: httpx.Response, label: str) -> UnexpectedAnswer:
    where = response.headers.get("Location") or "(no Location header)"
    base = where.split("?")[0].removesuffix("/chat/completions")
    return UnexpectedAnswer(
        f"{label} answered {response.status_code} {response.reason_phrase}: a redirect to "
        f"{excerpt(where, 200)}, which was not followed (the request and its API key go only "
        f"where you pointed them). If that is the right server, use it as the base URL "
        f"({excerpt(base, 200)}).", status=response.status_code, location=where,
    )


def answer(response: httpx.Response, body: bytes, cut: bool, *, label: str,
           base_url: str) -> list[Event]:
    """The events a 2xx answer that is not a stream carries; raises when it carries none."""
    status, kind = response.status_code, response.headers.get("Content-Type", "(none)")
    try:
        parsed: Any = None if cut else json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("error"):
        code, message, request_id = api_errors.parse_error_body(body)
        tail = f" (request id {request_id})" if request_id else ""
        raise UnexpectedAnswer(
            f"{label} answered {status} with an error instead of a stream "
            f"({code + ': ' if code else ''}{excerpt(message)}). Run the cell again; if it "
            f"repeats, the server cannot answer this request.{tail}",
            status=status, code=code, request_id=request_id,
            server_text=body.decode("utf-8", "replace"),
        )
    if isinstance(parsed, dict) and isinstance(parsed.get("choices"), list):
        return completion_events(parsed)
    text = body.decode("utf-8", "replace")
    found = _TITLE.search(body[:65536])
    if found or "html" in kind.lower():
        title = " ".join(unescape(found.group(1).decode("utf-8", "replace")).split()) if found else ""
        raise UnexpectedAnswer(
            f"{label} answered {status} with a web page ({excerpt(title, 200) or 'no title'}) "
            f"instead of a stream: a proxy, a login page or the wrong base URL ({base_url}). "
            "Open it in a browser to see what it is.", status=status, server_text=text,
        )
    raise UnexpectedAnswer(
        f"{label} answered {status} with {kind} instead of a stream: {excerpt(text, 300)!r}. "
        f"Check the base URL ({base_url}).", status=status, server_text=text,
    )


def completion_events(completion: dict[str, Any]) -> list[Event]:
    """A whole ``chat.completion`` as the events of a stream: its message read as one delta."""
    out: list[Event] = [Note(NOT_STREAMED)]
    choices = [{**c, "delta": c.get("message") or {}} if isinstance(c, dict) else c
               for c in completion["choices"]]
    try:
        out.append(started_from(completion))
        events_from_chunk({**completion, "choices": choices}, out)
    except (AttributeError, TypeError, IndexError, KeyError):
        raise UnexpectedAnswer(
            f"The server answered with a chat completion of an unexpected shape: "
            f"{excerpt(json.dumps(completion)[:2000], 300)}.", status=200,
        ) from None
    return out

