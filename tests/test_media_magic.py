"""Every kind of media from a cell to the emulator and back; every limit refused before sending."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.utils.capture import capture_output
from PIL import Image

from omni_magic import InvalidRequest
from omni_magic.body import to_json

import media


def ask(shell, line: str, prompt: str = "What is attached?"):
    with capture_output() as cap:
        shell.run_cell_magic("omni", f"--text-only --out reply {line}", prompt)
    reply = shell.user_ns["reply"]
    assert reply.error is None, reply.error
    return reply, cap


def sent_parts(reply) -> list[dict]:
    return to_json(reply.request)["messages"][-1]["content"]


def requests_seen(shell) -> int:
    client = shell.magics_manager.registry["OmniMagics"]._client
    return client._emulator.request_count if client and client._emulator else 0


def refused(shell, line: str, match: str) -> None:
    ask(shell, "", "warm up")
    before = requests_seen(shell)
    with pytest.raises(InvalidRequest, match=match):
        with capture_output():
            shell.run_cell_magic("omni", f"--text-only {line}", "What is attached?")
    assert requests_seen(shell) == before  # nothing was sent


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# -- each kind reaches the emulator ------------------------------------------------------------
def test_images_by_path_and_from_the_namespace(ip, tmp_path):
    ip.user_ns["picture"] = Image.new("RGB", (300, 200), "orange")
    ip.user_ns["array"] = np.zeros((64, 96, 3), dtype=np.uint8)
    path = write(tmp_path, "cat.jpg", media.jpeg(640, 480))
    reply, cap = ask(ip, f"-i {path} -i picture -i array")
    parts = sent_parts(reply)
    assert [p["type"] for p in parts] == ["image_url"] * 3 + ["text"]
    assert parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert "3 images" in reply.text  # the emulator saw them
    by_modality = reply.estimate.by_modality()
    assert by_modality["image"] > 0 and reply.usage["prompt_tokens_details"]["image_tokens"] == by_modality["image"]
    previews = [o.data["text/html"] for o in cap.outputs if "omni-previews" in o.data.get("text/html", "")]
    assert previews and previews[0].count("<img") == 3  # thumbnails stay in the saved notebook


def test_an_image_url_passes_through_untouched(ip):
    # Served on loopback: the emulator fetches media by URL, as the service does.
    with media.served({"/dog_and_girl.jpeg": ("image/jpeg", media.jpeg(64, 48))}) as base:
        url = f"{base}/dog_and_girl.jpeg"
        reply, _ = ask(ip, f"-i {url}")
    assert sent_parts(reply)[0] == {"type": "image_url", "image_url": {"url": url}}
    assert "64x48" in reply.text  # fetched and measured by the emulator


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_audio_files(ip, tmp_path, fmt):
    path = write(tmp_path, f"speech.{fmt}", getattr(media, fmt)(2.0))
    reply, cap = ask(ip, f"-a {path}")
    part = sent_parts(reply)[0]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == fmt
    assert part["input_audio"]["data"].startswith("data:;base64,")
    assert "2.0 s" in "".join(o.data.get("text/plain", "") for o in cap.outputs)  # waveform caption


def test_audio_from_numpy_with_rate_and_from_a_tuple(ip):
    ip.user_ns["samples"] = media.tone(1.5, rate=8000)
    reply, _ = ask(ip, "-a samples --rate 8000")
    assert sent_parts(reply)[0]["input_audio"]["format"] == "wav"
    ip.user_ns["clip"] = (media.tone(1.0, rate=8000), 8000)
    reply, _ = ask(ip, "-a clip")
    assert reply.estimate.by_modality()["audio"] > 0


def test_numpy_audio_without_a_rate_is_refused(ip):
    ip.user_ns["samples"] = media.tone(1.0)
    refused(ip, "-a samples", "--rate")


def test_mp3_through_pyav(ip, tmp_path):
    if not media.can_encode("libmp3lame"):
        pytest.skip("this PyAV build cannot encode mp3")
    path = write(tmp_path, "song.mp3", media.mp3(1.5))
    reply, _ = ask(ip, f"-a {path}")
    assert sent_parts(reply)[0]["input_audio"]["format"] == "mp3"


def test_a_video_file_with_its_sound_track(ip, tmp_path):
    path = write(tmp_path, "clip.mp4", media.mp4(seconds=3.0, fps=10, with_audio=True))
    reply, cap = ask(ip, f"--video {path}")
    part = sent_parts(reply)[0]
    assert part["type"] == "video_url" and part["video_url"]["url"].startswith("data:;base64,")
    modalities = reply.estimate.by_modality()
    assert modalities["video"] > 0 and modalities["audio"] > 0  # picture and sound billed apart
    # The emulator measures the file it received the same way: estimate and usage agree.
    reported = reply.usage["prompt_tokens_details"]
    assert (reported["video_tokens"], reported["audio_tokens"]) == (modalities["video"], modalities["audio"])
    assert "3.0 seconds of 64x48 pixels at 10 fps, with sound" in reply.text
    assert any("omni-previews" in o.data.get("text/html", "") for o in cap.outputs)


def test_frames_from_a_glob_in_natural_order(ip, tmp_path):
    for i in (1, 2, 10):
        write(tmp_path, f"frame{i}.png", media.png(64, 48))
    reply, _ = ask(ip, f"--frames '{tmp_path}/frame*.png'")  # quoted, as in a shell
    part = sent_parts(reply)[0]
    assert part["type"] == "video" and len(part["video"]) == 3
    assert reply.request["messages"][-1]["content"][0]["video"][2].name == "frame10.png"
    assert reply.estimate.by_modality()["video"] > 0


def test_bytes_from_the_namespace(ip):
    ip.user_ns["blob"] = media.png(40, 40)
    reply, _ = ask(ip, "-i blob")
    assert sent_parts(reply)[0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_dry_run_shows_the_estimate_per_part(ip, tmp_path):
    path = write(tmp_path, "cat.png", media.png(1024, 1024))
    with capture_output() as cap:
        ip.run_cell_magic("omni", f"--dry-run -i {path}", "Describe")
    text = "\n".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "image cat.png [image]: 1,026" in text  # 32x32 blocks of a 1024x1024 image, + 2
    assert "bytes of cat.png" in text  # the body with the media elided


# -- every limit refuses before a byte is sent -------------------------------------------------
@pytest.mark.parametrize("width, height, ok", [(10, 40, False), (11, 40, True), (2200, 11, True), (2211, 11, False)])
def test_image_size_and_ratio_edges(ip, tmp_path, width, height, ok):
    path = write(tmp_path, "edge.png", media.png(width, height))
    if ok:
        ask(ip, f"-i {path}")
    else:
        refused(ip, f"-i {path}", "edge.png")


@pytest.mark.parametrize(
    "model, count, ok",
    [("qwen3-omni-flash", 1, False), ("qwen3-omni-flash", 2, True), ("qwen3-omni-flash", 128, True),
     ("qwen3-omni-flash", 129, False), ("qwen-omni-turbo", 3, False), ("qwen-omni-turbo", 4, True),
     ("qwen-omni-turbo", 80, True), ("qwen-omni-turbo", 81, False)],
)
def test_frame_count_edges(ip, model, count, ok):
    ip.user_ns["frames_list"] = [media.png(16, 16)] * count
    if ok:
        reply, _ = ask(ip, f"-m {model} --frames frames_list")
        assert len(sent_parts(reply)[0]["video"]) == count
    else:
        refused(ip, f"-m {model} --frames frames_list", str(count))


@pytest.mark.parametrize("seconds, ok", [(150, True), (151, False)])
def test_video_duration_edge_on_flash(ip, tmp_path, seconds, ok):
    path = write(tmp_path, "long.mp4", media.mp4(seconds=seconds, fps=1, width=32, height=32, with_audio=False))
    if ok:
        ask(ip, f"-m qwen3-omni-flash --video {path}")
    else:
        refused(ip, f"-m qwen3-omni-flash --video {path}", "150 s")


def test_a_video_past_flashs_150_s_is_fine_on_the_default_model(ip, tmp_path):
    path = write(tmp_path, "long.mp4", media.mp4(seconds=151, fps=1, width=32, height=32, with_audio=False))
    reply, _ = ask(ip, f"--video {path}")
    assert reply.request["model"] == "qwen3.5-omni-plus"
    assert sent_parts(reply)[0]["type"] == "video_url"


@pytest.mark.parametrize("model", ["qwen3-omni-flash", "qwen-omni-turbo"])
def test_two_kinds_of_media_are_refused(ip, tmp_path, model):
    image = write(tmp_path, "a.png", media.png())
    sound = write(tmp_path, "b.wav", media.wav(1.0))
    refused(ip, f"-m {model} -i {image} -a {sound}", "one other kind")


@pytest.mark.parametrize("model", ["qwen3.5-omni-plus", "qwen3.8-omni-flash"])
def test_several_kinds_of_media_in_one_message_on_the_2026_models(ip, tmp_path, model):
    image = write(tmp_path, "a.png", media.png())
    sound = write(tmp_path, "b.wav", media.wav(1.0))
    reply, _ = ask(ip, f"-m {model} -i {image} -a {sound}")
    assert [p["type"] for p in sent_parts(reply)] == ["image_url", "input_audio", "text"]
    by_modality = reply.estimate.by_modality()
    assert by_modality["image"] > 0 and by_modality["audio"] > 0
    reported = reply.usage["prompt_tokens_details"]  # the emulator took both
    assert (reported["image_tokens"], reported["audio_tokens"]) == (by_modality["image"], by_modality["audio"])


def test_a_mislabelled_file_gets_a_clear_error(ip, tmp_path):
    path = write(tmp_path, "song.wav", media.png())
    refused(ip, f"-a {path}", "song.wav")


def test_a_missing_file_and_an_empty_glob(ip, tmp_path):
    refused(ip, f"-i {tmp_path}/nope.png", "no such file")
    refused(ip, f"--frames {tmp_path}/none*.png", "No file matches")


def test_media_of_earlier_turns_are_counted_once(ip, tmp_path):
    path = write(tmp_path, "cat.png", media.png(640, 480))
    first, _ = ask(ip, f"-i {path}")
    image = first.estimate.by_modality()["image"]
    ask(ip, "", "And the colour?")
    third, _ = ask(ip, "", "And the size?")
    earlier = [p for p in third.estimate.parts if "earlier turns" in p.label]
    assert [(p.modality, p.tokens) for p in earlier] == [("image", image)]
