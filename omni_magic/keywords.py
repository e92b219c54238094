"""The keywords ``OmniClient.prepare/stream/chat`` take: the options of ``build_request``, the
OpenAI-compatible body fields passed through as they are, and ``extra_body`` for the rest.
Anything else is refused by name, the way Python refuses an unknown keyword."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Collection, Mapping
from typing import Any

from .errors import InvalidRequest
from .request import build_request

# Body fields passed through as keywords: the OpenAI-compatible sampling and tool fields that
# DashScope's and vLLM's chat completions document. Anything else is refused by name, so a typo
# (``temprature=``) is an error instead of a field the server silently ignores; a field this list
# lacks goes in ``extra_body={...}``, the documented escape hatch.
PASS_THROUGH = frozenset({
    "temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty",
    "repetition_penalty", "seed", "stop", "n", "response_format", "tools", "tool_choice",
    "parallel_tool_calls", "logprobs", "top_logprobs",
})
# build_request's keywords, read from its signature so an option added there is accepted here.
_PARAMETERS = frozenset(name for name, p in inspect.signature(build_request).parameters.items()
                        if p.kind is inspect.Parameter.KEYWORD_ONLY)
# The options a caller may name: all but those the client fills in from its backend.
OPTIONS = _PARAMETERS - {"region", "dashscope"}


def checked_options(caller: str, options: dict[str, Any], settings: Collection[str] = ()) -> dict[str, Any]:
    """``options`` with ``extra_body`` merged in; refuses, by name, what is neither an option
    of build_request nor a field of PASS_THROUGH, as Python does for a function's keywords.
    (build_request then refuses the body fields its checks decide: messages, stream...)"""
    unknown = sorted(options.keys() - OPTIONS - PASS_THROUGH - {"extra_body"})
    if unknown:
        raise InvalidRequest(_unexpected(caller, unknown, settings))
    extra = options.pop("extra_body", None)
    if extra is None:
        return options
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        raise InvalidRequest(f"extra_body must be a dict of body field names to values, not "
                             f"{type(extra).__name__}: extra_body={{'field': value}}.")
    # A field named like a parameter of build_request would land on that parameter, or on a
    # body field its checks decide (model, audio, max_tokens): the option is the way to set it.
    named = sorted(extra.keys() & _PARAMETERS)
    if named:
        raise InvalidRequest(f"extra_body cannot set {', '.join(map(repr, named))}: omni_magic decides "
                             f"{'it' if len(named) == 1 else 'them'} from the options of OmniClient."
                             f"{caller}() (model=, voice=, audio=, max_tokens=...), which check the "
                             "service's rules.")
    twice = sorted(extra.keys() & options.keys())
    if twice:
        raise InvalidRequest(f"{', '.join(map(repr, twice))} given both as a keyword and in "
                             "extra_body: keep one.")
    return {**options, **extra}


def _unexpected(caller: str, names: list[str], settings: Collection[str]) -> str:
    """Python's wording for an unknown keyword, with the nearest known name and the way out."""
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(OPTIONS | PASS_THROUGH), n=1)
        if name in settings:
            hints.append(f"{name!r} is set on the client: OmniClient({name}=...)")
        elif close:
            hints.append(f"did you mean {close[0]!r}?")
    what = "an unexpected keyword argument" if len(names) == 1 else "unexpected keyword arguments"
    hint = f" ({'; '.join(hints)})" if hints else ""
    return (f"OmniClient.{caller}() got {what} {', '.join(map(repr, names))}{hint}; "
            "pass extra body fields with extra_body={...}.")
