"""A transcription of the seed's reference token code (seeds/000_de439b9844d4fa29.txt).

Kept as the seed wrote it, names and structure included, so tests/test_tokens.py can
check omni_magic.tokens against it. Changes, all mechanical unless marked DELIBERATE:

* Functions take numbers instead of a file path (no PIL / OpenCV: the seed's
  ``Image.open`` and ``get_video`` only read width, height, frame count and fps).
* The seed switches models by editing module constants ("for Qwen-Omni-Turbo set
  IMAGE_FACTOR = 28", ...); here the same constants are built per model by
  ``constants(factor, fps_max_frames)``, and each function takes them as ``c``.
* ``print`` calls are dropped.
* DELIBERATE: ``video_token_calculate``'s last line divides by the factor instead of the
  seed's hard-coded 32 (seed line 2163); see the comment there.
"""

from __future__ import annotations

import math
from types import SimpleNamespace


# --- image: seed lines 2003-2050 ---------------------------------------------------------

def token_calculate(height, width, factor=32):
    """
    param height, width: the image's size (the seed reads them from image_path).
    param factor: 28 for Qwen-Omni-Turbo, 32 for Qwen3-Omni-Flash.
    return: the token count of a single image.
    """
    # Round the height to a multiple of factor.
    h_bar = round(height / factor) * factor
    # Round the width to a multiple of factor.
    w_bar = round(width / factor) * factor
    # Minimum tokens of an image: 4 tokens.
    min_pixels = 4 * factor * factor
    # Maximum tokens of an image: 1280 tokens.
    max_pixels = 1280 * factor * factor
    # Scale the image so that its pixels fall within [min_pixels, max_pixels].
    if h_bar * w_bar > max_pixels:
        # Zoom factor beta so the scaled image does not exceed max_pixels.
        beta = math.sqrt((height * width) / max_pixels)
        # Recompute the height as a multiple of factor.
        h_bar = math.floor(height / beta / factor) * factor
        # Recompute the width as a multiple of factor.
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        # Zoom factor beta so the scaled image is not below min_pixels.
        beta = math.sqrt(min_pixels / (height * width))
        # Recompute the height as a multiple of factor.
        h_bar = math.ceil(height * beta / factor) * factor
        # Recompute the width as a multiple of factor.
        w_bar = math.ceil(width * beta / factor) * factor
    # Tokens of the image: total pixels / (factor * factor).
    token = int((h_bar * w_bar) / (factor * factor)) + 2
    return token


# --- video: seed lines 2062-2165 ---------------------------------------------------------

def constants(IMAGE_FACTOR=32, FPS_MAX_FRAMES=128):
    """The seed's module constants (lines 2073-2107) for one model.

    Qwen3-Omni-Flash: IMAGE_FACTOR = 32, FPS_MAX_FRAMES = 128.
    Qwen-Omni-Turbo:  IMAGE_FACTOR = 28, FPS_MAX_FRAMES = 80.
    """
    return SimpleNamespace(
        # Fixed parameters
        FRAME_FACTOR=2,
        IMAGE_FACTOR=IMAGE_FACTOR,
        # Aspect ratio of a video frame
        MAX_RATIO=200,
        # Minimum tokens of a video frame: 128 * IMAGE_FACTOR * IMAGE_FACTOR
        VIDEO_MIN_PIXELS=128 * IMAGE_FACTOR * IMAGE_FACTOR,
        # Maximum tokens of a video frame: 768 * IMAGE_FACTOR * IMAGE_FACTOR
        VIDEO_MAX_PIXELS=768 * IMAGE_FACTOR * IMAGE_FACTOR,
        FPS=2,
        # Minimum number of extracted frames
        FPS_MIN_FRAMES=4,
        # Maximum number of extracted frames: 128 (flash) or 80 (turbo)
        FPS_MAX_FRAMES=FPS_MAX_FRAMES,
        # Maximum pixels of the video input: 16384 * IMAGE_FACTOR * IMAGE_FACTOR
        VIDEO_TOTAL_PIXELS=16384 * IMAGE_FACTOR * IMAGE_FACTOR,
    )


def round_by_factor(number, factor):
    return round(number / factor) * factor


def ceil_by_factor(number, factor):
    return math.ceil(number / factor) * factor


def floor_by_factor(number, factor):
    return math.floor(number / factor) * factor


def get_video(frame_height, frame_width, total_frames, video_fps):
    # The seed reads these four with cv2.VideoCapture(video_path).
    return frame_height, frame_width, total_frames, video_fps


def smart_nframes(total_frames, video_fps, c):
    min_frames = ceil_by_factor(c.FPS_MIN_FRAMES, c.FRAME_FACTOR)
    max_frames = floor_by_factor(min(c.FPS_MAX_FRAMES, total_frames), c.FRAME_FACTOR)
    duration = total_frames / video_fps if video_fps != 0 else 0
    if duration - int(duration) > (1 / c.FPS):
        total_frames = math.ceil(duration * video_fps)
    else:
        total_frames = math.ceil(int(duration) * video_fps)
    nframes = total_frames / video_fps * c.FPS
    nframes = int(min(min(max(nframes, min_frames), max_frames), total_frames))
    if not (c.FRAME_FACTOR <= nframes <= total_frames):
        raise ValueError(f"nframes should in interval [{c.FRAME_FACTOR}, {total_frames}], but got {nframes}.")
    return nframes


def smart_resize(height, width, nframes, c, factor=None):
    factor = c.IMAGE_FACTOR if factor is None else factor  # the seed: factor=IMAGE_FACTOR
    min_pixels = c.VIDEO_MIN_PIXELS
    total_pixels = c.VIDEO_TOTAL_PIXELS
    max_pixels = max(min(c.VIDEO_MAX_PIXELS, total_pixels / nframes * c.FRAME_FACTOR), int(min_pixels * 1.05))
    if max(height, width) / min(height, width) > c.MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {c.MAX_RATIO}, got {max(height, width) / min(height, width)}")
    h_bar = max(factor, round_by_factor(height, factor))
    w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = floor_by_factor(height / beta, factor)
        w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = ceil_by_factor(height * beta, factor)
        w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def video_token_calculate(frame_height, frame_width, total_frames, video_fps, c):
    height, width, total_frames, video_fps = get_video(frame_height, frame_width, total_frames, video_fps)
    nframes = smart_nframes(total_frames, video_fps, c)
    resized_height, resized_width = smart_resize(height, width, nframes, c)
    # DELIBERATE: the seed writes `resized_height / 32 * resized_width / 32` (line 2163)
    # even in the turbo variant, whose comments set IMAGE_FACTOR = 28 and scale every
    # pixel constant by 28 * 28, and call VIDEO_MIN/MAX_PIXELS the min/max tokens of a
    # frame (128 / 768). Those hold only when dividing by IMAGE_FACTOR, so we do.
    video_token = int(math.ceil(nframes / c.FPS) * resized_height / c.IMAGE_FACTOR * resized_width / c.IMAGE_FACTOR)
    video_token += 2  # visual marks
    return video_token


# --- audio: seed line 1994 ---------------------------------------------------------------
# "Qwen-Omni-Turbo: total tokens = audio length (s) x 25; under 1 s counts as 1 s."
# The seed gives no code and no rounding for fractional seconds; the tests state
# omni_magic's choice (a part token counts as one) on their own.
