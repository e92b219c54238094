"""What a model allows of a request: speech and voice, thinking, search, high resolution,
the output cap, the system message. Each rule cites the page that states it (the catalog's
sources); a rule the catalog does not mark confirmed warns instead of refusing, and a model
the catalog does not know gets none of them (the service decides).

``resolve`` returns the settings to send, the body fields they become, and the notes and
warnings to show; it raises InvalidRequest, before anything is sent, for what the
documentation says the service refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalog import DEFAULT_MODEL, Catalog, Model
from .errors import InvalidRequest


@dataclass
class Output:
    """What one request asks of the model, resolved against its family."""

    audio: bool
    voice: str | None
    thinking: bool
    fields: dict[str, Any] = field(default_factory=dict)  # body fields besides messages
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve(
    name: str,
    model: Model | None,
    catalog: Catalog,
    *,
    audio: bool | None,
    voice: str | None,
    thinking: bool | None,
    effort: str | None,
    search: bool,
    hi_res: bool,
    multichannel: bool = False,
    max_tokens: int | None,
    has_system: bool,
    region: str | None,
    dashscope: bool,
) -> Output:
    """Check the options against ``model`` (None: not in the catalog) and return the output.

    ``audio`` and ``thinking`` None mean the model's own default: speech when it speaks,
    thinking when its family thinks by default (Qwen3.8-Omni-Flash). ``dashscope`` False
    (a self-hosted server) leaves unknown names without a note.
    """
    _check_max_tokens(max_tokens)
    if model is None:
        return _unknown(name, catalog, audio=audio, voice=voice, thinking=thinking, effort=effort,
                        search=search, hi_res=hi_res, multichannel=multichannel,
                        max_tokens=max_tokens, dashscope=dashscope)
    out = Output(audio=False, voice=None, thinking=False)
    if not model.listed and dashscope:
        out.notes.append(
            f"{model.id} is not in omni_magic's catalog: {model.family.label}'s rules apply (by "
            "its name), its limits are not checked; the service decides.")
    out.warnings += catalog.check_region(model, region)
    _thinking(model, thinking, effort, voice, out)
    _speech(model, audio, voice, has_system, out)
    _extras(model, search, hi_res, multichannel, max_tokens, out)
    return out


def _check_max_tokens(max_tokens: int | None) -> None:
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise InvalidRequest(f"--max-tokens must be a positive whole number, not {max_tokens!r}.")


def _thinking(model: Model, thinking: bool | None, effort: str | None, voice: str | None,
              out: Output) -> None:
    family = model.family
    mode = family.thinking
    if mode.mode == "none":
        if thinking or effort:
            others = ("qwen3.8-omni-flash (text answers, thinks by default) or "
                      "qwen3-omni-flash (--think)")
            raise InvalidRequest(
                f"{model.id} has no thinking mode (the Qwen-Omni page: {family.label} 深度思考 "
                f"不支持). Drop --think{'/--effort' if effort else ''}, or use {others}.")
        return
    if mode.param == "enable_thinking":  # Qwen3-Omni-Flash: off unless asked
        if effort:
            raise InvalidRequest(
                f"--effort sets reasoning_effort, which Qwen3.8-Omni-Flash takes; {model.id} "
                "thinks with --think (enable_thinking) and has no effort levels.")
        out.thinking = bool(thinking)
        if out.thinking:
            out.fields["enable_thinking"] = True
        return
    # reasoning_effort (Qwen3.8-Omni-Flash): on by default at xhigh; "none" turns it off.
    if effort is not None and effort not in mode.levels:
        raise InvalidRequest(
            f"--effort {effort!r} is not a level {model.id} takes: use one of "
            f"{', '.join(mode.levels)} (low, medium and xhigh are distinct; minimal is low, "
            f"high and max are xhigh; {mode.off_level} turns thinking off).")
    if thinking is True and effort == mode.off_level:
        raise InvalidRequest(f"--think asks for thinking and --effort {effort} turns it off: drop one "
                             "of them.")
    if thinking is False or effort == mode.off_level:
        if effort not in (None, mode.off_level):
            raise InvalidRequest(f"--no-think turns thinking off, so --effort {effort} cannot go "
                                 "with it: drop one of them.")
        out.fields["reasoning_effort"] = mode.off_level
        return
    out.thinking = True
    if effort is not None:
        out.fields["reasoning_effort"] = effort


def _speech(model: Model, audio: bool | None, voice: str | None, has_system: bool,
            out: Output) -> None:
    family = model.family
    if out.thinking and family.speaks:  # Qwen3-Omni-Flash: "在思考模式下，不支持输出音频"
        if voice:
            raise InvalidRequest(
                "Thinking mode answers in text only, so a voice cannot be chosen with it. "
                "Drop -v/--voice, or drop --think to hear the answer.")
        if audio:
            raise InvalidRequest(
                "Thinking mode answers in text only: pass audio=False (--text-only in the "
                "magic), or drop thinking to get speech.")
        return
    if not family.speaks:
        if audio or voice:
            raise InvalidRequest(
                f"{model.id} answers in text only (the Qwen-Omni page: 输出模态 文本). Drop "
                f"{'-v/--voice' if voice else 'audio=True'}, or use qwen3.5-omni-plus to hear "
                "the answer.")
        return
    if audio is False:
        return
    voices = model.voices
    assert voices is not None  # the catalog refuses a speaking family without voices
    chosen = voice or voices.default
    match = voices.match(chosen)
    if match is None:
        listed = f"{', '.join(voices.names)} (see %omni voices {model.id})"
        if voices.confirmed and model.listed:
            raise InvalidRequest(f"Voice {chosen!r} is not available for {model.id}. Its voices: "
                                 f"{listed}.")
        out.warnings.append(
            f"Voice {chosen!r} is not in omni_magic's list for {model.id}, which is not confirmed "
            "by the service's documentation: it is sent as it is and the service decides.")
        match = chosen
    if has_system and not family.system_with_audio:
        raise InvalidRequest(
            f"{model.id} does not accept a system message when it speaks. Add --text-only, use "
            "qwen3.5-omni-plus, or send no system message (drop --system; one set on an earlier "
            'cell holds for the conversation until --new, %omni reset or --system "").')
    out.audio, out.voice = True, match


def _extras(model: Model, search: bool, hi_res: bool, multichannel: bool, max_tokens: int | None,
            out: Output) -> None:
    family = model.family
    if search:
        if family.search_strategy is None:
            raise InvalidRequest(
                f"{model.id} has no web search (the Qwen-Omni page: {family.label} 联网搜索 "
                "不支持). Drop --search, or use qwen3.8-omni-flash or qwen3.5-omni-plus.")
        # Chat Completions searches with the agent strategy on both Omni families that search.
        out.fields["enable_search"] = True
        out.fields["search_options"] = {"search_strategy": family.search_strategy}
    if hi_res:
        if not family.hi_res:
            raise InvalidRequest(
                f"{model.id} does not take vl_high_resolution_images (the Qwen-Omni page: "
                "Qwen-Omni-Turbo 和 Qwen3-Omni-Flash 不支持). Drop --hi-res, or use "
                "qwen3.5-omni-plus or qwen3.8-omni-flash.")
        out.fields["vl_high_resolution_images"] = True
    if multichannel:
        # The page documents use_multichannel for qwen3.8-omni-flash only; it says nothing of
        # the others refusing it, so they get a warning and the service decides.
        if not family.multichannel:
            out.warnings.append(f"{model.id} is not documented to take use_multichannel (stereo or "
                                "4-channel audio read as such; qwen3.8-omni-flash takes it): it is "
                                "sent and the service decides.")
        out.fields["use_multichannel"] = True
    if max_tokens is not None:
        limit = model.max_output
        if limit is not None and max_tokens > limit:
            message = f"--max-tokens {max_tokens} exceeds {model.id}'s output limit of {limit:,} tokens."
            if model.confirmed:
                raise InvalidRequest(message)
            out.warnings.append(f"{message} That limit is not confirmed by the service's "
                                "documentation: the request is sent and the service decides.")
        # The OpenAI-compatible Chat reference (2026) marks max_tokens "to be deprecated" but
        # lists no Omni model among those taking max_completion_tokens: the family says which.
        out.fields[family.max_tokens_param] = max_tokens


def self_hosted(*, audio: bool | None, voice: str | None, thinking: bool | None,
                max_tokens: int | None) -> Output:
    """A vLLM / vllm-omni server: its speakers and chat template decide (dialects.ask_vllm
    writes them); only what cannot go together is refused, as on every server."""
    _check_max_tokens(max_tokens)
    out = Output(audio=audio is not False and not thinking, voice=voice, thinking=bool(thinking))
    if thinking and (audio or voice):
        raise InvalidRequest("Thinking mode answers in text only: drop -v/--voice and speech "
                             "(--text-only), or drop --think to hear the answer.")
    if max_tokens is not None:
        out.fields["max_tokens"] = max_tokens
    return out


def _unknown(name: str, catalog: Catalog, *, audio: bool | None, voice: str | None,
             thinking: bool | None, effort: str | None, search: bool, hi_res: bool,
             multichannel: bool,
             max_tokens: int | None, dashscope: bool) -> Output:
    """A model the catalog knows nothing about: send what was asked, check nothing."""
    out = Output(audio=audio is not False, voice=None, thinking=bool(thinking))
    if dashscope:
        out.notes.append(f"{name} is not in omni_magic's catalog: limits and estimates not "
                         "checked; the service decides.")
    if out.thinking and out.audio and audio is None:
        out.audio = False  # thinking answers in text on every Omni model documented so far
    if out.audio:
        out.voice = voice or _default_voice(catalog)
        if dashscope and not voice:
            out.notes.append(f"It speaks as {out.voice}, the voice of the default model "
                             "(choose another with -v).")
    if thinking:
        out.fields["enable_thinking"] = True
    if effort:
        out.fields["reasoning_effort"] = effort
    if search:
        out.fields["enable_search"] = True
    if hi_res:
        out.fields["vl_high_resolution_images"] = True
    if multichannel:
        out.fields["use_multichannel"] = True
    if max_tokens is not None:
        out.fields["max_tokens"] = max_tokens
    return out


def _default_voice(catalog: Catalog) -> str:
    model = catalog.find(DEFAULT_MODEL)
    return (model.default_voice if model and model.default_voice else "Tina")

