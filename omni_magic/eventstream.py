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
from typing import TYPE_CHECKING, Any

from .errors import Interrupted
from .sse import SSEDecoder

if TYPE_CHECKING:
    import httpx

    from .events import Event

CANCELLED = "cancelled"
FIRST_EVENT = "first event"


class Abort:
    """Ends one attempt's connection from any thread; ``reason`` says why (None: not aborted).

    The socket is known from the moment httpcore opens it (``trace``, httpcore's trace
    extension), so a cancel while the server has not even sent its headers ends the wait
    too; a pooled connection is known from its response. Whatever is attached after the
    abort is shut as it arrives.
    """

    def __init__(self, first_event: float | None = None) -> None:
        self.reason: str | None = None
        self._first_event = first_event
        self._timer: threading.Timer | None = None
        self._socket: Any = None
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: the new connection's socket; the first-event deadline starts
        when the body has been sent (a large upload is not the server's slowness)."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            with self._lock:
                self._socket = stream.get_extra_info("socket") if stream is not None else None
                if self.reason is not None:
                    _shut_socket(self._socket)
        elif event == "http11.send_request_body.complete":
            self.arm()

    def arm(self) -> None:
        """Start the first-event deadline (once)."""
        with self._lock:
            if self._first_event is None or self._timer is not None or self.reason is not None:
                return
            timer = self._timer = threading.Timer(self._first_event, self._fire)
            timer.args = (timer,)
            timer.daemon = True
            timer.start()

    def disarm(self) -> None:
        """The first event came (or the attempt ended): a timer already firing is ignored."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._first_event = None  # never armed again by a late trace event

    def _fire(self, timer: threading.Timer) -> None:
        with self._lock:
            if self._first_event is None or timer is not self._timer:
                return  # disarmed while this callback was starting
        self.trip(FIRST_EVENT)

    def attach(self, response: httpx.Response) -> None:
        with self._lock:
            self._response = response
            if self.reason is not None:
                _shut(response)

    def detach(self) -> None:
        with self._lock:
            self._response = self._socket = None

    def trip(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            if self._response is not None:
                _shut(self._response)
            elif self._socket is not None:
                _shut_socket(self._socket)


def _shut(response: httpx.Response) -> None:
    """Wake whatever thread reads ``response``: its socket is shut down under it."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:  # a transport without a socket (httpx.MockTransport): close the body
        response.close()
        return
    _shut_socket(sock)


def _shut_socket(sock: Any) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed: nothing left to wake
        pass


class Cancellation:
    """What one ``send()`` shares with the stream it returns: the attempt on the wire, so
    ``cancel()`` from another thread can abort it, and whether it was cancelled. The lock
    makes "cancelled before the attempt began" and "began, then cancelled" the only cases."""

    def __init__(self) -> None:
        self.cancelled = False
        self._abort: Abort | None = None
        self._lock = threading.Lock()

    def begin(self, abort: Abort) -> None:
        with self._lock:
            if self.cancelled:  # before the first request, or between two tries: send nothing
                raise Interrupted("The stream was cancelled before it started.")
            self._abort = abort

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            abort = self._abort
        if abort is not None:
            abort.trip(CANCELLED)


@dataclass
class Attempt:
    """One try of a request, as the client's attempt loop and its error mapping share it."""

    number: int  # 0 for the first try; the retries made before it
    abort: Abort = field(default_factory=Abort)
    produced: bool = False  # an event was yielded: from here on, nothing is retried
    retry: bool = False  # its failure may be retried (set just before raising)
    retry_after: float | None = None  # the server's Retry-After, when it sent one


class Aborted(Exception):
    """Raised where the reader notices an abort between two reads (the socket was shut after
    the last of them); the client tells the user why, from ``Abort.reason``."""


class IdleTimeout(Exception):
    """Bytes kept coming (comments, keep-alives), but no event for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def payloads(chunks: Iterable[bytes], *, idle: float | None,
             clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The SSE data payloads of a body's ``chunks`` as they complete; IdleTimeout when ``idle``
    seconds pass with no event completed or in progress (comments only)."""
    decoder = SSEDecoder()
    last = clock()
    for raw in chunks:
        found = decoder.decode(raw)
        now = clock()
        if found or decoder.in_event:  # a long event (a whole WAV) still arriving counts too
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
