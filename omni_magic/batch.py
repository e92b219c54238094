"""Batches: one prompt for each file of a glob, several requests in flight at once.

No IPython here: the magic hands in a function that builds one file's request,
then polls ``progress()`` to draw and calls ``stop()`` on an interrupt.

- **Concurrency** is a ``Throttle``: at most ``limit`` requests in flight. A 429
  halves the limit for the whole batch and holds every new start until its
  ``Retry-After``; the item goes back in the queue, it does not fail. Once things
  are calm again (``limit`` successes in a row) the limit grows back by one.
- **Resuming**: each finished item is written to a ``Cache`` on disk, keyed by
  the backend and the SHA-256 of the exact request body (prompt, options, and the
  file's bytes), so a re-run skips it and a changed file is asked again.
- **Memory**: a row keeps the text and usage only; speech goes to ``save_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .body import EncodedBody
from .errors import ConnectError, OmniError, RateLimitError, ServerError
from .recording import fingerprint
from .response import collect

if TYPE_CHECKING:
    from .client import EventStream, OmniClient
    from .events import Event
    from .request import ChatRequest
    from .response import OmniResponse

DEFAULT_CONCURRENCY = 4
MAX_RATE_LIMITED = 20  # 429s one item may meet before it counts as failed


def kind_of(path: str | Path) -> str | None:
    """image, audio or video by the file's first bytes, else by its name (the probe's policy,
    which the data URL follows too); None when neither says."""
    from .probe import media_type

    found = media_type(path)
    return found[0] if found else None


def default_cache_dir() -> Path:
    """``$OMNI_CACHE_DIR``, else the platform's user cache: ~/.cache (or $XDG_CACHE_HOME) on
    Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows."""
    if os.environ.get("OMNI_CACHE_DIR"):
        return Path(os.environ["OMNI_CACHE_DIR"]).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("omni_magic", appauthor=False) / "batches"


@dataclass
class Row:
    """One file's result. ``error`` is None when the answer is complete."""

    file: str
    answer: str = ""
    usage: dict[str, Any] | None = None
    error: str | None = None
    speech: str | None = None  # the saved .wav, with --save DIR
    cached: bool = False  # came from an earlier run
    note: str | None = None  # what was done to the file on the way (--fit), as the request said


@dataclass
class Progress:
    """A snapshot for the progress bar."""

    total: int
    done: int = 0  # complete answers, cached ones included
    failed: int = 0
    cached: int = 0
    in_flight: int = 0
    limit: int = 0  # the current concurrency (below the ceiling after 429s)
    slowdowns: int = 0  # 429s met
    elapsed: float = 0.0
    sent: int = 0  # items answered by a request in this run (for the rate)
    sent_elapsed: float = 0.0  # elapsed when the last of them finished

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def eta(self) -> float | None:
        """Seconds left at this run's pace; None until a request has finished.

        The pace is taken at the last answer, and the time since counts down: measured
        against ``elapsed`` instead, the estimate would climb between answers.
        """
        if self.finished >= self.total:
            return 0.0
        if not self.sent or self.sent_elapsed <= 0:
            return None
        left = (self.total - self.finished) * self.sent_elapsed / self.sent
        return max(0.0, left - (self.elapsed - self.sent_elapsed))


class Throttle:
    """Adaptive concurrency shared by a batch's workers (thread-safe)."""

    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = self.limit = ceiling
        self.in_flight = 0
        self.slowdowns = 0
        self._clock = clock
        self._hold_until = 0.0
        self._streak = 0
        self._cond = threading.Condition()

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a free slot; False if ``stop`` was set first."""
        with self._cond:
            while not stop.is_set():
                hold = self._hold_until - self._clock()
                if hold <= 0 and self.in_flight < self.limit:
                    self.in_flight += 1
                    return True
                self._cond.wait(min(hold, 0.1) if hold > 0 else 0.1)
            return False

    def release(self, ok: bool) -> None:
        with self._cond:
            self.in_flight -= 1
            if ok:
                self._streak += 1
                if self._streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()

    def slow_down(self, retry_after: float | None) -> None:
        """A 429: halve the limit (once per hold, not once per refused request) and hold."""
        with self._cond:
            now = self._clock()
            self.slowdowns += 1
            self._streak = 0
            if now >= self._hold_until:
                self.limit = max(1, self.limit // 2)
            self._hold_until = max(self._hold_until, now + (1.0 if retry_after is None else retry_after))
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class Cache:
    """Finished rows on disk, one small JSON file each."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()

    @staticmethod
    def key(backend: str, body_print: str) -> str:
        return hashlib.sha256(f"{backend}\n{body_print}".encode()).hexdigest()

    def get(self, key: str) -> Row | None:
        try:
            data = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            return Row(**data)
        except (OSError, ValueError, TypeError):  # absent, or damaged: ask again
            return None

    def put(self, key: str, row: Row) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{key}.json"
        temporary = target.with_suffix(f".{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(asdict(row), ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, target)  # atomic: an interrupt never leaves half a row


class _Stopped(Exception):
    """Raised inside a worker's stream when the batch is stopped."""


@dataclass
class Batch:
    """Send ``build(file)`` for every file, ``concurrency`` at a time.

    ``start()`` runs it on worker threads; ``wait(timeout)`` says whether it is over;
    ``stop()`` ends it early, keeping the finished rows (and their cache entries).
    """

    client: OmniClient
    files: list[str]
    build: Callable[[str], ChatRequest]
    concurrency: int = DEFAULT_CONCURRENCY
    cache: Cache | None = None
    save_dir: Path | None = None
    retries: int = 2  # of 5xx and connection failures, per item
    backoff: float = 0.5
    rows: dict[int, Row] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise OmniError(f"--concurrency must be at least 1, not {self.concurrency}.")
        self.throttle = Throttle(self.concurrency)
        self._queue: deque[int] = deque(range(len(self.files)))
        self._attempts: dict[int, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: dict[int, EventStream] = {}  # the streams in flight, which stop() cancels
        self._started = 0.0
        self._ended: float | None = None
        self._sent = 0
        self._sent_at = 0.0  # perf_counter() when the last sent item finished
        self._wav_names = _wav_names(self.files)

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        self._started = time.perf_counter()
        count = min(self.concurrency, len(self.files)) or 1
        self._threads = [threading.Thread(target=self._work, name=f"omni-batch-{i}", daemon=True)
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every worker is done (or ``timeout`` passed first: False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
        if self._ended is None:
            self._ended = time.perf_counter()
        return True

    def stop(self, grace: float = 5.0) -> None:
        """Stop starting items, cancel the streams in flight (a stalled one too, at once), and
        wait for the workers; a stopped item leaves nothing: no row, no cache entry, no .wav."""
        self._stop.set()
        self.throttle.wake()
        with self._lock:
            streams = list(self._open.values())
        for events in streams:
            events.cancel()
        self.wait(grace)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> list[Row]:
        self.start()
        self.wait()
        return self.results()

    # -- results ---------------------------------------------------------------------------
    def results(self) -> list[Row]:
        """Finished rows, in the files' order."""
        with self._lock:
            return [self.rows[i] for i in sorted(self.rows)]

    def progress(self) -> Progress:
        with self._lock:
            rows = list(self.rows.values())
            sent, sent_at = self._sent, self._sent_at
        end = self._ended or time.perf_counter()
        return Progress(
            total=len(self.files),
            done=sum(r.error is None for r in rows),
            failed=sum(r.error is not None for r in rows),
            cached=sum(r.cached for r in rows),
            in_flight=self.throttle.in_flight, limit=self.throttle.limit,
            slowdowns=self.throttle.slowdowns, elapsed=end - self._started, sent=sent,
            sent_elapsed=sent_at - self._started if sent else 0.0,
        )

    # -- the workers -----------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._queue:
                    return
                index = self._queue.popleft()
            try:
                self._item(index)
            except Exception as exc:  # a full disk, an unreadable file: the item's row says so
                if not self._stop.is_set():
                    self._finish(index, Row(self.files[index], error=_reason(exc)))

    def _item(self, index: int) -> None:
        path = self.files[index]
        try:
            request = self.build(path)
        except OmniError as exc:  # refused by the checks: never sent, and not cached
            return self._finish(index, Row(path, error=str(exc)))
        key = self.cache.key(self.client.backend.label, fingerprint(EncodedBody(request.body))) \
            if self.cache is not None else None
        if self._stop.is_set():
            return
        cached = self._from_cache(key, index) if key else None
        if cached is not None:
            return self._finish(index, cached)
        if not self.throttle.acquire(self._stop):
            return
        ok = False
        try:
            response = self._collect(index, request)
            ok = True
        except _Stopped:
            return
        except OmniError as exc:
            if self._stop.is_set():  # cut by stop(): neither a failure nor worth a retry
                return
            return self._failed(index, exc)
        finally:
            self.throttle.release(ok)
        if self._stop.is_set():  # cancelled mid-answer: what arrived is not kept anywhere
            return
        row = Row(path, answer=response.text, usage=response.usage,
                  error=None if response.error is None else str(response.error),
                  note=" ".join(n for a in request.attachments for n in a.notes) or None)
        if row.error is None and self.save_dir is not None and response.audio_chunks:
            try:
                row.speech = str(response.save_audio(self.save_dir / self._wav_names[index]))
            except (OSError, RuntimeError, OmniError) as exc:
                row.error = f"The answer came, but its speech could not be saved: {exc}"
        if row.error is None and key is not None:
            try:
                self.cache.put(key, row)
            except OSError as exc:
                row.error = (f"The answer came, but the batch cache could not keep it, so a re-run "
                             f"asks again: {exc}")
        with self._lock:
            self._sent += 1
            self._sent_at = time.perf_counter()
        self._finish(index, row)

    def _collect(self, index: int, request: ChatRequest) -> OmniResponse:
        """Send one request and fold its answer, its stream open to ``stop()`` meanwhile."""
        response = self.client.new_response(request)
        events = self.client.send(request, retries=0)
        with self._lock:
            self._open[index] = events
        if self._stop.is_set():  # stop() ran before the stream was listed: cancel it here
            events.cancel()
        try:
            return collect(events, response, on_event=self._check_stop)
        finally:
            with self._lock:
                self._open.pop(index, None)

    def _failed(self, index: int, exc: OmniError) -> None:
        """A request that failed before its answer: retried when that may help, else its row."""
        if isinstance(exc, RateLimitError):
            self.throttle.slow_down(exc.retry_after)
            return self._again(index, exc, MAX_RATE_LIMITED)
        if isinstance(exc, (ServerError, ConnectError)):
            return self._again(index, exc, self.retries, wait=True)
        self._finish(index, Row(self.files[index], error=str(exc)))

    def _check_stop(self, event: Event) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _again(self, index: int, exc: OmniError, limit: int, wait: bool = False) -> None:
        """Put an item back in the queue, or fail it once it has been tried ``limit`` times."""
        with self._lock:
            attempts = self._attempts[index] = self._attempts.get(index, 0) + 1
        if attempts > limit:
            return self._finish(index, Row(self.files[index], error=str(exc)))
        if wait:  # backoff with jitter, cut short by stop()
            self._stop.wait(min(self.backoff * 2 ** (attempts - 1), 8.0) * (0.5 + random.random() / 2))
        with self._lock:
            self._queue.appendleft(index)

    def _from_cache(self, key: str, index: int) -> Row | None:
        row = self.cache.get(key) if self.cache is not None else None
        if row is None:
            return None
        row.file, row.cached = self.files[index], True
        if self.save_dir is not None and row.speech:
            wanted = self.save_dir / self._wav_names[index]
            if not wanted.exists():
                if not Path(row.speech).exists():
                    return None  # the speech is gone: ask again rather than return less
                wanted.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(row.speech, wanted)
            row.speech = str(wanted)
        return row

    def _finish(self, index: int, row: Row) -> None:
        with self._lock:
            self.rows[index] = row


def _reason(exc: Exception) -> str:
    """A row's error for a failure outside the request (OmniErrors say it themselves)."""
    return str(exc) if isinstance(exc, OmniError) else f"{type(exc).__name__}: {exc}"


def _wav_names(files: list[str]) -> list[str]:
    """A .wav name per file: its stem, or its whole name when two stems collide."""
    stems = [Path(f).stem for f in files]
    seen = Counter(stems)
    return [f"{stem if seen[stem] == 1 else Path(f).name}.wav" for f, stem in zip(files, stems)]


def as_table(rows: list[Row]) -> Any:
    """A pandas DataFrame when pandas is installed (the ``tables`` extra), else a list of dicts."""
    records = [{"file": r.file, "answer": r.answer, "usage": r.usage, "error": r.error,
                "speech": r.speech, "cached": r.cached, "note": r.note} for r in rows]
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame.from_records(records, columns=["file", "answer", "usage", "error",
                                                       "speech", "cached", "note"])
