"""From SSE data payloads to typed events: the JSON of each chunk, and what a stream owes.

Pure, no I/O. ``ChunkReader.read(data)`` turns one payload into events and keeps
track of ``[DONE]`` and ``finish_reason``; ``missing()`` says what a stream that
ended never sent. JSON is parsed by orjson when it is installed (the ``fast``
extra, about three times quicker on these chunks), else by the standard library.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from .errors import ProtocolError, StreamCutShort, excerpt
from .events import Event, Finished, events_from_chunk, started_from
from .sse import DONE

try:  # optional: the `fast` extra
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

JSON_PARSER = "orjson" if _loads is not json.loads else "json"
SPEECH = '"audio":{"data":"'  # how the service's speech chunks begin their payload


class ChunkReader:
    """Reads one stream's payloads in order."""

    __slots__ = ("done", "finished", "_first")

    def __init__(self) -> None:
        self.done = False  # [DONE] arrived
        self.finished = False  # a finish_reason arrived
        self._first = True

    def read(self, data: str) -> list[Event]:
        """The events of one payload (``Started`` first, once)."""
        if data == DONE:
            self.done = True
            return []
        chunk = _parse_speech(data) if SPEECH in data else parse(data)
        out: list[Event] = []
        try:
            if self._first:
                self._first = False
                out.append(started_from(chunk))
            events_from_chunk(chunk, out)
        except (AttributeError, TypeError, IndexError, KeyError):  # e.g. "choices": ["text"]
            raise ProtocolError(
                f"The server sent a chunk of an unexpected shape ({data[:60]!r}...): the answer "
                "below is partial. If this repeats, the server does not speak the OpenAI "
                "streaming format."
            ) from None
        if not self.finished:
            for event in out:
                if type(event) is Finished:
                    self.finished = True
        return out

    def missing(self) -> str | None:
        """What a complete stream would still have sent, or None if it is complete."""
        parts = [part for part, seen in (("finish_reason", self.finished), ("[DONE]", self.done))
                 if not seen]
        return " and ".join(parts) or None


def read_payloads(payloads: Iterable[str]) -> Iterator[Event]:
    """The events of a whole stream's payloads; StreamCutShort if it ended incomplete."""
    reader = ChunkReader()
    for data in payloads:
        yield from reader.read(data)
    missing = reader.missing()
    if missing:
        raise StreamCutShort(
            f"The stream ended before it was complete (no {missing} arrived): the answer "
            "below is partial. Run the cell again to get the whole answer."
        )


def parse(data: str) -> dict[str, Any]:
    """One payload as a JSON object; ProtocolError or, for an error object, StreamCutShort."""
    try:
        chunk = _loads(data)
    except ValueError:
        raise ProtocolError(
            f"The server sent a chunk that is not JSON ({data[:60]!r}...): the answer below is "
            "partial. If this repeats, the server does not speak the OpenAI streaming format."
        ) from None
    if not isinstance(chunk, dict):
        raise ProtocolError(f"The server sent a chunk that is not a JSON object: {data[:60]!r}.")
    error = chunk.get("error")
    if error and not chunk.get("choices"):
        message = str(error.get("message") if isinstance(error, dict) else error)
        cut = StreamCutShort(f"The server reported an error mid-stream: {excerpt(message)}. The "
                             "answer below is partial.")
        cut.server_text = data
        raise cut
    return chunk


def _parse_speech(data: str) -> dict[str, Any]:
    """A speech chunk, parsed without scanning its base64 as a JSON string.

    The base64 is most of the chunk (6.4 KB of 6.6) and holds no quote or escape, so it is
    cut out, the small rest is parsed (every other field still checked), and the base64 is
    put back. Escaped base64 (some encoders write ``\\/``) takes the ordinary path.
    """
    start = data.index(SPEECH) + len(SPEECH)
    end = data.find('"', start)
    b64 = data[start:end]
    if end < 0 or "\\" in b64:
        return parse(data)
    chunk = parse(data[:start] + data[end:])
    try:
        chunk["choices"][0]["delta"]["audio"]["data"] = b64
    except (KeyError, IndexError, TypeError):
        return parse(data)  # not where a speech payload belongs: read it the ordinary way
    return chunk
