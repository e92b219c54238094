"""Long answers to test with: about N words of realistic Markdown, asked for per request with the
``X-Omni-Words`` header or for every answer with ``Emulator(words=N)`` (``--words N``).

A long-answer test or a benchmark then streams through the real server path: the same chunks,
pacing, usage and faults as an ordinary answer, with the text a notebook must render well:
headings, emphasis, lists, a fenced code block, a table, inline and display math. The text is
sample text on a technical theme, seeded by the request (the same request always gets the same
words) and introduced as what it is: the emulator's filler, not an answer. A "word" is what the
stream sends as one piece: a run of non-blank characters (``| a |`` is three).
"""

from __future__ import annotations

import hashlib
import random
from typing import Callable

from ..errors import InvalidRequest
from .errors import bad

HEADER = "X-Omni-Words"
MAX_WORDS = 100_000  # about 700 kB of text: enough for any benchmark, not a memory hazard

# (title, a thing, things, what is measured, its unit)
THEMES = [
    ("caching", "cache", "entries", "hit rate", "%"),
    ("retries", "retry", "attempts", "delay", "ms"),
    ("rate limits", "limiter", "requests", "budget", "req/s"),
    ("tokenizers", "tokenizer", "tokens", "throughput", "tok/s"),
    ("audio buffers", "buffer", "samples", "latency", "ms"),
    ("streaming answers", "stream", "chunks", "first-token time", "ms"),
    ("batch jobs", "batch", "items", "wall time", "s"),
    ("message queues", "queue", "messages", "depth", "msgs"),
    ("image resizing", "resizer", "pixels", "token count", "tok"),
    ("video sampling", "sampler", "frames", "frame budget", "frames"),
]
_ASPECTS = ["Sizing the {thing}", "When the {thing} misbehaves", "Measuring {things}",
            "A small {thing} in Python", "Trade-offs of the {thing}", "Testing the {thing}",
            "Keeping {things} bounded", "The {thing} under load"]
# Sentences by what they show, so that every section's first paragraph has each kind.
_INLINE_MATH = [
    "With $n$ {things} and a fixed overhead $c_0$, the total cost grows as $c_0 + c_1 n$.",
    "A bound such as $k \\le {k}$ turns a surprise into a decision made in advance.",
    "Doubling the {things} should cost at most $2\\times$ the time, never $O(n^2)$.",
]
_BOLD = [
    "A {thing} is only as good as the **assumptions** behind it, so write them down first.",
    "The **{measure}** is the number to watch; everything else explains it.",
    "If two {things} race, the **second** one must lose gracefully.",
]
_ITALIC = [
    "Most of the cost hides in the *slow path*, which the happy-path benchmark never touches.",
    "When the {measure} drifts, look at the *distribution*, not the mean.",
    "The worst case is rarely the largest input; it is the *unexpected* one.",
]
_SENTENCES = [
    "Keep the `{fn}` function pure: it takes {things} and returns {things}, nothing else.",
    "Nothing here needs a framework: a loop, a counter and a clock are enough.",
    "Logging every {thing} decision makes the {measure} explainable after the fact.",
    "The median hides the tail, and the tail is what people remember.",
    "Start with the simplest {thing} that could work, then let the numbers argue.",
]
_PLAIN = [
    "The same idea applies to every {thing} in the system.",
    "Measure before and after each change, and keep the numbers.",
    "A short test that fails is worth more than a long one that cannot.",
    "Small {things} add up faster than anyone expects.",
    "The simplest design that meets the {measure} target usually wins.",
    "Write the limit into the code, and the reason into a comment.",
    "Then measure again.",
    "Keep it boring.",
]
_BULLETS = [
    "*Bound* the number of {things} held at once.",
    "Prefer **one** {thing} per process over one per request.",
    "Count {things} in, {things} out, and {things} dropped.",
    "Make the {measure} visible: a log line per minute is plenty.",
    "Fail fast when the input is wrong, and say which part.",
    "Keep the defaults safe and the overrides explicit.",
    "Test the empty case, the single case and the huge case.",
    "Document the unit of every number: `{unit}` here.",
]
_STEPS = [
    "Reproduce the problem with the smallest input.",
    "Write a test that fails for the right reason.",
    "Change one thing, then measure the {measure} again.",
    "Check the edge cases: zero, one and the limit of {k}.",
    "Ship it behind a flag, then remove the flag.",
    "Write down what was learned next to the code.",
]
_QUOTES = [
    "Premature optimization is the root of much wasted effort; measured optimization is not.",
    "A {thing} without a limit is a queue waiting to overflow.",
    "If it is not measured, it is not known.",
]
_MATH = [
    "T(n) = c_0 + c_1 \\cdot n + \\varepsilon",
    "\\bar{{x}} = \\frac{{1}}{{n}} \\sum_{{i=1}}^{{n}} x_i",
    "P(\\text{{miss}}) = 1 - \\frac{{h}}{{h + m}}",
    "d_k = \\min\\left(d_{{\\max}},\\ d_0 \\cdot 2^{{k}}\\right)",
]
_CODE = [
    '''```python
def {fn}({things}: list[int], limit: int = {k}) -> list[int]:
    """Keep at most `limit` {things}, largest first."""
    kept = sorted({things}, reverse=True)
    return kept[:limit]
```''',
    '''```python
import time


def {fn}(attempts: int = {k}, base: float = 0.1) -> float:
    """Total wait of an exponential backoff, in seconds."""
    waited = 0.0
    for attempt in range(attempts):
        waited += base * 2 ** attempt
        time.sleep(0)  # a real {thing} would sleep here
    return waited
```''',
    '''```python
from collections import Counter


def {fn}(events: list[str]) -> dict[str, int]:
    """Count {things} by kind, most common first."""
    return dict(Counter(events).most_common({k}))
```''',
]


def check_words(words: object) -> int | None:
    """The ``words`` option of ``Emulator``: None, or a whole number of words in range."""
    if words is None:
        return None
    if type(words) is not int or not 1 <= words <= MAX_WORDS:
        raise InvalidRequest(f"words must be a whole number from 1 to {MAX_WORDS:,} (the length "
                             f"of every answer, in words), not {words!r}.")
    return words


def asked_words(header: str | None, default: int | None) -> int | None:
    """The length a request asks for: its X-Omni-Words header, else the emulator's option.
    A header that is not a whole number in range is refused with a 400 naming it."""
    if header is None:
        return default
    value = header.strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_WORDS:
        raise bad(f"{HEADER} must be a whole number of words from 1 to {MAX_WORDS:,}, "
                  f"not {value[:40]!r}.")
    return int(value)


def document(words: int, seed: str) -> str:
    """About ``words`` words of Markdown (to within a few), the same for the same seed.
    Blocks are whole (a code fence or a table is never cut); the last paragraph is plain
    sentences filling the count. Fewer than a handful of words give an empty string."""
    rng = random.Random(hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest())
    theme = rng.choice(THEMES)
    blocks = [f"# Notes on {theme[0]}"]
    count = len(blocks[0].split())
    if words < 8:
        return ""
    section = 1
    while True:
        for block in _section(rng, theme, section):
            size = len(block.split())
            if count + size > words:
                closing = _closing(rng, theme, words - count)
                return "\n\n".join(blocks + [closing] if closing else blocks)
            blocks.append(block)
            count += size
        section += 1
        if section % 3 == 1:  # a new theme now and then, so long answers do not loop visibly
            theme = rng.choice(THEMES)


def _section(rng: random.Random, theme: tuple[str, ...], n: int) -> list[str]:
    """One section: heading, prose with emphasis and inline math, bullets, code, a table,
    display math, a numbered list and a quote; each block whole."""
    fill = _filler(rng, theme)
    aspect = fill(rng.choice(_ASPECTS))
    numbered = [fill(s) for s in rng.sample(_STEPS, rng.randint(3, 4))]
    first = [rng.choice(kind) for kind in (_INLINE_MATH, _BOLD, _ITALIC)]
    first += rng.sample(_SENTENCES, rng.randint(0, 2))
    rng.shuffle(first)
    everything = _INLINE_MATH + _BOLD + _ITALIC + _SENTENCES
    return [
        f"## {n}. {aspect[0].upper()}{aspect[1:]}",
        " ".join(fill(s) for s in first),
        "\n".join(f"- {fill(s)}" for s in rng.sample(_BULLETS, rng.randint(3, 5))),
        fill("Here is a minimal version of the {thing}, small enough to test in isolation:"),
        fill(rng.choice(_CODE)),
        _table(rng, theme),
        fill("The {measure} follows, to a first approximation:"),
        "$$\n" + fill(rng.choice(_MATH)) + "\n$$",
        " ".join(fill(s) for s in rng.sample(everything, rng.randint(2, 3))),
        fill("### Checklist for the {thing}"),
        "\n".join(f"{i}. {s}" for i, s in enumerate(numbered, start=1)),
        "> " + fill(rng.choice(_QUOTES)),
    ]


def _filler(rng: random.Random, theme: tuple[str, ...]) -> Callable[[str], str]:
    """A function filling a template's {thing}, {things}, {measure}, {unit}, {fn} and {k}."""
    _, thing, things, measure, unit = theme
    names = {"thing": thing, "things": things, "measure": measure, "unit": unit,
             "fn": f"{rng.choice(['bounded', 'count', 'plan', 'trim', 'total'])}_{things.split()[-1]}",
             "k": str(rng.choice([3, 4, 8, 16, 32, 64]))}
    return lambda template: template.format(**names)


def _table(rng: random.Random, theme: tuple[str, ...]) -> str:
    _, thing, _, measure, unit = theme
    rows = ["| setting | " + f"{measure} ({unit}) | change |", "|---|---:|---|"]
    value = rng.randint(20, 90)
    for name in rng.sample(["baseline", "bounded", "batched", "cached", "tuned"], 3):
        step = rng.randint(-15, 25)
        rows.append(f"| {name} {thing} | {value + step} | {step:+d} |")
    return "\n".join(rows)


def _closing(rng: random.Random, theme: tuple[str, ...], words: int) -> str:
    """Whole plain sentences, as many words as fit in ``words``: short by at most the length
    of the shortest sentence, never a fragment."""
    fill = _filler(rng, theme)
    said: list[str] = []
    left = words
    while fits := [t for t in map(fill, _PLAIN) if len(t.split()) <= left]:
        said.append(rng.choice(fits))
        left -= len(said[-1].split())
    return " ".join(said)
