"""What the service offers: models, aliases, regions, voices and limits. Data only.

Every figure comes from the service's documentation (the seed, "Omni-modal
(Qwen-Omni)", 2025-11-20); SPEC.md §1 is its English digest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InvalidRequest

REGIONS: dict[str, str] = {
    "intl": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "cn": "https://dashscope.aliyuncs.com/compatible-mode/v1",
}
REGION_NAMES = {"intl": "Singapore", "cn": "Beijing"}
API_KEY_ENV = "DASHSCOPE_API_KEY"

SAMPLE_RATE = 24_000  # the speech the service streams: PCM16 mono 24 kHz
DEFAULT_MODEL = "qwen3-omni-flash"
DEFAULT_VOICE = "Cherry"

FLASH_VOICES = (
    "Cherry", "Ethan", "Nofish", "Jennifer", "Ryan", "Katerina", "Elias", "Jada", "Dylan",
    "Sunny", "Li", "Marcus", "Roy", "Peter", "Rocky", "Kiki", "Eric",
)
TURBO_VOICES = ("Cherry", "Serena", "Ethan", "Chelsie")
OPEN_VOICES = ("Ethan", "Chelsie")

VOICE_NOTES = {
    "Jada": "Shanghainese", "Dylan": "Beijing dialect", "Sunny": "Sichuanese",
    "Li": "Nanjing dialect", "Marcus": "Shaanxi dialect", "Roy": "Minnan",
    "Peter": "Tianjin dialect", "Rocky": "Cantonese", "Kiki": "Cantonese", "Eric": "Sichuanese",
}

_MB = 1024 * 1024


@dataclass(frozen=True)
class Family:
    """Limits shared by every model of one family."""

    name: str
    voices: tuple[str, ...]
    speech_languages: str
    image_factor: int  # pixels per token side: 32x32 (flash) or 28x28 (turbo, open)
    thinking: bool
    system_with_audio: bool  # turbo refuses a system message when audio output is asked
    audio_max_bytes: int
    audio_max_seconds: float
    video_max_bytes: int
    video_max_seconds: float
    frames_min: int
    frames_max: int
    audio_tokens_per_second: float
    audio_tokens_published: bool  # False: our rate is an estimate, not the seed's


FLASH = Family(
    name="qwen3-omni-flash", voices=FLASH_VOICES,
    speech_languages="Chinese (Mandarin and dialects), English, French, German, Russian, "
    "Italian, Spanish, Portuguese, Japanese, Korean",
    image_factor=32, thinking=True, system_with_audio=True,
    audio_max_bytes=100 * _MB, audio_max_seconds=20 * 60,
    video_max_bytes=256 * _MB, video_max_seconds=150,
    frames_min=2, frames_max=128,
    # The seed publishes no rate for flash; the open Qwen3-Omni encoder emits ~13/s.
    audio_tokens_per_second=13.0, audio_tokens_published=False,
)
TURBO = Family(
    name="qwen-omni-turbo", voices=TURBO_VOICES, speech_languages="Chinese, English",
    image_factor=28, thinking=False, system_with_audio=False,
    audio_max_bytes=10 * _MB, audio_max_seconds=3 * 60,
    video_max_bytes=150 * _MB, video_max_seconds=40,
    frames_min=4, frames_max=80,
    audio_tokens_per_second=25.0, audio_tokens_published=True,
)
# qwen2.5-omni-7b: turbo's limits (the seed lists it beside turbo) with its own two voices.
OPEN = replace(TURBO, name="qwen2.5-omni", voices=OPEN_VOICES)


@dataclass(frozen=True)
class Model:
    """One model id the service accepts."""

    id: str
    family: Family
    kind: str  # stable | snapshot | latest | open-source
    context: int
    max_input: int  # non-thinking
    max_output: int
    regions: tuple[str, ...]
    max_input_thinking: int | None = None
    max_reasoning: int | None = None
    same_as: str | None = None  # the snapshot a stable or latest id currently points at

    @property
    def default_voice(self) -> str:
        voices = self.family.voices
        return DEFAULT_VOICE if DEFAULT_VOICE in voices else voices[0]

    def input_limit(self, thinking: bool) -> int:
        if thinking and self.max_input_thinking is not None:
            return self.max_input_thinking
        return self.max_input


def _flash(id: str, kind: str, same_as: str | None = None) -> Model:
    return Model(id, FLASH, kind, context=65_536, max_input=49_152, max_output=16_384,
                 regions=("intl", "cn"), max_input_thinking=16_384, max_reasoning=32_768,
                 same_as=same_as)


def _turbo(id: str, kind: str, regions=("intl", "cn"), same_as: str | None = None) -> Model:
    return Model(id, TURBO, kind, context=32_768, max_input=30_720, max_output=2_048,
                 regions=regions, same_as=same_as)


MODELS: dict[str, Model] = {m.id: m for m in (
    _flash("qwen3-omni-flash", "stable", same_as="qwen3-omni-flash-2025-09-15"),
    _flash("qwen3-omni-flash-2025-09-15", "snapshot"),
    _turbo("qwen-omni-turbo", "stable", same_as="qwen-omni-turbo-2025-03-26"),
    _turbo("qwen-omni-turbo-latest", "latest", same_as="qwen-omni-turbo-2025-03-26"),
    _turbo("qwen-omni-turbo-2025-03-26", "snapshot"),
    _turbo("qwen-omni-turbo-2025-01-19", "snapshot", regions=("cn",)),
    Model("qwen2.5-omni-7b", OPEN, "open-source", context=32_768, max_input=30_720,
          max_output=2_048, regions=("intl", "cn")),
)}

# Short snapshot names the service also accepts ("also called ..." in the seed).
ALIASES: dict[str, str] = {
    "qwen3-omni-flash-0915": "qwen3-omni-flash-2025-09-15",
    "qwen-omni-turbo-0326": "qwen-omni-turbo-2025-03-26",
    "qwen-omni-turbo-0119": "qwen-omni-turbo-2025-01-19",
}


def find_model(name: str) -> Model | None:
    """The model for an id or alias (case-insensitive), or None when unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    return MODELS.get(key)


def get_model(name: str, region: str | None = None) -> Model:
    """The model for an id or alias; InvalidRequest naming the known ids when unknown."""
    model = find_model(name)
    if model is None:
        known = ", ".join(MODELS)
        raise InvalidRequest(
            f"Unknown model {name!r}. Known Qwen-Omni models: {known}. "
            "For a self-hosted server with other model names, set a base URL "
            "(--base-url) and allow unknown models."
        )
    if region is not None and region not in model.regions:
        raise InvalidRequest(
            f"{model.id} is offered only in {', '.join(REGION_NAMES[r] for r in model.regions)} "
            f"({'/'.join(model.regions)}), not in {REGION_NAMES.get(region, region)} ({region}). "
            f"Pick --region {model.regions[0]} or another model."
        )
    return model


def region_url(region: str) -> str:
    try:
        return REGIONS[region]
    except KeyError:
        raise InvalidRequest(
            f"Unknown region {region!r}: use 'intl' (Singapore) or 'cn' (Beijing)."
        ) from None


def voices_for(model: str) -> tuple[str, ...]:
    return get_model(model).family.voices
