"""Build the JSON body of a chat request and enforce the service's rules first.

Every rule the service would answer with a 400 is checked here, so a request
that would be refused is never sent (SPEC §1, "Rules a request must satisfy").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from . import catalog, dialects, tokens
from .attachments import Attachment, InlineData
from .errors import InvalidRequest

# Fields the checks above decide; a pass-through keyword may not set them behind their back.
RESERVED = frozenset({"messages", "stream", "stream_options", "modalities", "enable_thinking"})

_PART_MODALITY = {
    "image_url": "image", "input_audio": "audio", "video_url": "video", "video": "video",
    "audio_url": "audio",  # vLLM's part for audio by URL
}
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
    warnings: list[str] = field(default_factory=list)
    media_tokens: dict[str, int] = field(default_factory=dict)  # this message's media only
    dialect: str = dialects.DASHSCOPE  # the server's dialect the body is written in


def build_request(
    prompt: str,
    *,
    model: str = catalog.DEFAULT_MODEL,
    voice: str | None = None,
    audio: bool = True,
    thinking: bool = False,
    attachments: Sequence[Attachment] = (),
    history: Sequence[dict[str, Any]] | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    region: str | None = None,
    allow_unknown_model: bool = False,
    history_tokens: dict[str, int] | None = None,
    dialect: str = dialects.DASHSCOPE,
    **extra: Any,
) -> ChatRequest:
    """Check the combination and return the body. Raises InvalidRequest naming the fix.

    Other keywords (``temperature``, ``top_p``, ``seed``...) pass through into the body.
    ``dialect`` "vllm-omni" (or "vllm") writes the body the way vLLM reads it; see dialects.py.
    """
    dialect = dialects.resolve(dialect)
    vllm = dialect == dialects.VLLM_OMNI
    reserved = sorted(RESERVED & extra.keys())
    if reserved:
        raise InvalidRequest(
            f"{', '.join(reserved)} cannot be passed through: use the model=, voice=, audio=, "
            "thinking= and history= options, which check the service's rules."
        )
    if not prompt.strip() and not attachments:
        raise InvalidRequest("The prompt is empty: write it in the cell body, below the %%omni line.")
    info = catalog.find_model(model)
    if info is None and not allow_unknown_model:
        catalog.get_model(model)  # raises with the list of known models
    if info is not None:
        catalog.get_model(model, region)  # region check
    model_id = info.id if info is not None else model.strip()

    if thinking:
        if info is not None and not info.family.thinking:
            raise InvalidRequest(
                f"{model} has no thinking mode; only qwen3-omni-flash models do. "
                "Drop --think or use -m qwen3-omni-flash."
            )
        if voice:
            raise InvalidRequest(
                "Thinking mode answers in text only, so a voice cannot be chosen with it. "
                "Drop -v/--voice, or drop --think to hear the answer."
            )
        if audio:
            raise InvalidRequest(
                "Thinking mode answers in text only: pass audio=False (--text-only in the "
                "magic), or drop thinking to get speech."
            )

    # vLLM's speakers are the model's own: only one the user named is sent, unchecked here.
    if audio and not vllm:
        if info is not None:
            voice = voice or info.default_voice
            if voice not in info.family.voices:
                match = next((v for v in info.family.voices if v.lower() == voice.lower()), None)
                if match is None:
                    raise InvalidRequest(
                        f"Voice {voice!r} is not available for {info.id}. Its voices: "
                        f"{', '.join(info.family.voices)} (see %omni voices {info.id})."
                    )
                voice = match
            has_system = bool(system) or any(m.get("role") == "system" for m in history or ())
            if has_system and not info.family.system_with_audio:
                raise InvalidRequest(
                    f"{info.id} does not accept a system message when it speaks. Drop --system, "
                    "add --text-only, or use qwen3-omni-flash."
                )
        else:
            voice = voice or catalog.DEFAULT_VOICE
    elif not audio:
        voice = None

    if max_tokens is not None:
        if max_tokens < 1:
            raise InvalidRequest(f"--max-tokens must be a positive number, not {max_tokens}.")
        if info is not None and max_tokens > info.max_output:
            raise InvalidRequest(
                f"--max-tokens {max_tokens} exceeds {info.id}'s output limit of {info.max_output} tokens."
            )

    user = user_message(prompt, attachments, dialect)
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    for message in history or ():
        check_history_message(message)
        messages.append(message)
    messages.append(user)

    body: dict[str, Any] = {
        "model": model_id,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"] if audio else ["text"],
    }
    if audio and not vllm:
        body["audio"] = {"voice": voice, "format": "wav"}
    if thinking and not vllm:
        body["enable_thinking"] = True
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update(extra)
    if vllm:
        dialects.ask_vllm(body, audio=audio, voice=voice, thinking=thinking)

    warnings: list[str] = []
    est = estimate(messages)
    if history_tokens:
        for modality, count in history_tokens.items():
            est.add(f"{modality} in earlier turns", modality, count, "estimated when first sent")
    media = tokens.TokenEstimate()
    for attachment in attachments:
        if info is not None:
            warnings += attachment.check(info)
        attachment.estimate(info or catalog.get_model(catalog.DEFAULT_MODEL), media)
    est.parts += media.parts
    if info is not None and est.total > info.input_limit(thinking):
        mode = "in thinking mode " if thinking else ""
        warnings.append(
            f"The estimate ({est.total:,} tokens) exceeds {info.id}'s input limit {mode}of "
            f"{info.input_limit(thinking):,}: the service will likely refuse it. Use fewer or "
            "smaller media, or start a new conversation (--new)."
        )
    return ChatRequest(
        body=body, model=model_id, audio=audio, voice=voice, thinking=thinking,
        estimate=est, user_message=user, warnings=warnings, media_tokens=media.by_modality(),
        dialect=dialect,
    )


def user_message(prompt: str, attachments: Sequence[Attachment] = (),
                 dialect: str = dialects.DASHSCOPE) -> dict[str, Any]:
    """A user message: plain text, or media parts followed by the text (the seed's order)."""
    # Checked on the kinds first, so a bad combination is refused before any file is read.
    check_parts([_PART_TYPE[a.kind] for a in attachments], "This message")
    if not attachments:
        return {"role": "user", "content": prompt}
    if dialect == dialects.VLLM_OMNI:
        parts = [dialects.vllm_part(a) for a in attachments]
    else:
        parts = [a.to_part() for a in attachments]
    if prompt.strip():
        parts.append({"type": "text", "text": prompt})
    return {"role": "user", "content": parts}


def check_parts(types: Sequence[str | None], subject: str) -> None:
    """One user message: text plus one other modality, at most one audio and one video."""
    kinds = sorted({_PART_MODALITY[t] for t in types if t in _PART_MODALITY})
    if len(kinds) > 1:
        raise InvalidRequest(
            f"{subject} carries more than one kind of media ({' and '.join(kinds)}); a message can "
            "carry text plus only one other kind. Send them in separate cells (turns)."
        )
    for parts, what in ((("input_audio", "audio_url"), "audio file"),
                        (("video_url",), "video file")):
        count = sum(types.count(part) for part in parts)
        if count > 1:
            raise InvalidRequest(
                f"Only one {what} can be attached to a message: {subject.lower()} has "
                f"{count}, and each message takes at most one."
            )
    if types.count("video_url") + types.count("video") > 1:
        raise InvalidRequest(
            "Attach either one video file or one list of frames, not both: each message takes "
            "at most one video."
        )


def check_history_message(message: dict[str, Any]) -> None:
    """A past turn: assistant turns are text only; user turns follow the new message's rules."""
    role = message.get("role")
    content = message.get("content")
    if role == "assistant":
        if isinstance(content, list) and any(p.get("type") != "text" for p in content):
            raise InvalidRequest("Assistant messages in the history must be text only.")
    elif role == "user" and isinstance(content, list):
        check_parts([p.get("type") for p in content], "A user message in the history")
    elif role not in ("user", "system"):
        raise InvalidRequest(f"History messages must be user or assistant turns, not {role!r}.")


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or () if p.get("type") == "text")


def estimate(messages: Sequence[dict[str, Any]]) -> tokens.TokenEstimate:
    """Text tokens of the whole prompt; ``build_request`` adds the media parts."""
    est = tokens.TokenEstimate()
    text = sum(tokens.text_tokens(message_text(m)) + tokens.MESSAGE_OVERHEAD for m in messages)
    est.add("text", "text", text, tokens.text_method())
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
