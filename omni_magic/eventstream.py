"""One request's events as they arrive: the handle a caller holds, and the deadlines it keeps.

httpx's timeouts apply to each read, so a server that sends a keep-alive comment every half
second, or trickles its ``/models`` a byte at a time, would hold a cell for ever. Two
deadlines close that gap:

- **the first event** must arrive within ``first_event`` seconds of sending, however the
  server trickles: a watchdog timer aborts the response when it has not;
- **between events** no more than ``idle`` seconds may pass, counting only complete
  payloads, not the comments in between (checked as the bytes arrive).

An abort shuts the response's socket down from any thread, which ends a read that is
blocked in it at once (closing the response instead would race the reading thread inside
httpcore). ``EventStream.cancel()`` uses the same path: a batch's ``stop()`` cuts a stalled
stream without waiting for its next byte.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .sse import SSEDecoder

if TYPE_CHECKING:
    import httpx

    from .events import Event

CANCELLED = "cancelled"
FIRST_EVENT = "first event"


class Abort:
    """Ends one live response from any thread; ``reason`` says why (None: not aborted).

    A response attached after the abort is aborted as it arrives, so a deadline that
    passes while the headers are still on their way is kept too.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()

    def attach(self, response: httpx.Response) -> None:
        with self._lock:
            self._response = response
            if self.reason is not None:
                _shut(response)

    def detach(self) -> None:
        with self._lock:
            self._response = None

    def trip(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            if self._response is not None:
                _shut(self._response)

    def watchdog(self, seconds: float | None, reason: str) -> Callable[[], None]:
        """Trip with ``reason`` after ``seconds`` unless the returned function is called first."""
        if seconds is None:
            return lambda: None
        timer = threading.Timer(seconds, self.trip, args=(reason,))
        timer.daemon = True
        timer.start()
        return timer.cancel


def _shut(response: httpx.Response) -> None:
    """Wake whatever thread reads ``response``: its socket is shut down under it."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:  # a transport without a socket (httpx.MockTransport): close the body
        response.close()
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed: nothing left to wake
        pass


@dataclass
class Attempt:
    """One try of a request, as the client's attempt loop and its error mapping share it."""

    number: int  # 0 for the first try; the retries made before it
    abort: Abort = field(default_factory=Abort)
    produced: bool = False  # an event was yielded: from here on, nothing is retried
    retry: bool = False  # its failure may be retried (set just before raising)
    retry_after: float | None = None  # the server's Retry-After, when it sent one


class IdleTimeout(Exception):
    """Bytes kept coming (comments, keep-alives), but no event for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def payloads(chunks: Iterable[bytes], *, idle: float | None,
             clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The SSE data payloads of a body's ``chunks`` as they complete; IdleTimeout when ``idle``
    seconds pass between two of them while only comments (or nothing whole) arrive."""
    decoder = SSEDecoder()
    last = clock()
    for raw in chunks:
        found = decoder.decode(raw)
        now = clock()
        if found:
            last = now
            yield from found
        elif idle is not None and now - last > idle:
            raise IdleTimeout(idle)
    yield from decoder.flush()


class EventStream(Iterator["Event"]):
    """The events of one request as they arrive. As httpx's ``with client.stream() as r``,
    ``with client.stream(...) as events:`` releases the connection however the block ends (a
    ``break``, an exception, a KeyboardInterrupt); iterated without ``with``, at the stream's
    end, on ``close()``, or whenever the garbage collector gets to it.

    ``cancel()`` may be called from another thread: the open response is aborted, and the
    thread iterating gets ``Interrupted`` (what arrived is kept by ``collect``).
    """

    __slots__ = ("_events", "_cancel")

    def __init__(self, events: Generator[Event, None, None],
                 cancel: Callable[[], None] = lambda: None) -> None:
        self._events = events  # nothing is sent until the first next()
        self._cancel = cancel

    def __next__(self) -> Event:
        return next(self._events)

    def cancel(self) -> None:
        """Stop the stream from any thread, at once, even in the middle of a blocked read."""
        self._cancel()

    def close(self) -> None:
        self._events.close()  # the generator's ``finally`` closes the response; idempotent

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # never swallows the block's exception
