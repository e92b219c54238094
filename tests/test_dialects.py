"""Self-hosted servers: vLLM and vllm-omni streams give the same OmniResponse as DashScope's,
requests are written the way vLLM reads them, the dialect is detected from /models, and the
emulator speaks vllm-omni.

The vllm-omni streams are built as vllm-omni's serving code writes them (serving_chat.py at
commit 00a3619b): top-level "modality", speech as a whole audio file per chunk in
delta.content (written with soundfile), audio_metadata on the choice, a usage with
completion_tokens 0 on every audio chunk, the finish_reason on the last audio chunk, and a
final choices: [] chunk with the usage.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf

from omni_magic import catalog, dialects
from omni_magic.attachments import Attachment
from omni_magic.body import to_json
from omni_magic.client import OmniClient
from omni_magic.emulator import Emulator, Pacing, speech
from omni_magic.emulator.__main__ import main as emulator_main
from omni_magic.emulator.stream import padded
from omni_magic.errors import (
    BadRequestError,
    InvalidRequest,
    ProtocolError,
    StreamCutShort,
)
from omni_magic.events import AudioDelta, TextDelta, events_from_chunk
from omni_magic.request import build_request
from omni_magic.response import OmniResponse

import media
from conftest import ChunkStream, sse

BASE = "http://gpu-host:8000/v1"
KEY = "sk-vllm-test-0a1b2c3d4e5f"
MODEL = "Qwen/Qwen3-Omni-30B-A3B-Instruct"
ID = "chatcmpl-9814ea0f38ec847a"
TEXTS = ["I am", " Qwen,", " a", " model", "."]
USAGE = {"prompt_tokens": 15, "total_tokens": 57, "completion_tokens": 42}
RATE = catalog.SAMPLE_RATE
# 1.5 s of a sweep, loud enough that every sample differs from its neighbours.
PCM = (np.sin(np.cumsum(np.linspace(0.01, 0.3, RATE * 3 // 2))) * 12_000).astype(np.int16)


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch):
    monkeypatch.delenv(catalog.API_KEY_ENV, raising=False)


# -- streams shaped as each server writes them -------------------------------------------------

def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dashscope_chunks(texts=TEXTS, pcm=PCM, usage=USAGE) -> list[dict]:
    """DashScope: PCM16 pieces in delta.audio.data (odd lengths, padded base64)."""
    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {"choices": [{"delta": delta, "finish_reason": finish, "index": 0,
                             "logprobs": None}], "object": "chat.completion.chunk",
                "usage": None, "created": 1, "system_fingerprint": None, "model": MODEL,
                "id": ID}

    raw = pcm.astype("<i2").tobytes()
    out = [chunk({"content": "", "role": "assistant"})]
    out += [chunk({"content": t}) for t in texts]
    out += [chunk({"audio": {"data": b64(raw[i:i + 4801]), "expires_at": 1, "id": "audio_1"}})
            for i in range(0, len(raw), 4801)]
    out.append(chunk({"audio": {"transcript": ""}}, "stop"))
    out.append({**chunk({}), "choices": [], "usage": usage})
    return out


def encode(pcm: np.ndarray, fmt: str, rate: int = RATE) -> bytes:
    """One speech window as vllm-omni writes it: soundfile, or raw PCM16 for pcm."""
    if fmt == "pcm":
        return pcm.astype("<i2").tobytes()
    container, subtype = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"),
                          "mp3": ("MP3", "MPEG_LAYER_III"), "opus": ("OGG", "OPUS")}[fmt]
    buffer = io.BytesIO()
    sf.write(buffer, pcm, rate, format=container, subtype=subtype)
    return buffer.getvalue()


def vllm_chunks(texts=TEXTS, pcm=PCM, usage=USAGE, *, fmt: str = "wav", metadata: bool = False,
                window: int = 7_200, rate: int = RATE, interleave: bool = False) -> list[dict]:
    """vllm-omni: text chunks, then (or between them) one whole audio file per chunk."""
    ident = {"id": ID, "object": "chat.completion.chunk", "created": 1778166117, "model": MODEL}
    prompt_only = {"prompt_tokens": 15, "completion_tokens": 0, "total_tokens": 15}
    # The first line as captured on the wire (vllm-omni #2313), continuous usage on.
    first = {**ident, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                   "logprobs": None, "finish_reason": None}],
             "usage": {"prompt_tokens": 15, "total_tokens": 15, "completion_tokens": 0},
             "prompt_token_ids": None, "modality": "text"}
    text = [{**ident, "choices": [{"index": 0, "delta": {"content": t}, "logprobs": None,
                                   "finish_reason": None, "stop_reason": None,
                                   "token_ids": None}],
             "modality": "text", "metrics": None} for t in texts]
    windows = [pcm[i:i + window] for i in range(0, pcm.size, window)]
    audio = []
    for i, piece in enumerate(windows):
        content = b64(encode(piece, fmt, rate))
        choice = {"index": 0, "delta": {"role": "assistant", "content": content},
                  "logprobs": None, "finish_reason": "stop" if i == len(windows) - 1 else None,
                  "stop_reason": None, "token_ids": None}
        if metadata:
            choice["audio_metadata"] = {"format": fmt, "sample_rate_hz": rate,
                                        "frame_count": int(piece.size), "channels": 1}
        audio.append({**ident, "choices": [choice], "usage": dict(prompt_only),
                      "modality": "audio", "metrics": None})
    if interleave:  # async_chunk: speech windows arrive while the text still streams
        body = [first]
        for i, chunk in enumerate(text):
            body += [chunk] + audio[i * len(audio) // len(text):(i + 1) * len(audio) // len(text)]
    else:
        body = [first, *text, *audio]
    return body + [{**ident, "choices": [], "usage": usage}]


def plain_vllm_chunks(reasoning_key: str = "reasoning") -> list[dict]:
    """Plain vLLM serving the thinker: OpenAI chunks, no modality, reasoning by its parser."""
    ident = {"id": ID, "object": "chat.completion.chunk", "created": 1, "model": MODEL}

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**ident, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                      "finish_reason": finish, "stop_reason": None}]}

    return [chunk({"role": "assistant", "content": ""}),
            chunk({reasoning_key: "The user asks who"}), chunk({reasoning_key: " I am."}),
            chunk({"content": "I am"}), chunk({"content": " Qwen."}, "stop"),
            {**ident, "choices": [], "usage": USAGE}]


def read(chunks: list, *, cut: int | None = None, dialect: str = "dashscope") -> OmniResponse:
    """The answer OmniClient folds from a stream of ``chunks``, delivered in ``cut``-byte reads."""
    body = sse(*chunks)
    pieces = [body] if cut is None else [body[i:i + cut] for i in range(0, len(body), cut)]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=ChunkStream(pieces)))
    with OmniClient(base_url=BASE, transport=transport, dialect=dialect) as client:
        return client.chat("Who are you?", model=MODEL)


def assert_same_answer(got: OmniResponse, want: OmniResponse) -> None:
    assert got.error is None, got.error
    assert want.error is None, want.error
    assert got.text == want.text
    assert got.audio.dtype == want.audio.dtype
    assert np.array_equal(got.audio, want.audio)  # sample for sample
    assert got.sample_rate == want.sample_rate
    assert got.usage == want.usage
    assert got.finish_reason == want.finish_reason == "stop"
    assert got.complete and want.complete
    assert got.wav_bytes() == want.wav_bytes()


# -- the response side: a vllm-omni stream is the same answer ---------------------------------

def test_the_hand_built_speech_chunk_is_a_whole_wav_as_vllm_omni_sends_it():
    chunk = vllm_chunks()[len(TEXTS) + 1]
    assert chunk["modality"] == "audio"
    assert chunk["choices"][0]["delta"]["content"].startswith("UklGR")  # RIFF, per chunk
    assert chunk["usage"]["completion_tokens"] == 0


@pytest.mark.parametrize("options", [
    {"fmt": "wav"}, {"fmt": "wav", "metadata": True}, {"fmt": "pcm", "metadata": True},
    {"fmt": "flac", "metadata": True}, {"fmt": "wav", "interleave": True},
    {"fmt": "wav", "window": RATE * 2},  # all the speech in one chunk (no async_chunk)
], ids=["wav", "wav+metadata", "pcm16+metadata", "flac", "interleaved", "one-chunk"])
def test_a_vllm_omni_stream_gives_the_same_answer_as_a_dashscope_stream(options):
    want = read(dashscope_chunks())
    assert want.audio.size == PCM.size and want.text == "".join(TEXTS)
    assert_same_answer(read(vllm_chunks(**options)), want)


@pytest.mark.parametrize("cut", [3, 61, 1000, 4099])
def test_the_same_answer_however_the_vllm_omni_stream_is_cut(cut):
    assert_same_answer(read(vllm_chunks(metadata=True), cut=cut), read(dashscope_chunks()))


def test_the_response_side_does_not_depend_on_the_dialect_asked_for():
    for dialect in ("dashscope", "vllm-omni"):
        assert_same_answer(read(vllm_chunks(), dialect=dialect), read(dashscope_chunks()))


def test_the_final_usage_wins_over_the_zero_usage_of_each_audio_chunk():
    chunks = vllm_chunks()
    assert sum(1 for c in chunks if c.get("usage", {}).get("completion_tokens") == 0) > 3
    response = read(chunks)
    assert response.usage == USAGE
    assert response.usage.completion_tokens == 42


def test_the_finish_reason_comes_with_the_last_audio_chunk():
    chunks = vllm_chunks()
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])
    cut_before_it = sse(*chunks[:-2], done=False)
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=cut_before_it))
    with OmniClient(base_url=BASE, transport=transport, dialect="vllm-omni") as client:
        response = client.chat("Hi", model=MODEL)
    assert isinstance(response.error, StreamCutShort)
    assert response.text == "".join(TEXTS)  # what arrived is kept
    assert 0 < response.audio.size < PCM.size
    assert np.array_equal(response.audio, PCM[:response.audio.size])


@pytest.mark.parametrize("key", ["reasoning", "reasoning_content"])
def test_plain_vllm_text_with_its_reasoning_field(key):
    response = read(plain_vllm_chunks(key))
    assert response.error is None and response.complete
    assert response.reasoning == "The user asks who I am."
    assert response.text == "I am Qwen."
    assert response.usage == USAGE and response.finish_reason == "stop"
    assert response.audio.size == 0 and response.audio_chunks == 0


def test_raw_pcm_takes_its_rate_from_audio_metadata():
    response = read(vllm_chunks(fmt="pcm", metadata=True, rate=16_000))
    assert response.error is None
    assert response.sample_rate == 16_000
    assert np.array_equal(response.audio, PCM)
    assert struct.unpack_from("<I", response.wav_bytes(), 24)[0] == 16_000
    assert response.audio_seconds == pytest.approx(PCM.size / 16_000)


def test_a_wav_without_metadata_takes_its_rate_from_its_header():
    response = read(vllm_chunks(fmt="wav", rate=22_050))
    assert response.sample_rate == 22_050 and np.array_equal(response.audio, PCM)


def test_raw_pcm_without_metadata_is_24_khz_mono():
    response = read(vllm_chunks(fmt="pcm"))
    assert response.sample_rate == RATE and np.array_equal(response.audio, PCM)


def test_a_rate_that_changes_mid_answer_is_a_protocol_error_keeping_the_speech_before():
    chunks = vllm_chunks(window=PCM.size // 2 + 1)
    later = chunks[-2]["choices"][0]["delta"]
    later["content"] = b64(encode(PCM[PCM.size // 2 + 1:], "wav", 16_000))
    response = read(chunks)
    assert isinstance(response.error, ProtocolError)
    assert "24000 Hz, then 16000 Hz" in str(response.error)
    assert np.array_equal(response.audio, PCM[:PCM.size // 2 + 1])


def test_stereo_speech_is_mixed_down_to_mono():
    left, right = PCM[:4800], (PCM[:4800] // 3).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([left, right], axis=1), RATE, format="WAV", subtype="PCM_16")
    chunks = vllm_chunks(pcm=PCM[:4800], window=4800)
    chunks[-2]["choices"][0]["delta"]["content"] = b64(buffer.getvalue())
    response = read(chunks)
    expected = np.rint((left.astype(float) + right) / 2).astype(np.int16)
    assert response.error is None and np.array_equal(response.audio, expected)


def test_stereo_raw_pcm_is_mixed_down_by_its_metadata():
    frames = np.stack([PCM[:4800], np.zeros(4800, np.int16)], axis=1)
    out: list = []
    events_from_chunk({"modality": "audio", "choices": [{
        "index": 0, "delta": {"role": "assistant", "content": b64(frames.astype("<i2").tobytes())},
        "audio_metadata": {"format": "pcm", "sample_rate_hz": 48_000, "frame_count": 4800,
                           "channels": 2}}]}, out)
    [event] = out
    assert event.rate == 48_000
    mixed = np.rint(PCM[:4800] / 2).astype(np.int16)
    assert np.array_equal(np.frombuffer(event.data, "<i2"), mixed)


@pytest.mark.parametrize("fmt", ["mp3", "opus"])
def test_lossy_speech_chunks_decode_to_about_their_length(fmt):
    response = read(vllm_chunks(fmt=fmt, metadata=True, window=RATE // 2))
    assert response.error is None and response.sample_rate == RATE
    assert response.audio_seconds == pytest.approx(PCM.size / RATE, abs=0.3)


def test_speech_that_is_not_base64_is_a_protocol_error():
    chunks = vllm_chunks()
    chunks[-2]["choices"][0]["delta"]["content"] = "UklGR!!"
    response = read(chunks)
    assert isinstance(response.error, ProtocolError) and "base64" in str(response.error)


def test_speech_that_does_not_decode_is_a_protocol_error_naming_its_format():
    chunks = vllm_chunks(metadata=True)
    choice = chunks[-2]["choices"][0]
    choice["delta"]["content"] = b64(b"fLaC" + bytes(100))
    choice["audio_metadata"]["format"] = "flac"
    response = read(chunks)
    assert isinstance(response.error, ProtocolError)
    assert "flac" in str(response.error) and "could not be decoded" in str(response.error)


def test_other_modalities_are_not_taken_for_text():
    out: list = []
    events_from_chunk({"modality": "image", "choices": [
        {"index": 0, "delta": {"content": b64(media.png())}, "finish_reason": None}]}, out)
    assert out == []


def test_a_text_chunk_with_modality_text_is_text():
    out: list = []
    events_from_chunk({"modality": "text", "choices": [
        {"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}, out)
    assert out == [TextDelta("Hi")]


def test_a_dashscope_audio_delta_keeps_its_base64_and_24_khz():
    out: list = []
    events_from_chunk(dashscope_chunks()[len(TEXTS) + 1], out)
    assert [type(e) for e in out] == [AudioDelta]
    assert isinstance(out[0].data, str) and out[0].rate == RATE


# -- the request side --------------------------------------------------------------------------

def vllm_body(prompt: str = "Describe it.", **options: Any) -> dict[str, Any]:
    options.setdefault("model", MODEL)
    return to_json(build_request(prompt, dialect="vllm-omni", **options).body)


def test_a_self_hosted_model_name_goes_to_vllm_without_a_note():
    # Self-hosted names are the server's own (Qwen/...): never in the catalog, and fine there.
    request = build_request("Hi", model=MODEL, dialect="vllm-omni")
    assert request.notes == [] and request.warnings == []
    assert to_json(request.body)["model"] == MODEL
    assert "allow_unknown_model" not in to_json(request.body)
    # A server that is not DashScope, in DashScope's dialect: no note either.
    assert build_request("Hi", model=MODEL, dashscope=False).notes == []
    # DashScope (and the emulator) get the one-line note.
    assert (f"{MODEL} is not in omni_magic's catalog: limits and estimates not checked; the "
            "service decides.") in build_request("Hi", model=MODEL).notes


def test_speech_is_asked_without_a_voice_unless_one_was_chosen():
    body = vllm_body()
    assert body["modalities"] == ["text", "audio"]
    assert body["audio"] == {"format": "wav"}
    assert "speaker" not in body and "voice" not in body


def test_a_chosen_voice_goes_as_speaker_to_a_self_hosted_model():
    request = build_request("Hi", model="Qwen/Qwen2.5-Omni-7B", voice="Chelsie", dialect="vllm")
    body = to_json(request.body)
    assert body["speaker"] == "Chelsie" and body["audio"] == {"format": "wav"}
    assert "voice" not in body["audio"]
    assert request.voice == "Chelsie" and request.notes == [] and request.warnings == []


def test_a_chosen_voice_goes_as_speaker_unchecked_against_dashscopes_voices():
    # DashScope: not one of qwen3-omni-flash-2025-09-15's 17 voices, a confirmed list.
    with pytest.raises(InvalidRequest, match="not available"):
        build_request("Hi", model="qwen3-omni-flash-2025-09-15", voice="Chelsie")
    # vLLM's speakers are the model's own: the name goes as it is, the server decides.
    request = build_request("Hi", model="qwen3-omni-flash-2025-09-15", voice="Chelsie",
                            dialect="vllm")
    body = to_json(request.body)
    assert body["speaker"] == "Chelsie" and body["audio"] == {"format": "wav"}
    assert request.voice == "Chelsie"


def test_text_only_asks_for_text_and_no_speech_fields():
    body = vllm_body(audio=False, voice=None)
    assert body["modalities"] == ["text"]
    assert "audio" not in body and "speaker" not in body


def test_thinking_goes_through_the_chat_template():
    body = vllm_body(audio=False, thinking=True)
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert "enable_thinking" not in body
    merged = vllm_body(audio=False, thinking=True, chat_template_kwargs={"custom": 1})
    assert merged["chat_template_kwargs"] == {"custom": 1, "enable_thinking": True}


def test_a_system_message_goes_with_speech_to_a_self_hosted_model():
    # Qwen2.5-Omni on vllm-omni wants its own system prompt when it should speak.
    body = vllm_body("Hi", model="Qwen/Qwen2.5-Omni-7B", system="You are Qwen.")
    assert body["messages"][0] == {"role": "system", "content": "You are Qwen."}
    assert body["modalities"] == ["text", "audio"]


def test_a_system_message_may_go_with_speech_on_vllm():
    # DashScope's turbo refuses it: DashScope's rule, not vllm-omni's, which takes the message.
    with pytest.raises(InvalidRequest, match="system message"):
        build_request("Hi", model="qwen-omni-turbo", system="You are Qwen.")
    body = to_json(build_request("Hi", model="qwen-omni-turbo", system="You are Qwen.",
                                 dialect="vllm-omni").body)
    assert body["messages"][0] == {"role": "system", "content": "You are Qwen."}
    assert body["modalities"] == ["text", "audio"]


def test_audio_input_is_raw_base64(tmp_path):
    clip = media.wav(0.5)
    path = tmp_path / "clip.wav"
    path.write_bytes(clip)
    for source in (path, clip):
        [part, _] = vllm_body(attachments=[Attachment("audio", source)])["messages"][0]["content"]
        assert part["type"] == "input_audio"
        assert not part["input_audio"]["data"].startswith("data:")
        assert base64.b64decode(part["input_audio"]["data"]) == clip
        assert part["input_audio"]["format"] == "wav"
    dashscope = to_json(build_request("Hi", attachments=[Attachment("audio", clip)]).body)
    assert dashscope["messages"][0]["content"][0]["input_audio"]["data"].startswith("data:;base64,")


def test_audio_by_url_goes_as_audio_url():
    url = "https://example.com/clip.mp3"
    [part, _] = vllm_body(attachments=[Attachment("audio", url)])["messages"][0]["content"]
    assert part == {"type": "audio_url", "audio_url": {"url": url}}


def test_images_and_video_files_stay_data_urls(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    image = dialects.vllm_part(Attachment("image", media.png()))
    assert image["type"] == "image_url"
    assert image["image_url"]["url"].prefix == "data:image/png;base64,"
    part = dialects.vllm_part(Attachment("video", video))
    assert part["type"] == "video_url"
    assert part["video_url"]["url"].prefix == "data:video/mp4;base64,"


def test_frames_are_refused_before_sending_with_the_fix():
    frames = Attachment("frames", [media.png(), media.png()])
    with pytest.raises(InvalidRequest, match="--video"):
        build_request("What happens?", attachments=[frames], dialect="vllm-omni")
    build_request("What happens?", attachments=[frames])  # DashScope takes them


def test_the_dashscope_body_is_unchanged_by_the_dialect_argument():
    options = {"voice": "Ethan", "attachments": [Attachment("audio", media.wav(0.2))],
                   "max_tokens": 100, "temperature": 0.3}
    assert (to_json(build_request("Hi", **options).body)
            == to_json(build_request("Hi", dialect="dashscope", **options).body))
    flash = to_json(build_request("Hi", model="qwen3-omni-flash", thinking=True, audio=False).body)
    assert flash["enable_thinking"] is True and "chat_template_kwargs" not in flash
    thinker = to_json(build_request("Hi", model="qwen3.8-omni-flash", effort="low").body)
    assert thinker["reasoning_effort"] == "low" and "chat_template_kwargs" not in thinker


def test_an_unknown_dialect_names_the_choices():
    with pytest.raises(InvalidRequest, match="dashscope, vllm-omni"):
        build_request("Hi", dialect="ollama")
    with pytest.raises(InvalidRequest, match="auto, dashscope, vllm-omni"):
        OmniClient(base_url=BASE, dialect="openai")
    assert dialects.resolve(" VLLM ") == "vllm-omni"


# -- choosing the dialect: auto-detection from /models ------------------------------------------

class Server:
    """GET /models answers with ``models``; POST answers with a plain vLLM stream."""

    def __init__(self, models: Callable[[httpx.Request], httpx.Response]) -> None:
        self.models = models
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET":
            return self.models(request)
        return httpx.Response(200, content=sse(*plain_vllm_chunks()))

    @property
    def gets(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "GET"]


def listing(owner: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, json={"object": "list", "data": [
        {"id": MODEL, "object": "model", "created": 1, "owned_by": owner, "root": MODEL}]})


def detect(models: Callable[[httpx.Request], httpx.Response], **options: Any) -> tuple[str, Server]:
    server = Server(models)
    with OmniClient(base_url=BASE, transport=httpx.MockTransport(server), **options) as client:
        dialect = client.dialect
        client.chat("Hi", model=MODEL, attachments=[Attachment("audio", media.wav(0.2))])
        client.chat("Again", model=MODEL)
    return dialect, server


def test_a_vllm_server_is_detected_once_and_gets_vllm_bodies():
    dialect, server = detect(listing("vllm"), api_key=KEY)
    assert dialect == "vllm-omni"
    [get] = server.gets  # asked once, on first use
    assert get.url == f"{BASE}/models"
    assert get.headers["Authorization"] == f"Bearer {KEY}"  # vLLM's --api-key guards it too
    first = json.loads(server.requests[1].read())
    assert not first["messages"][0]["content"][0]["input_audio"]["data"].startswith("data:")
    assert "voice" not in first["audio"]


def raises(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc
    return reply


@pytest.mark.parametrize("models", [
    listing("system"), listing("openai"),
    lambda r: httpx.Response(404, json={"error": {"message": "Not found"}}),
    lambda r: httpx.Response(200, text="<html>hello</html>", headers={"Content-Type": "text/html"}),
    lambda r: httpx.Response(200, text="{not json", headers={"Content-Type": "application/json"}),
    lambda r: httpx.Response(200, json=["no", "data"]),
    raises(httpx.ConnectError("refused")), raises(httpx.ReadTimeout("slow")),
], ids=["system", "openai", "404", "html", "bad-json", "no-data", "refused", "timeout"])
def test_anything_else_means_dashscope_without_an_error(models):
    dialect, server = detect(models)
    assert dialect == "dashscope"
    assert len(server.gets) == 1
    body = json.loads(server.requests[1].read())
    assert body["messages"][0]["content"][0]["input_audio"]["data"].startswith("data:;base64,")


def test_a_chosen_dialect_asks_nothing():
    dialect, server = detect(listing("system"), dialect="vllm")
    assert dialect == "vllm-omni" and server.gets == []


def test_dashscope_and_the_emulator_are_never_asked():
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(500))
    with OmniClient(api_key=KEY, transport=transport) as client:
        assert client.dialect == "dashscope"
    with OmniClient() as client:
        assert client.dialect == "dashscope"
        assert client._emulator is None  # not even started to find out
    assert seen == []


def test_prepare_can_still_be_told_a_dialect():
    with OmniClient(base_url=BASE, dialect="dashscope") as client:
        request = client.prepare("Hi", model=MODEL, dialect="vllm-omni")
    assert request.dialect == "vllm-omni" and request.body["audio"] == {"format": "wav"}


# -- the emulator speaks vllm-omni --------------------------------------------------------------

@pytest.fixture(scope="module")
def emulators():
    with Emulator(auth=False, pacing=Pacing.none()) as dashscope, \
            Emulator(auth=False, pacing=Pacing.none(), dialect="vllm-omni") as vllm:
        yield dashscope, vllm


def both(emulators, prompt: str = "Who are you?",
         **options: Any) -> tuple[OmniResponse, OmniResponse]:
    dashscope, vllm = emulators
    with OmniClient(base_url=dashscope.base_url) as a, OmniClient(base_url=vllm.base_url) as b:
        assert (a.dialect, b.dialect) == ("dashscope", "vllm-omni")  # both detected
        return a.chat(prompt, **options), b.chat(prompt, **options)


PROMPT_TOKENS = re.compile(r"about (\d+) prompt tokens")


def same_but_the_speech_prompt(got: str, want: str) -> None:
    """The two texts differ only in DashScope's hidden speech prompt (196 tokens), which
    vllm-omni does not add."""
    [n_got], [n_want] = PROMPT_TOKENS.findall(got), PROMPT_TOKENS.findall(want)
    assert int(n_want) - int(n_got) == 196
    assert PROMPT_TOKENS.sub("N", got) == PROMPT_TOKENS.sub("N", want)


def spoken(response: OmniResponse, voice: str) -> np.ndarray:
    """The samples the emulator speaks for the response's text, its one padding sample
    included (synthesize is cached: the same call the emulator made)."""
    return padded(speech.synthesize(response.text, voice)[0])


def test_the_vllm_emulator_gives_the_same_text_and_speech_as_the_dashscope_one(emulators):
    clip = media.wav(1.5)
    want, got = both(emulators, "What is said here?", attachments=[Attachment("audio", clip)])
    assert got.error is None and got.complete
    same_but_the_speech_prompt(got.text, want.text)
    assert "1.5 seconds" in got.text and "speaking as Tina" in got.text
    assert got.audio.size > RATE
    # Each dialect carries exactly the samples spoken for its text, sample for sample.
    assert np.array_equal(want.audio, spoken(want, "Tina"))
    assert np.array_equal(got.audio, spoken(got, "Tina"))
    assert got.audio_chunks < want.audio_chunks  # whole half-second files, not PCM pieces


def test_the_vllm_emulator_gives_the_same_text_only_answer_as_the_dashscope_one(emulators):
    want, got = both(emulators, "What is said here?", audio=False)
    assert got.error is None and got.complete
    assert got.text == want.text and got.usage["prompt_tokens"] == want.usage["prompt_tokens"]


def test_the_vllm_emulator_thinks_through_the_chat_template(emulators):
    want, got = both(emulators, model="qwen3-omni-flash", audio=False, thinking=True)
    assert got.error is None
    assert got.reasoning == want.reasoning != ""
    assert got.text == want.text


def test_the_vllm_emulator_speaks_a_chosen_speaker_and_refuses_an_unknown_one(emulators):
    _, vllm = emulators
    with OmniClient(base_url=vllm.base_url) as client:
        assert "speaking as Ethan" in client.chat("Hi", voice="ethan").text
        with pytest.raises(BadRequestError, match="Invalid speaker 'Zed'"):
            client.chat("Hi", voice="Zed")


def test_the_vllm_emulator_refuses_a_data_url_in_input_audio(emulators):
    _, vllm = emulators
    with OmniClient(base_url=vllm.base_url, dialect="dashscope") as client, \
            pytest.raises(BadRequestError, match="bare base64"):
        client.chat("Hi", attachments=[Attachment("audio", media.wav(0.2))])


def post(base_url: str, payload: dict[str, Any]) -> list[Any]:
    with httpx.stream("POST", f"{base_url}/chat/completions", json=payload, timeout=30) as r:
        assert r.status_code == 200, r.read()
        raw = r.read().decode()
    events = [e[6:] for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def request_body(**extra: Any) -> dict[str, Any]:
    return {"model": "qwen3-omni-flash", "messages": [{"role": "user", "content": "Hi"}],
            "stream": True, "stream_options": {"include_usage": True}, **extra}


def test_the_vllm_emulators_stream_has_vllm_omnis_shape(emulators):
    _, vllm = emulators
    chunks = post(vllm.base_url,
                  request_body(modalities=["text", "audio"], audio={"format": "wav"}))
    text = [c for c in chunks if c.get("modality") == "text"]
    audio = [c for c in chunks if c.get("modality") == "audio"]
    assert text[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["choices"][0]["finish_reason"] is None for c in text)
    for chunk in audio:
        [choice] = chunk["choices"]
        assert choice["delta"]["role"] == "assistant"
        assert choice["delta"]["content"].startswith("UklGR")
        assert set(choice["audio_metadata"]) == {"format", "sample_rate_hz", "frame_count",
                                                 "channels"}
        assert chunk["usage"]["completion_tokens"] == 0
    assert [c["choices"][0]["finish_reason"] for c in audio][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert "modality" not in chunks[-1]
    assert chunks.index(audio[-1]) == len(chunks) - 2  # the last audio chunk closes the answer


def test_the_vllm_emulator_sends_raw_pcm16_when_asked(emulators):
    _, vllm = emulators
    wav = post(vllm.base_url, request_body(audio={"format": "wav"}))
    pcm = post(vllm.base_url, request_body(audio={"format": "pcm16"}))
    formats = {c["choices"][0]["audio_metadata"]["format"] for c in pcm
               if c.get("modality") == "audio"}
    assert formats == {"pcm"}

    def answer(chunks: list) -> OmniResponse:
        out: list = []
        for chunk in chunks:
            events_from_chunk(chunk, out)
        response = OmniResponse("m")
        for event in out:
            response.feed(event)
        return response

    assert np.array_equal(answer(pcm).audio, answer(wav).audio)
    assert answer(pcm).audio.size > RATE  # no modalities: vllm-omni gives all it has


def test_the_vllm_emulator_text_only_closes_on_its_last_text_chunk(emulators):
    _, vllm = emulators
    chunks = post(vllm.base_url, request_body(modalities=["text"]))
    assert all(c.get("modality") != "audio" for c in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-2]["choices"][0]["delta"]["content"]


def test_the_vllm_emulator_lists_vllms_models_and_answers_errors_as_vllm(emulators):
    dashscope, vllm = emulators
    owners = {m["owned_by"] for m in httpx.get(f"{vllm.base_url}/models").json()["data"]}
    assert owners == {"vllm"}
    owners = {m["owned_by"] for m in httpx.get(f"{dashscope.base_url}/models").json()["data"]}
    assert owners == {"system"}
    refused = httpx.post(f"{vllm.base_url}/chat/completions",
                         json=request_body(audio={"format": "aiff"}))
    assert refused.status_code == 400
    assert refused.json() == {"error": {
        "message": "Invalid audio format 'aiff'. "
                   "Supported formats: wav, pcm, pcm16, flac, mp3, opus.",
        "type": "BadRequestError", "param": None, "code": 400}}


def test_the_emulator_command_line_takes_a_dialect(capsys):
    assert emulator_main(["--dialect", "ollama"]) == 2
    assert "Unknown dialect 'ollama'" in capsys.readouterr().err


def test_a_truncated_speech_file_from_the_vllm_emulator_is_a_protocol_error():
    with Emulator(auth=False, pacing=Pacing.none(), dialect="vllm-omni") as vllm, \
            OmniClient(base_url=vllm.base_url, max_retries=0) as client:
        vllm.inject("truncated_audio")
        response = client.chat("Who are you?")
    assert isinstance(response.error, ProtocolError)
    assert response.text  # the text before the broken chunk is kept
