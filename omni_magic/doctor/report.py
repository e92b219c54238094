"""The doctor's report: JSON (``.json``) or Markdown (``.md``), made to be attached to an issue.

It holds the steps with their timings, the versions of what ran, the protocol's differences
and the recorded streams of the doctor's own requests (the ``--record`` format, the speech's
base64 elided). Never the key: the recordings have no headers, and the whole text is masked
with the key's ``Secret.mask`` before it is written (any run of eight of its characters).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import InvalidRequest
from .step import MARKS, TITLES, DoctorResult

if TYPE_CHECKING:
    from ..backend import Secret

FORMAT = 1
SUFFIXES = (".json", ".md")


def target(path: str | Path) -> Path:
    """The report's path, checked before anything is sent: a .json or .md file in a folder that exists."""
    where = Path(path).expanduser()
    if where.suffix.lower() not in SUFFIXES or where.is_dir():
        raise InvalidRequest(f"--report {str(path)!r}: name a .json or .md file (doctor.json, doctor.md).")
    if not where.parent.is_dir():
        raise InvalidRequest(f"--report {str(path)!r}: the folder {str(where.parent)!r} does not exist.")
    return where


def versions() -> dict[str, str]:
    """omni_magic's, Python's, httpx's and the platform's: what a maintainer asks first."""
    found = {"omni_magic": __version__, "python": sys.version.split()[0],
             "implementation": platform.python_implementation(), "platform": platform.platform(),
             "machine": platform.machine()}
    for name in ("httpx", "numpy", "orjson"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        found[name] = str(getattr(module, "__version__", "?"))
    return found


def as_dict(result: DoctorResult) -> dict[str, Any]:
    return {"omni_magic_doctor": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": versions(), "backend": result.backend, "endpoint": result.endpoint,
            "ok": result.ok, "summary": result.summary(), "budget": result.budget,
            "stopped": result.stopped, "steps": [s.to_dict() for s in result.steps],
            "findings": [f.to_dict() for f in result.findings], "streams": result.streams}


def markdown(result: DoctorResult) -> str:
    data = as_dict(result)
    out = ["# omni_magic doctor report", "", data["summary"], "", f"- backend: {result.backend}",
           f"- endpoint: {result.endpoint}", f"- created: {data['created']}", f"- {result.budget}", "",
           "## Versions", ""]
    out += [f"- {name}: {value}" for name, value in data["versions"].items()]
    out += ["", "## Steps", "", "| | step | detail | advice | seconds |", "|---|---|---|---|---|"]
    for step in result.steps:
        cells = [MARKS[step.status], TITLES.get(step.name, step.name), step.detail, step.advice,
                 "" if step.seconds is None else f"{step.seconds:.3f}"]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    out += ["", f"## Protocol differences ({len(result.findings)})", ""]
    out += [f"- {f.line()}" for f in result.findings] or ["None."]
    out += ["", "## Recorded streams", "",
            "Each is a recording in the `--record` format (JSON lines), the speech's base64 elided.", ""]
    for stream in result.streams:
        out += [f"### {stream['step']} ({stream.get('model', '')})", "", "```jsonl"]
        out += [json.dumps(line, ensure_ascii=False) for line in stream["lines"]]
        out += ["```", ""]
    out += ["## Steps as data", "", "```json", json.dumps(data["steps"], indent=1, ensure_ascii=False), "```", ""]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(result: DoctorResult, path: str | Path, secret: Secret | None = None) -> Path:
    """Write the report (the format by the suffix); the text is masked with ``secret`` first."""
    where = target(path)
    if where.suffix.lower() == ".md":
        text = markdown(result)
    else:
        text = json.dumps(as_dict(result), indent=1, ensure_ascii=False)
    if secret is not None:
        text = secret.mask(text)
    try:
        where.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"The report could not be written to {str(where)!r} "
                             f"({exc.strerror or exc}): pick another --report file.") from None
    return where
