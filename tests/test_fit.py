"""--fit (issue 18): files that break a limit a transformation can cure are transformed, with a
note saying what was done; without it the refusal says what it would do; the estimate is made on
what is sent. Real files of every common kind, made by tests/media_kinds.py.

Most tests shrink the caps with a user catalog (the way a user would change a limit), so small
files break them; the issue's own three files (a 12 MB photo, a 5-minute 1080p phone video, a
40-minute mp3) meet the shipped limits."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from omni_magic import InvalidRequest, catalog, tokens
from omni_magic.attachments import Attachment
from omni_magic.probe import probe_audio, probe_video
from omni_magic.request import build_request

import media_kinds as mk

pytest.importorskip("av")

MODEL = "qwen3.5-omni-plus"


@pytest.fixture
def small_caps(tmp_path):
    """A catalog whose Qwen3.5-Omni takes inline items of a few hundred kB."""
    path = tmp_path / "caps.json"
    limits = {"image": {"max_inline_chars": 200_000}, "audio": {"max_inline_chars": 400_000},
              "video": {"max_inline_chars": 1_000_000}}
    path.write_text(json.dumps({"families": {"qwen3.5-omni": {"limits": limits}}}))
    return catalog.load_catalog(path)


def prepare(*attachments: Attachment, fit: bool, model: str = MODEL, cat=None, **options):
    return build_request("What is attached?", model=model, audio=False, attachments=list(attachments),
                         fit=fit, catalog=cat or catalog.default(), **options)


def sent(request, index: int = 0) -> Attachment:
    return request.attachments[index]


def image_of(attachment: Attachment) -> Image.Image:
    return Image.open(io.BytesIO(attachment.items()[0].read()))


def estimated(request, modality: str) -> int:
    return request.estimate.by_modality().get(modality, 0)


# -- images ---------------------------------------------------------------------------------------

def test_a_12_mb_phone_photo_is_refused_with_what_fit_would_do_then_fitted(tmp_path):
    photo = mk.big_photo(tmp_path, megabytes=12)
    with pytest.raises(InvalidRequest, match=r"under 10 MB per item.*With --fit \(fit=True\), omni_magic "
                                             r"would turn it upright, resize it to 960×1312"):
        prepare(Attachment("image", photo), fit=False)
    request = prepare(Attachment("image", photo), fit=True)
    image = image_of(sent(request))
    assert image.format == "JPEG" and image.size == (960, 1312)  # portrait: EXIF 6 applied
    assert image.size == tokens.image_size(3024, 4032, MODEL)  # the most pixels the model uses
    note = request.notes[-1]
    assert re.fullmatch(r"big_photo\.jpg: 4032×3024 → 960×1312 JPEG, 1[12]\.\d MB → [\d.]+ KB; turned "
                        r"upright \(EXIF orientation 6\); the model sees the same pixels\.", note), note
    assert estimated(request, "image") == tokens.image_tokens(960, 1312, MODEL)  # on what is sent


def test_exif_orientation_is_applied_before_anything_else(tmp_path, small_caps):
    photo = mk.photo(tmp_path, 1600, 1200, orientation=6, quality=98, noise=200)
    image = image_of(sent(prepare(Attachment("image", photo), fit=True, cat=small_caps)))
    assert image.height > image.width
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    # The red band along the stored top edge is on the right once turned 90° clockwise.
    right, left = pixels[:, -3:].mean(axis=(0, 1)), pixels[:, :3].mean(axis=(0, 1))
    assert right[0] > 180 and right[1] < 90 and not (left[0] > 180 and left[1] < 90)


def test_a_heic_photo_is_fitted_as_jpeg(tmp_path, small_caps):
    pytest.importorskip("pillow_heif")
    photo = mk.heic(tmp_path, 2400, 1800, quality=95)
    request = prepare(Attachment("image", photo), fit=True, cat=small_caps)
    image = image_of(sent(request))
    assert image.format == "JPEG" and image.height > image.width  # the HEIF rotation kept
    assert request.notes[-1].startswith("photo.heic: ") and " JPEG, " in request.notes[-1]


def test_a_png_keeps_its_transparency_while_it_fits_and_is_flattened_when_not(tmp_path, small_caps):
    icon = tmp_path / "icon.png"  # too small to send: enlarged, and its PNG fits
    Image.new("RGBA", (8, 8), (255, 0, 0, 128)).save(icon)
    assert image_of(sent(prepare(Attachment("image", icon), fit=True, cat=small_caps))).mode == "RGBA"
    noisy = np.random.default_rng(0).integers(0, 255, (900, 1200, 4), dtype=np.uint8)
    path = tmp_path / "noisy.png"
    Image.fromarray(noisy, "RGBA").save(path)
    request = prepare(Attachment("image", path), fit=True, cat=small_caps)
    assert image_of(sent(request)).format == "JPEG"
    assert "transparency flattened onto white" in request.notes[-1]


def test_a_tiny_image_is_enlarged_and_a_thin_one_padded(tmp_path):
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (8, 8), "red").save(tiny)
    with pytest.raises(InvalidRequest, match=r"over 10 px.*--fit.*resize it to"):
        prepare(Attachment("image", tiny), fit=False)
    assert image_of(sent(prepare(Attachment("image", tiny), fit=True))).size == tokens.image_size(8, 8, MODEL)
    thin = tmp_path / "ruler.png"
    Image.new("RGB", (4100, 12), "blue").save(thin)
    with pytest.raises(InvalidRequest, match=r"aspect ratio.*--fit.*pad it with white to 4100×21"):
        prepare(Attachment("image", thin), fit=False)
    request = prepare(Attachment("image", thin), fit=True)
    width, height = image_of(sent(request)).size
    assert width <= 200 * height and "padded with white to 4100×21" in request.notes[-1]


def test_an_image_within_every_limit_is_left_alone(tmp_path):
    photo = mk.photo(tmp_path)
    request = prepare(Attachment("image", photo), fit=True)
    assert sent(request).source == photo and not request.notes


# -- audio ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda folder: mk.wav(folder, seconds=60.0),  # 48 kHz stereo
    lambda folder: mk.m4a(folder, seconds=60.0),
    lambda folder: mk.opus(folder, seconds=60.0, bitrate=96_000),
    lambda folder: mk.mp3(folder, seconds=60.0, rate=44_100, channels=2, bitrate=128_000, cover=True),
], ids=["wav-48k-stereo", "m4a", "ogg-opus", "mp3-cover-art"])
def test_audio_is_reencoded_as_16_khz_mono_mp3_that_fits(tmp_path, small_caps, make):
    path = make(tmp_path)
    with pytest.raises(InvalidRequest, match=r"--fit \(fit=True\), omni_magic would re-encode it as "
                                             r"16 kHz mono MP3 at \d+ kbit/s"):
        prepare(Attachment("audio", path), fit=False, cat=small_caps)
    request = prepare(Attachment("audio", path), fit=True, cat=small_caps)
    data = sent(request).items()[0].read()
    assert len(data) * 4 / 3 < 400_000
    info = probe_audio(data, "sent")
    assert info.format == "mp3" and info.seconds == pytest.approx(60.0, abs=0.2)
    assert re.search(r"→ 16 kHz mono MP3 at \d+ kbit/s, [\d.]+ KB; all 60\.\d s of it\.", request.notes[-1])
    assert estimated(request, "audio") == tokens.audio_tokens(info.seconds, MODEL)
    import soundfile as sf

    assert sf.info(io.BytesIO(data)).samplerate == 16_000 and sf.info(io.BytesIO(data)).channels == 1


def test_a_40_minute_mp3_fits_inline_on_qwen35(tmp_path):
    lecture = mk.mp3(tmp_path, seconds=2400.0, rate=44_100, channels=1, bitrate=64_000)
    with pytest.raises(InvalidRequest, match="would re-encode it as 16 kHz mono MP3 at 24 kbit/s"):
        prepare(Attachment("audio", lecture), fit=False)
    request = prepare(Attachment("audio", lecture), fit=True)
    data = sent(request).items()[0].read()
    assert 4 * -(-len(data) // 3) < 10 * 1024 * 1024
    assert probe_audio(data, "sent").seconds == pytest.approx(2400.0, abs=1.0)


def test_a_recording_longer_than_the_model_takes_points_to_segments_fit_or_not(tmp_path):
    lecture = mk.mp3(tmp_path, seconds=1500.0, bitrate=32_000)  # Qwen3-Omni-Flash takes 20 min
    for fit in (False, True):
        with pytest.raises(InvalidRequest, match="lasts 1500.0 s.*--segments auto"):
            prepare(Attachment("audio", lecture), fit=fit, model="qwen3-omni-flash")


@pytest.mark.slow
def test_a_recording_no_bitrate_fits_inline_points_to_segments(tmp_path):
    long = mk.mp3(tmp_path, seconds=9000.0, bitrate=32_000)  # 2.5 h: Qwen3.5-Omni takes 3 h
    with pytest.raises(InvalidRequest, match="would still be too large to send inline.*--segments auto"):
        prepare(Attachment("audio", long), fit=True)


# -- video ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["clip.mp4", "clip.mov", "clip.webm", "clip.mkv"])
def test_a_video_becomes_the_frames_the_service_samples_with_its_sound(tmp_path, small_caps, name):
    path = mk.video(tmp_path, name, seconds=6.0, width=1280, height=720, fps=25, mbps=4.0)
    with pytest.raises(InvalidRequest, match=r"would re-encode it as \d+×\d+ H\.264 holding the 12 "
                                             r"frames the service samples \(2 a second\), with its sound"):
        prepare(Attachment("video", path), fit=False, cat=small_caps)
    request = prepare(Attachment("video", path), fit=True, cat=small_caps)
    data = sent(request).items()[0].read()
    info = probe_video(data, "sent")
    model = small_caps.resolve(MODEL)
    assert (info.width, info.height) == tokens.frame_size(1280, 720, 12, model)
    assert info.frames == 12 and info.has_audio and info.seconds == pytest.approx(6.0, abs=0.3)
    assert len(data) * 4 / 3 < 1_000_000
    assert estimated(request, "video") == tokens.video_tokens(info.width, info.height, info.frames,
                                                               info.fps, model)
    assert "the model sees the frames it would sample" in request.notes[-1]


def test_a_phone_video_is_turned_upright(tmp_path, small_caps):
    path = mk.video(tmp_path, "phone.mp4", seconds=4.0, width=640, height=360, rotate=90)
    info = probe_video(sent(prepare(Attachment("video", path), fit=True, cat=small_caps))
                       .items()[0].read(), "sent")
    assert info.height > info.width


def test_a_variable_frame_rate_video_is_sampled_by_its_times(tmp_path, small_caps):
    path = mk.vfr_video(tmp_path, seconds=8.0, width=960, height=540)
    given = probe_video(path, "given")
    request = prepare(Attachment("video", path), fit=True, cat=small_caps)
    info = probe_video(sent(request).items()[0].read(), "sent")
    # 96 frames over 7.84 s: the service's smart_nframes takes 15 of them.
    assert info.frames == tokens.sampled_frames(given.frames, given.fps, small_caps.resolve(MODEL)) == 15
    assert info.seconds == pytest.approx(given.seconds, abs=0.6)


def test_a_silent_video_too_big_for_a_bitrate_worth_sending_goes_as_a_frame_list(tmp_path):
    path = tmp_path / "caps.json"
    path.write_text(json.dumps({"families": {"qwen3.5-omni": {"limits": {
        "video": {"max_inline_chars": 120_000}}}}}))
    cat = catalog.load_catalog(path)
    silent = mk.video(tmp_path, "silent.mp4", seconds=10.0, width=640, height=480, audio=False)
    with pytest.raises(InvalidRequest, match=r"send it as the 20 frames the service samples \(2 a second\)"):
        prepare(Attachment("video", silent), fit=False, cat=cat)
    request = prepare(Attachment("video", silent), fit=True, cat=cat)
    frames = sent(request)
    assert frames.kind == "frames" and len(frames.source) == 20
    assert "the 20 frames the service samples (2 a second), " in request.notes[-1]
    # With sound, a frame list would lose it: no cure, and the refusal points to --segments.
    loud = mk.video(tmp_path, "loud.mp4", seconds=10.0, width=640, height=480)
    for fit in (False, True):
        with pytest.raises(InvalidRequest, match="still be too large to send inline.*--segments auto"):
            prepare(Attachment("video", loud), fit=fit, cat=cat)


def test_frames_fewer_than_two_a_second_are_said_so(tmp_path):
    clip = mk.video(tmp_path, "long.mp4", seconds=80.0, width=320, height=240, fps=10)
    request = prepare(Attachment("frames", [clip]), fit=False, model="qwen3-omni-flash")
    assert len(sent(request).source) == 128
    assert "spread over its 80 s: Qwen3-Omni-Flash samples at most 128" in request.notes[-1]


def test_sound_and_picture_stay_in_step_when_one_starts_later(tmp_path, small_caps):
    """The sound starts a second after the picture: so it does in what is sent."""
    import av

    path = tmp_path / "late_sound.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        sound = out.add_stream("aac", rate=16_000, layout="mono")
        for i in range(100):  # 4 s of picture from 0 s
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), i * 2, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        click = np.zeros(16_000 * 3, np.float32)
        click[16_000:16_400] = 0.9  # a click 1 s into the sound, which starts at 1 s: at 2 s
        for at in range(0, len(click), 1024):
            frame = av.AudioFrame.from_ndarray(click[None, at:at + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16_000, 16_000 + at  # the sound's clock starts at 1 s
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    data = sent(prepare(Attachment("video", path), fit=True, cat=small_caps)).items()[0].read()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    heard = start + int(np.argmax(np.abs(samples) > 0.3)) / 16_000
    assert heard == pytest.approx(2.0, abs=0.08)


@pytest.mark.slow
def test_a_five_minute_1080p_phone_video_fits_inline(tmp_path):
    phone = mk.phone_video(tmp_path, seconds=300.0)
    with pytest.raises(InvalidRequest, match=r"236\.\d MB.*would re-encode it as 576×1024 H\.264 "
                                             r"holding the 600 frames"):
        prepare(Attachment("video", phone), fit=False)
    request = prepare(Attachment("video", phone), fit=True)
    data = sent(request).items()[0].read()
    info = probe_video(data, "sent")
    assert (info.width, info.height, info.frames, info.has_audio) == (576, 1024, 600, True)
    assert 4 * -(-len(data) // 3) < 10 * 1024 * 1024
    assert request.notes[-1].startswith("phone.mp4: 1920×1080, 300.0 s, 236.")


# -- frame lists ------------------------------------------------------------------------------------

def test_a_video_file_given_as_frames_becomes_the_frames_the_service_samples(tmp_path):
    clip = mk.video(tmp_path, "clip.mp4", seconds=5.0, width=640, height=360)
    request = prepare(Attachment("frames", [clip]), fit=False)
    frames = sent(request)
    assert frames.kind == "frames" and len(frames.source) == 10
    size = tokens.frame_size(640, 360, 10, MODEL)
    assert all(Image.open(io.BytesIO(f)).size == size for f in frames.source)
    assert estimated(request, "video") == tokens.frames_tokens(*size, 10, MODEL)
    assert "the 10 frames Qwen3.5-Omni samples from its 5.0 s" in request.notes[-1]
    assert "its sound is not sent" in request.notes[-1]


def test_too_many_frames_are_thinned_evenly(tmp_path):
    frames = []
    for i in range(130):
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (i, 0, 0)).save(out, format="PNG")
        frames.append(out.getvalue())
    with pytest.raises(InvalidRequest, match=r"130 frames given.*--fit.*keep 128 of its 130 frames"):
        prepare(Attachment("frames", frames), fit=False, model="qwen3-omni-flash")
    request = prepare(Attachment("frames", frames), fit=True, model="qwen3-omni-flash")
    kept = sent(request).source
    assert len(kept) == 128 and kept[0] == frames[0] and kept[-1] == frames[-1]
    assert "kept 128 of its 130 frames, evenly spread" in request.notes[-1]


# -- through the magic, against the embedded emulator ----------------------------------------------

def ask(shell, line: str, prompt: str = "What is attached?"):
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        shell.run_cell_magic("omni", f"--text-only --out reply {line}", prompt)
    reply = shell.user_ns["reply"]
    assert reply.error is None, reply.error
    shown = cap.stdout + "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    return reply, shown


def test_the_magic_fits_a_12_mb_photo_and_says_so(ip, tmp_path):
    photo = mk.big_photo(tmp_path, megabytes=12)
    with pytest.raises(InvalidRequest, match=r"With --fit \(fit=True\), omni_magic would turn it upright"):
        ask(ip, f"-i {photo}")
    reply, shown = ask(ip, f"-i {photo} --fit")
    assert "big_photo.jpg: 4032×3024 → 960×1312 JPEG" in shown and "the model sees the same pixels" in shown
    # The emulator measured what was sent, and bills what was estimated.
    assert reply.usage["prompt_tokens_details"]["image_tokens"] == reply.estimate.by_modality()["image"] \
        == tokens.image_tokens(960, 1312, MODEL)
    # The next turn sends the fitted photo again with the history: no --fit needed, nothing refused.
    again, _ = ask(ip, "", "And the colours?")
    assert again.usage["prompt_tokens_details"]["image_tokens"] == tokens.image_tokens(960, 1312, MODEL)


def test_fit_as_a_setting_and_a_video_given_as_frames(ip, tmp_path):
    wav = mk.wav(tmp_path, seconds=80.0)  # 15 MB: over the 10 MB inline cap
    ip.run_line_magic("config", "OmniMagics.fit = True")
    reply, shown = ask(ip, f"-a {wav}")
    assert "16 kHz mono MP3" in shown and reply.usage["prompt_tokens_details"]["audio_tokens"] == 560  # 80 s × 7
    clip = mk.video(tmp_path, "clip.mp4", seconds=4.0, width=640, height=360)
    reply, shown = ask(ip, f"--frames {clip} --new")
    assert "the 8 frames Qwen3.5-Omni samples from its 4.0 s" in shown
    assert reply.request["messages"][-1]["content"][0]["type"] == "video"
    assert len(reply.request["messages"][-1]["content"][0]["video"]) == 8


@pytest.mark.slow
def test_the_magic_fits_a_five_minute_phone_video(ip, tmp_path):
    phone = mk.phone_video(tmp_path, seconds=300.0)
    reply, shown = ask(ip, f"--video {phone} --fit")
    assert "576×1024 H.264 of the 600 frames the service samples" in shown
    details = reply.usage["prompt_tokens_details"]
    assert details["video_tokens"] == reply.estimate.by_modality()["video"]
    # Its sound, all 300 s of it (AAC's priming adds a few ms: one token at most).
    assert details["audio_tokens"] == reply.estimate.by_modality()["audio"]
    assert abs(details["audio_tokens"] - tokens.audio_tokens(300.0, MODEL)) <= 1


def test_each_with_fit_says_what_was_done_to_each_file(ip, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    mk.big_photo(folder, megabytes=12)
    mk.photo(folder, name="small.jpg")
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        ip.run_cell_magic("omni", f"--each {folder} --fit --text-only --out table", "Caption it.")
    table = ip.user_ns["table"]
    notes = dict(zip(table["file"].map(lambda f: f.rsplit("/", 1)[-1]), table["note"]))
    assert notes["big_photo.jpg"].startswith("big_photo.jpg: 4032×3024 → 960×1312 JPEG")
    assert not isinstance(notes["small.jpg"], str)  # within every limit: sent as it is (no note)
    assert "960×1312 JPEG" in "\n".join(o.data.get("text/plain", "") for o in cap.outputs)


def test_an_image_the_service_would_not_shrink_keeps_its_pixels(tmp_path, small_caps):
    x, y = np.meshgrid(np.linspace(0, 255, 1200), np.linspace(0, 255, 900))
    grain = np.random.default_rng(1).normal(0, 4, (900, 1200, 3))
    picture = np.clip(np.stack([x, y, (x + y) / 2], axis=2) + grain, 0, 255).astype(np.uint8)
    path = tmp_path / "scan.png"
    Image.fromarray(picture).save(path)  # 1.8 MB of PNG; 1.08 Mpx: under what --hi-res uses
    with pytest.raises(InvalidRequest, match=r"would keep its 1200×900 pixels and save it as JPEG"):
        prepare(Attachment("image", path), fit=False, cat=small_caps, hi_res=True)
    assert image_of(sent(prepare(Attachment("image", path), fit=True, cat=small_caps, hi_res=True))).size \
        == (1200, 900)
