"""Build the JSON body of a chat request and enforce the service's rules first.

Every rule the service would answer with a 400 is checked here, so a request
that would be refused is never sent (SPEC §1, "Rules a request must satisfy").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from . import catalog as catalogs
from . import dialects, rules, tokens
from .attachments import Attachment, InlineData
from .body import check_text
from .catalog import Catalog, Family, Model
from .errors import InvalidRequest
from .fit import fit_media
from .history import EarlierMedia, check_history_media, earlier, go_on, media_as_text
from .measure import PART_MODALITY, measure_media

# Fields the checks decide; a pass-through keyword may not set them behind their back.
RESERVED = frozenset({
    "messages", "stream", "stream_options", "modalities", "enable_thinking", "reasoning_effort",
    "enable_search", "search_options", "vl_high_resolution_images", "use_multichannel",
    "max_completion_tokens",
})

_PART_TYPE = {"image": "image_url", "audio": "input_audio", "video": "video_url", "frames": "video"}


@dataclass
class ChatRequest:
    """A checked request: the body to send and the estimate made before sending."""

    body: dict[str, Any]
    model: str
    audio: bool
    voice: str | None
    thinking: bool
    estimate: tokens.TokenEstimate = field(default_factory=tokens.TokenEstimate)
    user_message: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)  # as sent (--fit transforms them)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was decided for the user, said once
    dialect: str = dialects.DASHSCOPE  # the server's dialect the body is written in


def build_request(
    prompt: str,
    *,
    model: str = catalogs.DEFAULT_MODEL,
    voice: str | None = None,
    audio: bool | None = None,
    thinking: bool | None = None,
    effort: str | None = None,
    search: bool = False,
    hi_res: bool = False,
    multichannel: bool = False,
    attachments: Sequence[Attachment] = (),
    history: Sequence[dict[str, Any]] | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    region: str | None = None,
    dashscope: bool = True,
    history_media: str = "keep",
    earlier_media: Sequence[EarlierMedia] = (),
    dialect: str = dialects.DASHSCOPE,
    catalog: Catalog | None = None,
    fit: bool = False,
    **extra: Any,
) -> ChatRequest:
    """Check the combination and return the body. Raises InvalidRequest naming the fix.

    ``audio`` and ``thinking`` None take the model's own defaults (speech when it speaks;
    thinking on Qwen3.8-Omni-Flash). ``effort`` is Qwen3.8-Omni-Flash's ``reasoning_effort``;
    ``search`` asks for web search, ``hi_res`` for ``vl_high_resolution_images``,
    ``multichannel`` for ``use_multichannel`` (stereo or 4-channel audio). A model the
    catalog does not know goes through with a note when ``dashscope`` (unchecked: the
    service decides); ``dashscope`` False is a self-hosted server, whose names are its own.
    Other keywords (``temperature``, ``top_p``, ``seed``...) pass through into the body.
    ``dialect`` "vllm-omni" (or "vllm") writes the body the way vLLM reads it; see dialects.py.
    DashScope's media limits and frame sampler apply to DashScope (and the emulator) only.

    ``history`` messages go before the prompt; ``earlier_media`` are the attachments of its
    user turns, checked and counted again for this model (they are sent again; see history.py).
    ``history_media`` "text" sends those turns with each media part replaced by a short text
    saying what was there.

    ``fit`` transforms a local file that breaks a limit a transformation can cure (see fit.py)
    instead of refusing it; the estimate is made on what is sent. A frame list of one video
    file is always turned into the frames the service would sample.
    """
    check_text(prompt, "The prompt")  # a lone surrogate, refused by name before anything else
    check_text(system, "The system message")
    dialect = dialects.resolve(dialect)
    vllm = dialect == dialects.VLLM_OMNI
    catalog = catalog or catalogs.default()
    reserved = sorted(RESERVED & extra.keys())
    if reserved:
        raise InvalidRequest(
            f"{', '.join(reserved)} cannot be passed through: use the model=, voice=, audio=, "
            "thinking=, effort=, search=, hi_res=, multichannel= and history= options, which check the "
            "service's rules."
        )
    if not prompt.strip() and not attachments:
        raise InvalidRequest("The prompt is empty: write it in the cell body, below the %%omni line.")
    info = catalog.resolve(model)
    model_id = info.id if info is not None else model.strip()
    has_system = bool(system) or any(m.get("role") == "system" for m in history or ())
    if vllm:  # the server's own model: its speakers and template, none of DashScope's rules
        out = rules.self_hosted(audio=audio, voice=voice, thinking=thinking, max_tokens=max_tokens)
    else:
        out = rules.resolve(
            model_id, info, catalog, audio=audio, voice=voice, thinking=thinking, effort=effort,
            search=search, hi_res=hi_res, multichannel=multichannel, max_tokens=max_tokens,
            has_system=has_system, region=region, dashscope=dashscope,
        )
    check_history_media(history_media)
    as_text = history_media == "text"
    # DashScope's media limits and frame sampler bind DashScope (and its emulator) only: a vLLM
    # or other self-hosted server has its own, and decides. (What a model's message may hold,
    # check_parts, stays the model's rule on every server.)
    strict = dashscope and not vllm
    family = info.family if info is not None else None
    # The kinds first, so a bad combination is refused before any file is read or transformed.
    check_parts([_PART_TYPE[a.kind] for a in attachments], "This message", family)
    attachments = fit_media(attachments, info or catalog.resolve(catalogs.DEFAULT_MODEL), hi_res,
                            apply=fit, check=strict and info is not None)

    user = user_message(prompt, attachments, dialect)
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    turn = 0
    for message in history or ():
        message = media_as_text(message) if as_text else message
        turn += message.get("role") == "user"
        check_history_message(message, family, fix=go_on(model_id, turn, message))
        messages.append(message)
    messages.append(user)

    body: dict[str, Any] = {
        "model": model_id,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"] if out.audio else ["text"],
    }
    if out.audio and not vllm:
        body["audio"] = {"voice": out.voice, "format": "wav"}
    body.update(out.fields)
    body.update(extra)
    if vllm:
        dialects.ask_vllm(body, audio=out.audio, voice=voice, thinking=out.thinking)

    warnings = list(out.warnings)
    est = estimate(messages, info)
    if out.audio and not vllm and info is not None and info.family.tokens.speech_prompt_tokens:
        est.add("speech prompt (hidden)", "text", tokens.speech_prompt_tokens(info),
                "estimate: the service adds a system prompt when asked to speak (207 vs 11 "
                "prompt tokens in its own examples)")
    if not as_text:
        resent, found = earlier(earlier_media, info, model_id, hi_res, strict)
        warnings += found
        est.parts += resent.parts
    media, found = measure_media(attachments, info, hi_res, strict)
    warnings += found
    est.parts += media.parts
    limit = info.input_limit(out.thinking) if info is not None and strict else None
    if limit is not None and est.total > limit:
        mode = "in thinking mode " if out.thinking else ""
        warnings.append(
            f"The estimate ({est.total:,} tokens) exceeds {info.id}'s input limit {mode}of "
            f"{limit:,}: the service will likely refuse it. Use fewer or "
            "smaller media, or start a new conversation (--new)."
        )
    return ChatRequest(
        body=body, model=model_id, audio=out.audio, voice=out.voice, thinking=out.thinking,
        estimate=est, user_message=user, attachments=list(attachments), warnings=warnings,
        notes=out.notes + [note for a in attachments for note in a.notes], dialect=dialect,
    )


def user_message(prompt: str, attachments: Sequence[Attachment] = (),
                 dialect: str = dialects.DASHSCOPE) -> dict[str, Any]:
    """A user message: plain text, or media parts followed by the text (the seed's order). The
    combination of parts is checked by the caller, before any file is read (``check_parts``)."""
    if not attachments:
        return {"role": "user", "content": prompt}
    if dialect == dialects.VLLM_OMNI:
        parts = [dialects.vllm_part(a) for a in attachments]
    else:
        parts = [a.to_part() for a in attachments]
    if prompt.strip():
        parts.append({"type": "text", "text": prompt})
    return {"role": "user", "content": parts}


def check_parts(types: Sequence[str | None], subject: str, family: Family | None,
                fix: str | None = None) -> None:
    """One user message against its family: Qwen3-Omni-Flash and Turbo take text plus one other
    modality ("仅支持文本与单一其他模态"), Qwen3.5/3.8-Omni any mix ("任意组合"); each family caps
    the audio and video files of a message. A model outside the catalog is not checked.
    ``fix`` replaces the advice (an earlier turn's message cannot be split any more)."""
    if family is None:
        return
    kinds = sorted({PART_MODALITY[t] for t in types if t in PART_MODALITY})
    if len(kinds) > 1 and not family.mixed_media:
        raise InvalidRequest(
            f"{subject} carries more than one kind of media ({' and '.join(kinds)}); "
            f"{family.label} takes text plus only one other kind in a message. " + (fix or
            "Send them in separate cells (turns), or use qwen3.5-omni-plus or qwen3.8-omni-flash, "
            "which take any mix.")
        )
    for parts, what, kind in ((("input_audio", "audio_url"), "audio file", "audio"),
                              (("video_url", "video"), "video", "video")):
        count = sum(types.count(part) for part in parts)
        cap = getattr(family.limits, kind).max_count
        if cap is not None and count > cap:
            raise InvalidRequest(
                f"{subject} holds {count} {what}s (files or frame lists); {family.label} takes at "
                f"most {cap} in a message. " + (fix or "Send the others in separate cells (turns).")
            )


def check_history_message(message: dict[str, Any], family: Family | None = None,
                          fix: str | None = None) -> None:
    """A past turn: assistant turns are text only; user turns follow the new message's rules
    (``fix`` says what to do instead, as ``check_parts`` takes it)."""
    role = message.get("role")
    content = message.get("content")
    if role == "assistant":
        if isinstance(content, list) and any(p.get("type") != "text" for p in content):
            raise InvalidRequest("Assistant messages in the history must be text only.")
    elif role == "user" and isinstance(content, list):
        check_parts([p.get("type") for p in content], "A user message in the history", family, fix)
    elif role not in ("user", "system"):
        raise InvalidRequest(f"History messages must be user or assistant turns, not {role!r}.")


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if p.get("type") == "text")


def estimate(messages: Sequence[dict[str, Any]], model: Model | None = None) -> tokens.TokenEstimate:
    """Text tokens of the whole prompt in the model's vocabulary; ``build_request`` adds the
    media parts."""
    est = tokens.TokenEstimate()
    text = tokens.REPLY_OVERHEAD + sum(tokens.text_tokens(message_text(m), model)
                                       + tokens.MESSAGE_OVERHEAD for m in messages)
    est.add("text", "text", text, tokens.text_method(model))
    return est


def elide_media(body: dict[str, Any], keep: int = 48) -> dict[str, Any]:
    """A copy of the body with data URLs shortened, for showing (--dry-run)."""

    def walk(value: Any) -> Any:
        if isinstance(value, InlineData):
            return f"{value.prefix}…<{value.nbytes:,} bytes of {value.name}>"
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith("data:") and len(value) > keep:
            return f"{value[:keep]}…<{len(value) - keep} more characters>"
        return value

    return walk(body)
