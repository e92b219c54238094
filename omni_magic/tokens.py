"""Pre-request token estimates. Pure functions, no I/O.

Media formulas are the seed's reference code ("Omni-modal (Qwen-Omni)", the
"rules for converting audio, images and video to tokens", seed lines ~1990-2175),
with each model family's constants from the catalog. tests/seed_reference.py
transcribes that code and tests/test_tokens.py checks these functions against it.

Text is counted exactly with the Qwen BPE vocabulary when the optional
``dashscope`` package (which ships ``qwen.tiktoken``) and ``tiktoken`` are
installed; otherwise with a stated heuristic. Every estimate says which.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from dataclasses import dataclass, field

from .catalog import DEFAULT_MODEL, Family, get_model
from .errors import InvalidRequest

# Qwen's chat template wraps each message in "<|im_start|>role\n ... <|im_end|>\n".
MESSAGE_OVERHEAD = 5
HEURISTIC = "heuristic: ~4 characters per token, 1 per CJK character"
EXACT = "exact (Qwen BPE)"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

# The seed's video constants that do not depend on the model (seed lines 2074, 2083, 2095, 2097).
FRAME_FACTOR = 2  # frames are taken in pairs; one pair shares one grid of patches
FPS = 2  # frames sampled per second of video
FPS_MIN_FRAMES = 4
MAX_RATIO = 200  # longest side / shortest side


@dataclass(frozen=True)
class PartEstimate:
    """The estimated prompt tokens of one part of a request."""

    label: str  # "text", "image cat.png", ...
    modality: str  # text | image | audio | video
    tokens: int
    method: str  # how it was counted: "exact (Qwen BPE)", a formula, or a heuristic


@dataclass
class TokenEstimate:
    """Per-part estimate of a request's prompt tokens, made before sending."""

    parts: list[PartEstimate] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.tokens for p in self.parts)

    def by_modality(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.modality] = out.get(p.modality, 0) + p.tokens
        return out

    def add(self, label: str, modality: str, tokens: int, method: str) -> None:
        self.parts.append(PartEstimate(label, modality, tokens, method))


# --- text ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _qwen_encoding():
    """The Qwen BPE encoder from the dashscope package, or None when unavailable.

    ``dashscope.tokenizers.get_tokenizer("qwen-turbo")`` builds a ``tiktoken.Encoding``
    over the bundled ``qwen.tiktoken``; it needs ``tiktoken`` too. A missing package, a
    missing or unreadable vocabulary, or an encoder that cannot encode a probe all mean:
    use the heuristic.
    """
    try:
        from dashscope.tokenizers import get_tokenizer  # type: ignore[import-not-found]

        enc = get_tokenizer("qwen-turbo")
        if not isinstance(enc.encode("probe 探针"), list):
            return None
        return enc
    except Exception:  # noqa: BLE001 - any failure here only downgrades to the heuristic
        return None


def text_method() -> str:
    return EXACT if _qwen_encoding() is not None else HEURISTIC


def _heuristic(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def text_tokens(text: str) -> int:
    """Tokens of a piece of text: exact when the Qwen vocabulary is available."""
    enc = _qwen_encoding()
    if enc is not None:
        try:
            return len(enc.encode(text))
        except Exception:  # noqa: BLE001 - an odd string must not break an estimate
            pass
    return _heuristic(text)


# --- the model's family ---------------------------------------------------------------


def _family(model: str) -> Family:
    """The family whose constants apply; InvalidRequest naming the known ids if unknown."""
    if not isinstance(model, str):
        raise InvalidRequest(f"Token estimates take a model id such as 'qwen3-omni-flash', "
                             f"not {model!r}; the family's factor and rates come from it.")
    return get_model(model).family


# --- images (seed lines 2000-2050, `token_calculate`) ---------------------------------


def image_tokens(width: int, height: int, model: str = DEFAULT_MODEL) -> int:
    """Tokens of one image: the seed's ``token_calculate`` with the model's patch factor.

    Each f x f block of the resized image is one token (f = 32 for qwen3-omni-flash,
    28 for qwen-omni-turbo and qwen2.5-omni-7b); the image is scaled to 4..1280 blocks;
    +2 for the vision delimiters.
    """
    _positive(width=width, height=height)
    width, height = int(width), int(height)
    factor = _family(model).image_factor
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    min_pixels = 4 * factor * factor
    max_pixels = 1280 * factor * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return int((h_bar * w_bar) / (factor * factor)) + 2


def image_method(model: str = DEFAULT_MODEL) -> str:
    f = _family(model).image_factor
    return f"seed formula ({f}x{f} px per token, 4-1280 tokens, +2)"


# --- video (seed lines 2062-2170: smart_nframes, smart_resize, video_token_calculate) --


def _round_by(number: float, factor: int) -> int:
    return round(number / factor) * factor


def _ceil_by(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def _floor_by(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def _nframes(total_frames: int, video_fps: float, max_frames_allowed: int) -> int:
    """The seed's ``smart_nframes``: how many frames the service samples (seed 2127-2139)."""
    given = total_frames
    min_frames = _ceil_by(FPS_MIN_FRAMES, FRAME_FACTOR)
    max_frames = _floor_by(min(max_frames_allowed, total_frames), FRAME_FACTOR)
    duration = total_frames / video_fps if video_fps != 0 else 0
    # Whole seconds plus a last part second only if it is longer than 1/FPS.
    if duration - int(duration) > (1 / FPS):
        total_frames = math.ceil(duration * video_fps)
    else:
        total_frames = math.ceil(int(duration) * video_fps)
    nframes = total_frames / video_fps * FPS
    nframes = int(min(min(max(nframes, min_frames), max_frames), total_frames))
    if not (FRAME_FACTOR <= nframes <= total_frames):
        raise InvalidRequest(
            f"The video is too short for the service's frame sampler: {given} frames at "
            f"{video_fps:g} fps ({duration:.2f} s) give {nframes} sampled frames, but at "
            f"least {FRAME_FACTOR} are needed (the sampler takes {FPS} frames per second "
            f"and ignores a last part second of {1 / FPS:g} s or less). "
            "Use a clip of at least 1 second."
        )
    return nframes


def _resize(height: int, width: int, nframes: int, family: Family) -> tuple[int, int]:
    """The seed's ``smart_resize`` for video frames (seed 2141-2157)."""
    factor = family.image_factor
    min_pixels = 128 * factor * factor  # VIDEO_MIN_PIXELS
    total_pixels = 16384 * factor * factor  # VIDEO_TOTAL_PIXELS
    max_pixels = max(min(768 * factor * factor, total_pixels / nframes * FRAME_FACTOR),
                     int(min_pixels * 1.05))
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise InvalidRequest(
            f"Video frames of {width}x{height} pixels have an aspect ratio of {ratio:.1f}:1; "
            f"the service accepts at most {MAX_RATIO}:1. Crop or pad the frames."
        )
    h_bar = max(factor, _round_by(height, factor))
    w_bar = max(factor, _round_by(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by(height / beta, factor)
        w_bar = _floor_by(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by(height * beta, factor)
        w_bar = _ceil_by(width * beta, factor)
    return h_bar, w_bar


def video_tokens(width: int, height: int, total_frames: int, fps: float,
                 model: str = DEFAULT_MODEL) -> int:
    """Visual tokens of a video file: the seed's ``video_token_calculate``.

    The service samples 2 frames per second (at least 4, at most the family's
    ``frames_max``: 128 flash, 80 turbo/open), resizes every frame to a grid of
    128..768 patches (fewer when many frames share the 16384-patch budget), and
    counts one grid per pair of frames; +2 for the delimiters. The sound track is
    not included: add ``audio_tokens(duration, model)`` for it.

    Deliberate choice: the seed's last line (seed line 2163) divides by a hard-coded
    32 (``resized_height / 32 * resized_width / 32``) even though the same code tells
    turbo users to set IMAGE_FACTOR = 28 and scales every pixel constant by 28*28
    (seed lines 2076-2099), and its comments call VIDEO_MIN/MAX_PIXELS "the minimum/
    maximum tokens of a video frame" (128 / 768; seed lines 2085, 2090), which holds
    only if the division uses the same factor. We divide by the family's factor f, so
    a turbo frame pair costs 128..768 tokens, as it does on flash.
    """
    _positive(width=width, height=height)
    width, height = int(width), int(height)
    if not _whole(total_frames) or total_frames < 1:
        raise InvalidRequest(f"A video needs a positive whole number of frames, not {total_frames!r}.")
    if not (_real(fps) and math.isfinite(fps) and fps > 0):
        raise InvalidRequest(f"A video's frame rate must be a positive number, not {fps!r}.")
    total_frames, fps = int(total_frames), float(fps)  # numpy ints, PyAV's Fraction rates
    family = _family(model)
    factor = family.image_factor
    nframes = _nframes(total_frames, fps, family.frames_max)
    h_bar, w_bar = _resize(height, width, nframes, family)
    return int(math.ceil(nframes / FPS) * h_bar / factor * w_bar / factor) + 2


def frames_tokens(width: int, height: int, count: int, model: str = DEFAULT_MODEL) -> int:
    """Visual tokens of a list of ``count`` video frames of ``width`` x ``height``.

    The seed has no separate formula for frame lists; we treat the list as a video
    already sampled at the service's rate: ``count`` frames at FPS = 2 frames per
    second, through the same smart_nframes / smart_resize. So an even count up to the
    family's ``frames_max`` keeps every frame, an odd count drops the last one (the
    seed floors to pairs), and a longer list counts as ``frames_max`` frames.
    """
    if not _whole(count) or count < FRAME_FACTOR:
        raise InvalidRequest(
            f"A list of video frames needs at least {FRAME_FACTOR} images, not {count!r} "
            f"({model} requires at least {_family(model).frames_min})."
        )
    return video_tokens(width, height, count, FPS, model)


def video_method(model: str = DEFAULT_MODEL) -> str:
    family = _family(model)
    f = family.image_factor
    return (f"seed formula ({FPS} frames/s, at most {family.frames_max} frames, "
            f"{f}x{f} px per token per frame pair, +2)")


# --- audio (seed line 1994: "Qwen-Omni-Turbo: seconds x 25, under 1 s counts as 1 s") --


def audio_tokens(seconds: float, model: str = DEFAULT_MODEL) -> int:
    """Tokens of an audio clip: seconds x the family's rate, under 1 s counting as 1 s.

    qwen-omni-turbo and qwen2.5-omni-7b: 25 per second, the seed's rule. For
    qwen3-omni-flash the seed publishes no rate; ~13 per second is an estimate (see
    ``audio_method``). A fractional last token is counted as a whole one (the seed's
    examples are whole seconds; rounding up keeps the pre-request limit check from
    undercounting); the product is first rounded to 9 decimals so float noise such
    as 0.28 * 25 = 7.000000000000001 does not add a token.
    """
    if not _real(seconds) or not math.isfinite(seconds) or seconds < 0:
        raise InvalidRequest(f"An audio clip's length must be a number of seconds >= 0, not {seconds!r}.")
    rate = _family(model).audio_tokens_per_second
    return math.ceil(round(max(float(seconds), 1.0) * rate, 9))


def audio_method(model: str = DEFAULT_MODEL) -> str:
    family = _family(model)
    rate = f"{family.audio_tokens_per_second:g} tokens/s"
    if family.audio_tokens_published:
        return f"seed formula ({rate})"
    return f"estimate (~{rate}; the seed publishes no rate for {family.name})"


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if not _whole(value) or value < 1:
            raise InvalidRequest(f"An image or frame {name} must be a positive number of pixels, "
                                 f"not {value!r}.")
