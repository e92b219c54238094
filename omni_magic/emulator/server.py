"""The HTTP side: a stdlib threading server speaking the service's SSE protocol.

Paths mirror DashScope (``/compatible-mode/v1/...``) and OpenAI (``/v1/...``)
so any client configured with ``{base_url}/chat/completions`` works. With
``dialect="vllm-omni"`` it reads requests and streams answers as vllm-omni does
(``vllm.py``) and lists its models as vLLM's.

Like the service, chat and ``/models`` need ``Authorization: Bearer <key>``; without one
they get the service's 401 ``invalid_api_key``. An emulator given ``api_key`` accepts that
key only (the embedded one gets a random key its client sends); without one, any non-empty
token; with ``auth=False``, anything. The key is compared, never logged or echoed.
"""

from __future__ import annotations

import hmac
import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .. import catalog as catalogs
from .. import dialects
from ..backend import Secret
from ..catalog import Catalog, Model
from ..recording import Recording, Recordings
from .admin import ADMIN, admin_open, queue_fault, stats
from .dialect import Dialect, for_name
from .errors import Rejected
from .faults import HEADER, NOT_A_STREAM, Fault, FaultQueue, FaultSpecError, InStream, not_a_stream
from .fetch import Fetcher
from .markdown import HEADER as WORDS
from .markdown import asked_words, check_words
from .pacing import Pacing
from .received import summarize
from .stream import plan
from .tally import Limit, Tally
from .validate import validate

PREFIXES = ("/compatible-mode/v1", "/v1")
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], pacing: Pacing, tally: Tally,
                 faults: FaultQueue, recordings: Recordings, limit: Limit,
                 dialect: Dialect, catalog: Catalog | None = None,
                 words: int | None = None, fetcher: Fetcher | None = None,
                 auth: bool = True, api_key: Secret | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.pacing = pacing
        self.catalog = catalog or catalogs.default()
        self.dialect = dialect
        self.tally = tally
        self.faults = faults
        self.recordings = recordings
        self.limit = limit
        self.words = words  # every answer this long (markdown.py); X-Omni-Words overrides
        self.fetcher = fetcher or Fetcher()  # media by URL (fetch.py)
        self.auth = auth
        self.api_key = api_key  # None: any non-empty Bearer token is accepted
        self.stopping = threading.Event()  # wakes stalled streams when the server stops
        self.lock = threading.Lock()
        # Open connections and the threads serving them, so stop() can end both.
        self.connections: dict[socket.socket, threading.Thread] = {}
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up is routine for a streaming server, not an error.
        if not isinstance(sys.exc_info()[1], _GONE):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked transfer for the streams
    server_version = "omni_magic-emulator"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections[self.connection] = threading.current_thread()

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.pop(self.connection, None)
        try:
            super().finish()
        except _GONE:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet like a library; request lines could also carry secrets in URLs

    def _route(self) -> str | None:
        path = self.path.split("?", 1)[0].rstrip("/")
        for prefix in PREFIXES:
            if path.startswith(prefix + "/"):
                return path[len(prefix):]
        return None

    def _authorized(self) -> bool:
        """The service's check: a non-empty Bearer token, and this emulator's key if it has one."""
        if not self.server.auth:
            return True
        scheme, _, token = (self.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        key = self.server.api_key
        return key is None or hmac.compare_digest(token.encode(), key.reveal().encode())

    def _unauthorized(self) -> None:
        uid = str(uuid.uuid4())
        refusal = Fault("401").refusal  # the service's wording, shared with the injected fault
        assert refusal is not None
        self._json(refusal.status, self._error_body(refusal, uid), {}, uid)

    def _admin(self) -> bool:
        """An admin route for this peer; else the answer (403) is sent and False returned."""
        if admin_open(self.client_address[0]):
            return True
        uid = str(uuid.uuid4())
        self._json(403, self._error_body(Rejected(403, "AccessDenied", f"{ADMIN} answers "
                                         "loopback clients only."), uid), {}, uid)
        return False

    def do_GET(self) -> None:
        if self.path.rstrip("/") == f"{ADMIN}/stats":
            if self._admin():
                self._json(200, stats(self.server.tally, self.server.faults))
        elif self._route() == "/models" and not self._authorized():
            self._unauthorized()
        elif self._route() == "/models":
            owner = self.server.dialect.owned_by
            data = [{"id": m.id, "object": "model", "created": 0, "owned_by": owner}
                    for m in self.server.catalog.models.values()]
            self._json(200, {"object": "list", "data": data})
        else:
            self._not_found()

    def do_DELETE(self) -> None:
        if self.path.rstrip("/") == f"{ADMIN}/faults":
            if self._admin():
                self.server.faults.clear()
                self._json(200, {"faults_queued": 0})
        else:
            self._not_found()

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        raw = self.rfile.read(int(length)) if length.isdigit() else b""
        if self.path.rstrip("/") == f"{ADMIN}/faults":
            if self._admin():
                self._json(*queue_fault(self.server.faults, raw))
            return
        if self._route() != "/chat/completions":
            self._not_found()
            return
        self.server.tally.requests.add()
        if self.headers.get("Authorization"):
            self.server.tally.authorized.add()  # counted; the key is only compared, never kept
        if not self._authorized():
            self._unauthorized()  # before throttling, as the service checks the key first
            return
        uid = str(uuid.uuid4())
        if not self.server.limit.enter():
            self.server.tally.throttled.add()
            busy = self.server.limit.busy
            self._json(429, self._error_body(busy.refusal, uid), busy.headers, uid)
            return
        try:
            self._answer(raw, uid)
        finally:
            self.server.limit.leave()

    def _answer(self, raw: bytes, uid: str) -> None:
        fault = None
        try:
            fault = self._fault()
            if fault is not None and fault.refusal is not None:
                raise fault.refusal
            words = asked_words(self.headers.get(WORDS), self.server.words)
            # A recording answers a plain request only: not a fault's, nor one asking a length.
            replayable = fault is None and WORDS not in self.headers
            recording = self.server.recordings.find(raw) if replayable else None
            if recording is None:
                body, model = validate(raw, self.server.dialect, self.server.catalog)
        except Rejected as err:
            self._json(err.status, self._error_body(err, uid), fault.headers if fault else {}, uid)
            return
        try:
            if recording is not None:
                self.server.tally.replayed.add()
                self._replay(recording, uid)
            else:
                self._stream(body, model, uid, fault, words)
        except _GONE:
            self.close_connection = True  # the client left mid-stream; nothing to tell it
            self.server.tally.abandoned.add()

    def _fault(self) -> Fault | None:
        """This request's fault: its X-Omni-Fault header, else the next queued one."""
        spec = self.headers.get(HEADER)
        if spec is None:
            return self.server.faults.pop()
        try:
            return Fault.parse(spec)
        except FaultSpecError as exc:
            raise Rejected(400, "invalid_parameter_error", f"{HEADER}: {exc}") from None

    def _stream(self, body: dict[str, Any], model: Model, uid: str,
                fault: Fault | None = None, words: int | None = None) -> None:
        started = time.monotonic()
        pacing = self.server.pacing
        dialect = self.server.dialect
        try:
            # Speech is synthesized here, before any byte.
            answer = plan(summarize(body, model, dialect, words, self.server.fetcher))
        except Rejected as err:  # media that cannot be fetched or read: the service's 400
            self._json(err.status, self._error_body(err, uid), {}, uid)
            return
        except Exception as exc:  # a defect of the emulator: answer like the service's 500
            failure = Rejected(500, "InternalError", f"Emulator failure: {exc!r}")
            self._json(500, self._error_body(failure, uid), {}, uid)
            return
        stream = dialect.chunks
        kind = fault.kind if fault is not None else None
        if kind in NOT_A_STREAM:
            chunks = [c.data for c in stream(answer, uid, int(time.time()))]
            self._raw(uid, *not_a_stream(kind, chunks, uid))
            return
        self._start_stream(uid, {"X-Omni-Emulator-Speech": answer.speech_label}
                           if answer.speech_label else {})
        time.sleep(max(0.0, pacing.first_token - (time.monotonic() - started)))
        strike = InStream(fault, self._send_chunk, self._hang_up, self.server.stopping)
        for i, chunk in enumerate(stream(answer, uid, int(time.time()))):
            if chunk.paced and i and pacing.per_chunk:
                time.sleep(pacing.per_chunk)
            if not strike.before(i, chunk.data):
                return  # hung up
            data = json.dumps(chunk.data, ensure_ascii=False, separators=(",", ":"))
            self._send_chunk(f"data: {data}\n\n".encode())
        self._send_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _replay(self, recording: Recording, uid: str) -> None:
        """Send a recorded stream as it was recorded, at the recordings' speed."""
        self._start_stream(uid, {"X-Omni-Emulator-Replay": recording.path.name})
        for data in recording.timed(self.server.recordings.speed):
            self._send_chunk(f"data: {data}\n\n".encode())
        if not recording.complete:
            self._hang_up()  # the original stream broke off here, so this one does too
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _start_stream(self, uid: str, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Request-Id", uid)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()

    def _hang_up(self) -> None:
        """Drop the connection mid-answer, the way a crashed proxy does: no final chunk."""
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send_chunk(self, payload: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _not_found(self) -> None:
        uid = str(uuid.uuid4())
        self._json(404, self._error_body(Rejected(404, "NotFound", f"No route for {self.command} "
                                         f"{self.path.split('?', 1)[0]}. Post to "
                                         f"{PREFIXES[0]}/chat/completions."), uid), {}, uid)

    def _error_body(self, error: Rejected, uid: str) -> dict[str, Any]:
        """The error as the emulated server writes it: DashScope's body or vLLM's."""
        return self.server.dialect.error_body(error, uid)

    def _json(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None, uid: str | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        self._raw(uid, status, {"Content-Type": "application/json", **(headers or {})}, data)

    def _raw(self, uid: str | None, status: int, headers: dict[str, str], data: bytes) -> None:
        """Every answer has an X-Request-Id, as the service's do: an error's is its body's."""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", uid or str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class Emulator:
    """A local server speaking the service's protocol; ``start()`` returns its base URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 pacing: Pacing | None = None, *,
                 recordings: str | Path | None = None, replay_speed: float = 1.0,
                 max_streams: int | None = None, retry_after: float = 1.0,
                 dialect: str = dialects.DASHSCOPE, catalog: Catalog | None = None,
                 words: int | None = None, offline: bool = False,
                 api_key: str | Secret | None = None, auth: bool = True) -> None:
        """``recordings``: a recording file or a folder of them; a request whose body matches
        one byte for byte gets it back at ``replay_speed`` (1: as recorded; ``inf``: at once).
        ``max_streams``: answers at once; a request beyond them gets 429 with ``Retry-After``.
        ``dialect``: "dashscope", or "vllm-omni" (alias "vllm") to read requests and stream
        answers the way vllm-omni does, and list the models as vLLM's.
        ``catalog``: the models it serves and their rules (default: the shipped catalog).
        ``words``: every answer about this long, in sample Markdown (markdown.py).
        ``offline``: media URLs are fetched from loopback hosts only (fetch.py).
        ``api_key``: the one Bearer token accepted (None: any non-empty one); ``auth=False``
        accepts requests without any, as a server with no keys does."""
        self.host = host
        self.words = check_words(words)
        self.catalog = catalog
        self.offline = offline
        self.auth = auth
        # A Secret: it never shows in a repr, a traceback's locals or vars().
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key) if api_key else None
        self._dialect = for_name(dialect)
        self.dialect = self._dialect.name
        self._port = port
        self.pacing = pacing if pacing is not None else Pacing()
        self.recordings = Recordings.load(recordings, replay_speed)
        self._limit = Limit(max_streams, retry_after)
        self._server: _Server | None = None
        self._tally = Tally()  # outlives each server, so counts survive stop() and start()
        self.faults = FaultQueue()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{PREFIXES[0]}"

    @property
    def request_count(self) -> int:
        """POSTs received at chat/completions, valid or not (each retry counts)."""
        return self._tally.requests.value

    @property
    def authorized_count(self) -> int:
        """Requests that carried an Authorization header, accepted or not."""
        return self._tally.authorized.value

    @property
    def abandoned_count(self) -> int:
        """Streams the client hung up on before the end (an interrupt, a timeout)."""
        return self._tally.abandoned.value

    @property
    def replayed_count(self) -> int:
        """Requests answered from a recording."""
        return self._tally.replayed.value

    @property
    def throttled_count(self) -> int:
        """Requests refused with 429 because ``max_streams`` answers were running."""
        return self._tally.throttled.value

    def inject(self, spec: str, times: int = 1) -> None:
        """Queue a fault (see ``faults.py``) for the next ``times`` requests."""
        self.faults.push(Fault.parse(spec), times)

    def start(self) -> str:
        if self._server is None:
            self._server = _Server((self.host, self._port), self.pacing, self._tally, self.faults,
                                   self.recordings, self._limit, self._dialect, self.catalog,
                                   self.words, Fetcher(offline=self.offline), self.auth, self._key)
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                            name="omni-emulator", daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._port = server.server_address[1]
        server.stopping.set()
        server.shutdown()
        with server.lock:
            open_connections = list(server.connections.items())
        # Keep-alive connections and running streams would outlive the server otherwise;
        # a shut socket ends their handlers at the next read or write.
        for conn, _ in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, handler in open_connections:
            handler.join(timeout=5)
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
