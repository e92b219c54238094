"""probe.py: media is measured from its bytes, mislabelled or broken files get a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omni_magic import probe
from omni_magic.errors import InvalidRequest
from omni_magic.probe import MediaInfo, probe_audio, probe_image, probe_video, sniff_kind

from media import flac, gif, jpeg, m4a, mp3, mp4, needs_av, needs_mp3, ogg, png, wav, webp

GARBAGE = bytes(range(7, 250)) * 20


def _no_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError


def _clean(message: str) -> None:
    """A message a user can read: no traceback, no errno, no object repr."""
    for noise in ("Traceback", "Errno", "object at 0x", "<_io"):
        assert noise not in message


# --- sniff_kind --------------------------------------------------------------------------

@pytest.mark.parametrize("make, kind", [
    (lambda: png(), "image"), (lambda: jpeg(), "image"), (lambda: gif(), "image"),
    (lambda: webp(), "image"), (lambda: wav(0.1), "audio"), (lambda: flac(0.1), "audio"),
    (lambda: ogg(0.1), "audio"),
])
def test_sniff_kind_from_magic_bytes(make, kind):
    assert sniff_kind(make()) == kind


@pytest.mark.parametrize("head, found", [
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", ("audio", "mp3")),
    (b"\xff\xfb\x90\x64" + b"\x00" * 20, ("audio", "mp3")),
    (b"\xff\xf3\x90\x64" + b"\x00" * 20, ("audio", "mp3")),
    (b"\xff\xf1\x50\x80" + b"\x00" * 20, ("audio", "aac")),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00", ("audio", "m4a")),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", ("video", "mp4")),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", ("video", "mov")),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", ("video", "webm")),
    (b"RIFF\x00\x00\x00\x00AVI LIST", ("video", "avi")),
])
def test_sniff_formats(head, found):
    assert probe.sniff(head) == found


@pytest.mark.parametrize("data", [b"", b"hello world", GARBAGE, b"\xff\xff\xff\xff"])
def test_sniff_unknown_is_none(data):
    assert sniff_kind(data) is None


# --- images ------------------------------------------------------------------------------

def test_probe_png():
    info = probe_image(png(20, 30), "cat.png")
    assert info == MediaInfo("image", len(png(20, 30)), "png", "image/png", width=20, height=30)


@pytest.mark.parametrize("make, fmt, mime", [
    (jpeg, "jpeg", "image/jpeg"), (gif, "gif", "image/gif"), (webp, "webp", "image/webp"),
])
def test_probe_image_formats(make, fmt, mime):
    info = probe_image(make(64, 48), "x")
    assert (info.kind, info.format, info.mime) == ("image", fmt, mime)
    assert (info.width, info.height) == (64, 48)


def test_image_format_comes_from_bytes_not_name():
    assert probe_image(jpeg(), "photo.png").format == "jpeg"


@pytest.mark.parametrize(
    "data", [GARBAGE, b"", png(40, 40)[:60]], ids=["garbage", "empty", "truncated"]
)
def test_unreadable_image_names_the_file(data):
    with pytest.raises(InvalidRequest) as err:
        probe_image(data, "cat.png")
    message = str(err.value)
    assert message.startswith("cat.png is not an image Pillow can read (")
    _clean(message)


def test_audio_given_as_image():
    with pytest.raises(InvalidRequest, match=r"speech\.png .*look like an audio file \(WAV\).*--audio"):
        probe_image(wav(0.2), "speech.png")


# --- audio -------------------------------------------------------------------------------

@pytest.mark.parametrize("make, fmt, mime", [
    (wav, "wav", "audio/wav"), (flac, "flac", "audio/flac"), (ogg, "ogg", "audio/ogg"),
])
def test_probe_audio_soundfile_formats(make, fmt, mime):
    info = probe_audio(make(1.5), "a")
    assert (info.kind, info.format, info.mime) == ("audio", fmt, mime)
    assert info.seconds == pytest.approx(1.5, abs=0.01)
    assert info.nbytes == len(make(1.5))


def test_audio_format_comes_from_bytes_not_name():
    # input_audio.format must name the real container, whatever the file is called.
    assert probe_audio(flac(0.5), "voice.wav").format == "flac"


@needs_mp3
def test_probe_mp3():
    info = probe_audio(mp3(3.0), "welcome.mp3")
    assert (info.format, info.mime) == ("mp3", "audio/mpeg")
    assert info.seconds == pytest.approx(3.0, abs=0.1)


@needs_mp3
def test_mp3_duration_through_pyav(monkeypatch):
    # Older libsndfile cannot read mp3: the duration then comes from PyAV.
    monkeypatch.setattr(probe, "_soundfile_seconds", lambda data: None)
    info = probe_audio(mp3(4.0), "welcome.mp3")
    assert info.format == "mp3"
    assert info.seconds == pytest.approx(4.0, abs=0.1)


@needs_av
def test_m4a_duration_through_pyav():
    info = probe_audio(m4a(2.5), "memo.m4a")
    assert (info.kind, info.format, info.mime) == ("audio", "m4a", "audio/mp4")
    assert info.seconds == pytest.approx(2.5, abs=0.1)


def test_image_given_as_audio():
    with pytest.raises(InvalidRequest) as err:
        probe_audio(png(), "song.mp3")
    assert str(err.value) == (
        "song.mp3 was given as audio but its bytes look like an image (PNG). "
        "Pass it with --image, or check that the right file was attached."
    )


@needs_av
def test_video_given_as_audio():
    with pytest.raises(InvalidRequest, match=r"clip\.mp4 is a video \(MP4\).*--video"):
        probe_audio(mp4(0.5), "clip.mp4")


@pytest.mark.parametrize(
    "data", [GARBAGE, b"", wav(1.0)[:30]], ids=["garbage", "empty", "truncated"]
)
def test_unreadable_audio_names_the_file(data):
    with pytest.raises(InvalidRequest) as err:
        probe_audio(data, "noise.wav")
    assert str(err.value).startswith("noise.wav is not ")
    _clean(str(err.value))


def test_wav_needs_no_pyav(monkeypatch):
    _no_pyav(monkeypatch)
    assert probe_audio(wav(1.0), "a.wav").seconds == pytest.approx(1.0)


@needs_av
def test_m4a_without_pyav_says_what_to_install(monkeypatch):
    data = m4a(0.5)
    _no_pyav(monkeypatch)
    with pytest.raises(InvalidRequest) as err:
        probe_audio(data, "memo.m4a")
    message = str(err.value)
    assert message.startswith("memo.m4a is M4A audio, which soundfile cannot measure.")
    assert "pip install 'omni_magic[video]' (PyAV)" in message


def test_garbage_without_pyav_still_names_the_file(monkeypatch):
    _no_pyav(monkeypatch)
    match = r"^noise\.bin is not audio soundfile can read.*omni_magic\[video\]"
    with pytest.raises(InvalidRequest, match=match):
        probe_audio(GARBAGE, "noise.bin")


# --- video -------------------------------------------------------------------------------

@needs_av
def test_probe_mp4_with_sound_track():
    data = mp4(2.0, fps=10, width=64, height=48, with_audio=True)
    info = probe_video(data, "clip.mp4")
    assert (info.kind, info.format, info.mime) == ("video", "mp4", "video/mp4")
    assert info.nbytes == len(data)
    assert (info.width, info.height, info.fps, info.frames) == (64, 48, 10.0, 20)
    assert info.seconds == pytest.approx(2.0, abs=0.05)
    assert info.has_audio is True
    assert info.audio_seconds == pytest.approx(2.0, abs=0.1)


@needs_av
def test_probe_mp4_without_sound_track():
    info = probe_video(mp4(1.0, fps=12, width=32, height=32, with_audio=False), "silent.mp4")
    assert (info.width, info.height, info.fps, info.frames) == (32, 32, 12.0, 12)
    assert info.has_audio is False
    assert info.audio_seconds is None


@needs_av
def test_probe_video_from_path(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4(1.0, with_audio=False))
    info = probe_video(path, "clip.mp4")
    assert info.nbytes == path.stat().st_size
    assert info.frames == 10
    assert probe_video(str(path), "clip.mp4") == info


@needs_av
def test_frames_computed_when_container_has_no_count():
    # Matroska stores no frame count: it comes from duration x fps.
    info = probe_video(mp4(3.0, fps=10, with_audio=False, container_format="matroska"), "clip.mkv")
    assert info.format == "mkv"
    assert info.frames == pytest.approx(30, abs=1)


def test_missing_video_file(tmp_path):
    with pytest.raises(InvalidRequest, match=r"Cannot read nope\.mp4: .*Check the path"):
        probe_video(tmp_path / "nope.mp4", "nope.mp4")


def test_image_given_as_video():
    with pytest.raises(InvalidRequest, match=r"cat\.mp4 was given as a video .*image \(PNG\).*--image"):
        probe_video(png(), "cat.mp4")


@needs_mp3
def test_audio_given_as_video():
    with pytest.raises(InvalidRequest, match=r"song\.mp4 .*audio file \(MP3\).*--audio"):
        probe_video(mp3(0.5), "song.mp4")


@needs_av
@pytest.mark.parametrize(
    "make", [lambda: GARBAGE, lambda: mp4(1.0)[:2000]], ids=["garbage", "truncated"]
)
def test_unreadable_video_names_the_file(make):
    with pytest.raises(InvalidRequest) as err:
        probe_video(make(), "clip.mp4")
    assert str(err.value).startswith("clip.mp4 is not a video PyAV can read (")
    _clean(str(err.value))


def test_video_without_pyav(monkeypatch):
    _no_pyav(monkeypatch)
    with pytest.raises(InvalidRequest) as err:
        probe_video(b"\x00\x00\x00\x20ftypisom" + bytes(100), "clip.mp4")
    assert str(err.value).startswith("Reading video needs PyAV: pip install 'omni_magic[video]'")


def test_probing_imports_nothing_heavy():
    code = (
        "import sys, omni_magic.probe, omni_magic.limits; "
        "print(sorted(m for m in ('PIL', 'av', 'soundfile', 'numpy') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
