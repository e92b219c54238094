"""Which requests the doctor sends, on which models, and what they may cost at most.

Three small requests: text only, a few spoken words, and a short thinking question. Each is
capped with ``max_tokens``, so the budget said up front is a bound: the prompt's estimate (by
``omni_magic.tokens``, the hidden speech prompt included) plus the cap of each answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import catalog as catalogs
from .. import tokens
from ..catalog import Catalog, Model
from ..errors import InvalidRequest
from ..request import build_request
from .step import SKIPPED, Step

TEXT_PROMPT = "Reply with one word: ready."
SPEECH_PROMPT = "Say: hello there."
THINKING_PROMPT = "What is 17 + 25? Answer with the number only."
CAPS = {"text": 24, "speech": 60, "thinking": 200}
# Models that think, best first: the 2026 page's recommendation, then Qwen3-Omni-Flash.
THINKERS = ("qwen3.8-omni-flash", "qwen3-omni-flash")


@dataclass
class Planned:
    """One request the doctor will send."""

    name: str  # text | speech | thinking
    model: str
    prompt: str
    options: dict[str, Any] = field(default_factory=dict)  # build_request's audio, thinking...
    why: str = ""  # why this model, when it is not the one asked for

    def request(self, catalog: Catalog, dashscope: bool) -> Any:
        return build_request(self.prompt, model=self.model, catalog=catalog, dashscope=dashscope,
                             **self.options)


def _thinks(model: Model | None) -> bool:
    return model is not None and model.family.thinking.mode != "none"


def _offered(model: Model | None, region: str | None, listed: set[str] | None) -> bool:
    if model is None or (region and model.regions and region not in model.regions):
        return False
    return listed is None or model.id.lower() in listed


def plan(catalog: Catalog, model: str, region: str | None, *, custom: bool, skip_speech: bool,
         skip_thinking: bool, listed: list[str] | None = None) -> tuple[list[Planned], list[Step]]:
    """The requests to send and the steps skipped (with why). ``listed``: the ids of
    ``GET /models``, when it answered; ``custom``: a server the user named (its models are its own)."""
    known = {i.lower() for i in listed} if listed else None
    info = catalog.resolve(model)
    thinking_off = {"thinking": False} if _thinks(info) else {}
    planned = [Planned("text", model, TEXT_PROMPT, {"audio": False, **thinking_off,
                                                    "max_tokens": CAPS["text"]})]
    skipped: list[Step] = []
    if skip_speech:
        skipped.append(Step("speech", SKIPPED, "skipped (--skip-speech)"))
    elif info is not None and not info.family.speaks:
        speaker = catalog.find(catalogs.DEFAULT_MODEL)
        if custom or not _offered(speaker, region, known):
            skipped.append(Step("speech", SKIPPED, f"{model} answers in text only, and no model that "
                                "speaks is offered here: nothing to check"))
        else:
            planned.append(Planned("speech", speaker.id, SPEECH_PROMPT, _speech(),
                                   f"{model} answers in text only"))
    else:
        planned.append(Planned("speech", model, SPEECH_PROMPT, {**_speech(), **thinking_off}))
    if skip_thinking:
        skipped.append(Step("thinking", SKIPPED, "skipped (--skip-thinking)"))
    elif _thinks(info):
        planned.append(Planned("thinking", model, THINKING_PROMPT, _thinking(info)))
    else:
        thinker = None if custom else next(
            (m for m in map(catalog.find, THINKERS) if _offered(m, region, known)), None)
        if thinker is None:
            family = info.family.label if info is not None else f"{model} (not in the catalog)"
            skipped.append(Step("thinking", SKIPPED, f"{family} has no thinking, and no model that "
                                "thinks is offered here: nothing to check"))
        else:
            planned.append(Planned("thinking", thinker.id, THINKING_PROMPT, _thinking(thinker),
                                   f"{model} does not think"))
    return planned, skipped


def _speech() -> dict[str, Any]:
    return {"audio": True, "max_tokens": CAPS["speech"]}


def _thinking(model: Model | None) -> dict[str, Any]:
    effort = {"effort": "low"} if model is not None and model.family.thinking.param == "reasoning_effort" else {}
    return {"audio": False, "thinking": True, "max_tokens": CAPS["thinking"], **effort}


def budget(planned: list[Planned], catalog: Catalog, dashscope: bool) -> tuple[int, str]:
    """(the most tokens the requests can spend, the line that says so up front)."""
    prompt = answers = 0
    for item in planned:
        try:
            prompt += item.request(catalog, dashscope).estimate.total
        except InvalidRequest:  # the step says what is wrong with it; its prompt is tiny
            prompt += tokens.text_tokens(item.prompt) + tokens.MESSAGE_OVERHEAD + tokens.REPLY_OVERHEAD
        answers += item.options.get("max_tokens", 0)
    total = prompt + answers
    names = ", ".join(f"{p.name} ({p.model})" for p in planned) or "none"
    spoken = ", the hidden speech prompt included" if any(p.options.get("audio") for p in planned) else ""
    line = (f"The doctor sends {len(planned)} small request(s): {names}. They spend about "
            f"{total:,} tokens at most: {prompt:,} of prompt (estimated by omni_magic.tokens{spoken}) "
            f"and {answers:,} of answers (each answer is capped).")
    return total, line
