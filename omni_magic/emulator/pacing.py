"""How fast the emulator streams: realistic by default, instant in tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    """Delays in seconds: before the first event, and between text or reasoning chunks."""

    first_token: float = 0.3
    per_chunk: float = 0.03

    @classmethod
    def none(cls) -> Pacing:
        """No delays at all, for tests and benchmarks."""
        return cls(first_token=0.0, per_chunk=0.0)
