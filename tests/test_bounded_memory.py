"""Measuring and previewing a local file keeps memory bounded: a long recording is never read whole.

The media are made here, written block by block so the test itself stays bounded. Python's
own allocations (bytes, numpy arrays) are measured with ``tracemalloc``; the thumbnails of a
video strip live in Pillow's and FFmpeg's C memory, which tracemalloc does not see, so that
one is measured as the rise of the process's peak resident memory (Linux's VmHWM, reset
through /proc/self/clear_refs).
"""

from __future__ import annotations

import gc
import io
import tracemalloc
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omni_magic.attachments import Attachment
from omni_magic.errors import InvalidRequest
from omni_magic.notebook import preview
from omni_magic.probe import probe_audio, probe_image

from media import can_encode, flac, m4a, mp3, mp4, needs_av, ogg, png, tone, wav

RATE = 48_000
LONG_WAV_SECONDS = 20 * 60  # 48 kHz stereo 16-bit: about 230 MB
BURST_AT = 0.6  # where in the long WAV a 20-sample click sits


def traced_peak(run: Callable[[], Any]) -> tuple[Any, int]:
    """run()'s result and the peak of the Python allocations it made, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# A fresh interpreter: memory an earlier test freed, but the allocator kept, would otherwise
# absorb the thumbnails, and the resident peak would not rise at all.
_STRIP_IN_A_FRESH_PROCESS = r"""
import gc, re, sys
from omni_magic.attachments import Attachment
from omni_magic.notebook import preview

def status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\s+(\d+) kB", f.read()).group(1)) * 1024

warm_up, path = sys.argv[1:]
preview.previews(Attachment("video", warm_up))  # PyAV, Pillow and a decoder loaded
attachment = Attachment("video", path)
attachment.probe()
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current resident size
except OSError:
    sys.exit(3)
before = status("VmRSS")
(caption, picture), = preview.previews(attachment)
print(status("VmHWM") - before)
print(caption)
print(picture.hex() if picture else "")
"""


def strip_and_resident_rise(path: Path, warm_up: Path) -> tuple[str, bytes | None, int]:
    """A video's strip (caption, PNG) and how far a fresh process's peak resident memory
    rose while drawing it, after drawing ``warm_up``'s first."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _STRIP_IN_A_FRESH_PROCESS, str(warm_up), str(path)],
                          capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if done.returncode == 3:
        pytest.skip("this system cannot reset the peak resident memory (/proc/self/clear_refs)")
    assert done.returncode == 0, done.stderr
    rise, caption, picture = (done.stdout.splitlines() + [""])[:3]
    return caption, bytes.fromhex(picture) if picture else None, int(rise)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 minutes of a quiet stereo tone with one loud click, written ten seconds at a time."""
    import soundfile as sf

    path = tmp_path_factory.mktemp("long") / "lecture.wav"
    block = np.repeat(0.02 * tone(10.0, RATE)[:, None], 2, axis=1)
    # Off any stride a decimating preview would take, so only a true min/max envelope shows it.
    burst = int(BURST_AT * LONG_WAV_SECONDS * RATE) + 1237
    with sf.SoundFile(path, "w", samplerate=RATE, channels=2, subtype="PCM_16") as out:
        for start in range(0, LONG_WAV_SECONDS * RATE, len(block)):
            piece = block
            if start <= burst < start + len(block):
                piece = block.copy()
                piece[burst - start:burst - start + 20] = 0.9
            out.write(piece)
    return path


def _dark_columns(png_bytes: bytes) -> np.ndarray:
    """How many non-white pixels each column of a waveform picture has."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png_bytes)).convert("L"))
    return (pixels < 200).sum(axis=0)


# --- probing -------------------------------------------------------------------------------

@pytest.mark.slow
def test_probing_a_long_wav_reads_its_header_not_its_samples(long_wav: Path) -> None:
    size = long_wav.stat().st_size
    infos, peak = traced_peak(lambda: Attachment("audio", long_wav).probe())
    assert infos[0].seconds == pytest.approx(LONG_WAV_SECONDS)
    assert (infos[0].format, infos[0].nbytes) == ("wav", size)
    assert peak < size / 10, f"probing a {size:,}-byte WAV allocated {peak:,} bytes"


@pytest.mark.parametrize("make, name, encoder", [
    (wav, "a.wav", None), (flac, "a.flac", None), (ogg, "a.ogg", None),
    (mp3, "song.mp3", "libmp3lame"), (m4a, "memo.m4a", "aac"),
])
def test_probe_audio_measures_a_path_as_it_measures_the_bytes(
        make: Callable[[float], bytes], name: str, encoder: str | None, tmp_path: Path) -> None:
    if encoder and not can_encode(encoder):
        pytest.skip(f"this PyAV build has no {encoder} encoder")
    data = make(1.5)
    path = tmp_path / name
    path.write_bytes(data)
    assert probe_audio(path, name) == probe_audio(data, name)
    assert probe_audio(str(path), name).seconds == pytest.approx(1.5, abs=0.1)


def test_probe_audio_from_a_path_refuses_a_cut_flac(tmp_path: Path) -> None:
    path = tmp_path / "voice.flac"
    path.write_bytes(flac(3.0)[:-4000])
    with pytest.raises(InvalidRequest, match="voice.flac is incomplete"):
        probe_audio(path, "voice.flac")


def test_probe_audio_from_a_path_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="Cannot read gone.wav"):
        probe_audio(tmp_path / "gone.wav", "gone.wav")


def test_probing_a_large_image_file_does_not_read_it_whole(tmp_path: Path) -> None:
    from PIL import Image

    noise = np.random.default_rng(0).integers(0, 256, (2400, 3200, 3), dtype=np.uint8)
    path = tmp_path / "scan.png"
    Image.fromarray(noise).save(path, compress_level=1)  # noise: about 23 MB
    size = path.stat().st_size
    infos, peak = traced_peak(lambda: Attachment("image", path).probe())
    assert (infos[0].width, infos[0].height, infos[0].nbytes) == (3200, 2400, size)
    assert peak < size / 10, f"probing a {size:,}-byte PNG allocated {peak:,} bytes"
    assert probe_image(path, "scan.png") == probe_image(path.read_bytes(), "scan.png")


def test_probe_image_from_a_path_refuses_a_cut_png(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(png(200, 150)[:-300])
    with pytest.raises(InvalidRequest, match="cat.png"):
        probe_image(path, "cat.png")


# --- previews -------------------------------------------------------------------------------

@pytest.mark.slow
def test_waveform_of_a_long_wav_is_drawn_from_a_stream(long_wav: Path) -> None:
    size = long_wav.stat().st_size
    attachment = Attachment("audio", long_wav)
    attachment.probe()
    shown, peak = traced_peak(lambda: preview.previews(attachment))
    (caption, picture), = shown
    assert caption == "lecture.wav · 1200.0 s"
    assert picture is not None
    assert peak < size / 10, f"drawing the waveform of a {size:,}-byte WAV allocated {peak:,} bytes"
    # The envelope keeps every column's loudest sample: the 20-sample click (upwards only,
    # so from the middle line to the top) is drawn, the quiet tone barely.
    dark = _dark_columns(picture)
    width, height = preview.WAVE_SIZE
    click = int(BURST_AT * width)
    assert dark[click - 1:click + 2].max() > 0.45 * height
    assert np.delete(dark, range(click - 1, click + 2)).max() < 0.2 * height


@needs_av
@pytest.mark.slow
def test_waveform_of_a_long_m4a_is_decoded_frame_by_frame(tmp_path: Path) -> None:
    if not can_encode("aac"):
        pytest.skip("this PyAV build has no AAC encoder")
    path = tmp_path / "talk.m4a"
    seconds = 180
    path.write_bytes(m4a(seconds, RATE))
    decoded = seconds * RATE * 4  # the float32 samples a whole decode would hold
    attachment = Attachment("audio", path)
    attachment.probe()
    shown, peak = traced_peak(lambda: preview.previews(attachment))
    assert shown[0][1] is not None
    assert peak < decoded / 10, f"a {decoded:,}-byte decode allocated {peak:,} bytes"


def test_waveform_of_a_short_sound_draws_every_sample() -> None:
    # A short file keeps one sample per point: the picture is the sound's exact extremes.
    rate = 8000
    samples = np.zeros(rate, dtype=np.float32)
    samples[rate // 2] = 0.5  # one sample in the middle column
    samples[-1] = -0.25  # and one at the very end, half as loud, downwards
    attachment = Attachment("audio", (samples, rate), name="clicks.wav")
    picture = preview.previews(attachment)[0][1]
    dark = _dark_columns(picture)
    width, height = preview.WAVE_SIZE
    middle = next(x for x, col in enumerate(np.array_split(np.arange(rate), width)) if rate // 2 in col)
    assert dark[middle] > 0.4 * height
    assert 0.2 * height < dark[-1] < 0.4 * height
    assert np.delete(dark, [middle, width - 1]).max() <= 2


def _keyframe_video(path: Path, seconds: int, fps: int = 2, width: int = 320, height: int = 180) -> None:
    """Every frame a key frame, and each frame's brightness its time: what a strip shows is checkable."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if can_encode("libx264") else "mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 1
        stream.time_base = Fraction(1, fps)
        total = seconds * fps
        for i in range(total):
            level = int(250 * i / max(1, total - 1))
            frame = av.VideoFrame.from_ndarray(
                np.full((height, width, 3), level, dtype=np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _strip_levels(picture: bytes, thumb_width: int) -> list[int]:
    """The brightness of each thumbnail in a strip (thumbnails 4 pixels apart), left to right."""
    from PIL import Image

    strip = np.asarray(Image.open(io.BytesIO(picture)).convert("L")).astype(int)
    starts = range(0, strip.shape[1] - thumb_width + 1, thumb_width + 4)
    return [int(np.median(strip[:, x + 5:x + thumb_width - 5])) for x in starts]


@needs_av
@pytest.mark.slow
def test_video_strip_of_a_long_video_seeks_instead_of_decoding_it_all(tmp_path: Path) -> None:
    path = tmp_path / "screen.mp4"
    seconds = 20 * 60
    _keyframe_video(path, seconds)
    warm_up = tmp_path / "warm.mp4"
    warm_up.write_bytes(mp4(1.0))
    caption, picture, rise = strip_and_resident_rise(path, warm_up)
    assert caption.startswith("screen.mp4 · 1200.0 s · 320×180")
    assert picture is not None
    # Thumbnails of all 2,400 key frames would hold over 130 MB (160×90, 4 bytes a pixel).
    assert rise < 40 * 1024 * 1024, f"the strip of a {seconds} s video took {rise:,} bytes"
    levels = _strip_levels(picture, preview.THUMB)
    assert len(levels) == preview.STRIP
    # Evenly spaced over the video: dark at the start, bright at the end, rising in between.
    assert levels[0] < 15 and levels[-1] > 230 and levels == sorted(levels)


@needs_av
def test_video_strip_of_a_video_given_as_bytes_spans_the_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _keyframe_video(path, 30, width=160, height=90)
    (caption, picture), = preview.previews(Attachment("video", path.read_bytes(), name="clip.mp4"))
    assert caption.startswith("clip.mp4 · 30.0 s · 160×90")
    levels = _strip_levels(picture, preview.THUMB)
    assert len(levels) == preview.STRIP
    assert levels[0] < 15 and levels[-1] > 230 and levels == sorted(levels)
