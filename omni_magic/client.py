"""OmniClient: sends a checked request over httpx and yields typed events.

The one seam is httpx's transport (``transport=``): tests hand in an
``httpx.MockTransport`` and the whole client runs without a socket. Retries
happen only before the first event, so nothing the user has seen is repeated.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import httpx

from . import api_errors, backend, dialects
from . import catalog as catalogs
from .catalog import Catalog
from .body import EncodedBody
from .errors import ConnectError, OmniError, StreamCutShort, StreamError
from ._version import __version__
from .chunks import read_payloads
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
        except (httpx.HTTPError, ValueError):
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

        ``options`` are those of :func:`omni_magic.request.build_request`: ``model``,
        ``voice``, ``audio``, ``thinking``, ``attachments``, ``history``, ``system``,
        ``max_tokens``; any other keyword passes through into the body (``temperature``...).
        The body is written in :attr:`dialect` unless ``dialect=`` says otherwise.
        """
        if "dialect" not in options:
            options["dialect"] = self.dialect
        options.setdefault("catalog", self.catalog)
        return build_request(
            prompt,
            region=self.backend.key_region,
            dashscope=self.backend.strict_models,
            **options,
        )

    def stream(self, prompt: str, **options: Any) -> Iterator[Event]:
        """Check the request now, then return an iterator of events as they arrive."""
        return self.send(self.prepare(prompt, **options))

    def chat(self, prompt: str, **options: Any) -> OmniResponse:
        """Send and wait for the whole answer. A stream cut short returns with ``.error`` set."""
        request = self.prepare(prompt, **options)
        return collect(self.send(request), self.new_response(request))

    def new_response(self, request: ChatRequest) -> OmniResponse:
        return OmniResponse(
            request.model, voice=request.voice, estimate=request.estimate, request=request.body
        )

    def headers(self, masked: bool = False) -> dict[str, str]:
        """The headers sent with each request; ``masked`` hides the key (for showing)."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.backend.api_key is not None:
            value = "********" if masked else self.backend.api_key.reveal()
            headers["Authorization"] = f"Bearer {value}"
        return headers

    def send(self, request: ChatRequest, *, record: str | Path | None = None,
             retries: int | None = None) -> Iterator[Event]:
        """Post a prepared request; the returned generator yields its events.

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
        return self._events(url, body, recorder,
                            self.max_retries if retries is None else retries)

    # -- the stream --------------------------------------------------------------------------
    def _events(self, url: str, content: EncodedBody, recorder: Recorder | None,
                max_retries: int) -> Iterator[Event]:
        attempt = 0
        while True:
            produced = False
            try:
                headers = {**self.headers(), "Content-Length": str(len(content))}
                http_request = self._http.build_request("POST", url, content=content, headers=headers)
                response = self._http.send(http_request, stream=True)
            except httpx.TransportError as exc:
                if attempt < max_retries:
                    attempt += 1
                    self._sleep(self._delay(attempt, None))
                    continue
                raise self._connect_error(exc, url, attempt) from None
            try:
                if response.status_code >= 400:
                    response.read()
                    error = api_errors.api_error(
                        response.status_code, response.content, response.headers,
                        backend_label=self.backend.label,
                        region=self.backend.key_region,
                        base_url=url.rsplit("/chat/completions", 1)[0], retries=attempt,
                        dashscope=self.backend.kind == "dashscope",
                    )
                    if (
                        response.status_code in api_errors.RETRYABLE_STATUS
                        and not isinstance(error, api_errors.NOT_RETRYABLE)
                        and attempt < max_retries
                    ):
                        attempt += 1
                        self._sleep(self._delay(attempt, error.retry_after))
                        continue
                    raise self._scrub(error)
                payloads = _payloads(response)
                if recorder is not None:
                    payloads = recorded(payloads, recorder)
                for event in read_payloads(payloads):
                    produced = True
                    yield event
                return
            except httpx.TransportError as exc:
                if not produced and attempt < max_retries:
                    attempt += 1
                    self._sleep(self._delay(attempt, None))
                    continue
                if not produced:
                    raise self._connect_error(exc, url, attempt) from None
                raise self._cut_short(exc) from None
            except StreamError as exc:
                raise self._scrub(exc)  # a mid-stream error may quote what the server sent
            finally:
                response.close()
                if recorder is not None:  # still open only when the reader stopped early
                    recorder.close(KeyboardInterrupt())

    # -- helpers -----------------------------------------------------------------------------
    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, 60.0)
        base = self.backoff * (2 ** (attempt - 1))
        return min(base, 8.0) * (0.5 + random.random() / 2)  # jitter spreads retrying clients

    def _connect_error(self, exc: httpx.TransportError, url: str, retries: int) -> ConnectError:
        kind = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "could not be reached"
        tried = f" (tried {retries + 1} times)" if retries else ""
        return self._scrub(ConnectError(
            f"{self.backend.label} {kind}{tried}: {type(exc).__name__}. Check the network and the "
            f"base URL ({url}), then run the cell again."
        ))

    def _cut_short(self, exc: httpx.TransportError) -> StreamError:
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
