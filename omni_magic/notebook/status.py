"""The status line an answer carries, live and final: model · voice · first token · tokens per
second · elapsed · speech · earlier turns' media re-sent · backend."""

from __future__ import annotations

import html
import time

from .. import tokens
from ..events import Usage
from ..history import resent_tokens
from ..response import OmniResponse


def status_line(response: OmniResponse, backend: str, *, streaming: bool = False,
                live_tokens: int | None = None) -> str:
    """Model · voice · first token · tokens per second · elapsed · speech · backend.
    ``live_tokens``: the text tokens so far, counted as the deltas came (see output_rate)."""
    bits = [response.model]
    if response.voice:
        bits.append(response.voice)
    ttft = response.time_to_first_token
    bits.append("waiting for the first token" if ttft is None else f"first token {ttft * 1000:.0f} ms")
    rate = output_rate(response, live_tokens)
    if rate is not None:
        bits.append(rate)
    bits.append(f"{response.elapsed:.1f} s")
    if response.audio_chunks:
        bits.append(f"speech {response.audio_seconds:.1f} s")
    resent = resent_tokens(response.estimate)
    if resent is not None:  # billed again on every later cell: never silently
        bits.append(f"{RESENT}: {resent:,} tokens" if resent else f"{RESENT} (not counted)")
    bits.append(backend)
    if streaming:
        bits.append("streaming…")
    return " · ".join(bits)


RESENT = "earlier turns' media re-sent"


def status_markdown(line: str) -> str:
    """The status line as the answer's Markdown shows it, live and final alike."""
    return f"<sub>{html.escape(line)}</sub>"


MIN_RATE_SECONDS = 0.2


def output_rate(response: OmniResponse, live_tokens: int | None = None) -> str | None:
    """Text tokens (answer and reasoning) per second since the first token: the reported
    count once usage arrived, an estimate from the text so far ("≈") while streaming.
    Speech tokens are left out so that the live and final figures measure the same thing.
    ``live_tokens`` is the live view's running count: tokenising the whole text again on
    every redraw would make a long answer quadratic."""
    if response.first_token_at is None:
        return None
    end = response.finished_at or time.perf_counter()
    seconds = end - response.first_token_at
    usage = response.usage or Usage()
    completion = usage.output
    if completion and seconds > 0:
        speech = usage.output_details.get("audio_tokens", 0)
        return f"{(completion - speech) / seconds:.0f} tok/s"
    if seconds < MIN_RATE_SECONDS:  # a rate over a few milliseconds says nothing
        return None
    so_far = live_tokens if live_tokens is not None else (
        tokens.text_tokens(response.reasoning, response.model)
        + tokens.text_tokens(response.text, response.model))
    return f"≈{so_far / seconds:.0f} tok/s"
