"""What the emulator counts (for tests and ``/_emulator/stats``), and its limit on answers at once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .faults import Fault


class Counter:
    """A thread-safe count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        with self._lock:
            return self._value


@dataclass
class Tally:
    """What the emulator counts, for tests and for ``/_emulator/stats``."""

    requests: Counter = field(default_factory=Counter)  # POSTs to chat/completions
    abandoned: Counter = field(default_factory=Counter)  # streams the client hung up on
    authorized: Counter = field(default_factory=Counter)  # requests with an Authorization
    replayed: Counter = field(default_factory=Counter)  # answered from a recording
    throttled: Counter = field(default_factory=Counter)  # refused for max_streams


class Limit:
    """At most ``streams`` answers at once; more are refused with 429, as a busy service does."""

    def __init__(self, streams: int | None, retry_after: float) -> None:
        self.streams = streams
        self.busy = Fault.parse(f"429:retry_after={retry_after}")
        self._lock = threading.Lock()
        self._active = 0

    def enter(self) -> bool:
        with self._lock:
            if self.streams is not None and self._active >= self.streams:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._active -= 1
