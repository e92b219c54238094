"""The doctor's requests: each one sent, recorded (the ``--record`` format), measured, and its
payloads checked for conformance; one ``Step`` each, with advice when it failed."""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import errors
from .._b64 import b64decode
from ..conformance import Finding, check_stream
from ..events import AudioDelta, Event
from ..response import OmniResponse, collect
from ..sse import DONE
from .plan import Planned
from .step import FAILED, OK, Step

if TYPE_CHECKING:
    from ..client import OmniClient

# What to do, by the error a request met (the error's own message goes into the report).
ADVICE: tuple[tuple[type[errors.OmniError], str], ...] = (
    (errors.AuthenticationError, "the key was refused: keys belong to one region (and plan); check "
     "--region (intl, cn, us, hk) against the console the key came from, or copy the key again"),
    (errors.AccountError, "the account cannot use this model (arrears, or not activated): see the "
     "Model Studio console"),
    (errors.NotFoundError, "the model or the endpoint was not found: check --model (%omni models) "
     "and --base-url (it ends in /compatible-mode/v1 or /v1)"),
    (errors.RateLimitError, "the service is throttling: wait a minute and run the doctor again; if "
     "it persists, check the account's rate quota"),
    (errors.ServerError, "the server failed: run the doctor again in a few minutes; if it persists, "
     "attach the report to an issue"),
    (errors.ContentFilterError, "the content filter refused a harmless prompt: attach the report to an issue"),
    (errors.BadRequestError, "the server refused the request as omni_magic writes it: attach the "
     "report to an issue"),
    (errors.UnexpectedAnswer, "something answered that is not the server's stream (a sign-in page, "
     "a proxy, a redirect, an error as JSON): check the network and --base-url"),
    (errors.ConnectError, "the server was not reached, or sent nothing in time: check the network, "
     "a proxy (HTTPS_PROXY) and --base-url, then run the doctor again"),
    (errors.ProtocolError, "the server sent something omni_magic cannot read: attach the report to "
     "an issue (the findings and the recorded stream show what came)"),
    (errors.StreamCutShort, "the stream ended before it was complete: run the doctor again; if it "
     "repeats, attach the report to an issue (the recorded stream shows where it ended)"),
    (errors.InvalidRequest, "fix the option the message names (--model, --region, --base-url)"),
    (errors.OmniError, "attach the report to an issue"),
)
# Errors before any event after which every later request would fail the same way.
POINTLESS = (errors.AuthenticationError, errors.AccountError, errors.RateLimitError,
             errors.ServerError, errors.UnexpectedAnswer, errors.ConnectError)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{120,}={0,2}")


@dataclass
class Outcome:
    """One request's step, findings, recording, and why the rest is pointless (None: it is not)."""

    step: Step
    findings: list[Finding] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    pointless: str | None = None


def advice_for(error: errors.OmniError) -> str:
    text = next(text for kind, text in ADVICE if isinstance(error, kind))
    wait = getattr(error, "retry_after", None)
    if isinstance(error, errors.RateLimitError) and wait is not None:  # the server said how long
        text = text.replace("wait a minute", f"wait {wait:g} s (the server's Retry-After)")
    return text


def chat_step(client: OmniClient, item: Planned, folder: Path) -> Outcome:
    """Send ``item``, keep its raw stream, and say what came."""
    name, why = item.name, f" ({item.why}: {item.model} instead)" if item.why else ""
    try:
        request = client.prepare(item.prompt, model=item.model, **item.options)
    except errors.InvalidRequest as exc:
        step = Step(name, FAILED, f"{item.model}: refused before sending: {exc}", advice_for(exc))
        return Outcome(step, pointless="the model or endpoint is refused" if name == "text" else None)
    path = folder / f"{name}.jsonl"
    speech: list[str | bytes] = []

    def keep(event: Event) -> None:
        if type(event) is AudioDelta:
            speech.append(event.data)

    try:
        response = collect(client.send(request, record=path, retries=0), client.new_response(request),
                           on_event=keep)
    except errors.OmniError as exc:  # before any event: nothing arrived
        status = getattr(exc, "status", None)
        what = f"HTTP {status} {getattr(exc, 'code', '') or ''}".strip() if status else type(exc).__name__
        step = Step(name, FAILED, f"{item.model}{why}: {what}, nothing streamed", advice_for(exc),
                    facts={"error": str(exc), "status": status})
        stop = isinstance(exc, POINTLESS) or name == "text"
        return Outcome(step, lines=read_lines(path),
                       pointless=f"the {name} request got no stream ({what})" if stop else None)
    raw = read_lines(path, elide=False)
    payloads = [line["data"] for line in raw if isinstance(line.get("data"), str)]
    if payloads:
        findings = check_stream(payloads, step=name, audio=request.audio, thinking=request.thinking,
                                include_usage=bool(request.body.get("stream_options", {}).get("include_usage")),
                                dialect=request.dialect, stopped=_left(response))
    else:  # an answer that is not a stream has no chunks to check: that is the difference
        findings = [Finding("end_of_stream", "stream", "the server answered with one JSON document, not "
                            "an event stream (stream: true was sent)", name, None, 1, True)]
    step = _measured(name, item, why, response, payloads, findings, speech)
    return Outcome(step, findings, [_elided(line) for line in raw])


def _measured(name: str, item: Planned, why: str, r: OmniResponse, payloads: list[str],
              findings: list[Finding], speech: list[str | bytes]) -> Step:
    chunks = sum(p != DONE for p in payloads)
    done = DONE in payloads
    usage = r.usage
    facts: dict[str, Any] = {
        "model": item.model, "first_token_s": _round(r.time_to_first_token), "elapsed_s": _round(r.elapsed),
        "chunks": chunks, "finish_reason": r.finish_reason, "usage": dict(usage) if usage else None,
        "done": done, "text_chars": len(r.text), "reasoning_chars": len(r.reasoning),
        "error": str(r.error) if r.error else None, "notes": list(r.notes)}
    ttft = f"first token {r.time_to_first_token:.2f} s" if r.time_to_first_token is not None else "no token"
    used = (f"usage ✓ ({usage.input} + {usage.output} = {usage.total} tokens)" if usage
            else "usage ✗")
    parts = [f"{item.model}{why}", ttft, f"{chunks} chunks in {r.elapsed:.2f} s"]
    if _left(r) is None:
        parts += [f"finish_reason {r.finish_reason}", used, f"[DONE] {'✓' if done else '✗'}"]
    else:  # its end was not read: what it held there is unknown, not missing
        parts.append("the stream was not read to its end")
    problems: list[str] = []
    if name == "speech":
        parts.insert(1, _speech_line(speech, r, facts, problems))
    if name == "thinking":
        parts.insert(1, f"reasoning {len(r.reasoning)} chars, then answer {len(r.text)} chars")
        if not r.reasoning:
            problems.append("no reasoning arrived")
    if not r.text and not (name == "thinking" and r.reasoning and r.finish_reason == "length"):
        problems.append("no answer text arrived")
    if not chunks and r.notes:
        problems.append("the answer came as one JSON document, not a stream")
    broken = [f for f in findings if f.breaks]
    if r.error is not None:
        problems.insert(0, f"{type(r.error).__name__}: {str(r.error).split('. ')[0]}")
        advice = advice_for(r.error)
    elif broken or problems:
        advice = ("the server's stream differs from the documented one where it matters (see the "
                  "findings): attach the report to an issue")
    else:
        advice = ""
    if broken and not problems:
        problems.append(broken[0].detail)
    detail = "; ".join(parts)
    if problems:
        return Step(name, FAILED, f"{detail}; {'; '.join(problems)}", advice, _round(r.elapsed), facts)
    return Step(name, OK, detail, seconds=_round(r.elapsed), facts=facts)


def _left(r: OmniResponse) -> str | None:
    """Why the client stopped reading before the stream's end (a chunk it cannot read), or None."""
    if isinstance(r.error, errors.ProtocolError):
        return str(r.error).split(". ")[0]
    return None


def _speech_line(speech: list[str | bytes], r: OmniResponse, facts: dict[str, Any],
                 problems: list[str]) -> str:
    """Each chunk decoded on its own (as the documentation says it must be), the rate, the
    duration, and whether the joined PCM is whole (an even number of bytes: whole samples)."""
    sizes, bad = [], 0
    for data in speech:
        if isinstance(data, bytes):
            sizes.append(len(data))
            continue
        try:
            sizes.append(len(b64decode(data, validate=True)))
        except (binascii.Error, ValueError):
            bad += 1
    total = sum(sizes)
    whole = total % 2 == 0
    joined = _joined_bytes([d for d in speech if isinstance(d, str)])
    facts.update(speech_chunks=len(speech), undecodable=bad, pcm_bytes=total, sample_rate=r.sample_rate,
                 duration_s=round(r.audio_seconds, 3), pcm_whole=whole, joined_then_decoded_bytes=joined)
    if not speech:
        problems.append("no speech arrived")
        return "no speech"
    if bad:
        problems.append(f"{bad} speech chunk(s) do not decode on their own")
    if not whole:
        problems.append("the joined PCM ends inside a sample (an odd number of bytes)")
    lost = "" if joined is None or joined >= total else \
        f"; joining the base64 first would keep {joined:,} bytes: decode chunk by chunk"
    return (f"{len(speech)} speech chunks, each decodes alone ({total:,} bytes), {r.sample_rate:,} Hz, "
            f"{r.audio_seconds:.2f} s, joined PCM {'whole' if whole else 'not whole'}{lost}")


def _joined_bytes(texts: list[str]) -> int | None:
    """What a client that joins the strings and decodes once would get (the documented pitfall)."""
    import base64

    if not texts:
        return None
    try:
        return len(base64.b64decode("".join(texts)))
    except (binascii.Error, ValueError):
        return None


def read_lines(path: Path, *, elide: bool = True) -> list[dict[str, Any]]:
    """The recording's lines; ``elide``: with the speech's base64 cut out (a report holds no media)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []  # nothing was recorded: the request was refused before any payload
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(_elided(line) if elide else line)
    return lines


def _elided(line: dict[str, Any]) -> dict[str, Any]:
    data = line.get("data")
    if not isinstance(data, str):
        return line
    cut = _BASE64_RUN.sub(lambda m: f"<{len(m.group(0)):,} base64 characters elided>", data)
    return {**line, "data": cut}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
