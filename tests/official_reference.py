"""A transcription of the service's OFFICIAL 2026 token estimator code.

Source: the Qwen-Omni page, help.aliyun.com/zh/model-studio/qwen-omni (2026 edition),
section "音频、图片与视频转换为Token数的规则". Kept as the page writes it, names and
structure included, so tests/test_tokens.py can check omni_magic.tokens (and the catalog's
``tokens`` constants it reads) against it. Changes, all mechanical:

* Functions take numbers instead of a file path (no PIL / OpenCV: the page's
  ``Image.open`` and ``cv2.VideoCapture`` only read width, height, frame count and fps).
* The page switches models by editing module constants, with the other families' values
  in comments ("# Qwen-Omni-Turbo: 28"); here each family's constants are written out BY
  HAND from those comments in ``Constants`` objects (QWEN3_5_OMNI, ...), never read from
  omni_magic's catalog, and each function takes them as ``c``. Constants that do not
  depend on the family (FRAME_FACTOR, FPS, MAX_RATIO) stay module constants.
* The image code and the video code each define a ``smart_resize``; in one module they
  are ``image_smart_resize`` and ``video_smart_resize``. The page's top-level lines
  (``resized_h, resized_w = smart_resize(...)``; ``token = ...``) are the bodies of
  ``image_token_calculate`` and ``video_token_calculate``.
* ``print`` calls are dropped.

Audio has no code on the page, only the rule "总 Tokens 数 = 音频时长（单位：秒）* rate,
不足 1 秒按 1 秒计算"; ``audio_token_calculate`` states it without rounding (the page
gives none; omni_magic's choice, a part token counts as one, is tested on its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Constants:
    """One family's values of the page's module constants, as its comments give them."""

    name: str
    # image
    IMAGE_FACTOR: int  # Qwen3.8-Omni-Flash, Qwen3.5-Omni, Qwen3-Omni-Flash: 32; Qwen-Omni-Turbo: 28
    MIN_TOKENS: int  # Qwen3.8-Omni-Flash, Qwen3.5-Omni: 24; Qwen-Omni-Turbo, Qwen3-Omni-Flash: 4
    HIGH_RESOLUTION: bool  # VL_HIGH_RESOLUTION_IMAGES = True is taken (only Qwen3.8/Qwen3.5)
    # video (pixels, as the page writes them: 640 * IMAGE_FACTOR * IMAGE_FACTOR)
    VIDEO_MAX_PIXELS: int
    FPS_MIN_FRAMES: int
    FPS_MAX_FRAMES: int
    VIDEO_TOTAL_PIXELS: int
    # audio (tokens per second)
    AUDIO_INPUT_RATE: float
    AUDIO_OUTPUT_RATE: float | None  # None: the family does not speak


QWEN3_5_OMNI = Constants(
    name="Qwen3.5-Omni",
    IMAGE_FACTOR=32,
    MIN_TOKENS=24,
    HIGH_RESOLUTION=True,
    VIDEO_MAX_PIXELS=640 * 32 * 32,
    FPS_MIN_FRAMES=2,
    FPS_MAX_FRAMES=2048,
    VIDEO_TOTAL_PIXELS=180224 * 32 * 32,
    AUDIO_INPUT_RATE=7,
    AUDIO_OUTPUT_RATE=12.5,
)

QWEN3_8_OMNI_FLASH = Constants(
    name="Qwen3.8-Omni-Flash",
    IMAGE_FACTOR=32,
    MIN_TOKENS=24,
    HIGH_RESOLUTION=True,
    VIDEO_MAX_PIXELS=640 * 32 * 32,
    FPS_MIN_FRAMES=2,
    FPS_MAX_FRAMES=2048,
    VIDEO_TOTAL_PIXELS=180224 * 32 * 32,
    AUDIO_INPUT_RATE=7,
    AUDIO_OUTPUT_RATE=None,
)

QWEN3_OMNI_FLASH = Constants(
    name="Qwen3-Omni-Flash",
    IMAGE_FACTOR=32,
    MIN_TOKENS=4,
    HIGH_RESOLUTION=False,
    VIDEO_MAX_PIXELS=768 * 32 * 32,
    FPS_MIN_FRAMES=2,
    FPS_MAX_FRAMES=128,
    VIDEO_TOTAL_PIXELS=16384 * 32 * 32,
    AUDIO_INPUT_RATE=12.5,
    AUDIO_OUTPUT_RATE=12.5,
)

QWEN_OMNI_TURBO = Constants(
    name="Qwen-Omni-Turbo",
    IMAGE_FACTOR=28,
    MIN_TOKENS=4,
    HIGH_RESOLUTION=False,
    VIDEO_MAX_PIXELS=768 * 28 * 28,
    FPS_MIN_FRAMES=4,
    FPS_MAX_FRAMES=80,
    VIDEO_TOTAL_PIXELS=16384 * 28 * 28,
    AUDIO_INPUT_RATE=25,
    AUDIO_OUTPUT_RATE=25,
)

# The open-source Qwen2.5-Omni-7B as the service serves it counts like Qwen-Omni-Turbo.
QWEN2_5_OMNI = QWEN_OMNI_TURBO


# --- image --------------------------------------------------------------------------------

def image_constants(c, VL_HIGH_RESOLUTION_IMAGES=False):
    """The page's MIN_PIXELS and MAX_PIXELS for family ``c``."""
    if VL_HIGH_RESOLUTION_IMAGES and not c.HIGH_RESOLUTION:
        raise ValueError(f"{c.name} does not take vl_high_resolution_images")
    IMAGE_FACTOR = c.IMAGE_FACTOR
    MIN_TOKENS = c.MIN_TOKENS
    MIN_PIXELS = MIN_TOKENS * IMAGE_FACTOR * IMAGE_FACTOR
    MAX_PIXELS = (16384 if VL_HIGH_RESOLUTION_IMAGES else 1280) * IMAGE_FACTOR * IMAGE_FACTOR
    return MIN_PIXELS, MAX_PIXELS


def image_smart_resize(height, width, factor, min_pixels, max_pixels):
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def image_token_calculate(height, width, c, VL_HIGH_RESOLUTION_IMAGES=False):
    """Tokens of one image of ``height`` x ``width`` (the page reads them with Image.open)."""
    IMAGE_FACTOR = c.IMAGE_FACTOR
    MIN_PIXELS, MAX_PIXELS = image_constants(c, VL_HIGH_RESOLUTION_IMAGES)
    resized_h, resized_w = image_smart_resize(height, width, IMAGE_FACTOR, MIN_PIXELS, MAX_PIXELS)
    token = int(resized_h * resized_w / (IMAGE_FACTOR * IMAGE_FACTOR)) + 2
    return token


# --- video --------------------------------------------------------------------------------

FRAME_FACTOR = 2
FPS = 2
MAX_RATIO = 200


def video_min_pixels(c):
    IMAGE_FACTOR = c.IMAGE_FACTOR
    VIDEO_MIN_PIXELS = 64 * IMAGE_FACTOR * IMAGE_FACTOR
    return VIDEO_MIN_PIXELS


def smart_nframes(total_frames, video_fps, c):
    FPS_MIN_FRAMES, FPS_MAX_FRAMES = c.FPS_MIN_FRAMES, c.FPS_MAX_FRAMES
    min_frames = math.ceil(FPS_MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
    max_frames = min(FPS_MAX_FRAMES, total_frames) // FRAME_FACTOR * FRAME_FACTOR
    duration = total_frames / video_fps if video_fps else 0
    if duration - int(duration) > (1 / FPS):
        total_frames = math.ceil(duration * video_fps)
    else:
        total_frames = math.ceil(int(duration) * video_fps)
    nframes = total_frames / video_fps * FPS
    nframes = int(min(max(nframes, min_frames), max_frames, total_frames))
    if not (FRAME_FACTOR <= nframes <= total_frames):
        raise ValueError(f"nframes should in [{FRAME_FACTOR}, {total_frames}], got {nframes}")
    return nframes


def video_smart_resize(height, width, nframes, c, factor=None):
    factor = c.IMAGE_FACTOR if factor is None else factor  # the page: factor=IMAGE_FACTOR
    VIDEO_MIN_PIXELS = video_min_pixels(c)
    VIDEO_MAX_PIXELS, VIDEO_TOTAL_PIXELS = c.VIDEO_MAX_PIXELS, c.VIDEO_TOTAL_PIXELS
    max_pixels = max(min(VIDEO_MAX_PIXELS, VIDEO_TOTAL_PIXELS / nframes * FRAME_FACTOR), int(VIDEO_MIN_PIXELS * 1.05))
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"aspect ratio exceeds {MAX_RATIO}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < VIDEO_MIN_PIXELS:
        beta = math.sqrt(VIDEO_MIN_PIXELS / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def video_token_calculate(height, width, total_frames, video_fps, c):
    """Tokens of one video (the page reads the four numbers with cv2.VideoCapture)."""
    IMAGE_FACTOR = c.IMAGE_FACTOR
    nframes = smart_nframes(total_frames, video_fps, c)
    resized_h, resized_w = video_smart_resize(height, width, nframes, c)
    video_tokens = int(math.ceil(nframes / FPS) * resized_h / IMAGE_FACTOR * resized_w / IMAGE_FACTOR) + 2
    return video_tokens


# --- audio --------------------------------------------------------------------------------
# "总 Tokens 数 = 音频时长（单位：秒）* rate; 不足 1 秒按 1 秒计算". Rates: Qwen3.8-Omni-Flash
# input 7; Qwen3.5-Omni input 7, output 12.5; Qwen3-Omni-Flash 12.5 in and out;
# Qwen-Omni-Turbo 25 in and out.

def audio_token_calculate(seconds, rate):
    """seconds x rate, a clip under 1 s counted as 1 s. Not rounded: pass Fractions for
    exact values."""
    if seconds < 1:
        seconds = 1
    return seconds * rate
