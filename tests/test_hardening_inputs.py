"""Issue 15, "Inputs": what a user attaches or types that used to escape as a raw error or be
sent wrong. Each test failed before its fix (items 9 to 14 of the issue)."""

from __future__ import annotations

import base64
import io
import sys

import numpy as np
import pytest
import soundfile as sf
from IPython.utils.capture import capture_output
from PIL import Image

from omni_magic import Attachment, InvalidRequest, OmniClient
from omni_magic.batch import kind_of
from omni_magic.body import to_json
from omni_magic.emulator import Pacing
from omni_magic.notebook.options import batch_files, expand
from omni_magic.response import collect

import media


@pytest.fixture
def client(monkeypatch):
    """The public client on the embedded emulator (no key set)."""
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)
    with OmniClient(emulator_pacing=Pacing.none()) as omni:
        yield omni


def sent(client: OmniClient, kind: str, source, **options) -> dict:
    """The first media part of the request body exactly as it would go on the wire."""
    request = client.prepare("Describe it", audio=False, attachments=[Attachment(kind, source, **options)])
    return to_json(request.body)["messages"][-1]["content"][0]


def data_url(part: dict) -> str:
    return part.get("image_url", {}).get("url") or part.get("input_audio", {}).get("data")


def decoded(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


# -- 9. the MIME type of a data URL comes from the bytes ---------------------------------------
def test_an_images_mime_type_comes_from_its_bytes_not_its_name(client, tmp_path):
    jpeg_named_png = tmp_path / "really_jpeg.png"
    jpeg_named_png.write_bytes(media.jpeg())
    png_named_txt = tmp_path / "notes.txt"
    png_named_txt.write_bytes(media.png())
    assert data_url(sent(client, "image", jpeg_named_png)).startswith("data:image/jpeg;base64,")
    assert data_url(sent(client, "image", png_named_txt)).startswith("data:image/png;base64,")
    # Bytes with no name: the same policy.
    assert data_url(sent(client, "image", media.webp())).startswith("data:image/webp;base64,")


def test_audio_and_video_keep_the_services_bare_data_url(client, tmp_path):
    path = tmp_path / "clip.png"  # a wav, whatever its name says
    path.write_bytes(media.wav(1.0))
    part = sent(client, "audio", path)
    assert data_url(part).startswith("data:;base64,") and part["input_audio"]["format"] == "wav"


def test_the_batch_and_the_probe_take_a_files_kind_from_the_same_place(tmp_path):
    (tmp_path / "notes.txt").write_bytes(media.png())  # an image by its bytes
    (tmp_path / "song.png").write_bytes(media.wav(0.5))  # audio by its bytes
    (tmp_path / "readme.txt").write_text("just text")  # nothing, by bytes or by name
    (tmp_path / "unknown.mp4").write_bytes(b"\x00" * 64)  # the bytes say nothing: the name decides
    assert kind_of(tmp_path / "notes.txt") == "image"
    assert kind_of(tmp_path / "song.png") == "audio"
    assert kind_of(tmp_path / "readme.txt") is None
    assert kind_of(tmp_path / "unknown.mp4") == "video"
    assert kind_of(tmp_path / "not_there.JPG") == "image"  # no file yet: its name
    assert [p.rsplit("/", 1)[-1] for p in batch_files(str(tmp_path))] == ["notes.txt", "song.png", "unknown.mp4"]


# -- 10. numpy audio: converted to PCM16, or refused with a sentence ---------------------------
def wav_of(client: OmniClient, source, rate: int | None = None) -> tuple[np.ndarray, int]:
    samples, sample_rate = sf.read(io.BytesIO(decoded(data_url(sent(client, "audio", source, rate=rate)))),
                                   dtype="int16")
    return samples, sample_rate


def test_int64_samples_numpys_default_are_taken_as_16_bit_values(client):
    values = np.array([0, 1000, -1000, 32767, -32768] * 400)  # int64 on every platform numpy runs on
    assert values.dtype == np.int64
    samples, rate = wav_of(client, values, rate=8000)
    assert rate == 8000 and samples.tolist() == values.tolist()


def test_int64_samples_beyond_16_bits_are_refused_with_a_sentence(client):
    with pytest.raises(InvalidRequest, match="16-bit"):
        sent(client, "audio", np.array([0, 70_000] * 1000), rate=8000)


@pytest.mark.parametrize("dtype, scale", [("int32", 2**16), ("int8", 1 / 2**8), ("float64", 1 / 32768)])
def test_other_dtypes_are_scaled_to_16_bits(client, dtype, scale):
    int16 = np.array([0, 256, -256, 12800, -12800] * 400, dtype=np.int16)
    source = (int16.astype(np.float64) * scale).astype(dtype)
    samples, _ = wav_of(client, source, rate=16_000)
    assert np.abs(samples.astype(int) - int16).max() <= 1


def test_floats_outside_minus_one_to_one_are_refused(client):
    with pytest.raises(InvalidRequest, match="-1"):
        sent(client, "audio", np.array([0.0, 1000.0] * 1000), rate=8000)


@pytest.mark.parametrize("source, rate", [
    (media.tone(0.5), -5),
    (media.tone(0.5), 10_000_000_000),
    ((media.tone(0.5), "x"), None),
    ((media.tone(0.5), 44100.5), None),
    (np.array(["a", "b"]), 8000),
    (np.zeros(0, dtype=np.float32), 8000),
])
def test_bad_rates_and_samples_are_refused_with_a_sentence(client, source, rate):
    with pytest.raises(InvalidRequest) as caught:
        sent(client, "audio", source, rate=rate)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def test_a_negative_rate_from_the_magic_is_refused(ip):
    ip.user_ns["samples"] = media.tone(0.5)
    with pytest.raises(InvalidRequest, match="rate"), capture_output():
        ip.run_cell_magic("omni", "-a samples --rate -5 --dry-run", "What is it?")


# -- 11. an incomplete file is refused before it is sent ---------------------------------------
def test_a_truncated_jpeg_is_refused(client, tmp_path):
    whole = media.jpeg(400, 300, quality=95)
    assert len(whole) > 10_000
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole[:3000])
    with pytest.raises(InvalidRequest, match="cut.jpg.*(incomplete|truncated)"):
        client.prepare("Describe it", attachments=[Attachment("image", path)])
    path.write_bytes(whole)
    client.prepare("Describe it", attachments=[Attachment("image", path)])  # the whole one goes


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_truncated_images_are_refused(client, fmt):
    whole = media._image(320, 240, fmt)
    with pytest.raises(InvalidRequest, match="incomplete|truncated"):
        client.prepare("Describe it", attachments=[Attachment("image", whole[: len(whole) // 2])])


def _faststart_mp4(path) -> bytes:
    """An mp4 whose index comes first, as phones and web exports write it: half of it opens."""
    import av

    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(40):
            gray = np.full((120, 160, 3), (i * 6) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(gray, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.read_bytes()


@media.needs_av
def test_half_an_mp4_is_refused(client, tmp_path):
    whole = _faststart_mp4(tmp_path / "whole.mp4")
    path = tmp_path / "half.mp4"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InvalidRequest, match="half.mp4.*incomplete"):
        client.prepare("Describe it", attachments=[Attachment("video", path)])
    client.prepare("Describe it", attachments=[Attachment("video", tmp_path / "whole.mp4")])


@media.needs_av
def test_half_a_matroska_video_is_refused(client):
    whole = media.mp4(seconds=4.0, container_format="matroska")
    client.prepare("Describe it", attachments=[Attachment("video", whole)])
    with pytest.raises(InvalidRequest, match="incomplete"):
        client.prepare("Describe it", attachments=[Attachment("video", whole[: len(whole) // 2])])


@pytest.mark.parametrize("make", [media.flac, pytest.param(media.mp3, marks=media.needs_mp3)])
def test_half_an_audio_file_whose_header_states_its_length_is_refused(client, make):
    whole = make(4.0)
    client.prepare("Describe it", attachments=[Attachment("audio", whole)])
    with pytest.raises(InvalidRequest, match="incomplete"):
        client.prepare("Describe it", attachments=[Attachment("audio", whole[: len(whole) // 2])])


# -- 12. HEIC photos, converted to JPEG (the service does not list HEIC) ----------------------
def heic(width: int = 64, height: int = 48) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(rgb)).save(out, quality=90)
    return out.getvalue()


def test_a_heic_photo_is_sent_as_jpeg(client, tmp_path):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(heic(64, 48))
    request = client.prepare("Describe it", attachments=[Attachment("image", path)])
    url = data_url(to_json(request.body)["messages"][-1]["content"][0])
    assert url.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(decoded(url))) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))
    assert any("IMG_0001.HEIC" in w and "JPEG" in w for w in request.notes)


def test_a_heic_photo_through_the_magic(ip, tmp_path):
    path = tmp_path / "IMG_0002.heic"
    path.write_bytes(heic(96, 64))
    with capture_output():
        ip.run_cell_magic("omni", f"--text-only --out reply -i {path}", "What is it?")
    reply = ip.user_ns["reply"]
    assert reply.error is None
    assert to_json(reply.request)["messages"][-1]["content"][0]["image_url"]["url"].startswith("data:image/jpeg")


def test_without_pillow_heif_a_heic_photo_says_how_to_read_it(client, tmp_path, monkeypatch):
    path = tmp_path / "IMG_0003.HEIC"
    path.write_bytes(heic())
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    with pytest.raises(InvalidRequest) as caught:
        client.prepare("Describe it", attachments=[Attachment("image", path)])
    assert "pip install 'omni_magic[heic]'" in str(caught.value)
    assert "IMG_0003.HEIC" in str(caught.value)


# -- 13. a path that exists wins over a glob ---------------------------------------------------
def test_a_file_with_brackets_in_its_name_is_attached(ip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo[1].png").write_bytes(media.png())
    (tmp_path / "photo1.png").write_bytes(media.jpeg())  # what the glob [1] would match
    assert expand("photo[1].png") == ["photo[1].png"]
    assert expand(str(tmp_path / "photo[1].png")) == [str(tmp_path / "photo[1].png")]
    assert batch_files("photo[1].png") == ["photo[1].png"]
    with capture_output():
        ip.run_cell_magic("omni", "-i photo[1].png --text-only --out reply", "Describe")
    part = to_json(ip.user_ns["reply"].request)["messages"][-1]["content"][0]
    assert part["image_url"]["url"].startswith("data:image/png;")  # photo1.png is a JPEG


def test_a_glob_still_matches_when_no_file_has_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("frame1.png", "frame2.png", "frame10.png"):
        (tmp_path / name).write_bytes(media.png())
    assert expand("frame[12]*.png") == ["frame1.png", "frame2.png", "frame10.png"]


# -- 14. text that is not Unicode, a file that changes while it is sent ------------------------
@pytest.mark.parametrize("where", ["prompt", "system"])
def test_a_lone_surrogate_is_refused_with_a_sentence(client, where):
    prompt, system = ("Hi \ud800 there", None) if where == "prompt" else ("Hi", "Be \udfff brief")
    for call in (client.prepare, client.chat):
        with pytest.raises(InvalidRequest, match=f"{where}.*surrogate"):
            call(prompt, system=system, audio=False)


def test_a_lone_surrogate_in_the_history_is_refused_before_sending(client):
    assert client.chat("warm up", audio=False).error is None  # the emulator is running
    before = client._emulator.request_count
    history = [{"role": "user", "content": "x\udc80"}, {"role": "assistant", "content": "ok"}]
    request = client.prepare("Hi", history=history, audio=False)
    with pytest.raises(InvalidRequest, match="user message 1 of the history.*surrogate"):
        client.chat("Hi", history=history, audio=False)
    with pytest.raises(InvalidRequest, match="surrogate"):
        collect(client.send(request), client.new_response(request))
    assert client._emulator.request_count == before  # nothing was sent


def test_a_lone_surrogate_in_a_cell(ip):
    with pytest.raises(InvalidRequest, match="surrogate"), capture_output():
        ip.run_cell_magic("omni", "--dry-run", "Describe \ud800")


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_a_file_that_changes_size_while_it_is_sent_is_named(client, tmp_path, change):
    path = tmp_path / "growing.wav"
    path.write_bytes(media.wav(2.0))
    request = client.prepare("What is it?", audio=False, attachments=[Attachment("audio", path)])
    data = path.read_bytes()
    path.write_bytes(data + b"\x00" * 5000 if change == "grow" else data[:-5000])
    with pytest.raises(InvalidRequest, match="growing.wav.*changed"):
        with client.send(request) as events:
            list(events)
    assert client.chat("And now?", audio=False).error is None  # the client goes on
