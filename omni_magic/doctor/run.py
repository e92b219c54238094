"""The doctor's run, in order, and its command line (``python -m omni_magic.doctor``).

Each step is reported as it completes (``on_step``); a failure that makes the rest pointless
(no key the service takes, a host that cannot be reached, a request that got no stream)
stops the run, and the steps not run say why.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path
from typing import Callable

from .. import backend
from .. import catalog as catalogs
from ..errors import InvalidRequest, OmniError
from . import report
from .calls import chat_step
from .plan import budget, plan
from .probes import connect_step, key_failed, key_step, models_step
from .step import FAILED, SKIPPED, DoctorOptions, DoctorResult, Step

ORDER = ("key", "connect", "models", "text", "speech", "thinking")


def run(options: DoctorOptions, on_step: Callable[[Step], None] | None = None,
        on_budget: Callable[[str], None] | None = None) -> DoctorResult:
    """Run every step against the backend ``options`` choose (the embedded emulator when no
    key is set); ``on_budget`` hears the up-front line, ``on_step`` each step as it completes.
    InvalidRequest for a bad ``--report`` file, before anything is sent."""
    if options.report:
        report.target(options.report)
    catalog = options.catalog or catalogs.default()
    _check_endpoint_options(options, catalog)
    model = options.model or catalogs.DEFAULT_MODEL
    try:
        chosen = backend.resolve(options.api_key, options.region, options.base_url, options.workspace, catalog)
    except InvalidRequest as exc:
        chosen, failure = None, exc
    region = chosen.region if chosen is not None else options.region
    custom = chosen is not None and chosen.kind == "custom"
    planned, skipped = plan(catalog, model, region, custom=custom, skip_speech=options.skip_speech,
                            skip_thinking=options.skip_thinking)
    result = DoctorResult(budget(planned, catalog, not custom)[1])
    if on_budget is not None:
        on_budget(result.budget)
    secret = chosen.api_key if chosen is not None else None

    def emit(step: Step) -> None:
        if secret is not None:  # a server may echo the key into what a step quotes
            step.detail, step.advice = secret.mask(step.detail), secret.mask(step.advice)
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    def stop(reason: str) -> None:
        result.stopped = reason
        for name in ORDER[len(result.steps):]:
            emit(Step(name, SKIPPED, f"not run: {reason}"))

    if chosen is None:
        emit(key_failed(failure))
        stop("no request can be sent without a usable key and endpoint")
        return _finish(result, options, None)
    from ..client import OmniClient, timeouts  # httpx: imported when the doctor runs

    client = OmniClient(options.api_key, options.region, options.base_url, workspace=options.workspace,
                        catalog=catalog, timeout=timeouts(options.timeout),
                        first_event_timeout=options.first_event_timeout, max_retries=0,
                        emulator_pacing=options.emulator_pacing, dialect=options.dialect)
    try:
        base_url = client.base_url  # starts the embedded emulator when it answers
        result.backend, result.endpoint = client.backend.label, base_url
        emit(key_step(client.backend, base_url))
        connected = connect_step(base_url)
        emit(connected)
        if connected.status == FAILED:
            stop("the host cannot be reached, so no request can be sent")
            return _finish(result, options, secret)
        listed_step, listed, pointless = models_step(client, base_url, model)
        emit(listed_step)
        if pointless:
            stop("the server refused the key, so every request would be refused too")
            return _finish(result, options, secret)
        if listed and (custom and not options.model or not custom):
            model = listed[0] if custom and not options.model else model
            planned, skipped = plan(catalog, model, region, custom=custom, skip_speech=options.skip_speech,
                                    skip_thinking=options.skip_thinking, listed=listed)
        by_name = {p.name: p for p in planned}
        skips = {s.name: s for s in skipped}
        with tempfile.TemporaryDirectory(prefix="omni-doctor-") as folder:
            for name in ORDER[3:]:
                if name in skips:
                    emit(skips[name])
                    continue
                outcome = chat_step(client, by_name[name], Path(folder))
                emit(outcome.step)
                result.findings += outcome.findings
                if outcome.lines:
                    result.streams.append({"step": name, "model": by_name[name].model, "lines": outcome.lines})
                if outcome.pointless:
                    stop(f"{outcome.pointless}: the next requests would meet the same")
                    break
    finally:
        client.close()
    return _finish(result, options, secret)


def _check_endpoint_options(options: DoctorOptions, catalog: catalogs.Catalog) -> None:
    """InvalidRequest for a region, workspace ID or base URL that cannot be right, whatever the
    key: the options are wrong (exit 2), not the setup."""
    if options.region is not None:
        catalog.region(options.region)
    if options.base_url:
        backend.normalize_base_url(options.base_url, source="--base-url")
    elif options.workspace:
        backend.workspace_url(options.workspace, options.region or backend.DEFAULT_REGION, catalog)


def _finish(result: DoctorResult, options: DoctorOptions, secret: backend.Secret | None) -> DoctorResult:
    if options.report:
        result.report = str(report.write(result, options.report, secret))
    return result


def closing_lines(result: DoctorResult) -> list[str]:
    """What follows the steps: the summary, each protocol difference, where the report went."""
    lines = ["", result.summary()]
    if result.findings:
        lines.append(f"Protocol differences ({len(result.findings)}): what the server sent that the "
                     "documentation does not lead omni_magic to expect.")
        lines += [f"  • {finding.line()}" for finding in result.findings]
    if result.report:
        lines.append(f"Report written to {result.report}: attach it to an issue if something looks wrong.")
    elif not result.ok or result.findings:
        lines.append("Run again with --report doctor.json and attach the file to an issue.")
    return lines


def parser(prog: str = "python -m omni_magic.doctor") -> argparse.ArgumentParser:
    """The doctor's options, shared by the command line and ``%omni doctor``."""
    p = argparse.ArgumentParser(prog=prog, description="Check the key, the endpoint and the service's "
                                "protocol with three small requests, and write a report to share.")
    p.add_argument("--model", help=f"the model to check (default {catalogs.DEFAULT_MODEL})")
    p.add_argument("--region", help="DashScope region: intl, cn, us, hk (jp, de with --workspace)")
    p.add_argument("--workspace", metavar="ID", help="a Model Studio workspace ID")
    p.add_argument("--base-url", help="an OpenAI-compatible server instead of DashScope")
    p.add_argument("--skip-speech", action="store_true", help="no spoken request")
    p.add_argument("--skip-thinking", action="store_true", help="no thinking request")
    p.add_argument("--report", metavar="FILE", help="write a report: FILE.json or FILE.md")
    return p


def options_from(args: argparse.Namespace, base: DoctorOptions | None = None) -> DoctorOptions:
    """``base`` (defaults) with every option the words set."""
    given = {f.name: getattr(args, f.name) for f in fields(DoctorOptions)
             if getattr(args, f.name, None) not in (None, False)}
    return replace(base or DoctorOptions(), **given)


def main(argv: list[str] | None = None) -> int:
    """Print the lines; 0 when every check passed, 1 otherwise (2: the options are wrong)."""
    args = parser().parse_args(argv)
    try:
        result = run(options_from(args), on_step=lambda step: print(step.line(), flush=True),
                     on_budget=lambda line: print(line, flush=True))
    except OmniError as exc:
        print(f"omni_magic doctor: {exc}", file=sys.stderr)
        return 2
    for line in closing_lines(result):
        print(line)
    return 0 if result.ok else 1
