"""Recordings: the raw stream of one call as JSON lines, and its replay with no network.

A recording is what the server sent, not what omni_magic made of it, so a replay
goes through the same parsing as a live answer and ends the same way::

    {"omni_magic_recording": 1, "fingerprint": "…", "backend": "…", "request": {…}}
    {"t": 0.301, "data": "{\\"id\\":\\"chatcmpl-…\\",\\"choices\\":[…]}"}
    …
    {"end": "complete"}

``t`` is seconds since the request was sent. ``request`` is the body with media
cut short (``elide_media``); the headers are never written, so neither is the key.
``fingerprint`` is the SHA-256 of the body's exact bytes: the emulator serves a
recording to the request that has it (``Emulator(recordings=...)``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ._version import __version__
from .chunks import read_payloads
from .errors import Interrupted, InvalidRequest, StreamCutShort
from .events import Event

if TYPE_CHECKING:
    from .backend import Secret

FORMAT = 1
SUFFIX = ".jsonl"


def fingerprint(body: Iterable[bytes]) -> str:
    """SHA-256 of a request body's bytes (an ``EncodedBody`` is hashed as it is encoded)."""
    digest = hashlib.sha256()
    for piece in [body] if isinstance(body, (bytes, bytearray)) else body:
        digest.update(piece)
    return digest.hexdigest()


def check_speed(speed: float) -> float:
    """A replay speed: above 0 (1 is the recorded pace, ``inf`` no waiting)."""
    if not speed > 0:
        raise InvalidRequest(f"A replay speed must be above 0 (1 is the original pace), not {speed}.")
    return speed


def target(path: str | Path, print_: str) -> Path:
    """Where to write: ``path`` itself, or ``<fingerprint prefix>.jsonl`` inside a folder."""
    folder = str(path).endswith(("/", "\\"))  # before Path() drops the separator
    path = Path(path).expanduser()
    if folder or path.is_dir():
        return path / f"{print_[:16]}{SUFFIX}"
    return path


class Recorder:
    """Writes one call's payloads as they arrive; ``close()`` says how the stream ended.

    The file is opened at the first payload, so a request refused with an HTTP
    error leaves nothing behind. ``secret`` is masked (any piece of it) if a server ever
    echoed it. A recording that cannot be written stops, never the stream: ``failure``
    then says why, and the answer goes on.
    """

    def __init__(self, path: str | Path, *, print_: str, backend: str, request: dict[str, Any],
                 secret: Secret | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.path = target(path, print_)
        self.failure: str | None = None
        self._header = {"omni_magic_recording": FORMAT, "version": __version__,
                        "fingerprint": print_, "backend": backend,
                        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "request": request}
        self._secret = secret
        self._clock = clock
        self._started = clock()
        self._file: Any = None

    def write(self, data: str) -> None:
        if self.failure is not None:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "w", encoding="utf-8")
                self._line(self._header)
            self._line({"t": round(self._clock() - self._started, 4), "data": data})
        except OSError as exc:  # a full disk, a folder gone: the answer matters more
            self.failure = f"the recording {self.path} could not be written ({exc.strerror or exc})"
            self._close_file()

    def close(self, error: BaseException | None = None) -> None:
        """Write how the stream ended: ``complete`` (None), ``interrupted`` (the reader
        stopped, a KeyboardInterrupt, a cancel) or ``error`` with the error's message."""
        if self._file is None:
            return
        stopped = isinstance(error, (KeyboardInterrupt, GeneratorExit, Interrupted))
        end = {"end": "complete"} if error is None else {
            "end": "interrupted" if stopped else "error",
            "error": str(error) or type(error).__name__}
        try:
            self._line(end)
        except OSError as exc:
            self.failure = f"the recording {self.path} could not be finished ({exc.strerror or exc})"
        self._close_file()

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _line(self, value: dict[str, Any]) -> None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if self._secret is not None:  # belt and braces: a server echoing the key
            text = self._secret.mask(text)
        self._file.write(text + "\n")


def recorded(payloads: Iterable[str], recorder: Recorder) -> Iterator[str]:
    """Pass ``payloads`` through, writing each one. How the stream ended is for the caller
    to say (``recorder.close``): only it knows whether the payloads made a whole answer."""
    for data in payloads:
        recorder.write(data)
        yield data


@dataclass
class Recording:
    """A loaded recording: its header, ``(t, data)`` payloads, and how the stream ended."""

    path: Path
    header: dict[str, Any]
    payloads: list[tuple[float, str]] = field(default_factory=list)
    end: dict[str, Any] | None = None  # None: the recording itself was cut off

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        path = Path(path).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InvalidRequest(f"No recording at {str(path)!r}: record one with --record FILE.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"Cannot read the recording {str(path)!r}: {exc}.") from None
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if not isinstance(header, dict) or header.get("omni_magic_recording") != FORMAT:
            raise InvalidRequest(f"{str(path)!r} is not an omni_magic recording (format {FORMAT}): "
                                 "its first line should name it.")
        recording = cls(path, header)
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if "end" in entry:
                    recording.end = entry
                    break
                recording.payloads.append((float(entry["t"]), str(entry["data"])))
            except (ValueError, KeyError, TypeError):
                raise InvalidRequest(f"Line {number} of the recording {str(path)!r} is damaged: "
                                     "record the call again.") from None
        return recording

    @property
    def complete(self) -> bool:
        """The original stream ended normally (not cut short, interrupted or cut off)."""
        return self.end is not None and self.end.get("end") == "complete"

    @property
    def fingerprint(self) -> str:
        return str(self.header.get("fingerprint", ""))

    @property
    def model(self) -> str | None:
        request = self.header.get("request")
        return request.get("model") if isinstance(request, dict) else None

    def timed(self, speed: float = 1.0, *, sleep: Callable[[float], None] = time.sleep,
              clock: Callable[[], float] = time.perf_counter) -> Iterator[str]:
        """The payloads at their recorded times divided by ``speed`` (``inf``: at once)."""
        check_speed(speed)
        start = clock()
        for t, data in self.payloads:
            if not math.isinf(speed):
                wait = t / speed - (clock() - start)
                if wait > 0:
                    sleep(wait)
            yield data

    def events(self, speed: float = 1.0, **timing: Any) -> Iterator[Event]:
        """Replay as events, ending the way the original stream ended."""
        yield from read_payloads(self._to_end(self.timed(speed, **timing)))

    def _to_end(self, payloads: Iterator[str]) -> Iterator[str]:
        yield from payloads
        if self.end is not None and not self.complete:
            raise StreamCutShort(
                f"This recording ends where the original stream stopped ({self.end.get('error')}): "
                "the answer below is as partial as it was then."
            )

    def __repr__(self) -> str:
        ending = self.end.get("end") if self.end else "cut off"
        return f"<Recording {self.path.name}: {len(self.payloads)} payloads, {ending}>"


@dataclass
class Recordings:
    """Recordings indexed by fingerprint, for a server that answers with them."""

    by_print: dict[str, Recording] = field(default_factory=dict)
    speed: float = 1.0

    @classmethod
    def load(cls, where: str | Path | None, speed: float = 1.0) -> Recordings:
        """Every recording in a folder and its subfolders (or the one file named)."""
        found = cls(speed=check_speed(speed))
        if where is None:
            return found
        where = Path(where).expanduser()
        if not where.exists():
            raise InvalidRequest(f"No recordings at {str(where)!r}: give a folder of .jsonl "
                                 "recordings or one recording file.")
        for path in sorted(where.rglob(f"*{SUFFIX}")) if where.is_dir() else [where]:
            recording = Recording.load(path)
            found.by_print[recording.fingerprint] = recording
        return found

    def find(self, body: bytes) -> Recording | None:
        """The recording made of exactly this request body, if there is one."""
        return self.by_print.get(fingerprint(body)) if self.by_print else None

    def __len__(self) -> int:
        return len(self.by_print)
