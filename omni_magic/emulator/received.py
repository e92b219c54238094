"""A plain summary of a validated request: what the reply and the usage report on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import tokens
from ..catalog import Model
from ..errors import InvalidRequest
from ..probe import probe_video
from .media import audio_seconds, human_bytes, image_size, load

if TYPE_CHECKING:
    from .dialect import Dialect


@dataclass(frozen=True)
class Attachment:
    """One media part of a user message, described for a person."""

    modality: str  # image | audio | video
    description: str  # "640x480, 12.3 kB", "by URL", ...
    tokens: int | None  # None: not knowable here, left out of the estimate
    sound_tokens: int = 0  # a video file's sound track, billed as audio


@dataclass(frozen=True)
class Received:
    """What a request asked for, as the emulator reports it."""

    model: Model
    model_name: str  # as the client spelled it; the chunks echo it
    messages: int
    turns: int  # user messages
    prompt: str  # text of the last user message
    attachments: tuple[Attachment, ...]  # of the last user message
    text_tokens: int
    media_tokens: dict[str, int]  # modality -> tokens, over every message
    uncounted: bool  # some media could not be counted (by URL, unreadable)
    voice: str | None  # None: text only
    thinking: bool
    max_tokens: int | None
    include_usage: bool
    audio_format: str = "wav"  # vllm-omni: how each speech chunk is encoded
    text_out: bool = True  # vllm-omni may be asked for speech only
    words: int | None = None  # a long answer of about this many words (markdown.py)
    seed: str = ""  # the request's digest: the same request, the same long answer

    @property
    def prompt_tokens(self) -> int:
        return self.text_tokens + sum(self.media_tokens.values())


def summarize(body: dict[str, Any], model: Model, dialect: Dialect,
              words: int | None = None) -> Received:
    """Summarize a body that validate() accepted in ``dialect``; ``words`` asks for a long
    answer of about that many words."""
    messages = body["messages"]
    hi_res = body.get("vl_high_resolution_images") is True and model.family.hi_res
    text_tokens = 0
    media: dict[str, int] = {}
    uncounted = False
    last_user: tuple[str, tuple[Attachment, ...]] = ("", ())
    for message in messages:
        text, parts = _split(message.get("content"))
        text_tokens += tokens.text_tokens(text, model) + tokens.MESSAGE_OVERHEAD
        found = tuple(_describe(part, model, hi_res) for part in parts)
        for att in found:
            media[att.modality] = media.get(att.modality, 0) + (att.tokens or 0)
            if att.sound_tokens:
                media["audio"] = media.get("audio", 0) + att.sound_tokens
            uncounted = uncounted or att.tokens is None
        if message.get("role") == "user":
            last_user = (text, found)
    options = body.get("stream_options")
    voice, thinking, audio_format, text_out = dialect.reads(body, model)
    if voice is not None and dialect.hidden_speech_prompt:
        # The service's own examples: asking for speech adds a hidden system prompt.
        text_tokens += tokens.speech_prompt_tokens(model)
    return Received(
        model=model,
        model_name=body["model"],
        messages=len(messages),
        turns=sum(1 for m in messages if m.get("role") == "user"),
        prompt=last_user[0],
        attachments=last_user[1],
        text_tokens=text_tokens,
        media_tokens=media,
        uncounted=uncounted,
        voice=voice,
        thinking=thinking,
        max_tokens=body.get("max_tokens", body.get("max_completion_tokens")),
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        audio_format=audio_format,
        text_out=text_out,
        words=words,
        seed=_digest(body) if words is not None else "",
    )


def _digest(body: dict[str, Any]) -> str:
    """What makes two requests the same question: the model and the messages."""
    asked = {"model": body["model"], "messages": body["messages"]}
    text = json.dumps(asked, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _split(content: Any) -> tuple[str, list[dict[str, Any]]]:
    """The message's text (parts joined by newlines) and its media parts."""
    if isinstance(content, str):
        return content, []
    texts = [p["text"] for p in content if p.get("type") == "text"]
    return "\n".join(texts), [p for p in content if p.get("type") != "text"]


def _describe(part: dict[str, Any], model: Model, hi_res: bool = False) -> Attachment:
    kind = part["type"]
    if kind == "image_url":
        return _image(part["image_url"]["url"], model, hi_res)
    if kind == "input_audio":
        return _audio(part["input_audio"]["data"], model)
    if kind == "audio_url":  # vLLM's part for audio by URL or data URL
        return _audio(part["audio_url"]["url"], model)
    if kind == "video_url":
        return _video(part["video_url"]["url"], model)
    return _frames(part["video"], model)


def _image(ref: str, model: Model, hi_res: bool = False) -> Attachment:
    payload = load(ref)
    if payload.data is None:
        return Attachment("image", "by URL", None)
    size = human_bytes(len(payload.data))
    dims = image_size(payload.data)
    if dims is None:
        return Attachment("image", f"{size}, not a readable image", None)
    return Attachment("image", f"{dims[0]}x{dims[1]} pixels, {size}",
                      tokens.image_tokens(dims[0], dims[1], model, hi_res=hi_res))


def _audio(ref: str, model: Model) -> Attachment:
    payload = load(ref)
    if payload.data is None:
        return Attachment("audio", "an audio clip by URL", None)
    probe = audio_seconds(payload.data)
    if probe is None:
        return Attachment("audio", "an empty audio clip", None)
    seconds, exact = probe
    length = (f"{seconds:.1f} seconds" if exact
              else f"about {seconds:.0f} seconds assuming 128 kbit/s")
    return Attachment("audio", f"an audio clip of {human_bytes(len(payload.data))}, {length}",
                      tokens.audio_tokens(seconds, model))


def _video(ref: str, model: Model) -> Attachment:
    payload = load(ref)
    if payload.data is None:
        return Attachment("video", "a video file by URL", None)
    size = human_bytes(len(payload.data))
    try:
        info = probe_video(payload.data, "the video")  # PyAV, when the video extra is installed
        visual = tokens.video_tokens(info.width or 0, info.height or 0, info.frames or 0,
                                     info.fps or 0.0, model)
    except InvalidRequest:  # no PyAV here, or nothing it can measure
        return Attachment("video", f"a video file of {size}, not decoded", None)
    sound = (tokens.audio_tokens(info.audio_seconds or info.seconds or 0.0, model)
             if info.has_audio else 0)
    return Attachment(
        "video",
        f"a video file of {size}, {info.seconds or 0:.1f} seconds of {info.width}x{info.height} "
        f"pixels at {info.fps:g} fps{', with sound' if info.has_audio else ', silent'}",
        visual, sound_tokens=sound,
    )


def _frames(refs: list[str], model: Model) -> Attachment:
    first = load(refs[0])
    dims = image_size(first.data) if first.data is not None else None
    what = f"a video of {len(refs)} frames"
    if dims is None:
        return Attachment("video", f"{what}{' by URL' if first.by_url else ''}", None)
    try:
        count = tokens.frames_tokens(dims[0], dims[1], len(refs), model)
    except InvalidRequest as exc:  # the seed's sampler refuses it (ratio over 200, 1 frame)
        return Attachment("video", f"{what} of {dims[0]}x{dims[1]} pixels, not countable: {exc}",
                          None)
    return Attachment("video", f"{what} of {dims[0]}x{dims[1]} pixels", count)
