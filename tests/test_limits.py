"""limits.py: each limit of the catalog's families (the 2026 Qwen-Omni page, "输入限制") at its
edge; messages name the file, the limit, the measured value and a fix."""

from __future__ import annotations

import dataclasses

import pytest

from omni_magic import catalog
from omni_magic.errors import InvalidRequest
from omni_magic.limits import (
    check_audio,
    check_counts,
    check_frame_images,
    check_frames,
    check_image,
    check_inline,
    check_video,
    encoded_length,
    human_bytes,
)
from omni_magic.probe import MediaInfo, probe_audio, probe_image, probe_video

from media import mp4, needs_av, png, wav

MB = 1024 * 1024
GB = 1024 * MB


def _size(limit: int) -> str:
    """A limit as the messages state it: "2 GB" as the page writes the 2026 limits, else MB."""
    return f"{limit // GB} GB" if limit >= GB else f"{limit // MB} MB"

FAMILIES = catalog.default().families
PLUS, OMNI38, FLASH, TURBO, OPEN = (FAMILIES[k] for k in (
    "qwen3.5-omni", "qwen3.8-omni", "qwen3-omni-flash", "qwen-omni-turbo", "qwen2.5-omni"))

# The page's numbers, written out by hand (not read from the catalog): family -> label,
# image bytes by URL, audio (bytes, seconds), video (bytes, seconds), frames (min, max).
PAGE = {
    "qwen3.5-omni": ("Qwen3.5-Omni", 20 * MB, (2 * GB, 3 * 3600), (2 * GB, 3600), (2, 2048)),
    "qwen3.8-omni": ("Qwen3.8-Omni-Flash", 20 * MB, (2 * GB, 3 * 3600), (2 * GB, 2 * 3600),
                     (2, 2048)),
    "qwen3-omni-flash": ("Qwen3-Omni-Flash", 10 * MB, (100 * MB, 20 * 60), (256 * MB, 150),
                         (2, 128)),
    "qwen-omni-turbo": ("Qwen-Omni-Turbo", 10 * MB, (10 * MB, 3 * 60), (150 * MB, 40), (4, 80)),
    "qwen2.5-omni": ("Qwen2.5-Omni (open source)", 10 * MB, (10 * MB, 3 * 60), (150 * MB, 40),
                     (4, 80)),
}
ALL = pytest.mark.parametrize("key", sorted(PAGE))
INLINE_CAP = 10 * MB  # characters of base64, per item
LARGEST_INLINE = 7_864_317  # bytes whose base64 (4 * ceil(n / 3)) is still under 10 MiB


def image(width: int, height: int, nbytes: int = 1000) -> MediaInfo:
    return MediaInfo("image", nbytes, "png", "image/png", width=width, height=height)


def audio(seconds: float | None, nbytes: int = 1000) -> MediaInfo:
    return MediaInfo("audio", nbytes, "wav", "audio/wav", seconds=seconds)


def video(seconds: float | None, nbytes: int = 1000) -> MediaInfo:
    frames = None if seconds is None else int(seconds * 10)
    return MediaInfo("video", nbytes, "mp4", "video/mp4", width=64, height=48, seconds=seconds,
                     fps=10.0, frames=frames, has_audio=False)


def unconfirmed(family):
    return dataclasses.replace(family, limits=dataclasses.replace(family.limits, confirmed=False))


NOT_CONFIRMED = ("(This limit is not confirmed by the service's documentation: the request is "
                 "sent and the service decides.)")


def test_every_catalog_family_has_the_pages_numbers():
    assert set(FAMILIES) == set(PAGE)
    assert all(f.limits.confirmed for f in FAMILIES.values())


@ALL
def test_catalog_limits_are_the_pages(key):
    label, image_bytes, (audio_bytes, audio_s), (video_bytes, video_s), frames = PAGE[key]
    family = FAMILIES[key]
    assert family.label == label
    assert family.limits.image.max_bytes == image_bytes
    limits = family.limits
    assert (limits.audio.max_bytes, limits.audio.max_seconds) == (audio_bytes, audio_s)
    assert (limits.video.max_bytes, limits.video.max_seconds) == (video_bytes, video_s)
    assert (family.limits.frames_min, family.limits.frames_max) == frames
    assert (family.limits.image_min_side, family.limits.image_max_ratio) == (10, 200)


# --- images: > 10 px, ratio <= 200, bytes per family ------------------------------------------

@ALL
def test_image_11_px_is_accepted(key):
    assert check_image(image(11, 11), "cat.png", FAMILIES[key]) == []


def test_image_11_px_file_is_accepted():
    assert check_image(probe_image(png(11, 11), "cat.png"), "cat.png", PLUS) == []


@ALL
def test_image_10_px_wide_is_refused(key):
    with pytest.raises(InvalidRequest) as err:
        check_image(probe_image(png(10, 32), "cat.png"), "cat.png", FAMILIES[key])
    assert str(err.value) == (
        "cat.png is 10 px wide; the service needs width and height over 10 px. "
        "Resize it (for example to 32 px)."
    )


def test_image_10_px_tall_is_refused():
    with pytest.raises(InvalidRequest, match=r"^cat\.png is 10 px tall; .*over 10 px"):
        check_image(image(32, 10), "cat.png", FLASH)


def test_image_too_small_both_ways():
    with pytest.raises(InvalidRequest, match=r"^dot\.png is 3x2 px; "):
        check_image(image(3, 2), "dot.png", TURBO)


@pytest.mark.parametrize("width, height", [(2200, 11), (11, 2200)])
def test_ratio_200_is_accepted_either_way(width, height):
    for family in FAMILIES.values():
        assert check_image(probe_image(png(width, height), "strip.png"), "strip.png", family) == []


@pytest.mark.parametrize("width, height", [(2211, 11), (11, 2211)])
def test_ratio_201_is_refused_either_way(width, height):
    with pytest.raises(InvalidRequest) as err:
        check_image(probe_image(png(width, height), "strip.png"), "strip.png", OMNI38)
    message = str(err.value)
    assert message.startswith(f"strip.png is {width}x{height} px, an aspect ratio of 201:1; ")
    assert "at most 200:1" in message and "pad its short side to at least 12 px" in message


def test_ratio_just_over_200_shows_it_is_over():
    with pytest.raises(InvalidRequest, match=r"aspect ratio of 200\.0\d+:1"):
        check_image(image(200_001, 1000), "pano.png", PLUS)
    assert check_image(image(200_000, 1000), "pano.png", PLUS) == []


@ALL
def test_image_bytes_edge(key):
    label, limit = PAGE[key][0], PAGE[key][1]
    family = FAMILIES[key]
    assert check_image(image(64, 64, nbytes=limit), "big.png", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_image(image(64, 64, nbytes=limit + 1), "big.png", family)
    assert str(err.value) == (
        f"big.png is {_size(limit)} ({limit + 1:,} bytes); {label} takes images up to "
        f"{_size(limit)} each. Resize it or save it as JPEG to make it smaller."
    )


def test_a_15_mb_image_is_fine_on_qwen35_but_not_on_flash():
    big = image(4000, 3000, nbytes=15 * MB)
    assert check_image(big, "photo.jpg", PLUS) == []
    assert check_image(big, "photo.jpg", OMNI38) == []
    with pytest.raises(InvalidRequest, match=r"^photo\.jpg is 15 MB; Qwen3-Omni-Flash takes "
                                             r"images up to 10 MB each\."):
        check_image(big, "photo.jpg", FLASH)


def test_unmeasured_image_warns():
    warnings = check_image(MediaInfo("image", 100), "odd.img", PLUS)
    assert warnings == [
        "Could not measure the size of odd.img; the service needs width and height over 10 px "
        "and an aspect ratio of at most 200:1."
    ]


def test_unmeasured_image_still_checks_its_bytes():
    with pytest.raises(InvalidRequest, match="takes images up to 10 MB"):
        check_image(MediaInfo("image", 10 * MB + 1), "odd.img", FLASH)


# --- frames: Qwen3.5/3.8 2-2048, flash 2-128, turbo 4-80 ------------------------------------

@ALL
def test_frame_counts_inside(key):
    lo, hi = PAGE[key][4]
    for count in (lo, lo + 1, hi - 1, hi):
        assert check_frames(count, FAMILIES[key]) == []


@ALL
def test_frame_counts_just_outside(key):
    label, (lo, hi) = PAGE[key][0], PAGE[key][4]
    with pytest.raises(InvalidRequest) as err:
        check_frames(lo - 1, FAMILIES[key])
    frames = "frame" if lo - 1 == 1 else "frames"
    assert str(err.value).startswith(
        f"{lo - 1} {frames} given; {label} takes {lo} to {hi} images as a video. Add 1 more frame, "
    )
    with pytest.raises(InvalidRequest) as err:
        check_frames(hi + 1, FAMILIES[key])
    assert str(err.value) == (
        f"{hi + 1} frames given; {label} takes {lo} to {hi} images as a video. Keep at most "
        f"{hi} (for example every 2nd frame), or pass the video file with --video."
    )


@pytest.mark.parametrize("family, count, text", [
    (FLASH, 1, "1 frame given; Qwen3-Omni-Flash takes 2 to 128 images as a video. Add 1 more "
               "frame, or send it as images with --image."),
    (TURBO, 0, "0 frames given; Qwen-Omni-Turbo takes 4 to 80 images as a video. Add 4 more "
               "frames, or send them as images with --image."),
    (TURBO, 3, "3 frames given; Qwen-Omni-Turbo takes 4 to 80 images as a video. Add 1 more "
               "frame, or send them as images with --image."),
    (FLASH, 400, "every 4th frame"),
    (PLUS, 2049 * 11, "every 12th frame"),
    (OMNI38, 2048 * 3, "every 3rd frame"),
    (TURBO, 80 * 21, "every 21st frame"),
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
    assert check_frame_images(infos[:2], ["f1.jpg", "f2.jpg"], PLUS) == []
    with pytest.raises(InvalidRequest, match="takes 4 to 80"):
        check_frame_images(infos[:2], ["f1.jpg", "f2.jpg"], TURBO)


# --- video files ------------------------------------------------------------------------------

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
        "clip.mp4 lasts 151.0 s; Qwen3-Omni-Flash takes video files up to 150 s (2.5 min). "
        "Trim it to 150 s, or ask of each part of it with --segments auto (the cell's "
        "prompt, once per window the model takes), or pass frames with --frames."
    )
    assert check_video(clip, "clip.mp4", PLUS) == []


@needs_av
def test_video_40_and_41_s_on_turbo():
    ok = probe_video(mp4(40, fps=1, width=32, height=32, with_audio=False), "clip.mp4")
    assert check_video(ok, "clip.mp4", TURBO) == []
    long = probe_video(mp4(41, fps=1, width=32, height=32, with_audio=False), "clip.mp4")
    match = r"^clip\.mp4 lasts 41\.0 s; Qwen-Omni-Turbo takes video files up to 40 s\. Trim"
    with pytest.raises(InvalidRequest, match=match):
        check_video(long, "clip.mp4", TURBO)
    with pytest.raises(InvalidRequest, match=r"Qwen2\.5-Omni \(open source\) takes video files"):
        check_video(long, "clip.mp4", OPEN)
    assert check_video(long, "clip.mp4", FLASH) == []


@ALL
def test_video_seconds_edge(key):
    label, (_, limit) = PAGE[key][0], PAGE[key][3]
    family = FAMILIES[key]
    assert check_video(video(limit), "clip.mp4", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_video(video(limit + 0.5), "clip.mp4", family)
    minutes = f" ({limit / 60:g} min)" if limit >= 120 else ""
    assert str(err.value) == (
        f"clip.mp4 lasts {limit + 0.5:.1f} s; {label} takes video files up to {limit} s{minutes}. "
        f"Trim it to {limit} s, or ask of each part of it with --segments auto (the cell's "
        "prompt, once per window the model takes), or pass frames with --frames."
    )


def test_a_90_minute_video_is_for_qwen38_only():
    talk = video(90 * 60)
    assert check_video(talk, "talk.mp4", OMNI38) == []
    with pytest.raises(InvalidRequest, match=r"lasts 5400\.0 s; Qwen3\.5-Omni takes video files "
                                             r"up to 3600 s \(60 min\)"):
        check_video(talk, "talk.mp4", PLUS)
    with pytest.raises(InvalidRequest, match=r"up to 7200 s \(120 min\)"):
        check_video(video(7201), "talk.mp4", OMNI38)


@ALL
def test_video_bytes_edge(key):
    label, (limit, _) = PAGE[key][0], PAGE[key][3]
    family = FAMILIES[key]
    assert check_video(video(10, nbytes=limit), "clip.mp4", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_video(video(10, nbytes=limit + 1), "clip.mp4", family)
    assert str(err.value) == (
        f"clip.mp4 is {_size(limit)} ({limit + 1:,} bytes); {label} takes video files up to "
        f"{_size(limit)}. Re-encode it at a lower resolution or bitrate, trim it, or pass "
        "frames with --frames."
    )


def test_video_seconds_shown_precisely_near_the_edge():
    with pytest.raises(InvalidRequest, match=r"lasts 150\.02 s; "):
        check_video(video(150.02), "clip.mp4", FLASH)
    with pytest.raises(InvalidRequest, match=r"lasts 3600\.001 s; "):
        check_video(video(3600.001), "clip.mp4", PLUS)


def test_unmeasured_video_warns():
    assert check_video(video(None), "clip.webm", TURBO) == [
        "Could not measure how long clip.webm lasts; Qwen-Omni-Turbo takes video files up to 40 s."
    ]
    assert check_video(video(None), "clip.webm", OMNI38) == [
        "Could not measure how long clip.webm lasts; Qwen3.8-Omni-Flash takes video files up to "
        "7200 s (120 min)."
    ]


# --- audio ------------------------------------------------------------------------------------

def test_audio_180_and_181_s_on_turbo():
    ok = probe_audio(wav(180, rate=8000), "talk.wav")
    assert check_audio(ok, "talk.wav", TURBO) == []
    long = probe_audio(wav(181, rate=8000), "talk.wav")
    with pytest.raises(InvalidRequest) as err:
        check_audio(long, "talk.wav", TURBO)
    assert str(err.value) == (
        "talk.wav lasts 181.0 s; Qwen-Omni-Turbo takes audio files up to 180 s (3 min). "
        "Trim it to 180 s, or ask of each part of it with --segments auto (the cell's "
        "prompt, once per window the model takes)."
    )
    assert check_audio(long, "talk.wav", FLASH) == []


@ALL
def test_audio_seconds_edge(key):
    label, (_, limit) = PAGE[key][0], PAGE[key][2]
    family = FAMILIES[key]
    assert check_audio(audio(limit), "talk.wav", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_audio(audio(limit + 0.5), "talk.wav", family)
    assert str(err.value) == (
        f"talk.wav lasts {limit + 0.5:.1f} s; {label} takes audio files up to {limit} s "
        f"({limit / 60:g} min). Trim it to {limit} s, or ask of each part of it with --segments auto (the cell's "
        "prompt, once per window the model takes)."
    )


def test_audio_20_min_on_flash_and_3_h_on_qwen35():
    assert check_audio(audio(1200), "talk.wav", FLASH) == []
    match = r"lasts 1200\.5 s; Qwen3-Omni-Flash takes audio files up to 1200 s \(20 min\)"
    with pytest.raises(InvalidRequest, match=match):
        check_audio(audio(1200.5), "talk.wav", FLASH)
    assert check_audio(audio(10800), "talk.wav", PLUS) == []
    assert check_audio(audio(10800), "talk.wav", OMNI38) == []
    with pytest.raises(InvalidRequest, match=r"up to 10800 s \(180 min\)"):
        check_audio(audio(10800.5), "talk.wav", PLUS)


@ALL
def test_audio_bytes_edge(key):
    label, (limit, _) = PAGE[key][0], PAGE[key][2]
    family = FAMILIES[key]
    assert check_audio(audio(10, nbytes=limit), "talk.wav", family) == []
    with pytest.raises(InvalidRequest) as err:
        check_audio(audio(10, nbytes=limit + 1), "talk.wav", family)
    assert str(err.value) == (
        f"talk.wav is {_size(limit)} ({limit + 1:,} bytes); {label} takes audio files up to "
        f"{_size(limit)}. Compress it (for example to mp3 at 64 kbit/s) or trim it."
    )


def test_bytes_and_seconds_are_both_checked():
    with pytest.raises(InvalidRequest, match="takes audio files up to 10 MB"):
        check_audio(audio(10, nbytes=11 * MB), "talk.wav", TURBO)
    with pytest.raises(InvalidRequest, match="takes audio files up to 180 s"):
        check_audio(audio(200, nbytes=1 * MB), "talk.wav", TURBO)


def test_unmeasured_audio_warns():
    assert check_audio(audio(None), "talk.amr", FLASH) == [
        "Could not measure how long talk.amr lasts; "
        "Qwen3-Omni-Flash takes audio files up to 1200 s (20 min)."
    ]


# --- inline (base64) items: the string must be under 10 MB ------------------------------------

def test_the_largest_inline_item_is_just_under_the_cap():
    assert encoded_length(LARGEST_INLINE) == INLINE_CAP - 4
    assert encoded_length(LARGEST_INLINE + 1) == INLINE_CAP
    assert encoded_length(0) == 0 and encoded_length(1) == 4 and encoded_length(3) == 4


@ALL
@pytest.mark.parametrize("kind", ["image", "audio", "video", "frames"])
def test_inline_edge(key, kind):
    family = FAMILIES[key]
    assert check_inline(LARGEST_INLINE, "talk.wav", kind, family) == []
    if key == "qwen3.8-omni" and kind in ("image", "frames"):  # no inline cap: see below
        assert check_inline(LARGEST_INLINE + 1, "talk.wav", kind, family) == []
        return
    with pytest.raises(InvalidRequest) as err:  # exactly 10 MiB of base64 is refused
        check_inline(LARGEST_INLINE + 1, "talk.wav", kind, family)
    assert str(err.value) == (
        f"talk.wav is 7.5 MB, 10 MB (10,485,760 bytes) once base64-encoded; {PAGE[key][0]} "
        "takes inline (base64) media under 10 MB per item. Pass it by URL (for example a "
        "public or OSS link), or make it smaller: " + {
            "audio": "a lower bitrate, or a shorter clip.",
            "video": "a lower resolution or bitrate, or a shorter clip."}.get(kind, "a lower resolution, or JPEG.")
    )


def test_a_large_inline_item_names_its_sizes():
    with pytest.raises(InvalidRequest, match=r"^clip\.mp4 is 20 MB, 26\.7 MB once base64-encoded; "
                                             r"Qwen3\.5-Omni takes inline .*Pass it by URL"):
        check_inline(20 * MB, "clip.mp4", "video", PLUS)


def test_qwen38_images_are_not_inline_checked():
    assert OMNI38.limits.image.max_inline_chars is None
    assert check_inline(50 * MB, "photo.png", "image", OMNI38) == []
    assert check_inline(50 * MB, "f1.png", "frames", OMNI38) == []
    with pytest.raises(InvalidRequest, match="Pass it by URL"):
        check_inline(50 * MB, "talk.wav", "audio", OMNI38)
    with pytest.raises(InvalidRequest, match="Pass it by URL"):
        check_inline(50 * MB, "clip.mp4", "video", OMNI38)
    with pytest.raises(InvalidRequest, match="Pass it by URL"):
        check_inline(50 * MB, "photo.png", "image", PLUS)


def test_an_inline_item_is_checked_apart_from_the_file_limits():
    # 50 MB of audio is fine for Qwen3-Omni-Flash by URL (100 MB), not inline.
    talk = audio(60, nbytes=50 * MB)
    assert check_audio(talk, "talk.wav", FLASH) == []
    with pytest.raises(InvalidRequest, match="by URL"):
        check_inline(talk.nbytes, "talk.wav", "audio", FLASH)


# --- how many items of a kind one message holds ------------------------------------------------

@pytest.mark.parametrize("family, kind, url, inline", [
    (PLUS, "image", 2048, 250), (PLUS, "audio", 2048, 250), (PLUS, "video", 512, 250),
    (OMNI38, "image", 2048, 250), (OMNI38, "video", 64, 64),
    (FLASH, "image", 2048, 250), (FLASH, "audio", 1, 1), (FLASH, "video", 1, 1),
    (TURBO, "audio", 1, 1), (OPEN, "video", 1, 1),
])
def test_counts_edge(family, kind, url, inline):
    what = {"image": "images", "audio": "audio files", "video": "video files"}[kind]
    assert check_counts(kind, url, inline, family) == []
    assert check_counts(kind, 0, 0, family) == []
    with pytest.raises(InvalidRequest) as err:
        check_counts(kind, url + 1, 0, family)
    assert str(err.value) == (
        f"This message holds {url + 1} {what} by URL; {family.label} takes at most {url}. "
        "Send the rest in another cell (turn)."
    )
    with pytest.raises(InvalidRequest) as err:
        check_counts(kind, 0, inline + 1, family)
    assert str(err.value) == (
        f"This message holds {inline + 1} {what} inline (base64); {family.label} takes at most "
        f"{inline}. Send the rest in another cell (turn)."
    )


def test_counts_by_url_and_inline_are_separate():
    assert check_counts("image", 2048, 250, PLUS) == []
    assert check_counts("video", 512, 250, PLUS) == []
    with pytest.raises(InvalidRequest, match="holds 65 video files by URL"):
        check_counts("video", 65, 0, OMNI38)


# --- an unconfirmed family warns instead of refusing --------------------------------------------

def test_an_unconfirmed_limit_warns_with_the_same_words():
    loose = unconfirmed(FLASH)
    with pytest.raises(InvalidRequest) as err:
        check_video(video(151), "clip.mp4", FLASH)
    assert check_video(video(151), "clip.mp4", loose) == [f"{err.value} {NOT_CONFIRMED}"]


@pytest.mark.parametrize("check", [
    lambda f: check_image(image(64, 64, nbytes=10 * MB + 1), "big.png", f),
    lambda f: check_image(image(10, 64), "thin.png", f),
    lambda f: check_image(image(2211, 11), "strip.png", f),
    lambda f: check_audio(audio(1201), "talk.wav", f),
    lambda f: check_audio(audio(10, nbytes=100 * MB + 1), "talk.wav", f),
    lambda f: check_video(video(10, nbytes=256 * MB + 1), "clip.mp4", f),
    lambda f: check_frames(1, f),
    lambda f: check_frames(129, f),
    lambda f: check_frame_images([image(64, 64)] * 2 + [image(64, 8)], ["a", "b", "c"], f),
    lambda f: check_inline(8 * MB, "talk.wav", "audio", f),
    lambda f: check_counts("audio", 2, 0, f),
    lambda f: check_counts("video", 0, 2, f),
])
def test_every_check_only_warns_on_an_unconfirmed_family(check):
    with pytest.raises(InvalidRequest) as err:
        check(FLASH)
    warnings = check(unconfirmed(FLASH))
    assert warnings == [f"{err.value} {NOT_CONFIRMED}"]


def test_an_unconfirmed_family_collects_every_warning():
    loose = unconfirmed(FLASH)
    warnings = check_video(video(200, nbytes=300 * MB), "clip.mp4", loose)
    assert len(warnings) == 2
    assert warnings[0].startswith(
        "clip.mp4 is 300 MB; Qwen3-Omni-Flash takes video files up to 256 MB.")
    assert warnings[1].startswith(
        "clip.mp4 lasts 200.0 s; Qwen3-Omni-Flash takes video files up to 150 s")
    assert all(w.endswith(NOT_CONFIRMED) for w in warnings)
    # Within the limits nothing is said.
    assert check_video(video(100, nbytes=MB), "clip.mp4", loose) == []
    assert check_frames(64, loose) == []


def test_human_bytes():
    assert human_bytes(2 * GB) == "2 GB" and human_bytes(GB + GB // 2) == "1.5 GB"
    assert [human_bytes(n) for n in (5, 2048, 1536, 10 * MB, 12 * MB + MB // 3)] == [
        "5 bytes", "2 KB", "1.5 KB", "10 MB", "12.3 MB",
    ]
