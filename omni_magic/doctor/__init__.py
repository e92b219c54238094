"""``%omni doctor`` and ``python -m omni_magic.doctor``: first contact with a server, checked.

Nothing in the test suite talks to the real service: everything runs against the emulator,
built from the documentation. The doctor is how a difference gets noticed and reported: it
checks the key and the endpoint, the connection, ``GET /models``, then sends three small
requests (text, a few spoken words, a short thinking question), checks every chunk against
the documented protocol (``omni_magic.conformance``) and writes a report to attach to an
issue. With no key, it checks the embedded emulator, and says so.

    step.py     the options, a step's result, the run's result
    probes.py   the key, the connection, GET /models
    plan.py     which requests, on which models, and their most tokens
    calls.py    each request: sent, recorded, measured, checked
    report.py   the report (JSON or Markdown), the key masked
    run.py      the run in order, and the command line
"""

from __future__ import annotations

from .run import closing_lines, main, options_from, parser, run
from .step import DoctorOptions, DoctorResult, Step

__all__ = ["DoctorOptions", "DoctorResult", "Step", "closing_lines", "main", "options_from", "parser", "run"]
