"""The exceptions omni_magic raises. Each message says what happened and what to do.

    OmniError
    ├── InvalidRequest        refused by the client-side checks; nothing was sent
    ├── APIError              the service answered with an HTTP error before streaming
    │   ├── BadRequestError       400 invalid_parameter_error and friends
    │   ├── ContentFilterError    400 data_inspection_failed
    │   ├── AuthenticationError   401 invalid_api_key
    │   ├── AccountError          Arrearage and other account states (not retryable)
    │   ├── NotFoundError         404 (unknown model, wrong path)
    │   ├── RateLimitError        429 Throttling*
    │   ├── ServerError           5xx
    │   └── UnexpectedAnswer      not a stream: a redirect, a JSON error, a web page
    ├── ConnectError          the server could not be reached, or did not answer in time
    └── StreamError           the stream started, then broke; what arrived is kept
        ├── StreamCutShort        ended without finish_reason and [DONE]
        ├── ProtocolError         a chunk that is not valid JSON / SSE
        └── Interrupted           the user interrupted the kernel

No message ever contains the API key: the key lives only in request headers,
which nothing here formats into text, and the client masks any run of eight of its
characters a server might echo. A server's own text is shown cut to ``SHOWN``
characters (``excerpt``); the whole of it stays in ``server_text``.
"""

from __future__ import annotations

SHOWN = 500  # characters of a server's text that a message quotes


def excerpt(text: str, limit: int = SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


class OmniError(Exception):
    """Base class: catch this to handle every omni_magic failure.

    ``server_text`` is the whole of what the server said, when the message quotes it.
    """

    server_text: str | None = None

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: one clear paragraph.
        return [f"{type(self).__name__}: {self}"]


class InvalidRequest(OmniError, ValueError):
    """The request breaks a rule of the service; it was not sent."""


class APIError(OmniError):
    """The service answered with an HTTP error status before any event."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        server_text: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.server_text = server_text
        self.location = location  # where a redirect pointed
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(APIError):
    pass


class ContentFilterError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class AccountError(APIError):
    pass


class NotFoundError(APIError):
    pass


class RateLimitError(APIError):
    pass


class ServerError(APIError):
    pass


class UnexpectedAnswer(APIError):
    """The server answered, but not with an event stream (nothing is retried)."""


class ConnectError(OmniError):
    """The server could not be reached or did not answer in time."""


class StreamError(OmniError):
    """The stream broke after it had started; the partial answer is kept."""


class StreamCutShort(StreamError):
    pass


class ProtocolError(StreamError):
    pass


class Interrupted(StreamError):
    pass
