"""The service's request checks, answered with the service's error bodies.

Top-level fields the service does not document are accepted and ignored, each noted in the
log (logger ``omni_magic.emulator``, by name only): the documentation does not say how the
service treats them, and its own samples send fields OpenAI's schema lacks (``extra_body``
puts ``enable_thinking`` at the top level). The order of the checks
follows what a client most needs to hear first: a malformed body, then the
stream flag, then the model, then everything that depends on the model, and last the
media's limits (bounds.py), the one check that decodes and measures the parts.
What a dialect reads differently (the output options, audio input, the media part types)
it says itself: ``dialect.py`` holds one strategy object per dialect.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from .. import catalog as catalogs
from .. import dialects
from ..catalog import Catalog, Model
from .bounds import check_media
from .errors import Rejected
from .errors import bad as _bad

if TYPE_CHECKING:
    from .dialect import Dialect

STREAM_ONLY = (
    "This model only support stream mode, please enable the stream parameter to access the model. "
)
MEDIA_KINDS = ("image_url", "input_audio", "video_url", "video")
# The two output choices the page documents: "现在支持两种：["text","audio"]、["text"]".
MODALITIES = (["text"], ["text", "audio"])
# The top-level fields of the service's OpenAI-compatible chat API ("OpenAI Chat" reference,
# the Qwen-Omni page, the 2026 parameter notices). Others are accepted and noted in the log.
FIELDS = frozenset({
    "model", "messages", "stream", "stream_options", "modalities", "audio", "enable_thinking",
    "thinking_budget", "reasoning_effort", "preserve_thinking", "max_tokens",
    "max_completion_tokens", "max_input_tokens", "temperature", "top_p", "top_k",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "seed", "stop", "n",
    "logprobs", "top_logprobs", "response_format", "tools", "tool_choice", "parallel_tool_calls",
    "enable_search", "search_options", "vl_high_resolution_images", "vl_enable_image_hw_output",
    "use_multichannel", "enable_code_interpreter", "translation_options",
})
log = logging.getLogger("omni_magic.emulator")
_NAMES = {"image_url": "image", "input_audio": "audio", "video_url": "video file",
          "video": "video frames", "audio_url": "audio"}
_MODALITY = {"image_url": "image", "input_audio": "audio", "audio_url": "audio",
             "video_url": "video", "video": "video"}


def validate(raw: bytes, dialect: Dialect,
             catalog: Catalog | None = None) -> tuple[dict[str, Any], Model]:
    """The parsed body and its model, or Rejected with the service's status and message.

    ``dialect`` reads speech, thinking and audio input its own way (``dialect.py``).
    ``catalog`` holds the models served and their families' rules (the 2026 Qwen-Omni page)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    if body.get("stream") is not True:
        raise _bad(STREAM_ONLY)
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise _bad("Model not specified: the parameter `model` is required.")
    model = (catalog or catalogs.default()).find(name)
    if model is None:
        raise Rejected(404, "model_not_found",
                       f"The model `{name}` does not exist or you do not have access to it.")
    audio = dialect.check_output(body, model, name)
    _check_messages(body.get("messages"), model, name, audio, dialect)
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise _bad("max_tokens must be a positive integer.")
    if dialect.name == dialects.DASHSCOPE:  # the limits are the service's; vllm-omni has none
        check_media(body["messages"], model)  # last: it decodes and measures every inline part
    return body, model


def check_output(body: dict[str, Any], model: Model, name: str) -> bool:
    """DashScope's modalities, thinking and audio options; True when speech is asked.

    DashScope's strategy only (``dialect.py``), so the unknown fields it notes are DashScope's."""
    note_unknown(body)
    family = model.family
    modalities = body.get("modalities", ["text"])
    wants_audio = isinstance(modalities, list) and "audio" in modalities
    if wants_audio and not family.speaks:  # "qwen3.8-omni-flash 仅输出文本"
        raise _bad(f"The model `{name}` only supports text output: set modalities to "
                   '["text"] and remove the audio parameter.')
    if modalities not in MODALITIES:
        raise _bad('modalities must be ["text"] or ["text","audio"], '
                   f"got {json.dumps(modalities)}.")
    if "reasoning_effort" in body and "thinking_budget" in body:
        raise _bad("reasoning_effort and thinking_budget cannot be set together.")
    effort = body.get("reasoning_effort")
    if effort is not None and family.thinking.param == "reasoning_effort" \
            and effort not in family.thinking.levels:
        raise _bad(f"reasoning_effort must be one of {', '.join(family.thinking.levels)}, "
                   f"got {json.dumps(effort)}.")
    if body.get("enable_thinking") is True:
        if family.thinking.mode == "none":
            raise _bad(f"The model `{name}` does not support thinking mode (enable_thinking).")
        if wants_audio:
            raise _bad('Audio output is not supported in thinking mode: set modalities to '
                       '["text"] or enable_thinking to false.')
        if "audio" in body:  # "思考模式下不支持设置audio参数", even with modalities ["text"]
            raise _bad("The audio parameter is not supported in thinking mode: remove it or "
                       "set enable_thinking to false.")
    if not wants_audio:
        return False
    audio = body.get("audio")
    if not isinstance(audio, dict) or not isinstance(audio.get("voice"), str):
        raise _bad('audio.voice is required when modalities includes "audio".')
    voice = audio["voice"]
    voices = model.voices
    # Only a confirmed list can say no; an unconfirmed one lets the voice through.
    if voices is not None and voices.confirmed and voices.match(voice) is None:
        raise _bad(f"The voice `{voice}` is not supported by the model `{name}`. "
                   f"Supported voices: {', '.join(voices.names)}.")
    if audio.get("format", "wav") != "wav":
        raise _bad(f"audio.format `{audio.get('format')}` is not supported: "
                   'the only supported format is "wav".')
    return True


def note_unknown(body: dict[str, Any]) -> None:
    """Log each top-level field the service does not document, by name: never its value,
    which may hold anything, down to a secret."""
    for name in body:
        if name not in FIELDS:
            log.info("Accepted and ignored the top-level field %s: the service's documentation "
                     "does not say how it treats it.", json.dumps(name[:80]))


def thinks(body: dict[str, Any], model: Model) -> bool:
    """Whether the answer streams reasoning: asked with enable_thinking (Qwen3-Omni-Flash), or
    by default unless reasoning_effort is "none" (Qwen3.8-Omni-Flash)."""
    mode = model.family.thinking
    if mode.mode == "default":
        return body.get("enable_thinking") is not False and body.get("reasoning_effort") != mode.off_level
    return mode.mode == "optional" and body.get("enable_thinking") is True


def _check_messages(messages: Any, model: Model, name: str, audio: bool, dialect: Dialect) -> None:
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty list.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _bad(f"messages[{i}] must be an object with role and content.")
        role = message.get("role")
        content = message.get("content")
        if role == "user":
            _check_user(content, i, dialect, model)
        elif role in ("system", "assistant"):
            if not _text_only(content):
                raise _bad(f"messages[{i}]: a{'n' if role == 'assistant' else ''} {role} "
                           "message must contain text only.")
            if (role == "system" and audio and not model.family.system_with_audio
                    and dialect.system_rule):
                raise _bad(f"The model `{name}` does not support a system message when "
                           "audio output is requested: remove the system message or ask "
                           'for modalities ["text"].')
        else:
            raise _bad(f"messages[{i}]: unknown role {json.dumps(role)}; "
                       "use system, user or assistant.")


def _text_only(content: Any) -> bool:
    if isinstance(content, str):
        return True
    return isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content)


def _check_user(content: Any, i: int, dialect: Dialect, model: Model) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise _bad(f"messages[{i}].content must be a string or a non-empty list of parts.")
    counts: dict[str, int] = {}
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise _bad(f"messages[{i}]: a text part needs a string `text`.")
            continue
        if kind not in dialect.media_kinds:
            raise _bad(f"messages[{i}]: unknown content type {json.dumps(kind)}.")
        if not _has_payload(part, kind):
            raise _bad(f"messages[{i}]: the {kind} part has no data or URL.")
        if kind == "input_audio":
            dialect.check_audio_data(part[kind]["data"], i)
        counts[kind] = counts.get(kind, 0) + 1
    family = model.family
    modalities = {_MODALITY[k] for k in counts}
    if len(modalities) > 1 and not family.mixed_media:
        kinds = " and ".join(_NAMES[k] for k in counts)
        raise _bad(f"messages[{i}] mixes {kinds}: a user message may hold text plus at most "
                   "one other modality. Send them in separate messages.")
    for modality, parts in (("audio", ("input_audio", "audio_url")), ("video", ("video_url", "video"))):
        cap = getattr(family.limits, modality).max_count
        count = sum(counts.get(k, 0) for k in parts)
        if cap is not None and count > cap:
            raise _bad(f"messages[{i}] holds {count} {modality} parts: at most {cap} "
                       "are allowed per message.")


def _has_payload(part: dict[str, Any], kind: str) -> bool:
    value = part.get(kind)
    if kind == "video":
        return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    key = "data" if kind == "input_audio" else "url"
    return isinstance(value, dict) and isinstance(value.get(key), str) and bool(value[key])
