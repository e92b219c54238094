"""Turn the service's HTTP error answers into OmniError subclasses a user can act on."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, Mapping

from . import catalog
from .catalog import API_KEY_ENV, BASE_URL_ENV
from .errors import (
    AccountError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    NotFoundError,
    RateLimitError,
    ServerError,
    excerpt,
)

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# Answers that no retry can fix, whatever status they come with (Arrearage may come as 429).
NOT_RETRYABLE = (AccountError, AuthenticationError, ContentFilterError)
_ACCOUNT_CODES = ("Arrearage", "AccessDenied.Unpurchased", "AccessDenied")


def parse_error_body(content: bytes) -> tuple[str | None, str, str | None]:
    """(code, message, request_id) from the OpenAI-style or DashScope-native error body."""
    try:
        body: Any = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return None, text[:300] or "(empty body)", None
    if not isinstance(body, dict):
        return None, str(body)[:300], None
    err = body.get("error") if isinstance(body.get("error"), dict) else body
    code = err.get("code") or err.get("type")
    # No message field ({"detail": ...}, {"error": "text"}): the body itself says the most.
    message = err.get("message") or content.decode("utf-8", "replace").strip()[:300]
    return (str(code) if code else None), str(message), body.get("request_id")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # an unreadable header falls back to the client's own backoff
    return max(0.0, parsed.timestamp() - time.time())


def api_error(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    backend_label: str,
    region: str | None,
    base_url: str,
    retries: int,
    dashscope: bool | None = None,
) -> APIError:
    """The error for one HTTP error answer, with a message that says what to do.

    ``dashscope`` says whether the server is DashScope, whose keys belong to a region (and a
    plan, and on workspace endpoints a workspace); by default, whether ``region`` is given.
    ``region`` may be None for a DashScope endpoint whose host names no region.
    """
    if dashscope is None:
        dashscope = region is not None
    code, whole, request_id = parse_error_body(content)
    message = excerpt(whole)  # a server may send megabytes: the whole stays in server_text
    what = f"{status} {code}" if code else str(status)
    tail = f" (request id {request_id})" if request_id else ""
    tried = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    kwargs = dict(status=status, code=code, request_id=request_id, retry_after=retry_after(headers),
                  server_text=content.decode("utf-8", "replace"))

    if (status == 401 or code == "invalid_api_key") and not dashscope:
        return AuthenticationError(
            f"{backend_label} rejected the credentials ({what}: {message}). Check the key this "
            f"server expects ({API_KEY_ENV} is sent as a Bearer token) and the base URL.{tail}",
            **kwargs,
        )
    if status == 401 or code == "invalid_api_key":
        regions = catalog.default().regions
        where = (f"{regions[region].name} ({region}) at {base_url}" if region in regions
                 else base_url)
        others = "|".join(k for k, r in regions.items() if k != region and r.base_url)
        return AuthenticationError(
            f"{backend_label} rejected the API key ({what}: {message}). This request went to "
            f"{where}. A key works only in its own region and billing plan (and on a workspace "
            f"endpoint, for its own workspace): check {API_KEY_ENV}, or point at the key's "
            f"endpoint with --region {others}, --workspace ID or {BASE_URL_ENV}.{tail}",
            **kwargs,
        )
    if code == "data_inspection_failed":
        return ContentFilterError(
            f"The content filter refused this request ({what}: {message}). Rephrase the prompt "
            f"or use other media; retrying the same input will not help.{tail}",
            **kwargs,
        )
    if code and code.startswith(_ACCOUNT_CODES):
        return AccountError(
            f"The account cannot make this call ({what}: {message}). Check the account's balance "
            f"and model access in the Model Studio console; retrying will not help.{tail}",
            **kwargs,
        )
    if status == 404:
        return NotFoundError(
            f"{backend_label} answered 404 ({code or 'not found'}: {message}). Check the model name "
            f"(%omni models) and the base URL: requests go to {base_url}/chat/completions.{tail}",
            **kwargs,
        )
    if status == 429:
        return RateLimitError(
            f"Rate limited by {backend_label}{tried} ({what}: {message}). Throttling usually clears "
            f"within a minute: wait, then run the cell again.{tail}",
            **kwargs,
        )
    if status >= 500:
        return ServerError(
            f"{backend_label} failed{tried} ({what}: {message}). This is on the server's side: "
            f"try again shortly.{tail}",
            **kwargs,
        )
    cls = BadRequestError if status == 400 else APIError
    return cls(f"{backend_label} refused the request ({what}: {message}).{tail}", **kwargs)
