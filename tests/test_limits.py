"""limits.py: each limit of SPEC §1 at its edge; messages name file, limit, value and fix."""

from __future__ import annotations

import pytest
from media import mp4, needs_av, png, wav

from omni_magic.catalog import FLASH, OPEN, TURBO
from omni_magic.errors import InvalidRequest
from omni_magic.limits import (
    check_audio, check_frame_images, check_frames, check_image, check_video, human_bytes,
    inline_warning,
)
from omni_magic.probe import MediaInfo, probe_audio, probe_image, probe_video

MB = 1024 * 1024


def image(width: int, height: int, nbytes: int = 1000) -> MediaInfo:
    return MediaInfo("image", nbytes, "png", "image/png", width=width, height=height)


def audio(seconds: float | None, nbytes: int = 1000) -> MediaInfo:
    return MediaInfo("audio", nbytes, "wav", "audio/wav", seconds=seconds)


def video(seconds: float | None, nbytes: int = 1000) -> MediaInfo:
    frames = None if seconds is None else int(seconds * 10)
    return MediaInfo("video", nbytes, "mp4", "video/mp4", width=64, height=48, seconds=seconds,
                     fps=10.0, frames=frames, has_audio=False)


# --- images: > 10 px, ratio <= 200, <= 10 MB -----------------------------------------------

def test_image_11_px_is_accepted():
    assert check_image(probe_image(png(11, 11), "cat.png"), "cat.png") == []


def test_image_10_px_wide_is_refused():
    with pytest.raises(InvalidRequest) as err:
        check_image(probe_image(png(10, 32), "cat.png"), "cat.png")
    assert str(err.value) == (
        "cat.png is 10 px wide; the service needs width and height over 10 px. "
        "Resize it (for example to 32 px)."
    )


def test_image_10_px_tall_is_refused():
    with pytest.raises(InvalidRequest, match=r"^cat\.png is 10 px tall; .*over 10 px"):
        check_image(image(32, 10), "cat.png")


def test_image_too_small_both_ways():
    with pytest.raises(InvalidRequest, match=r"^dot\.png is 3x2 px; "):
        check_image(image(3, 2), "dot.png")


@pytest.mark.parametrize("width, height", [(2200, 11), (11, 2200)])
def test_ratio_200_is_accepted_either_way(width, height):
    assert check_image(probe_image(png(width, height), "strip.png"), "strip.png") == []


@pytest.mark.parametrize("width, height", [(2211, 11), (11, 2211)])
def test_ratio_201_is_refused_either_way(width, height):
    with pytest.raises(InvalidRequest) as err:
        check_image(probe_image(png(width, height), "strip.png"), "strip.png")
    message = str(err.value)
    assert message.startswith(f"strip.png is {width}x{height} px, an aspect ratio of 201:1; ")
    assert "at most 200:1" in message and "pad its short side to at least 12 px" in message


def test_ratio_just_over_200_shows_it_is_over():
    with pytest.raises(InvalidRequest, match=r"aspect ratio of 200\.0\d+:1"):
        check_image(image(200_001, 1000), "pano.png")


def test_image_bytes_edge():
    assert check_image(image(64, 64, nbytes=10 * MB), "big.png") == []
    with pytest.raises(InvalidRequest) as err:
        check_image(image(64, 64, nbytes=10 * MB + 1), "big.png")
    assert str(err.value).startswith(
        "big.png is 10 MB (10,485,761 bytes); the service takes images up to 10 MB each."
    )


def test_unmeasured_image_warns():
    warnings = check_image(MediaInfo("image", 100), "odd.img")
    assert len(warnings) == 1 and "Could not measure the size of odd.img" in warnings[0]


# --- frames: flash 2-128, turbo 4-80 ----------------------------------------------------

@pytest.mark.parametrize("family, ok", [(FLASH, (2, 128)), (TURBO, (4, 80)), (OPEN, (4, 80))])
def test_frame_counts_inside(family, ok):
    for count in ok:
        assert check_frames(count, family) == []


@pytest.mark.parametrize("family, count, text", [
    (FLASH, 1, "1 frame given; qwen3-omni-flash takes 2 to 128 images as a video. Add 1 more frame"),
    (FLASH, 129, "129 frames given; qwen3-omni-flash takes 2 to 128 images as a video. "
                 "Keep at most 128 (for example every 2nd frame)"),
    (TURBO, 3, "3 frames given; qwen-omni-turbo takes 4 to 80 images as a video. Add 1 more frame"),
    (TURBO, 81, "81 frames given; qwen-omni-turbo takes 4 to 80 images as a video. "
                "Keep at most 80 (for example every 2nd frame)"),
    (TURBO, 0, "0 frames given; qwen-omni-turbo takes 4 to 80 images as a video. Add 4 more frames"),
    (FLASH, 400, "every 4th frame"),
])
def test_frame_counts_outside(family, count, text):
    with pytest.raises(InvalidRequest) as err:
        check_frames(count, family)
    assert text in str(err.value)


def test_each_frame_is_checked_as_an_image():
    infos = [image(64, 64), image(64, 64), image(64, 8)]
    with pytest.raises(InvalidRequest, match=r"^f3\.jpg is 8 px tall"):
        check_frame_images(infos, ["f1.jpg", "f2.jpg", "f3.jpg"], FLASH)
    assert check_frame_images(infos[:2], ["f1.jpg", "f2.jpg"], FLASH) == []
    with pytest.raises(InvalidRequest, match="takes 4 to 80"):
        check_frame_images(infos[:2], ["f1.jpg", "f2.jpg"], TURBO)


# --- video files: flash 256 MB / 150 s, turbo 150 MB / 40 s ------------------------------

@needs_av
def test_video_150_s_on_flash_is_accepted():
    clip = probe_video(mp4(150, fps=1, width=32, height=32, with_audio=False), "clip.mp4")
    assert check_video(clip, "clip.mp4", FLASH) == []


@needs_av
def test_video_151_s_on_flash_is_refused():
    clip = probe_video(mp4(151, fps=1, width=32, height=32, with_audio=False), "clip.mp4")
    with pytest.raises(InvalidRequest) as err:
        check_video(clip, "clip.mp4", FLASH)
    assert str(err.value) == (
        "clip.mp4 lasts 151.0 s; qwen3-omni-flash takes video files up to 150 s. "
        "Trim it to 150 s, or pass frames with --frames."
    )


@needs_av
def test_video_40_and_41_s_on_turbo():
    ok = probe_video(mp4(40, fps=1, width=32, height=32, with_audio=False), "clip.mp4")
    assert check_video(ok, "clip.mp4", TURBO) == []
    long = probe_video(mp4(41, fps=1, width=32, height=32, with_audio=False), "clip.mp4")
    match = r"^clip\.mp4 lasts 41\.0 s; qwen-omni-turbo takes video files up to 40 s\."
    with pytest.raises(InvalidRequest, match=match):
        check_video(long, "clip.mp4", TURBO)
    assert check_video(long, "clip.mp4", FLASH) == []


@pytest.mark.parametrize("family, limit", [(FLASH, 256 * MB), (TURBO, 150 * MB), (OPEN, 150 * MB)])
def test_video_bytes_edge(family, limit):
    assert check_video(video(10, nbytes=limit), "clip.mp4", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_video(video(10, nbytes=limit + 1), "clip.mp4", family)
    message = str(err.value)
    assert message.startswith(
        f"clip.mp4 is {limit // MB} MB ({limit + 1:,} bytes); "
        f"{family.name} takes video files up to {limit // MB} MB."
    )
    assert "--frames" in message


def test_video_seconds_shown_precisely_near_the_edge():
    with pytest.raises(InvalidRequest, match=r"lasts 150\.02 s; "):
        check_video(video(150.02), "clip.mp4", FLASH)


def test_unmeasured_video_warns():
    warnings = check_video(video(None), "clip.webm", TURBO)
    assert warnings == [
        "Could not measure how long clip.webm lasts; qwen-omni-turbo takes video files up to 40 s."
    ]


# --- audio: flash 100 MB / 20 min, turbo 10 MB / 3 min -----------------------------------

def test_audio_180_and_181_s_on_turbo():
    ok = probe_audio(wav(180, rate=8000), "talk.wav")
    assert check_audio(ok, "talk.wav", TURBO) == []
    long = probe_audio(wav(181, rate=8000), "talk.wav")
    with pytest.raises(InvalidRequest) as err:
        check_audio(long, "talk.wav", TURBO)
    assert str(err.value) == (
        "talk.wav lasts 181.0 s; qwen-omni-turbo takes audio up to 180 s (3 min). "
        "Trim it to 180 s or split it across several cells."
    )
    assert check_audio(long, "talk.wav", FLASH) == []


def test_audio_20_min_on_flash():
    assert check_audio(audio(1200), "talk.wav", FLASH) == []
    match = r"lasts 1200\.5 s; qwen3-omni-flash takes audio up to 1200 s \(20 min\)"
    with pytest.raises(InvalidRequest, match=match):
        check_audio(audio(1200.5), "talk.wav", FLASH)


@pytest.mark.parametrize("family, limit", [(FLASH, 100 * MB), (TURBO, 10 * MB), (OPEN, 10 * MB)])
def test_audio_bytes_edge(family, limit):
    assert check_audio(audio(10, nbytes=limit), "talk.wav", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_audio(audio(10, nbytes=limit + 1), "talk.wav", family)
    assert str(err.value).startswith(
        f"talk.wav is {limit // MB} MB ({limit + 1:,} bytes); "
        f"{family.name} takes audio files up to {limit // MB} MB. Compress it"
    )


def test_unmeasured_audio_warns():
    warnings = check_audio(audio(None), "talk.amr", FLASH)
    assert warnings == [
        "Could not measure how long talk.amr lasts; "
        "qwen3-omni-flash takes audio up to 1200 s (20 min)."
    ]


# --- inline payloads: warn above ~10 MB of base64, never refuse ---------------------------

def test_inline_warning_edge():
    limit_raw = 10 * MB * 3 // 4  # base64 turns 3 bytes into 4
    assert inline_warning(limit_raw, "talk.wav") is None
    warning = inline_warning(limit_raw + 1, "talk.wav")
    assert warning is not None
    assert warning.startswith(
        "talk.wav is 7.5 MB, 10 MB (10,485,764 bytes) once base64-encoded inline; "
    )
    assert "public trackers report a cap near 10 MB on inline data" in warning
    assert "Pass it by URL" in warning


def test_inline_warning_is_not_a_refusal():
    talk = audio(60, nbytes=50 * MB)
    assert check_audio(talk, "talk.wav", FLASH) == []
    warnings = check_audio(talk, "talk.wav", FLASH, inline=True)
    assert len(warnings) == 1 and "by URL" in warnings[0]
    assert len(check_video(video(60, nbytes=20 * MB), "clip.mp4", FLASH, inline=True)) == 1


def test_human_bytes():
    assert [human_bytes(n) for n in (5, 2048, 1536, 10 * MB, 12 * MB + MB // 3)] == [
        "5 bytes", "2 KB", "1.5 KB", "10 MB", "12.3 MB",
    ]
