"""The request body as a stream of bytes, with local media base64-encoded on the fly.

Building the JSON of a 200 MB video in memory takes the file, its base64 text
(+33 %) and the JSON string around it at once: well over half a gigabyte. Here
each ``InlineData`` in the body becomes a marker while the small JSON skeleton
is serialized, and the markers are replaced by file chunks encoded as they are
sent. The length is known in advance, so the request carries a Content-Length
(some servers refuse chunked uploads).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Iterator

from .attachments import InlineData
from .errors import InvalidRequest


def check_text(text: str | None, what: str) -> None:
    """Refuse text that cannot be sent as UTF-8: a lone surrogate ("\\ud800"), which Python
    strings may hold (from ``errors="surrogateescape"``, JSON escapes, an emoji cut in two) but
    no encoder writes. ``what`` names it for the user: "The prompt", "The system message"."""
    if not text:
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(
            f"{what} holds a lone surrogate ({text[exc.start]!r} at character {exc.start}), which is "
            "not valid Unicode and cannot be sent. It comes from text decoded with "
            "errors='surrogateescape' or an emoji cut in two: remove it, or clean the text with "
            "text.encode('utf-8', 'replace').decode('utf-8')."
        ) from None


def _check_body_text(body: dict[str, Any]) -> None:
    """Find the message that holds text UTF-8 cannot encode, and refuse it by its name."""
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    for i, message in enumerate(messages):
        role = message.get("role")
        what = ("The system message" if role == "system" else "The prompt" if i == last_user
                else f"The {role} message {i + 1} of the history")
        content = message.get("content")
        for text in [content] if isinstance(content, str) else [
                p.get("text") for p in content or () if isinstance(p, dict)]:
            check_text(text if isinstance(text, str) else None, what)
    check_text(json.dumps(body, ensure_ascii=False, default=str), "The request body")


class EncodedBody:
    """Re-iterable bytes of a JSON body; ``len()`` is the exact Content-Length."""

    def __init__(self, body: dict[str, Any]) -> None:
        inline: list[InlineData] = []
        tag = secrets.token_hex(8)  # a marker no prompt text will contain

        def default(value: Any) -> str:
            if isinstance(value, InlineData):
                inline.append(value)
                return f"@@omni-inline-{tag}-{len(inline) - 1}@@"
            raise TypeError(f"cannot send a {type(value).__name__} in a request body")

        text = json.dumps(body, ensure_ascii=False, default=default)
        self._pieces: list[bytes | InlineData] = []
        try:
            for i, data in enumerate(inline):
                # json.dumps quotes the marker; the data URL keeps those quotes around it.
                before, text = text.split(f"@@omni-inline-{tag}-{i}@@", 1)
                self._pieces += [before.encode(), data]
            self._pieces.append(text.encode())
        except UnicodeEncodeError:  # a lone surrogate: say where, instead of the codec's error
            _check_body_text(body)
            raise
        self._length = sum(p.encoded_length if isinstance(p, InlineData) else len(p) for p in self._pieces)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._pieces:
            if isinstance(piece, InlineData):
                yield from piece.encoded_chunks()
            elif piece:
                yield piece

    def to_bytes(self) -> bytes:
        # Not named read(): httpx would take the object for a file and call read(size).
        return b"".join(self)


def to_json(body: dict[str, Any]) -> Any:
    """The body exactly as it goes on the wire, parsed back (for tests and small bodies)."""
    return json.loads(EncodedBody(body).to_bytes())
