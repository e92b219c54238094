"""Incremental Server-Sent Events decoder: bytes in, ``data`` payloads out. No I/O.

Feed it whatever the socket delivers, split anywhere (inside a line, inside a
UTF-8 character, between ``\\r`` and ``\\n``); it returns each event's data
once the event is complete. Comment lines (``: keep-alive``), ``event:``,
``id:`` and ``retry:`` fields are accepted and dropped: the service carries
everything in ``data``.
"""

from __future__ import annotations

DONE = "[DONE]"


class SSEDecoder:
    """Split an SSE byte stream into event data strings.

    Follows the SSE rules (a blank line ends an event; several ``data:`` lines
    join with ``\\n``) with one leniency: the service's own transcripts show
    JSON events on consecutive ``data:`` lines with no blank line between
    them, so a new ``data:`` line that arrives while a complete-looking
    single-line JSON object is pending starts a new event.
    """

    __slots__ = ("_buffer", "_data", "_pending_cr")

    def __init__(self) -> None:
        # The incomplete last line. A bytearray, grown in place: vllm-omni sends a whole WAV
        # in one line, which arrives in hundreds of reads, and joining bytes objects read by
        # read would copy the line once per read (quadratic in its length).
        self._buffer = bytearray()
        self._data: list[str] = []
        self._pending_cr = False

    def decode(self, chunk: bytes) -> list[str]:
        """Return the data of every event completed by ``chunk``."""
        if not chunk:
            return []  # an empty read must not forget a pending \r
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the \n of a \r\n split across two reads
        self._pending_cr = False
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:  # still inside a line: only this read is scanned, never the line so far
            self._buffer += chunk
            return []
        if self._buffer:
            self._buffer += chunk[:end + 1]
            buf = bytes(self._buffer)
        else:
            buf = bytes(chunk[:end + 1])
        self._buffer = bytearray(chunk[end + 1:])
        if b"\r" in buf:
            self._pending_cr = chunk.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        out: list[str] = []
        blocks = buf.split(b"\n\n")
        tail = blocks.pop()
        for block in blocks:
            # The common case, one "data: " line per event, without a call per line.
            if not self._data and block[:6] == b"data: " and b"\n" not in block:
                out.append(block[6:].decode("utf-8", errors="replace"))
                continue
            for raw in block.split(b"\n"):
                self._line(raw, out)
            self._line(b"", out)
        # ``buf`` ends at a line end, so the tail's last piece is empty: every line is whole.
        for raw in tail.split(b"\n")[:-1]:
            self._line(raw, out)
        return out

    @property
    def in_event(self) -> bool:
        """Part of an event has arrived (a data line, or the start of one): not only comments."""
        return bool(self._data) or (bool(self._buffer) and not self._buffer.startswith(b":"))

    def flush(self) -> list[str]:
        """End of stream: return a final event left without its blank line."""
        out: list[str] = []
        if self._buffer:
            self._line(bytes(self._buffer), out)
            self._buffer = bytearray()
        self._line(b"", out)
        return out

    def _line(self, raw: bytes, out: list[str]) -> None:
        if not raw:
            if self._data:
                out.append("\n".join(self._data))
                self._data = []
            return
        if raw.startswith(b"data:"):
            value = raw[6:] if raw.startswith(b"data: ") else raw[5:]
            text = value.decode("utf-8", errors="replace")
            data = self._data
            if len(data) == 1 and data[0][:1] == "{" and data[0][-1:] == "}":
                out.append(data[0])
                data.clear()
            data.append(text)
        # Other fields (event, id, retry) and ":" comments carry nothing we need.
