"""The test-file factory makes what it claims, and omni_magic measures each kind correctly.

Every common kind a user attaches: phone photos (JPEG with EXIF rotation, HEIC), PNG with
alpha, mp3 with cover art, m4a, ogg/opus, 48 kHz stereo wav, long mp3s, mp4/mov/webm/mkv,
rotated and variable-frame-rate videos, a 5-minute 1080p phone video (slow).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

pytest.importorskip("av")
pytest.importorskip("pillow_heif")

import av  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from omni_magic import catalog, probe  # noqa: E402
from omni_magic.attachments import Attachment  # noqa: E402
from omni_magic.errors import InvalidRequest  # noqa: E402

import media_kinds as mk  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return catalog.default().resolve("qwen3.5-omni-plus")


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 150 and pixel[1] < 100 and pixel[2] < 100


def streams(path: Path) -> list[tuple[str, str, int]]:
    """(type, codec, disposition) of each stream, as PyAV reads the file."""
    with av.open(str(path)) as container:
        return [(s.type, s.codec_context.name, int(s.disposition)) for s in container.streams]


def decoded(path: Path, kind: str) -> list:
    """Every frame of the first ``kind`` stream, decoded (a broken packet raises)."""
    with av.open(str(path)) as container:
        return list(container.decode(**{kind: 0}))


# --- images ------------------------------------------------------------------------------

def test_photo_is_stored_landscape_and_shown_portrait(tmp_path, model):
    path = mk.photo(tmp_path, 640, 480, orientation=6)
    info = probe.probe_image(path.read_bytes(), path.name)
    assert (info.kind, info.format, info.mime) == ("image", "jpeg", "image/jpeg")
    assert (info.width, info.height) == (640, 480)  # what the file stores
    with Image.open(path) as image:
        assert image.getexif()[0x0112] == 6
        upright = ImageOps.exif_transpose(image)
    # Orientation 6 turns the picture 90° clockwise: portrait, its top edge now on the right.
    assert upright.size == (480, 640)
    assert is_red(upright.getpixel((475, 320))) and not is_red(upright.getpixel((5, 320)))
    attachment = Attachment("image", path)
    assert attachment.check(model) == []
    assert attachment.items()[0].prefix == "data:image/jpeg;base64,"


def test_big_photo_is_a_camera_sized_jpeg_over_the_inline_cap(tmp_path, model):
    path = mk.big_photo(tmp_path, megabytes=12)
    size = path.stat().st_size
    assert 12_000_000 <= size < 15_000_000
    info = probe.probe_image(path.read_bytes(), path.name)
    assert (info.format, info.width, info.height) == ("jpeg", 4032, 3024)
    with Image.open(path) as image:
        assert image.getexif()[0x0112] == 6
    with pytest.raises(InvalidRequest, match="big_photo.jpg"):
        Attachment("image", path).check(model)  # 16 MB of base64: over the 10 MB cap


def test_big_photo_is_the_same_every_time(tmp_path):
    first = mk.big_photo(tmp_path, megabytes=0.4, width=640, height=480, name="a.jpg")
    second = mk.big_photo(tmp_path, megabytes=0.4, width=640, height=480, name="b.jpg")
    assert first.stat().st_size >= 400_000
    assert first.read_bytes() == second.read_bytes()


def test_big_photo_says_when_it_cannot_be_that_big(tmp_path):
    with pytest.raises(ValueError, match="ask for more pixels"):
        mk.big_photo(tmp_path, megabytes=5, width=64, height=48)


def test_heic_photo_is_read_turned_and_sent_as_jpeg(tmp_path, model):
    path = mk.heic(tmp_path, 640, 480, orientation=6)
    assert probe.sniff(path.read_bytes()[:64]) == ("image", "heic")
    assert probe.media_type(path) == ("image", "image/heic")
    info = probe.probe_image(path.read_bytes(), path.name)
    assert (info.width, info.height) == (480, 640)  # the HEIF rotation is applied on reading
    attachment = Attachment("image", path)
    sent = attachment.probe()[0]
    assert (sent.format, sent.width, sent.height) == ("jpeg", 480, 640)
    assert attachment.check(model) == []
    assert any("HEIC" in note for note in attachment.notes)
    with Image.open(io.BytesIO(attachment.items()[0].read())) as jpeg:
        assert is_red(jpeg.getpixel((475, 320)))  # the stored top edge is on the right


def test_png_keeps_its_transparency(tmp_path, model):
    path = mk.png_alpha(tmp_path, 320, 240)
    info = probe.probe_image(path.read_bytes(), path.name)
    assert (info.format, info.mime, info.width, info.height) == ("png", "image/png", 320, 240)
    with Image.open(path) as image:
        assert image.mode == "RGBA"
        assert image.getchannel("A").getextrema() == (0, 255)
        assert image.getpixel((10, 120))[3] == 255 and image.getpixel((319, 120))[3] < 10
    assert Attachment("image", path).check(model) == []


# --- audio -------------------------------------------------------------------------------

AUDIO = [  # maker, keyword arguments, format, MIME, codec, sample rate, channels
    (mk.mp3, {}, "mp3", "audio/mpeg", "mp3float", 16_000, 1),
    (mk.m4a, {}, "m4a", "audio/mp4", "aac", 44_100, 2),
    (mk.opus, {}, "opus", "audio/ogg", "opus", 48_000, 2),
    (mk.wav, {}, "wav", "audio/wav", "pcm_s16le", 48_000, 2),
    (mk.mp3, {"rate": 44_100, "channels": 2, "bitrate": 128_000}, "mp3", "audio/mpeg",
     "mp3float", 44_100, 2),
]


@pytest.mark.parametrize("make, kwargs, fmt, mime, codec, rate, channels", AUDIO,
                         ids=["mp3", "m4a", "opus", "wav48k", "mp3stereo"])
def test_audio_kinds_are_measured(tmp_path, model, make, kwargs, fmt, mime, codec, rate,
                                  channels):
    path = make(tmp_path, seconds=3.0, **kwargs)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == (codec, rate, channels)
    info = probe.probe_audio(path.read_bytes(), path.name)
    assert (info.kind, info.format, info.mime) == ("audio", fmt, mime)
    assert info.seconds == pytest.approx(3.0, abs=0.05)
    attachment = Attachment("audio", path)
    assert attachment.audio_format() == fmt
    assert attachment.check(model) == []


@pytest.mark.parametrize("make, fmt", [(mk.mp3, "mp3"), (mk.m4a, "m4a")])
def test_cover_art_leaves_audio_audio(tmp_path, model, make, fmt):
    path = make(tmp_path, seconds=3.0, cover=True)
    found = streams(path)
    assert found[0][0] == "audio"
    assert ("video", "mjpeg", av.stream.Disposition.attached_pic.value) in found
    assert (b"APIC" if fmt == "mp3" else b"covr") in path.read_bytes()
    info = probe.probe_audio(path.read_bytes(), path.name)
    assert (info.kind, info.format) == ("audio", fmt)
    assert info.seconds == pytest.approx(3.0, abs=0.05)
    assert Attachment("audio", path).check(model) == []
    with pytest.raises(InvalidRequest, match="--audio"):  # not a video with one frame
        probe.probe_video(path, path.name)


def test_forty_minute_mp3(tmp_path, model):
    path = mk.mp3(tmp_path, seconds=40 * 60, rate=16_000, channels=1, bitrate=32_000)
    assert path.stat().st_size == pytest.approx(40 * 60 * 32_000 / 8, rel=0.02)
    info = probe.probe_audio(path.read_bytes(), path.name)
    assert (info.format, info.seconds) == ("mp3", pytest.approx(2400, abs=0.5))
    with av.open(str(path)) as container:  # the middle decodes: it is sound all along
        container.seek(1200 * 1_000_000)
        frame = next(container.decode(audio=0))
        assert abs(float(frame.time) - 1200) < 1 and frame.to_ndarray().any()
    with pytest.raises(InvalidRequest, match="speech.mp3"):  # 12.8 MB of base64
        Attachment("audio", path).check(model)


@pytest.mark.parametrize("make, rate", [(mk.mp3, 16_000), (mk.m4a, 44_100), (mk.opus, 48_000)])
def test_long_audio_made_by_repeating_decodes_end_to_end(tmp_path, make, rate):
    seconds = 2.5 * mk.AUDIO_LOOP  # crosses the loop twice
    path = make(tmp_path, seconds=seconds)
    frames = decoded(path, "audio")
    assert sum(f.samples for f in frames) / rate == pytest.approx(seconds, abs=0.1)
    assert probe.probe_audio(path.read_bytes(), path.name).seconds == pytest.approx(
        seconds, abs=0.1)


# --- video -------------------------------------------------------------------------------

VIDEO = [  # file name, codec, format, MIME, video codec, sound codec
    ("clip.mp4", None, "mp4", "video/mp4", "h264", "aac"),
    ("clip.mov", None, "mov", "video/quicktime", "h264", "aac"),
    ("clip.webm", None, "webm", "video/webm", "vp8", "opus"),
    ("vp9.webm", "libvpx-vp9", "webm", "video/webm", "vp9", "opus"),
    ("clip.mkv", None, "mkv", "video/x-matroska", "h264", "aac"),
]


@pytest.mark.parametrize("name, codec, fmt, mime, vcodec, acodec", VIDEO,
                         ids=["mp4", "mov", "webm-vp8", "webm-vp9", "mkv"])
def test_video_kinds_are_measured(tmp_path, model, name, codec, fmt, mime, vcodec, acodec):
    path = mk.video(tmp_path, name, seconds=2.0, width=320, height=240, fps=25, codec=codec)
    assert [s[:2] for s in streams(path)] == [("video", vcodec), ("audio", acodec)]
    assert probe.media_type(path) == ("video", mime)
    info = probe.probe_video(path, path.name)
    assert (info.kind, info.format, info.mime) == ("video", fmt, mime)
    assert (info.width, info.height, info.fps) == (320, 240, 25.0)
    assert info.seconds == pytest.approx(2.0, abs=0.05)
    assert info.frames == pytest.approx(50, abs=1)
    assert info.has_audio and info.audio_seconds == pytest.approx(2.0, abs=0.05)
    assert Attachment("video", path).check(model) == []


def test_silent_video_has_no_sound_track(tmp_path):
    path = mk.video(tmp_path, "silent.mp4", audio=False)
    info = probe.probe_video(path, path.name)
    assert info.has_audio is False and info.audio_seconds is None and info.frames == 50


@pytest.mark.parametrize("name", ["turned.mp4", "turned.mov", "turned.mkv"])
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_rotated_video_reports_its_rotation(tmp_path, name, rotate):
    path = mk.video(tmp_path, name, seconds=0.4, audio=False, rotate=rotate)
    assert mk.rotation_of(path) == rotate
    frame = decoded(path, "video")[0]
    assert frame.rotation == (-rotate + 180) % 360 - 180  # PyAV: counter-clockwise, ±180
    info = probe.probe_video(path, path.name)
    assert (info.width, info.height) == (320, 240)  # the stored picture, before turning


def test_long_video_made_by_repeating_decodes_end_to_end(tmp_path):
    seconds = 2.5 * mk.VIDEO_LOOP
    path = mk.video(tmp_path, "looped.mp4", seconds=seconds, fps=25)
    frames = decoded(path, "video")
    assert len(frames) == 250
    assert [f.pts for f in frames] == sorted(f.pts for f in frames)
    assert sum(f.samples for f in decoded(path, "audio")) / 48_000 == pytest.approx(seconds,
                                                                                      abs=0.1)
    info = probe.probe_video(path, path.name)
    assert (info.frames, info.seconds) == (250, pytest.approx(seconds, abs=0.05))


def test_variable_frame_rate_video_reports_its_average_rate(tmp_path):
    path = mk.vfr_video(tmp_path, seconds=4.0)
    stamps = [f.time for f in decoded(path, "video")]
    gaps = {round(b - a, 3) for a, b in zip(stamps, stamps[1:])}
    assert {0.04, 0.12, 0.2} <= gaps  # really irregular
    assert len(stamps) == mk.vfr_frames(4.0) == 48
    info = probe.probe_video(path, path.name)
    assert info.frames == 48
    assert info.seconds == pytest.approx(4.0, abs=0.25)
    assert info.fps == pytest.approx(12, rel=0.1)  # the average, not the header's 25
    assert info.frames / info.seconds == pytest.approx(info.fps, rel=0.05)


def test_variable_frame_rate_mkv_reports_its_average_rate(tmp_path):
    path = mk.vfr_video(tmp_path, seconds=4.0, name="vfr.mkv")
    assert len(decoded(path, "video")) == 48
    info = probe.probe_video(path, path.name)
    assert info.fps == pytest.approx(12, rel=0.1)
    assert info.frames == pytest.approx(48, abs=2)


def test_phone_video_is_1080p_turned_upright_with_sound(tmp_path, model):
    path = mk.phone_video(tmp_path, seconds=1.0)
    assert mk.rotation_of(path) == 90
    info = probe.probe_video(path, path.name)
    assert (info.format, info.width, info.height, info.fps) == ("mp4", 1920, 1080, 30.0)
    assert info.frames == 30 and info.has_audio
    assert Attachment("video", path).check(model) == []


@pytest.mark.slow
def test_five_minute_phone_video(tmp_path, model):
    started = time.perf_counter()
    path = mk.phone_video(tmp_path, seconds=300)
    made = time.perf_counter() - started
    size = path.stat().st_size
    print(f"\n5-minute 1080p phone video: {size / 1e6:.0f} MB in {made:.1f} s")
    assert size == pytest.approx(300 * 6e6 / 8, rel=0.25)
    info = probe.probe_video(path, path.name)
    assert (info.width, info.height, info.fps, info.frames) == (1920, 1080, 30.0, 9000)
    assert info.seconds == pytest.approx(300, abs=0.1)
    assert info.audio_seconds == pytest.approx(300, abs=0.1)
    assert mk.rotation_of(path) == 90
    with av.open(str(path)) as container:  # the middle decodes
        container.seek(150 * 1_000_000)
        assert next(container.decode(video=0)).to_ndarray().any()
    with pytest.raises(InvalidRequest, match="phone.mp4"):
        Attachment("video", path).check(model)


@pytest.mark.parametrize("name, nominal_fps", [("vfr.webm", 25), ("vfr.mkv", 1000)])
def test_variable_frame_rate_matroska_counts_its_frames_whatever_the_header_claims(
        tmp_path, name, nominal_fps):
    path = mk.vfr_video(tmp_path, seconds=4.0, name=name, nominal_fps=nominal_fps)
    with av.open(str(path)) as container:  # the header states no count, and a wrong rate
        assert container.streams.video[0].frames == 0
        assert container.streams.video[0].average_rate == nominal_fps
    assert len(decoded(path, "video")) == 48
    info = probe.probe_video(path, path.name)
    assert info.frames == 48
    assert info.fps == pytest.approx(12, rel=0.1)
    assert info.frames / info.seconds == pytest.approx(info.fps, rel=0.01)
    assert probe.probe_video(path.read_bytes(), path.name) == info


@pytest.mark.parametrize("name", ["clip.mkv", "clip.webm"])
def test_matroska_with_sound_counts_the_picture_not_the_longer_sound(tmp_path, name):
    path = mk.video(tmp_path, name, seconds=2.0, fps=25)
    with av.open(str(path)) as container:  # the sound track runs past the last picture
        assert container.duration / 1_000_000 > 2.0
    assert len(decoded(path, "video")) == 50
    info = probe.probe_video(path, path.name)
    assert (info.frames, info.fps, info.has_audio) == (50, pytest.approx(25.0), True)
    assert info.seconds == pytest.approx(2.0, abs=0.001)


def test_a_matroska_file_past_the_count_budget_is_sampled(tmp_path, monkeypatch):
    from omni_magic import probe_av

    # A 512 MB file is not made here: the budget shrinks to half of this one instead.
    path = mk.vfr_video(tmp_path, seconds=8.0, name="vfr.mkv", nominal_fps=1000)
    monkeypatch.setattr(probe_av, "COUNT_BYTES", path.stat().st_size // 2)
    counts = []
    count = probe_av._count
    monkeypatch.setattr(probe_av, "_count", lambda *a: counts.append(count(*a)) or counts[-1])
    info = probe.probe_video(path, path.name)
    [(counted, _, whole)] = counts
    assert not whole and 24 <= counted < 96  # stopped near the middle
    assert info.fps == pytest.approx(12, rel=0.1)  # measured on the first half, not the 1000
    assert info.seconds == pytest.approx(8.0, abs=0.25)  # the header's: the rest was not read
    assert info.frames == pytest.approx(96, rel=0.1)
