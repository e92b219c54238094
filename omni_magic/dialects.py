"""Dialects of the chat-completions protocol: DashScope's, and that of vLLM / vllm-omni.

Both take OpenAI-style requests and stream OpenAI-style chunks; they part ways where
speech, audio input and thinking are concerned::

                      DashScope                       vLLM, vllm-omni
    audio input       input_audio.data "data:;base64,..."   raw base64 (vLLM adds the prefix)
    frames            {"type": "video", "video": [...]}     not accepted: a video file only
    speech asked      audio {"voice", "format": "wav"}      audio {"format": "wav"}, "speaker"
    thinking          enable_thinking: true                 chat_template_kwargs.enable_thinking
    speech streamed   delta.audio.data, PCM16 pieces        delta.content of a chunk whose
                                                            top-level modality is "audio": one
                                                            whole audio file per chunk
    reasoning         delta.reasoning_content               delta.reasoning (older: _content)

Plain vLLM (the Qwen-Omni thinker, text only) reads requests the same way and ignores the
speech fields, so "vllm" is an alias of "vllm-omni". The shapes follow vllm-omni's
``entrypoints/openai/serving_chat.py`` (commit 00a3619b) and its audio protocol: each speech
chunk is written with soundfile, a complete WAV by default (raw PCM16 for ``pcm16``), with
``audio_metadata`` on the choice in newer releases.

Here: the dialect names, the request-side changes and reading ``/models`` for
auto-detection. The response side needs no dialect: ``events`` reads a chunk's speech with
``speech.py`` only when it carries a non-text ``modality``, so DashScope's chunks never pay
for it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequest

if TYPE_CHECKING:
    from .attachments import Attachment, InlineData

DASHSCOPE = "dashscope"
VLLM_OMNI = "vllm-omni"
AUTO = "auto"
DIALECTS = (DASHSCOPE, VLLM_OMNI)
_ALIASES = {"vllm": VLLM_OMNI}
# What ``GET /models`` says of each model on a vLLM server (vllm-omni reuses vLLM's listing).
VLLM_OWNER = "vllm"


def resolve(name: str, *, allow_auto: bool = False) -> str:
    """The canonical dialect for a user's spelling; InvalidRequest naming the choices."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in DIALECTS or (allow_auto and key == AUTO):
        return key
    choices = ((AUTO,) if allow_auto else ()) + DIALECTS
    raise InvalidRequest(
        f"Unknown dialect {name!r}: use {', '.join(choices)} (vllm works too and means "
        "vllm-omni: plain vLLM reads requests the same way)."
    )


def from_models(listing: Any) -> str:
    """The dialect a ``GET /models`` answer reveals: vLLM's entries are owned by "vllm"."""
    data = listing.get("data") if isinstance(listing, dict) else None
    if isinstance(data, list) and any(
        isinstance(entry, dict) and entry.get("owned_by") == VLLM_OWNER for entry in data
    ):
        return VLLM_OMNI
    return DASHSCOPE


# -- requests ----------------------------------------------------------------------------------
def ask_vllm(body: dict[str, Any], *, audio: bool, voice: str | None, thinking: bool) -> None:
    """Add what vLLM reads for speech and thinking to a body built without DashScope's fields.

    ``voice`` is sent as ``speaker`` only when the user chose one: DashScope's voice names mean
    nothing to vLLM, whose speakers are the model's own (Qwen2.5-Omni: Chelsie, Ethan), and an
    unknown one is refused by the server.
    """
    if audio:
        body["audio"] = {"format": "wav"}  # vllm-omni reads only the format from it
        if voice and "speaker" not in body:
            body["speaker"] = voice
    if thinking:
        # Qwen3's chat template switches thinking; a pass-through chat_template_kwargs is kept.
        kwargs = body.get("chat_template_kwargs")
        body["chat_template_kwargs"] = {**(kwargs if isinstance(kwargs, dict) else {}),
                                        "enable_thinking": True}


def vllm_part(attachment: Attachment) -> dict[str, Any]:
    """The content part vLLM's chat parser takes for ``attachment``."""
    if attachment.kind == "frames":
        raise InvalidRequest(
            "vLLM takes a video as a file, not as a list of frames (that part is DashScope's). "
            "Attach a video file with --video instead; ffmpeg makes one from frames: "
            "ffmpeg -framerate 2 -i frame%03d.jpg clip.mp4"
        )
    first = attachment.items()[0]
    if attachment.kind == "image":
        return {"type": "image_url", "image_url": {"url": first}}
    if attachment.kind == "video":
        url = first if isinstance(first, str) else _with_prefix(first, _video_prefix(first))
        return {"type": "video_url", "video_url": {"url": url}}
    if isinstance(first, str):
        # input_audio takes base64 only (vLLM builds the data URL around it): a URL goes as
        # audio_url, which vLLM fetches (or decodes, for a data: URL).
        return {"type": "audio_url", "audio_url": {"url": first}}
    return {"type": "input_audio",
            "input_audio": {"data": _with_prefix(first, ""), "format": attachment.audio_format()}}


def _with_prefix(data: InlineData, prefix: str) -> InlineData:
    return data if data.prefix == prefix else replace(data, prefix=prefix)


def _video_prefix(data: InlineData) -> str:
    """vLLM reads the data URL's type: the one the bytes name (the probe's policy)."""
    from .probe import media_type

    found = media_type(data.path if data.path is not None else data.name,
                       data.data if data.path is None else None)
    mime = found[1] if found else None
    return f"data:{mime if mime and mime.startswith('video/') else 'video/mp4'};base64,"
