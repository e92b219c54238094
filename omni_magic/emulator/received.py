"""A plain summary of a validated request: what the reply and the usage report on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import tokens
from ..catalog import Model
from ..errors import InvalidRequest
from ..probe import probe_video, sniff_kind
from .bounds import judge, log, refusal
from .fetch import Fetcher, is_url
from .media import audio_seconds, human_bytes, image_size, load, not_the_kind

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
    uncounted: bool  # some media could not be measured here (a video without PyAV)
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
              words: int | None = None, fetcher: Fetcher | None = None) -> Received:
    """Summarize a body that validate() accepted in ``dialect``; ``words`` asks for a long
    answer of about that many words. Media by URL is downloaded with ``fetcher`` (default:
    online); media that cannot be read, or is not the kind its part claims, raises the
    service's 400 (Rejected) naming the part."""
    fetcher = fetcher or Fetcher()
    messages = body["messages"]
    hi_res = body.get("vl_high_resolution_images") is True and model.family.hi_res
    text_tokens = tokens.REPLY_OVERHEAD  # the answer's opening, once per request
    media: dict[str, int] = {}
    uncounted = False
    last_user: tuple[str, tuple[Attachment, ...]] = ("", ())
    for m, message in enumerate(messages):
        text, parts = _split(message.get("content"))
        text_tokens += tokens.text_tokens(text, model) + tokens.MESSAGE_OVERHEAD
        found = tuple(_describe(part, _Where(model, f"messages[{m}].content[{c}]", fetcher),
                                hi_res) for c, part in parts)
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


def _split(content: Any) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    """The message's text (parts joined by newlines) and its media parts with their index."""
    if isinstance(content, str):
        return content, []
    texts = [p["text"] for p in content if p.get("type") == "text"]
    return "\n".join(texts), [(i, p) for i, p in enumerate(content) if p.get("type") != "text"]


@dataclass(frozen=True)
class _Where:
    """One media part being measured: the model, the part's path in refusals, the fetcher."""

    model: Model
    path: str  # messages[0].content[1]
    fetcher: Fetcher

    def load(self, ref: str, key: str, kind: str, *, bare: bool = False,
             judged: str | None = None) -> bytes:
        """The part's bytes, downloaded within the catalog's cap for ``kind``. Bytes fetched
        from a URL are then judged against the family's limits (bounds.py) as ``judged``, as
        validate() judged the inline ones: both lines refuse the same media."""
        where = f"{self.path}.{key}"
        cap = getattr(self.model.family.limits, kind).max_bytes
        data = load(ref, where, self.fetcher, cap, bare=bare)
        if judged is not None and is_url(ref):
            try:
                notes = judge(data, where, judged, self.model, inline=False)
            except InvalidRequest as exc:
                raise refusal(str(exc)) from None
            for note in notes:
                log.info("Served despite: %s", note)
        return data


def _describe(part: dict[str, Any], at: _Where, hi_res: bool = False) -> Attachment:
    kind = part["type"]
    if kind == "image_url":
        return _image(part["image_url"]["url"], at, hi_res)
    if kind == "input_audio":  # DashScope takes a URL here too; vLLM clients bare base64
        return _audio(part["input_audio"]["data"], at, "input_audio")
    if kind == "audio_url":  # vLLM's part for audio by URL or data URL
        return _audio(part["audio_url"]["url"], at, "audio_url")
    if kind == "video_url":
        return _video(part["video_url"]["url"], at)
    return _frames(part["video"], at)


def _image(ref: str, at: _Where, hi_res: bool = False) -> Attachment:
    data = at.load(ref, "image_url", "image", judged="image")
    dims = image_size(data)
    if dims is None:
        raise not_the_kind(f"{at.path}.image_url", data, "an image")
    return Attachment("image", f"{dims[0]}x{dims[1]} pixels, {human_bytes(len(data))}",
                      tokens.image_tokens(dims[0], dims[1], at.model, hi_res=hi_res))


def _audio(ref: str, at: _Where, key: str) -> Attachment:
    # vLLM's audio_url has no such limits (bounds.py): only DashScope's input_audio is judged.
    data = at.load(ref, key, "audio", bare=key == "input_audio",
                   judged="audio" if key == "input_audio" else None)
    probe = audio_seconds(data)
    if probe is None:
        raise not_the_kind(f"{at.path}.{key}", data, "audio")
    seconds, exact = probe
    length = (f"{seconds:.1f} seconds" if exact
              else f"about {seconds:.0f} seconds assuming 128 kbit/s")
    return Attachment("audio", f"an audio clip of {human_bytes(len(data))}, {length}",
                      tokens.audio_tokens(seconds, at.model))


def _video(ref: str, at: _Where) -> Attachment:
    data = at.load(ref, "video_url", "video", judged="video")
    size = human_bytes(len(data))
    try:
        info = probe_video(data, "the video")  # PyAV, when the video extra is installed
        visual = tokens.video_tokens(info.width or 0, info.height or 0, info.frames or 0,
                                     info.fps or 0.0, at.model)
    except InvalidRequest:  # no PyAV here, or nothing it can measure
        if sniff_kind(data) != "video":
            raise not_the_kind(f"{at.path}.video_url", data, "a video") from None
        return Attachment("video", f"a video file of {size}, not decoded", None)
    sound = (tokens.audio_tokens(info.audio_seconds or info.seconds or 0.0, at.model)
             if info.has_audio else 0)
    return Attachment(
        "video",
        f"a video file of {size}, {info.seconds or 0:.1f} seconds of {info.width}x{info.height} "
        f"pixels at {info.fps:g} fps{', with sound' if info.has_audio else ', silent'}",
        visual, sound_tokens=sound,
    )


def _frames(refs: list[str], at: _Where) -> Attachment:
    # Every frame is fetched and checked, as the service reads each; the first gives the size.
    sizes = []
    for k, ref in enumerate(refs):
        data = at.load(ref, f"video[{k}]", "image", judged="frames")
        dims = image_size(data)
        if dims is None:
            raise not_the_kind(f"{at.path}.video[{k}]", data, "an image")
        sizes.append(dims)
    width, height = sizes[0]
    what = f"a video of {len(refs)} frames of {width}x{height} pixels"
    try:
        count = tokens.frames_tokens(width, height, len(refs), at.model)
    except InvalidRequest as exc:  # the seed's sampler refuses it (ratio over 200, 1 frame)
        return Attachment("video", f"{what}, not countable: {exc}", None)
    return Attachment("video", what, count)
