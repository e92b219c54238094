"""What went wrong on the wire, told as an OmniError a user can act on: httpx's errors, a stream
that only sent keep-alives, a first-event deadline passed, a stream cancelled on purpose.

Before the first event a failure is the connection's (ConnectError; a transport error may be
retried, the user has seen nothing); after it, the stream was cut short and what arrived is kept
(StreamCutShort). A body that cannot be decoded is the server's fault either way (ProtocolError);
a URL httpx cannot parse is the caller's (InvalidRequest).
"""

from __future__ import annotations

import httpx

from .errors import (
    ConnectError,
    Interrupted,
    InvalidRequest,
    OmniError,
    ProtocolError,
    StreamCutShort,
    StreamError,
)
from .eventstream import CANCELLED, Attempt, IdleTimeout


def mapped(exc: Exception, url: str, attempt: Attempt, *, label: str,
           first_event_timeout: float | None) -> OmniError:
    """The OmniError for an httpx error (or an idle stream) met by ``attempt``; marks whether
    it may be retried."""
    partial = "the answer below is partial" if attempt.produced else "nothing arrived"
    if attempt.abort.reason is not None:
        return aborted(attempt, label=label, first_event_timeout=first_event_timeout)
    if isinstance(exc, IdleTimeout):
        what = (f"sent no event for {exc.seconds:g} s (keep-alive comments only, or an event "
                "that never ended)")
        if attempt.produced:
            return StreamCutShort(f"{label} {what}: {partial}. Run the cell again.")
        return ConnectError(f"{label} {what} before the first. Check the server; "
                            "run the cell again.")
    if isinstance(exc, httpx.InvalidURL):
        return InvalidRequest(
            f"The base URL {url.rsplit('/chat/completions', 1)[0]!r} is not a valid URL ({exc}). "
            "Fix base_url (or DASHSCOPE_BASE_URL), for example http://127.0.0.1:8000/v1.")
    if isinstance(exc, httpx.DecodingError):
        return ProtocolError(
            f"{label} sent a body that could not be decoded ({exc}): {partial}. "
            "Run the cell again; if it happens again, the server or a proxy in between "
            "garbles its responses (Content-Encoding).")
    if isinstance(exc, httpx.LocalProtocolError) and not attempt.produced:
        return InvalidRequest(
            f"The request could not be sent as built ({exc}). This is a defect of the client: "
            "please report it with the cell that sent it.")
    if attempt.produced:
        return cut_short(exc, label)
    # A transport error may be passing (a reset, a timeout); a scheme httpx does not
    # speak, or a non-transport error (too many redirects...), fails the same way again.
    attempt.retry = (isinstance(exc, httpx.TransportError)
                     and not isinstance(exc, httpx.UnsupportedProtocol))
    return connect_error(exc, url, attempt.number, label)


def aborted(attempt: Attempt, *, label: str, first_event_timeout: float | None) -> OmniError:
    """The error for a stream ended on purpose: cancelled, or past its first-event deadline."""
    if attempt.abort.reason == CANCELLED:
        return Interrupted("The stream was cancelled: the answer so far is kept.")
    if attempt.produced:  # a deadline met mid-answer: what arrived is kept
        return StreamCutShort(f"{label} stopped answering: the answer below is partial.")
    return ConnectError(
        f"{label} sent no event within {first_event_timeout:g} s of the "
        "request (OmniClient(first_event_timeout=...), %config OmniMagics.first_event_timeout). "
        "The server is overloaded or only sends keep-alives: run the cell again later.")


def connect_error(exc: httpx.HTTPError, url: str, retries: int, label: str) -> ConnectError:
    kind = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
    tried = f" (tried {retries + 1} times)" if retries else ""
    return ConnectError(
        f"{label} {kind}{tried}: {type(exc).__name__}. Check the network and the "
        f"base URL ({url}), then run the cell again."
    )


def cut_short(exc: Exception, label: str) -> StreamError:
    if isinstance(exc, httpx.TimeoutException):
        what = "stopped sending (read timeout)"
    else:
        what = f"closed the connection mid-answer ({type(exc).__name__})"
    return StreamCutShort(
        f"{label} {what}: the answer below is partial. Run the cell again "
        "to get the whole answer."
    )
