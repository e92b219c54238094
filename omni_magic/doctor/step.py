"""The doctor's values: its options, one step's result, and the whole run's result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..conformance import Finding

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
MARKS = {OK: "✓", FAILED: "✗", SKIPPED: "–"}
TITLES = {"key": "API key", "connect": "connection", "models": "GET /models", "text": "text request",
          "speech": "spoken request", "thinking": "thinking request"}


@dataclass
class DoctorOptions:
    """What to check and where; None takes the same defaults as a ``%%omni`` cell."""

    model: str | None = None
    region: str | None = None
    base_url: str | None = None
    workspace: str | None = None
    skip_speech: bool = False
    skip_thinking: bool = False
    report: str | None = None  # a .json or .md file
    dialect: str = "auto"
    api_key: str | None = None  # None: DASHSCOPE_API_KEY, as everywhere
    catalog: Any = None  # a Catalog; None: the shipped one (with OMNI_CATALOG)
    timeout: float = 30.0  # seconds between two events of a stream
    first_event_timeout: float = 60.0
    emulator_pacing: Any = None  # the embedded emulator's Pacing (tests: none)


@dataclass
class Step:
    """One check: ``status`` ok, failed or skipped; ``detail`` one line with its timings;
    ``advice`` what to do when it failed (or why it was skipped)."""

    name: str  # key | connect | models | text | speech | thinking
    status: str
    detail: str
    advice: str = ""
    seconds: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # measured values, for the report

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def line(self) -> str:
        text = f"{MARKS[self.status]} {TITLES.get(self.name, self.name)}: {self.detail}"
        return f"{text} → {self.advice}" if self.advice else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorResult:
    """The whole run: the steps in order, the protocol's differences, the recorded streams."""

    budget: str  # the line said up front: what the run will spend
    backend: str = ""  # where the requests went (label)
    endpoint: str = ""
    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)  # {"step", "lines": recording}
    stopped: str | None = None  # why the run stopped before its last step
    report: str | None = None  # where the report was written

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def summary(self) -> str:
        failed = [s for s in self.steps if s.status == FAILED]
        passed = sum(s.status == OK for s in self.steps)
        skipped = sum(s.status == SKIPPED for s in self.steps)
        found = f"; {len(self.findings)} protocol difference(s) found" if self.findings else \
            "; no protocol differences"
        head = ("All checks passed" if not failed else
                f"{len(failed)} check(s) failed ({', '.join(TITLES.get(s.name, s.name) for s in failed)})")
        text = f"{head}: {passed} passed, {skipped} skipped{found}."
        if self.stopped:
            text += f" Stopped early: {self.stopped}"
        return text
