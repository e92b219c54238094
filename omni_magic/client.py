"""OmniClient: sends a checked request over httpx and yields typed events.

The one seam is httpx's transport (``transport=``): tests hand in an
``httpx.MockTransport`` and the whole client runs without a socket. Retries
happen only before the first event, so nothing the user has seen is repeated.
Every httpx error becomes an OmniError in one place, ``OmniClient._mapped_errors`` (as in
httpx's ``map_httpcore_exceptions``); a stream is an ``EventStream``, closed by ``with``.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import json
import random
import secrets
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from . import api_errors, backend, dialects, failures, non_stream
from . import catalog as catalogs
from ._version import __version__
from .body import EncodedBody
from .catalog import Catalog
from .chunks import read_payloads
from .errors import (
    OmniError,
)
from .events import Event, Note, Started
from .eventstream import Abort, Aborted, Attempt, Cancellation, EventStream, IdleTimeout, payloads
from .keywords import checked_options
from .recording import Recorder, fingerprint, recorded
from .request import ChatRequest, build_request, elide_media
from .response import OmniResponse, collect

if TYPE_CHECKING:
    from .emulator import Emulator, Pacing

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
# The most seconds from sending a request to its first event, however the server trickles
# (keep-alive comments reset httpx's read timeout, not this). Long enough for a large upload.
FIRST_EVENT_TIMEOUT = 180.0
# Asking a server which dialect it speaks must not hold up a cell: a slow answer means DashScope's.
DETECT_SECONDS = 3.0
DETECT_LIMIT = 1024 * 1024  # a /models listing is a few kB
_POST_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


def timeouts(read: float) -> httpx.Timeout:
    """httpx's four timeouts with ``read`` (seconds between bytes) set and the rest as default."""
    return httpx.Timeout(connect=DEFAULT_TIMEOUT.connect, read=read,
                         write=DEFAULT_TIMEOUT.write, pool=DEFAULT_TIMEOUT.pool)


class _BearerAuth(httpx.Auth):
    """Puts the key on each request as httpx sends it, so no dict of headers and no variable of
    the client's holds it in plain text (``%xmode Verbose`` prints a traceback's locals; httpx
    prints an Authorization header as ``[secure]``)."""

    def __init__(self, key: backend.Secret) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "<bearer auth ********>"


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

    ``timeout`` is httpx's (a number: for connect, read, write and pool alike; see
    :func:`timeouts`); its read value also bounds the time between two events, however many
    keep-alive comments come in between. ``first_event_timeout`` bounds the time from
    sending to the first event (None: no bound).
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
        first_event_timeout: float | None = FIRST_EVENT_TIMEOUT,
        max_retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        emulator_pacing: "Pacing | None" = None,
        emulator_recordings: str | Path | None = None,
        dialect: str = dialects.AUTO,
    ) -> None:
        self.catalog = catalog or catalogs.default()
        self.backend = backend.resolve(api_key, region, base_url, workspace, self.catalog)
        api_key = None  # from here on the key is only a Secret, masked in any traceback
        chosen = dialects.resolve(dialect, allow_auto=True)
        self._dialect: str | None = None if chosen == dialects.AUTO else chosen
        self.max_retries = max_retries
        self.backoff = backoff
        self.first_event_timeout = first_event_timeout
        self._emulator_pacing = emulator_pacing
        self._emulator_recordings = emulator_recordings
        self._emulator: Emulator | None = None
        self._emulator_lock = threading.Lock()
        self._sleep = time.sleep
        key = self.backend.api_key
        if self.backend.kind == "emulator":
            # The embedded emulator accepts this key only (see base_url), so another process
            # on the machine cannot use it; a Secret, sent only through _BearerAuth.
            key = backend.Secret(secrets.token_urlsafe(32))
        self._emulator_key = key if self.backend.kind == "emulator" else None
        self._http = httpx.Client(
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport, auth=_BearerAuth(key) if key is not None else None,
            headers={"User-Agent": f"omni_magic/{__version__}"},
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def region(self) -> str | None:
        return self.backend.region

    @property
    def base_url(self) -> str:
        """The base URL requests go to; starts the emulator when it is the backend.

        Threads sharing a fresh client start one emulator between them, and see it only once
        it listens (a half-made one has port 0)."""
        if self.backend.base_url is not None:
            return self.backend.base_url
        emulator = self._emulator
        if emulator is None:
            with self._emulator_lock:
                if self._emulator is None:
                    from .emulator import Emulator

                    started = Emulator(pacing=self._emulator_pacing,
                                       recordings=self._emulator_recordings, catalog=self.catalog,
                                       api_key=self._emulator_key)
                    started.start()
                    self._emulator = started
                emulator = self._emulator
        return emulator.base_url

    @property
    def dialect(self) -> str:
        """The dialect requests are written in; "auto" is resolved here, on first use."""
        if self._dialect is None:
            self._dialect = self._detect_dialect()
        return self._dialect

    @property
    def known_dialect(self) -> str | None:
        """The dialect if it is known without asking the server (None: "auto", not asked yet)."""
        if self._dialect is None and self.backend.kind != "custom":
            return dialects.DASHSCOPE
        return self._dialect

    def _detect_dialect(self) -> str:
        """vllm-omni when ``GET {base_url}/models`` lists vLLM's models; else, whatever went
        wrong (no such route, no answer within DETECT_SECONDS, not JSON), DashScope's, without
        an error. The deadline is for the whole exchange: a server trickling its answer a byte
        at a time is cut off by it, not by each read's timeout."""
        if self.backend.kind != "custom":
            return dialects.DASHSCOPE
        abort = Abort(first_event=DETECT_SECONDS)
        abort.arm()  # from now: the deadline is for the whole exchange
        try:
            request = self._http.build_request("GET", f"{self.base_url}/models",
                                               headers={"Accept": "application/json"},
                                               timeout=httpx.Timeout(DETECT_SECONDS))
            response = self._http.send(request, stream=True)
            abort.attach(response)
            try:
                # Only a JSON listing is read: an HTML error page or a stream is not one.
                kind = response.headers.get("Content-Type", "")
                if response.status_code != 200 or "json" not in kind:
                    return dialects.DASHSCOPE
                listing, cut = non_stream.read_head(response.iter_bytes(), DETECT_LIMIT)
                return dialects.DASHSCOPE if cut else dialects.from_models(json.loads(listing))
            finally:
                response.close()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError):
            # An unparsable base URL too: the POST then says what is wrong with it.
            return dialects.DASHSCOPE
        finally:
            abort.disarm()

    @property
    def emulated(self) -> bool:
        return self.backend.kind == "emulator"

    def close(self) -> None:
        self._http.close()
        with self._emulator_lock:
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
        ``system``, ``max_tokens``...), the sampling fields of :data:`omni_magic.keywords.PASS_THROUGH`
        (``temperature``, ``top_p``, ``seed``...), which go into the body as given, and
        ``extra_body``, a dict of further body fields. Any other keyword is refused by name.
        The body is written in :attr:`dialect` unless ``dialect=`` says otherwise; finding
        out a base URL's dialect is the one thing ``prepare`` may ask the server (pass
        ``dialect=`` to send nothing at all, as a dry run does).
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
        options = checked_options(caller, options, _SETTINGS)
        if "dialect" not in options:
            options["dialect"] = self.dialect
        options.setdefault("catalog", self.catalog)
        return build_request(prompt, region=self.backend.key_region,
                             dashscope=self.backend.strict_models, **options)

    def new_response(self, request: ChatRequest) -> OmniResponse:
        return OmniResponse(request.model, voice=request.voice, estimate=request.estimate,
                            request=request.body)

    def headers(self) -> dict[str, str]:
        """The headers sent with each request, as shown (a dry run): the key masked. The real
        one is added by httpx's auth as the request goes out, and kept nowhere else."""
        headers = dict(_POST_HEADERS)
        if self.backend.api_key is not None or self._emulator_key is not None:
            headers["Authorization"] = f"Bearer {backend.MASK}"  # the embedded emulator's too
        return headers

    def send(self, request: ChatRequest, *, record: str | Path | None = None,
             retries: int | None = None) -> EventStream:
        """Post a prepared request when the returned stream is first iterated; it yields the
        events, and closing it (or leaving its ``with`` block) releases the connection.
        ``cancel()`` on it stops it from another thread.

        ``retries`` overrides ``max_retries`` for this request (a batch retries on its own).
        ``record`` writes the raw stream to that file (or into that folder, named by the
        body's fingerprint) as JSON lines; see :mod:`omni_magic.recording`.
        """
        url = f"{self.base_url}/chat/completions"
        body = EncodedBody(request.body)
        recorder = None
        if record is not None:
            recorder = Recorder(record, print_=fingerprint(body), backend=self.backend.label,
                                request=elide_media(request.body), secret=self.backend.api_key)
        control = Cancellation()
        return EventStream(self._events(url, body, recorder, control,
                                        self.max_retries if retries is None else retries),
                           control.cancel)

    # -- the stream --------------------------------------------------------------------------
    def _events(self, url: str, content: EncodedBody, recorder: Recorder | None,
                control: Cancellation, max_retries: int) -> Generator[Event, None, None]:
        """Attempts until one succeeds or fails for good. An attempt's error is retried only
        when ``_mapped_errors`` or ``_attempt`` marked it so, which they do before any event."""
        number = 0
        while True:
            attempt = Attempt(number, Abort(self.first_event_timeout))
            control.begin(attempt.abort)
            try:
                with self._mapped_errors(url, attempt):
                    yield from self._attempt(url, content, recorder, attempt)
                return
            except OmniError:
                if not attempt.retry or number >= max_retries or control.cancelled:
                    raise
            number += 1
            self._sleep(self._delay(number, attempt.retry_after))

    def _attempt(self, url: str, content: EncodedBody, recorder: Recorder | None,
                 attempt: Attempt) -> Generator[Event, None, None]:
        """One POST and its events; httpx's errors are left to ``_mapped_errors``."""
        abort = attempt.abort
        ended: BaseException | None = None
        response = None
        try:
            headers = {**_POST_HEADERS, "Content-Length": str(len(content))}
            response = self._http.send(
                self._http.build_request("POST", url, content=content, headers=headers,
                                         extensions={"trace": abort.trace}),
                stream=True)
            abort.arm()  # a transport without httpcore's trace: the deadline starts now
            abort.attach(response)
            for event in self._read(response, url, recorder, attempt):
                if abort.reason is not None:  # cut between two reads: never yield past it
                    raise Aborted
                if not attempt.produced:
                    abort.disarm()
                    attempt.produced = True
                yield self._masked(event)
        except BaseException as exc:  # GeneratorExit too: the reader stopped early
            ended = exc
            raise
        finally:
            # On every exit, a consumer's close() included: the connection is freed.
            abort.disarm()
            abort.detach()
            if response is not None:
                response.close()
            if recorder is not None:
                recorder.close(ended)  # how it really ended: complete, cut short, interrupted

    def _read(self, response: httpx.Response, url: str, recorder: Recorder | None,
              attempt: Attempt) -> Iterator[Event]:
        """The events of an answer: an HTTP error, a redirect, a body that is not a stream (a
        whole answer is kept), or the stream itself."""
        base_url = url.rsplit("/chat/completions", 1)[0]
        status = response.status_code
        if status >= 400:
            body, _ = non_stream.read_head(response.iter_bytes())
            error = api_errors.api_error(
                status, body, response.headers, backend_label=self.backend.label,
                region=self.backend.key_region, base_url=base_url, retries=attempt.number,
                dashscope=self.backend.kind == "dashscope")
            attempt.retry = (status in api_errors.RETRYABLE_STATUS
                             and not isinstance(error, api_errors.NOT_RETRYABLE))
            attempt.retry_after = error.retry_after
            raise error
        if status >= 300:
            raise non_stream.redirect(response, self.backend.label)
        chunks: Iterator[bytes] = response.iter_bytes()
        if not non_stream.is_stream(response):
            head, cut = non_stream.read_head(chunks)
            if not non_stream.looks_like_sse(head):
                yield from non_stream.answer(response, head, cut, label=self.backend.label,
                                             base_url=base_url)
                return
            chunks = itertools.chain([head], chunks)
        data = payloads(chunks, idle=self._http.timeout.read)
        yield from read_payloads(recorded(data, recorder) if recorder is not None else data)
        if recorder is not None and recorder.failure:
            yield Note(f"Not recorded: {recorder.failure}. The answer is complete.")

    @contextlib.contextmanager
    def _mapped_errors(self, url: str, attempt: Attempt) -> Iterator[None]:
        """The one place an httpx error becomes an OmniError (see :mod:`omni_magic.failures`),
        and every error leaves scrubbed. An abort (a deadline, ``cancel()``) says so, whatever
        error it caused in the read. Raised ``from None``: ours names httpx's type, and its
        request's headers hold the key."""
        try:
            yield
        except OmniError as exc:
            if attempt.abort.reason is None:
                raise self._scrub(exc) from None  # an error answer or a chunk may quote the server
            raise self._scrub(failures.aborted(attempt, **self._told())) from None
        except (httpx.HTTPError, httpx.InvalidURL, IdleTimeout, Aborted) as exc:
            raise self._scrub(failures.mapped(exc, url, attempt, **self._told())) from None

    def _told(self) -> dict[str, Any]:
        return {"label": self.backend.label, "first_event_timeout": self.first_event_timeout}

    # -- helpers -----------------------------------------------------------------------------
    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 60.0)
        base = self.backoff * (2 ** (attempt - 1))
        return min(base, 8.0) * (0.5 + random.random() / 2)  # jitter spreads retrying clients

    def _scrub(self, error: OmniError) -> OmniError:
        """Belt and braces: a server may echo the key (or a piece of it) into what it sends."""
        key = self.backend.api_key
        if key is not None:
            error.args = tuple(key.mask(a) if isinstance(a, str) else a for a in error.args)
            for name in ("server_text", "location"):
                if getattr(error, name, None):
                    setattr(error, name, key.mask(getattr(error, name)))
        return error

    def _masked(self, event: Event) -> Event:
        """The server's words the status line shows (the completion id, the model) and the
        notes, masked like errors; the answer's own text is the model's and is left as it is."""
        key = self.backend.api_key
        if key is None:
            return event
        if type(event) is Started:
            return Started(key.mask(event.id) if event.id else event.id,
                           key.mask(event.model) if event.model else event.model)
        if type(event) is Note:
            return Note(key.mask(event.text))
        return event


# The client's own settings (region=, timeout=...): a keyword of prepare() named like one is
# pointed at OmniClient(...).
_SETTINGS = frozenset(inspect.signature(OmniClient.__init__).parameters) - {"self"}
