"""OmniClient: sends a checked request over httpx and yields typed events.

The one seam is httpx's transport (``transport=``): tests hand in an
``httpx.MockTransport`` and the whole client runs without a socket. Retries
happen only before the first event, so nothing the user has seen is repeated.
Every httpx error becomes an OmniError in one place, ``OmniClient._mapped_errors`` (as in
httpx's ``map_httpcore_exceptions``); a stream is an ``EventStream``, closed by ``with``.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import random
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from . import api_errors, backend, dialects
from . import catalog as catalogs
from ._version import __version__
from .body import EncodedBody
from .catalog import Catalog
from .chunks import read_payloads
from .errors import ConnectError, InvalidRequest, OmniError, ProtocolError, StreamCutShort, StreamError
from .events import Event
from .recording import Recorder, fingerprint, recorded
from .request import ChatRequest, build_request, elide_media
from .response import OmniResponse, collect
from .sse import SSEDecoder

if TYPE_CHECKING:
    from .emulator import Emulator, Pacing

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
# Asking a server which dialect it speaks must not hold up a cell: a slow answer means DashScope's.
DETECT_TIMEOUT = httpx.Timeout(3.0)

# Body fields passed through as keywords: the OpenAI-compatible sampling and tool fields that
# DashScope's and vLLM's chat completions document. Anything else is refused by name, so a typo
# (``temprature=``) is an error instead of a field the server silently ignores; a field this list
# lacks goes in ``extra_body={...}``, the documented escape hatch.
PASS_THROUGH = frozenset({
    "temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty",
    "repetition_penalty", "seed", "stop", "n", "response_format", "tools", "tool_choice",
    "parallel_tool_calls", "logprobs", "top_logprobs",
})
# build_request's keywords, read from its signature so an option added there is accepted here.
_PARAMETERS = frozenset(name for name, p in inspect.signature(build_request).parameters.items()
                        if p.kind is inspect.Parameter.KEYWORD_ONLY)
# The options a caller may name: all but those the client fills in from its backend.
OPTIONS = _PARAMETERS - {"region", "dashscope"}


class OmniClient:
    """A client for Qwen-Omni's streaming chat API (or any server speaking it).

    With no key (``api_key=`` or ``DASHSCOPE_API_KEY``) and no ``base_url``,
    requests go to the embedded emulator, started on first use. With a key, ``region``
    (intl, cn, us, hk; None: the region of env ``DASHSCOPE_BASE_URL``, else intl) or
    ``workspace`` (a workspace ID: its endpoint in that region) picks the endpoint; see
    :mod:`omni_magic.backend`. ``catalog`` is the models' rules (default: the shipped
    catalog plus env ``OMNI_CATALOG``).

    ``dialect`` is how the server writes speech and reads media: "dashscope", "vllm-omni"
    (or "vllm"), or "auto": DashScope's for DashScope and the emulator; for a ``base_url``,
    asked once of ``GET {base_url}/models`` (vLLM's models are owned by "vllm").
    """

    def __init__(
        self,
        api_key: str | None = None,
        region: str | None = None,
        base_url: str | None = None,
        *,
        workspace: str | None = None,
        catalog: Catalog | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        emulator_pacing: "Pacing | None" = None,
        emulator_recordings: str | Path | None = None,
        dialect: str = dialects.AUTO,
    ) -> None:
        self.catalog = catalog or catalogs.default()
        self.backend = backend.resolve(api_key, region, base_url, workspace, self.catalog)
        chosen = dialects.resolve(dialect, allow_auto=True)
        self._dialect: str | None = None if chosen == dialects.AUTO else chosen
        self.max_retries = max_retries
        self.backoff = backoff
        self._emulator_pacing = emulator_pacing
        self._emulator_recordings = emulator_recordings
        self._emulator: Emulator | None = None
        self._sleep = time.sleep
        self._http = httpx.Client(
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
            headers={"User-Agent": f"omni_magic/{__version__}"},
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def region(self) -> str | None:
        return self.backend.region

    @property
    def base_url(self) -> str:
        """The base URL requests go to; starts the emulator when it is the backend."""
        if self.backend.base_url is not None:
            return self.backend.base_url
        if self._emulator is None:
            from .emulator import Emulator

            self._emulator = Emulator(pacing=self._emulator_pacing,
                                      recordings=self._emulator_recordings, catalog=self.catalog)
            self._emulator.start()
        return self._emulator.base_url

    @property
    def dialect(self) -> str:
        """The dialect requests are written in; "auto" is resolved here, on first use."""
        if self._dialect is None:
            self._dialect = self._detect_dialect()
        return self._dialect

    def _detect_dialect(self) -> str:
        """vllm-omni when ``GET {base_url}/models`` lists vLLM's models; else, whatever went
        wrong (no such route, a timeout, not JSON), DashScope's, without an error."""
        if self.backend.kind != "custom":
            return dialects.DASHSCOPE
        headers = {"Accept": "application/json"}
        if self.backend.api_key is not None:  # vLLM's --api-key guards /models too
            headers["Authorization"] = f"Bearer {self.backend.api_key.reveal()}"
        try:
            request = self._http.build_request("GET", f"{self.base_url}/models", headers=headers,
                                               timeout=DETECT_TIMEOUT)
            response = self._http.send(request, stream=True)
            try:
                # Only a JSON listing is read: an HTML error page or a stream is not one.
                kind = response.headers.get("Content-Type", "")
                if response.status_code != 200 or "json" not in kind:
                    return dialects.DASHSCOPE
                response.read()
                return dialects.from_models(response.json())
            finally:
                response.close()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError):
            # An unparsable base URL too: the POST then says what is wrong with it.
            return dialects.DASHSCOPE

    @property
    def emulated(self) -> bool:
        return self.backend.kind == "emulator"

    def close(self) -> None:
        self._http.close()
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def __enter__(self) -> "OmniClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        key = "<set>" if self.backend.api_key else "<none>"
        return f"OmniClient(backend={self.backend.label!r}, api_key={key})"

    # -- requests ----------------------------------------------------------------------------
    def prepare(self, prompt: str, **options: Any) -> ChatRequest:
        """Check the request and build its body; raises InvalidRequest, sends nothing.

        ``options`` are those of :func:`omni_magic.request.build_request` (``model``,
        ``voice``, ``audio``, ``thinking``, ``effort``, ``attachments``, ``history``,
        ``system``, ``max_tokens``...), the sampling fields of :data:`PASS_THROUGH`
        (``temperature``, ``top_p``, ``seed``...), which go into the body as given, and
        ``extra_body``, a dict of further body fields. Any other keyword is refused by name.
        The body is written in :attr:`dialect` unless ``dialect=`` says otherwise.
        """
        return self._prepare("prepare", prompt, options)

    def stream(self, prompt: str, **options: Any) -> EventStream:
        """Check the request now, then return its events as they arrive: ``with client.stream(...)
        as events: for event in events: ...`` releases the connection however the block ends."""
        return self.send(self._prepare("stream", prompt, options))

    def chat(self, prompt: str, **options: Any) -> OmniResponse:
        """Send and wait for the whole answer. A stream cut short returns with ``.error`` set."""
        request = self._prepare("chat", prompt, options)
        return collect(self.send(request), self.new_response(request))

    def _prepare(self, caller: str, prompt: str, options: dict[str, Any]) -> ChatRequest:
        options = _checked_options(caller, options)
        if "dialect" not in options:
            options["dialect"] = self.dialect
        options.setdefault("catalog", self.catalog)
        return build_request(prompt, region=self.backend.key_region,
                             dashscope=self.backend.strict_models, **options)

    def new_response(self, request: ChatRequest) -> OmniResponse:
        return OmniResponse(request.model, voice=request.voice, estimate=request.estimate,
                            request=request.body)

    def headers(self, masked: bool = False) -> dict[str, str]:
        """The headers sent with each request; ``masked`` hides the key (for showing)."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.backend.api_key is not None:
            value = "********" if masked else self.backend.api_key.reveal()
            headers["Authorization"] = f"Bearer {value}"
        return headers

    def send(self, request: ChatRequest, *, record: str | Path | None = None,
             retries: int | None = None) -> EventStream:
        """Post a prepared request when the returned stream is first iterated; it yields the
        events, and closing it (or leaving its ``with`` block) releases the connection.

        ``retries`` overrides ``max_retries`` for this request (a batch retries on its own).
        ``record`` writes the raw stream to that file (or into that folder, named by the
        body's fingerprint) as JSON lines; see :mod:`omni_magic.recording`.
        """
        url = f"{self.base_url}/chat/completions"
        body = EncodedBody(request.body)
        recorder = None
        if record is not None:
            key = self.backend.api_key
            recorder = Recorder(record, print_=fingerprint(body), backend=self.backend.label,
                                request=elide_media(request.body),
                                secret=key.reveal() if key else None)
        return EventStream(self._events(url, body, recorder,
                                        self.max_retries if retries is None else retries))

    # -- the stream --------------------------------------------------------------------------
    def _events(self, url: str, content: EncodedBody, recorder: Recorder | None,
                max_retries: int) -> Generator[Event, None, None]:
        """Attempts until one succeeds or fails for good. An attempt's error is retried only
        when ``_mapped_errors`` or ``_attempt`` marked it so, which they do before any event."""
        number = 0
        while True:
            attempt = _Attempt(number)
            try:
                with self._mapped_errors(url, attempt):
                    yield from self._attempt(url, content, recorder, attempt)
                return
            except OmniError:
                if not attempt.retry or number >= max_retries:
                    raise
            number += 1
            self._sleep(self._delay(number, attempt.retry_after))

    def _attempt(self, url: str, content: EncodedBody, recorder: Recorder | None,
                 attempt: _Attempt) -> Generator[Event, None, None]:
        """One POST and its events; httpx's errors are left to ``_mapped_errors``."""
        headers = {**self.headers(), "Content-Length": str(len(content))}
        http_request = self._http.build_request("POST", url, content=content, headers=headers)
        response = self._http.send(http_request, stream=True)
        try:
            if response.status_code >= 400:
                response.read()
                error = api_errors.api_error(
                    response.status_code, response.content, response.headers,
                    backend_label=self.backend.label, region=self.backend.key_region,
                    base_url=url.rsplit("/chat/completions", 1)[0], retries=attempt.number,
                    dashscope=self.backend.kind == "dashscope")
                attempt.retry = (response.status_code in api_errors.RETRYABLE_STATUS
                                 and not isinstance(error, api_errors.NOT_RETRYABLE))
                attempt.retry_after = error.retry_after
                raise error
            payloads = _payloads(response)
            if recorder is not None:
                payloads = recorded(payloads, recorder)
            for event in read_payloads(payloads):
                attempt.produced = True
                yield event
        finally:
            # On every exit, a consumer's close() (GeneratorExit) too: the connection is freed.
            response.close()
            if recorder is not None:  # still open only when the reader stopped early
                recorder.close(KeyboardInterrupt())

    @contextlib.contextmanager
    def _mapped_errors(self, url: str, attempt: _Attempt) -> Iterator[None]:
        """The one place an httpx error becomes an OmniError, and every error leaves scrubbed.

        Before the first event a failure is the connection's (ConnectError; a transport error
        may be retried: the user has seen nothing); after it, the stream was cut short and what
        arrived is kept (StreamCutShort). A body that cannot be decoded is the server's fault
        either way (ProtocolError); a URL httpx cannot parse is the caller's (InvalidRequest).
        Raised ``from None``: ours names httpx's type, and its request's headers hold the key.
        """
        try:
            yield
        except OmniError as exc:
            self._scrub(exc)  # an error answer or a chunk may quote what the server sent
            raise
        except httpx.InvalidURL as exc:
            raise self._scrub(InvalidRequest(
                f"The base URL {url.rsplit('/chat/completions', 1)[0]!r} is not a valid URL ({exc}). "
                "Fix base_url (or DASHSCOPE_BASE_URL), for example http://127.0.0.1:8000/v1."
            )) from None
        except httpx.DecodingError as exc:
            raise self._scrub(ProtocolError(
                f"{self.backend.label} sent a body that could not be decoded ({exc}): "
                f"{'the answer below is partial' if attempt.produced else 'nothing arrived'}. "
                "Run the cell again; if it happens again, the server or a proxy in between "
                "garbles its responses (Content-Encoding)."
            )) from None
        except httpx.HTTPError as exc:
            if attempt.produced:
                raise self._scrub(self._cut_short(exc)) from None
            # A transport error may be passing (a reset, a timeout); a scheme httpx does not
            # speak, or a non-transport error (too many redirects...), fails the same way again.
            attempt.retry = (isinstance(exc, httpx.TransportError)
                             and not isinstance(exc, httpx.UnsupportedProtocol))
            raise self._connect_error(exc, url, attempt.number) from None

    # -- helpers -----------------------------------------------------------------------------
    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 60.0)
        base = self.backoff * (2 ** (attempt - 1))
        return min(base, 8.0) * (0.5 + random.random() / 2)  # jitter spreads retrying clients

    def _connect_error(self, exc: httpx.HTTPError, url: str, retries: int) -> ConnectError:
        kind = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
        tried = f" (tried {retries + 1} times)" if retries else ""
        return self._scrub(ConnectError(
            f"{self.backend.label} {kind}{tried}: {type(exc).__name__}. Check the network and the "
            f"base URL ({url}), then run the cell again."
        ))

    def _cut_short(self, exc: httpx.HTTPError) -> StreamError:
        if isinstance(exc, httpx.TimeoutException):
            what = "stopped sending (read timeout)"
        else:
            what = f"closed the connection mid-answer ({type(exc).__name__})"
        return StreamCutShort(
            f"{self.backend.label} {what}: the answer below is partial. Run the cell again "
            "to get the whole answer."
        )

    def _scrub(self, error: OmniError) -> OmniError:
        """Belt and braces: if a server echoed the key into a message, mask it."""
        key = self.backend.api_key
        if key is not None and key.reveal() in str(error):
            error.args = (str(error).replace(key.reveal(), "********"),)
        return error


def _payloads(response: httpx.Response) -> Iterator[str]:
    """The SSE data payloads of a response body, as they complete."""
    decoder = SSEDecoder()
    for raw in response.iter_bytes():
        yield from decoder.decode(raw)
    yield from decoder.flush()


class EventStream(Iterator[Event]):
    """The events of one request as they arrive. As httpx's ``with client.stream() as r``,
    ``with client.stream(...) as events:`` releases the connection however the block ends (a
    ``break``, an exception, a KeyboardInterrupt); iterated without ``with``, at the stream's
    end, on ``close()``, or whenever the garbage collector gets to it."""

    __slots__ = ("_events",)

    def __init__(self, events: Generator[Event, None, None]) -> None:
        self._events = events  # nothing is sent until the first next()

    def __next__(self) -> Event:
        return next(self._events)

    def close(self) -> None:
        self._events.close()  # the generator's ``finally`` closes the response; idempotent

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # never swallows the block's exception


@dataclass
class _Attempt:
    """One try of a request, as ``_events``, ``_attempt`` and ``_mapped_errors`` share it."""

    number: int  # 0 for the first try; the retries made before it
    produced: bool = False  # an event was yielded: from here on, nothing is retried
    retry: bool = False  # its failure may be retried (set just before raising)
    retry_after: float | None = None  # the server's Retry-After, when it sent one


def _checked_options(caller: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``extra_body`` merged in; refuses, by name, what is neither an option
    of build_request nor a field of PASS_THROUGH, as Python does for a function's keywords.
    (build_request then refuses the body fields its checks decide: messages, stream...)"""
    unknown = sorted(options.keys() - OPTIONS - PASS_THROUGH - {"extra_body"})
    if unknown:
        raise InvalidRequest(_unexpected(caller, unknown))
    extra = options.pop("extra_body", None)
    if extra is None:
        return options
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        raise InvalidRequest(f"extra_body must be a dict of body field names to values, not "
                             f"{type(extra).__name__}: extra_body={{'field': value}}.")
    # A field named like a parameter of build_request would land on that parameter, or on a
    # body field its checks decide (model, audio, max_tokens): the option is the way to set it.
    named = sorted(extra.keys() & _PARAMETERS)
    if named:
        raise InvalidRequest(f"extra_body cannot set {', '.join(map(repr, named))}: omni_magic decides "
                             f"{'it' if len(named) == 1 else 'them'} from the options of OmniClient."
                             f"{caller}() (model=, voice=, audio=, max_tokens=...), which check the "
                             "service's rules.")
    twice = sorted(extra.keys() & options.keys())
    if twice:
        raise InvalidRequest(f"{', '.join(map(repr, twice))} given both as a keyword and in "
                             "extra_body: keep one.")
    return {**options, **extra}


def _unexpected(caller: str, names: list[str]) -> str:
    """Python's wording for an unknown keyword, with the nearest known name and the way out."""
    settings = inspect.signature(OmniClient.__init__).parameters  # region=, timeout=...
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(OPTIONS | PASS_THROUGH), n=1)
        if name in settings:
            hints.append(f"{name!r} is set on the client: OmniClient({name}=...)")
        elif close:
            hints.append(f"did you mean {close[0]!r}?")
    what = "an unexpected keyword argument" if len(names) == 1 else "unexpected keyword arguments"
    hint = f" ({'; '.join(hints)})" if hints else ""
    return (f"OmniClient.{caller}() got {what} {', '.join(map(repr, names))}{hint}; "
            "pass extra body fields with extra_body={...}.")
