"""``%omni doctor [options]``: the doctor (omni_magic.doctor) from a notebook, a line per step
as each completes, then the summary, the protocol differences and where the report went.

The doctor's options are its own (``--skip-speech``, ``--report FILE``...), so the words after
``doctor`` are read by the doctor's parser, not by ``%%omni``'s; the endpoint options left out
default to the magic's traits (``model``, ``base_url``, ``region``, ``workspace``, ``dialect``,
``timeout``, ``first_event_timeout``, the catalog), so the doctor checks what the cells use.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError

from ..doctor import DoctorOptions, closing_lines, options_from, parser, run
from ..errors import OmniError
from . import view


class _Refused(Exception):
    """argparse's complaint, kept to be raised as a UsageError."""


class _Parser:
    """The doctor's parser, made to raise instead of exiting the kernel."""

    def __init__(self) -> None:
        self.parser = parser(prog="%omni doctor")
        self.parser.exit = self._exit  # type: ignore[method-assign]
        self.parser.error = self._error  # type: ignore[method-assign]
        self.helped = False

    def _exit(self, status: int = 0, message: str | None = None) -> None:
        self.helped = True  # --help printed the usage: nothing else to do
        raise _Refused(message or "")

    def _error(self, message: str) -> None:
        raise _Refused(message)


def run_doctor(magics: Any, rest: str) -> None:
    """Run the doctor with the words after ``doctor``, showing its lines."""
    reader = _Parser()
    try:
        args = reader.parser.parse_args(shlex.split(rest))
    except ValueError as exc:  # shlex: an unclosed quote
        raise UsageError(f"Could not read the doctor's options: {exc}.") from None
    except _Refused as exc:
        if reader.helped:
            return
        raise UsageError(f"%omni doctor: {exc}. Options: {reader.parser.format_usage().strip()}") from None
    region = magics.region if magics.region != "auto" else None
    from ..emulator import Pacing

    # The cells' model and timeouts too: the doctor checks what the next cell will meet.
    base = DoctorOptions(model=magics.model or None, region=region, base_url=magics.base_url or None,
                         workspace=magics.workspace or None, dialect=magics.dialect,
                         catalog=magics._catalog(), timeout=magics.timeout,
                         first_event_timeout=magics.first_event_timeout,
                         emulator_pacing=Pacing(magics.emulator_first_token, magics.emulator_per_chunk))
    options = options_from(args, base)
    try:
        result = run(options, on_step=lambda step: view.show(view.Notice(
                         step.line(), "error" if step.status == "failed" else "info")),
                     on_budget=lambda line: view.show(view.Notice(line)))
    except OmniError as exc:  # a --report file that cannot be written; nothing was sent
        raise UsageError(str(exc)) from None
    for line in closing_lines(result)[1:]:
        kind = "warn" if line.startswith("  •") else ("error" if not result.ok and line == result.summary()
                                                        else "info")
        view.show(view.Notice(line, kind))

