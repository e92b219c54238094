"""omni_magic.tokens against the seed's reference code (tests/seed_reference.py)."""

from __future__ import annotations

import math
import random
import sys
import types

import pytest

from omni_magic import tokens
from omni_magic.errors import InvalidRequest

import seed_reference as ref

FLASH, TURBO, OPEN = "qwen3-omni-flash", "qwen-omni-turbo", "qwen2.5-omni-7b"
# model -> (image factor, FPS_MAX_FRAMES) as the seed's comments give them
SEED_CONSTANTS = {FLASH: (32, 128), TURBO: (28, 80), OPEN: (28, 80)}


# --- images ----------------------------------------------------------------------------

def _image_sizes() -> list[tuple[int, int]]:
    rng = random.Random(20251120)
    edges = [11, 12, 13, 14, 15, 16, 17, 27, 28, 29, 31, 32, 33, 42, 48, 56, 63, 64, 100,
             111, 200, 448, 512, 1000, 1024, 1036, 1280, 2048, 2200, 4096, 8000, 10000,
             16384, 20000]
    sizes = [(w, h) for w in edges for h in edges if max(w, h) / min(w, h) <= 200]
    while len(sizes) < 1500:
        w = round(math.exp(rng.uniform(math.log(11), math.log(20000))))
        ratio = math.exp(rng.uniform(0, math.log(200)))
        h = max(11, min(20000, round(w / ratio if rng.random() < 0.5 else w * ratio)))
        if max(w, h) / min(w, h) <= 200:
            sizes.append((w, h))
    return sizes


IMAGE_SIZES = _image_sizes()


def test_the_image_sample_covers_tiny_huge_and_thin():
    assert len(IMAGE_SIZES) >= 1000
    assert (11, 11) in IMAGE_SIZES and (20000, 20000) in IMAGE_SIZES
    assert max(max(w, h) / min(w, h) for w, h in IMAGE_SIZES) >= 190


@pytest.mark.parametrize("model", [FLASH, TURBO])
def test_image_tokens_equal_the_seed_for_every_size(model):
    factor = SEED_CONSTANTS[model][0]
    got = [tokens.image_tokens(w, h, model) for w, h in IMAGE_SIZES]
    want = [ref.token_calculate(h, w, factor) for w, h in IMAGE_SIZES]
    assert got == want
    # Sanity on the sample itself: it reaches both clamps of the formula.
    assert min(want) == 6 and max(want) == 1282


def test_image_hand_computed_examples():
    # 1024x1024 on flash: 32x32 blocks of 32 px, inside [4, 1280] -> 1024 + 2.
    assert tokens.image_tokens(1024, 1024, FLASH) == 1026
    # On turbo 1036x1036 (37 blocks of 28) exceeds 1280 blocks: scaled down to 35x35.
    assert tokens.image_tokens(1024, 1024, TURBO) == 35 * 35 + 2
    # The 4-token minimum: a 10x10 icon is scaled up to 2x2 blocks.
    assert tokens.image_tokens(10, 10, FLASH) == 4 + 2
    assert tokens.image_tokens(10, 10, TURBO) == 4 + 2
    # The 1280-token cap: exactly 1280 blocks is kept; twice the size is scaled back to it.
    assert tokens.image_tokens(1280, 1024, FLASH) == 1280 + 2
    assert tokens.image_tokens(2560, 2048, FLASH) == 1280 + 2
    # The default model is qwen3-omni-flash; aliases and case are accepted.
    assert tokens.image_tokens(640, 480) == tokens.image_tokens(640, 480, "QWEN3-omni-flash-0915")
    assert tokens.image_tokens(640, 480, OPEN) == tokens.image_tokens(640, 480, TURBO)


def test_image_tokens_refuse_nonsense_sizes_and_unknown_models():
    with pytest.raises(InvalidRequest, match="positive"):
        tokens.image_tokens(0, 480)
    with pytest.raises(InvalidRequest, match="Unknown model"):
        tokens.image_tokens(640, 480, "gpt-4o")
    with pytest.raises(InvalidRequest, match="model id"):
        tokens.image_tokens(640, 480, 32)  # the old factor= argument


# --- video files -----------------------------------------------------------------------

def _video_shapes(n: int = 300) -> list[tuple[int, int, int, float]]:
    rng = random.Random(915)
    common = [23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 1, 2, 5, 12, 15]
    shapes = [(1920, 1080, 300, 30.0), (64, 4096, 60, 60.0), (4096, 64, 150, 1.0),
              (4096, 4096, 9000, 60.0), (64, 64, 3, 2.0)]
    while len(shapes) < n:
        w, h = rng.randint(64, 4096), rng.randint(64, 4096)
        fps = rng.choice(common) if rng.random() < 0.5 else round(rng.uniform(1, 60), 3)
        seconds = rng.uniform(1, 150)
        shapes.append((w, h, max(1, round(seconds * fps)), fps))
    return shapes


VIDEO_SHAPES = _video_shapes()


@pytest.mark.parametrize("model", [FLASH, TURBO, OPEN])
def test_video_tokens_equal_the_seed_for_every_shape(model):
    c = ref.constants(*SEED_CONSTANTS[model])
    assert len(VIDEO_SHAPES) >= 200
    got = [tokens.video_tokens(w, h, n, fps, model) for w, h, n, fps in VIDEO_SHAPES]
    want = [ref.video_token_calculate(h, w, n, fps, c) for w, h, n, fps in VIDEO_SHAPES]
    assert got == want


def test_video_hand_computed_example():
    # 10 s of 1080p at 30 fps on flash: 20 frames sampled; 1088x1920 is over the
    # 768-block frame budget, so frames shrink to 640x1152 = 20x36 blocks; 10 pairs.
    assert tokens.video_tokens(1920, 1080, 300, 30, FLASH) == 10 * 20 * 36 + 2
    # 150 s at 30 fps: 300 frames wanted, capped at the family's 128 (flash) / 80 (turbo).
    long_flash = tokens.video_tokens(640, 480, 4500, 30, FLASH)
    long_turbo = tokens.video_tokens(640, 480, 4500, 30, TURBO)
    c_flash, c_turbo = ref.constants(32, 128), ref.constants(28, 80)
    assert ref.smart_nframes(4500, 30, c_flash) == 128
    assert ref.smart_nframes(4500, 30, c_turbo) == 80
    assert long_flash == ref.video_token_calculate(480, 640, 4500, 30, c_flash)
    assert long_turbo == ref.video_token_calculate(480, 640, 4500, 30, c_turbo)


def test_the_turbo_video_divides_by_its_own_factor_not_the_seeds_hard_coded_32():
    # A turbo frame pair costs (h/28)*(w/28) tokens: 640x480 -> 644x476 -> 23x17 blocks.
    assert tokens.video_tokens(640, 480, 4, 2, TURBO) == 2 * 23 * 17 + 2
    seed_literal = int(math.ceil(4 / 2) * 476 / 32 * 644 / 32) + 2
    assert seed_literal == 600 and tokens.video_tokens(640, 480, 4, 2, TURBO) != seed_literal


def test_short_and_too_thin_videos_are_refused_where_the_seed_raises():
    c = ref.constants(32, 128)
    for n, fps in [(1, 30), (12, 30), (2, 60)]:  # one frame; 0.4 s; 1/30 s
        with pytest.raises(ValueError):
            ref.video_token_calculate(480, 640, n, fps, c)
        with pytest.raises(InvalidRequest, match="too short.*at least 1 second"):
            tokens.video_tokens(640, 480, n, fps)
    # 0.6 s is enough: the part second is longer than half a second.
    assert tokens.video_tokens(640, 480, 18, 30) == ref.video_token_calculate(480, 640, 18, 30, c)
    with pytest.raises(ValueError):
        ref.video_token_calculate(201, 40401, 60, 30, c)
    with pytest.raises(InvalidRequest, match=r"201\.0:1.*at most 200:1"):
        tokens.video_tokens(201, 1, 60, 30)
    assert tokens.video_tokens(200, 1, 60, 30) == ref.video_token_calculate(1, 200, 60, 30, c)
    with pytest.raises(InvalidRequest, match="frame rate"):
        tokens.video_tokens(640, 480, 60, 0)
    with pytest.raises(InvalidRequest, match="frames"):
        tokens.video_tokens(640, 480, 0, 30)


def test_probe_types_are_accepted():
    # PyAV reports rates as Fractions, numpy reports sizes as numpy integers.
    from fractions import Fraction

    np = pytest.importorskip("numpy")
    c = ref.constants(32, 128)
    assert tokens.video_tokens(np.int64(1920), np.int32(1080), np.int64(2997),
                               Fraction(30000, 1001)) == \
        ref.video_token_calculate(1080, 1920, 2997, 30000 / 1001, c)
    assert tokens.image_tokens(np.int64(640), np.int64(480)) == tokens.image_tokens(640, 480)
    assert tokens.audio_tokens(Fraction(5, 2), TURBO) == 63


# --- frame lists -----------------------------------------------------------------------

def test_frames_are_a_video_sampled_at_two_per_second():
    # 4 frames of 280x280 on turbo: 280x280 is under the 128-block minimum, scaled up
    # to 336x336 = 12x12 blocks; 2 pairs.
    assert tokens.frames_tokens(280, 280, 4, TURBO) == 2 * 12 * 12 + 2
    assert tokens.frames_tokens(640, 480, 4, TURBO) == 2 * 23 * 17 + 2
    for model in (FLASH, TURBO):
        c = ref.constants(*SEED_CONSTANTS[model])
        for count in range(2, 200):
            assert tokens.frames_tokens(1280, 720, count, model) == \
                ref.video_token_calculate(720, 1280, count, 2, c)
    # An odd count drops its last frame (the seed samples pairs).
    assert tokens.frames_tokens(640, 480, 5, FLASH) == tokens.frames_tokens(640, 480, 4, FLASH)


def test_frames_refuse_a_single_frame_and_a_ratio_over_200():
    with pytest.raises(InvalidRequest, match="at least 2 images"):
        tokens.frames_tokens(640, 480, 1, TURBO)
    with pytest.raises(InvalidRequest, match="aspect ratio"):
        tokens.frames_tokens(1, 201, 4, TURBO)


# --- audio -----------------------------------------------------------------------------

def test_turbo_audio_is_the_seed_rule():
    assert tokens.audio_tokens(0.4, TURBO) == 25  # under 1 s counts as 1 s
    assert tokens.audio_tokens(0, TURBO) == 25
    assert tokens.audio_tokens(1, TURBO) == 25
    assert tokens.audio_tokens(10, TURBO) == 250
    assert tokens.audio_tokens(180, OPEN) == 4500
    assert tokens.audio_tokens(2.5, TURBO) == 63  # 62.5: a part token counts as one
    assert tokens.audio_tokens(2.2, TURBO) == 55  # 2.2 * 25 is 55.00000000000001 in floats
    assert tokens.audio_method(TURBO) == "seed formula (25 tokens/s)"


def test_flash_audio_is_labelled_an_estimate():
    assert tokens.audio_tokens(10, FLASH) == 130
    assert tokens.audio_tokens(0.2, FLASH) == 13
    assert tokens.audio_method(FLASH).startswith("estimate (~13 tokens/s")
    assert "publishes no rate for qwen3-omni-flash" in tokens.audio_method(FLASH)
    with pytest.raises(InvalidRequest):
        tokens.audio_tokens(-1, FLASH)
    with pytest.raises(InvalidRequest):
        tokens.audio_tokens(float("nan"), FLASH)


def test_methods_name_the_family_constants():
    assert "32x32" in tokens.image_method(FLASH) and "28x28" in tokens.image_method(TURBO)
    assert "at most 128 frames" in tokens.video_method(FLASH)
    assert "at most 80 frames" in tokens.video_method(OPEN)


# --- text ------------------------------------------------------------------------------

@pytest.fixture
def fresh_encoder():
    tokens._qwen_encoding.cache_clear()
    yield
    tokens._qwen_encoding.cache_clear()


def _fake_dashscope(monkeypatch, get_tokenizer):
    package = types.ModuleType("dashscope")
    sub = types.ModuleType("dashscope.tokenizers")
    sub.get_tokenizer = get_tokenizer
    package.tokenizers = sub
    monkeypatch.setitem(sys.modules, "dashscope", package)
    monkeypatch.setitem(sys.modules, "dashscope.tokenizers", sub)


def test_text_is_exact_when_dashscope_gives_the_qwen_vocabulary(monkeypatch, fresh_encoder):
    class Encoder:
        def encode(self, text):
            if text == "boom":
                raise RuntimeError("cannot encode")
            return list(text.encode())  # one token per byte: easy to tell apart

    _fake_dashscope(monkeypatch, lambda model: Encoder())
    assert tokens.text_method() == "exact (Qwen BPE)"
    assert tokens.text_tokens("hello world") == 11
    assert tokens.text_tokens("boom") == 1  # an encoder failure falls back to the heuristic


def test_text_falls_back_when_tiktoken_is_missing(monkeypatch, fresh_encoder):
    def get_tokenizer(model):
        raise ModuleNotFoundError("No module named 'tiktoken'")

    _fake_dashscope(monkeypatch, get_tokenizer)
    assert tokens.text_method() == tokens.HEURISTIC
    assert tokens.text_tokens("hello world") == 3  # 11 characters / 4, rounded up
    assert tokens.text_tokens("你好, world") == 2 + 2
