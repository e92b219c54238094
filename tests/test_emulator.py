"""The embedded emulator, driven over loopback with plain httpx as a client would."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import signal
import socket
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from omni_magic import catalog, tokens
from omni_magic.catalog import DEFAULT_MODEL, SAMPLE_RATE
from omni_magic.emulator import Emulator, Pacing, speech

ROOT = Path(__file__).resolve().parents[1]
ENVELOPE_KEYS = ["choices", "object", "usage", "created", "system_fingerprint", "model", "id"]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FLASH = "qwen3-omni-flash"  # the model body() asks for: thinking, one modality per message
# The hidden system prompt the service adds when speech is asked (207 vs 11 prompt tokens in
# its own examples for the same question).
SPEECH_PROMPT = 196

try:
    import espeakng_loader  # noqa: F401

    HAVE_ESPEAK = True
except ImportError:
    HAVE_ESPEAK = False


@pytest.fixture(scope="module")
def emu():
    with Emulator(auth=False, pacing=Pacing.none()) as e:
        yield e


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=10) as c:
        yield c


def body(prompt: str = "Who are you?", **extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "model": FLASH,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text"],
    }
    b.update(extra)
    return b


def speech_body(prompt: str = "Who are you?", voice: str = "Cherry", **extra: Any):
    return body(prompt, modalities=["text", "audio"], audio={"voice": voice, "format": "wav"},
                **extra)


def run(client: httpx.Client, base_url: str, payload: dict[str, Any]) -> list[Any]:
    """POST and return the stream's events: parsed JSON chunks, then the string '[DONE]'."""
    with client.stream("POST", f"{base_url}/chat/completions", json=payload,
                       headers={"Authorization": "Bearer sk-test"}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"] == "text/event-stream"
        raw = r.read().decode()
    assert raw.endswith("data: [DONE]\n\n")
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    return [json.loads(e[6:]) if e != "data: [DONE]" else "[DONE]" for e in events]


def deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]]


def text_of(events: list[Any], key: str = "content") -> str:
    return "".join(d.get(key) or "" for d in deltas(events))


def audio_of(events: list[Any]) -> tuple[list[str], np.ndarray]:
    pieces = [d["audio"]["data"] for d in deltas(events) if "data" in d.get("audio", {})]
    pcm = np.concatenate([np.frombuffer(base64.b64decode(p), "<i2") for p in pieces])
    return pieces, pcm


def finish(events: list[Any]) -> dict[str, Any]:
    [choice] = [e["choices"][0] for e in events[:-1]
                if e["choices"] and e["choices"][0]["finish_reason"]]
    return choice


def usage(events: list[Any]) -> dict[str, Any]:
    [u] = [e["usage"] for e in events[:-1] if not e["choices"]]
    return u


def dominant_frequencies(pcm: np.ndarray) -> list[float]:
    """The loudest frequency (Hz) of each voiced 40 ms frame."""
    n = SAMPLE_RATE // 25
    out = []
    for i in range(0, pcm.size - n, n):
        frame = pcm[i:i + n].astype(float)
        if np.sqrt(np.mean(frame ** 2)) < 200:
            continue
        spectrum = np.abs(np.fft.rfft(frame * np.hanning(n)))
        out.append(float(np.argmax(spectrum)) * SAMPLE_RATE / n)
    return out


def test_text_stream_has_the_services_shape(emu, client):
    events = run(client, emu.base_url, body("What is the capital of France?"))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(list(c) == ENVELOPE_KEYS for c in chunks)
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "qwen3-omni-flash"
               for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert re.fullmatch(f"chatcmpl-{UUID}", chunks[0]["id"])
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    pieces = [d["content"] for d in deltas(events)[1:] if d.get("content")]
    assert len(pieces) > 10
    assert all(re.fullmatch(r"\s?\S+", p) for p in pieces)  # word-sized, like "I", " am"
    text = text_of(events)
    assert "emulator" in text and "not a model" in text
    assert "What is the capital of France?" in text
    assert finish(events) == {"finish_reason": "stop",
                              "delta": {"content": "", "reasoning_content": None},
                              "index": 0, "logprobs": None}
    u = usage(events)
    assert list(u) == ["prompt_tokens", "completion_tokens", "total_tokens",
                       "completion_tokens_details", "prompt_tokens_details"]
    assert u["prompt_tokens_details"] == {"text_tokens": u["prompt_tokens"]}
    expected = tokens.text_tokens("What is the capital of France?", FLASH) + tokens.MESSAGE_OVERHEAD + tokens.REPLY_OVERHEAD
    assert u["prompt_tokens"] == expected  # text only: no hidden speech prompt
    assert u["completion_tokens_details"] == {"text_tokens": tokens.text_tokens(text, FLASH)}
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert chunks[-1]["choices"] == [] and chunks[-2]["usage"] is None


def test_usage_chunk_only_when_asked(emu, client):
    events = run(client, emu.base_url, body(stream_options={"include_usage": False}))
    assert all(e["choices"] for e in events[:-1])
    assert finish(events)["finish_reason"] == "stop"


def test_reply_is_deterministic_and_counts_turns(emu, client):
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
        {"role": "user", "content": "x" * 500},
    ]
    first = text_of(run(client, emu.base_url, body(messages=history)))
    assert first == text_of(run(client, emu.base_url, body(messages=history)))
    assert "4 messages" in first and "2 user turns" in first
    assert "x" * 200 + "…" in first and "x" * 201 not in first


def test_speech_arrives_as_padded_pcm_chunks_interleaved_with_text(emu, client):
    events = run(client, emu.base_url, speech_body())
    pieces, pcm = audio_of(events)
    assert len(pieces) > 3
    # Each chunk is its own base64 with padding: joining before decoding would lose data.
    assert all(p.endswith("=") for p in pieces)
    assert len(base64.b64decode("".join(pieces))) < pcm.size * 2
    kinds = ["audio" if "audio" in d else "text" for d in deltas(events) if d.get("content")
             or "data" in d.get("audio", {})]
    assert kinds.index("audio") < len(kinds) - 1 - kinds[::-1].index("text")
    assert finish(events)["delta"] == {"audio": {"transcript": ""}}
    audio_ids = {d["audio"]["id"] for d in deltas(events) if "id" in d.get("audio", {})}
    assert audio_ids == {"audio_" + events[0]["id"].removeprefix("chatcmpl-")}
    seconds = pcm.size / SAMPLE_RATE
    words = len(text_of(events).split())
    assert words * 0.15 < seconds < words * 1.0  # a plausible speaking rate
    u = usage(events)
    # Qwen3-Omni-Flash speaks at 12.5 tokens per second.
    assert u["completion_tokens_details"]["audio_tokens"] == math.ceil(seconds * 12.5)
    # Asking for speech adds the service's hidden system prompt to the prompt's text tokens.
    text_in = tokens.text_tokens("Who are you?", FLASH) + tokens.MESSAGE_OVERHEAD + tokens.REPLY_OVERHEAD + SPEECH_PROMPT
    assert u["prompt_tokens_details"] == {"text_tokens": text_in}
    assert u["prompt_tokens"] == text_in
    assert "Cherry" in text_of(events)
    if not HAVE_ESPEAK:
        pytest.skip("espeakng_loader is not installed: the speech is a placeholder tone")
    assert np.sqrt(np.mean(pcm.astype(float) ** 2)) > 300
    # Speech: the loudest frequency wanders from frame to frame; a tone's stays put.
    assert len({round(f / 50) for f in dominant_frequencies(pcm)}) > 5


def test_without_a_synthesizer_the_tone_is_labelled(emu, client, monkeypatch):
    monkeypatch.setattr(speech, "_engine", lambda: None)
    events = run(client, emu.base_url, speech_body())
    assert "placeholder tone" in text_of(events)
    assert "pip install 'omni_magic[speech]'" in text_of(events)
    _, pcm = audio_of(events)
    peaks = dominant_frequencies(pcm)
    assert peaks and all(abs(f - 440) <= 25 for f in peaks)  # 25 Hz: the FFT's resolution


def test_thinking_streams_reasoning_before_content(emu, client):
    events = run(client, emu.base_url, body(model=FLASH, enable_thinking=True))
    ds = deltas(events)
    assert ds[0] == {"content": None, "role": "assistant", "reasoning_content": ""}
    order = ["r" if d.get("reasoning_content") else "c" if d.get("content") else "-"
             for d in ds]
    assert "r" in order and "c" in order
    assert order.index("c") > len(order) - 1 - order[::-1].index("r")
    assert "emulator" in text_of(events, "reasoning_content")
    details = usage(events)["completion_tokens_details"]
    assert details["reasoning_tokens"] == tokens.text_tokens(
        text_of(events, "reasoning_content"), FLASH)


def test_max_tokens_stops_with_length(emu, client):
    full = text_of(run(client, emu.base_url, body()))
    events = run(client, emu.base_url, body(max_tokens=5))
    text = text_of(events)
    assert finish(events)["finish_reason"] == "length"
    assert text and full.startswith(text) and len(text) < len(full)
    assert usage(events)["completion_tokens_details"]["text_tokens"] <= 5


def _png(width: int, height: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _wav(seconds: float) -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * int(16000 * seconds))
    return "data:;base64," + base64.b64encode(buf.getvalue()).decode()


def test_reply_describes_images_and_counts_their_tokens(emu, client):
    # Media by URL are fetched and counted as inline ones are: tests/test_emulator_fetch.py.
    content = [{"type": "image_url", "image_url": {"url": _png(640, 480)}},
               {"type": "image_url", "image_url": {"url": _png(320, 240)}},
               {"type": "text", "text": "Describe these."}]
    events = run(client, emu.base_url, body(messages=[{"role": "user", "content": content}]))
    text = text_of(events)
    assert "2 images" in text and "640x480" in text and "320x240" in text
    details = usage(events)["prompt_tokens_details"]
    assert details["image_tokens"] == (tokens.image_tokens(640, 480, "qwen3-omni-flash")
                                       + tokens.image_tokens(320, 240, "qwen3-omni-flash"))


def test_reply_describes_audio_input(emu, client):
    content = [{"type": "input_audio", "input_audio": {"data": _wav(2.5), "format": "wav"}},
               {"type": "text", "text": "Transcribe."}]
    events = run(client, emu.base_url, body(messages=[{"role": "user", "content": content}]))
    assert "2.5 seconds" in text_of(events)
    assert usage(events)["prompt_tokens_details"]["audio_tokens"] == tokens.audio_tokens(2.5, "qwen3-omni-flash")


IMG = {"type": "image_url", "image_url": {"url": _png(64, 48)}}
AUD = {"type": "input_audio", "input_audio": {"data": _wav(1.0), "format": "wav"}}
BAD = 400, "invalid_parameter_error"


@pytest.mark.parametrize("payload, status, code, says", [
    (body(stream=False), *BAD, "only support stream mode"),
    (body(model="qwen-max"), 404, "model_not_found", "The model `qwen-max` does not exist"),
    # The emulator serves the catalog's models only: a name of a known family is not enough.
    (body(model="qwen3.5-omni-plus-2099-01-01"), 404, "model_not_found",
     "`qwen3.5-omni-plus-2099-01-01` does not exist"),
    (body(model="qwen3.9-omni-flash"), 404, "model_not_found", "`qwen3.9-omni-flash`"),
    (speech_body(enable_thinking=True), *BAD, "not supported in thinking mode"),
    (body(model="qwen-omni-turbo", enable_thinking=True), *BAD, "thinking"),
    # A confirmed voice list refuses a voice not on it (2025-09-15: 17 voices, no Serena).
    (speech_body(model="qwen3-omni-flash-2025-09-15", voice="Serena"), *BAD, "Serena"),
    (speech_body(model="qwen3-omni-flash-2025-12-01", voice="Zed"), *BAD, "Zed"),
    (speech_body(model="qwen-omni-turbo", voice="Nofish"), *BAD, "Nofish"),
    (body(modalities=["text", "audio"], audio={"voice": "Cherry", "format": "mp3"}), *BAD,
     "wav"),
    (body(modalities=["audio"]), *BAD, "modalities"),
    (speech_body(model="qwen-omni-turbo", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]),
     *BAD, "system message"),
    (body(messages=[{"role": "user", "content": [IMG, AUD]}]), *BAD, "one other modality"),
    (body(messages=[{"role": "user", "content": [AUD, AUD]}]), *BAD, "at most 1 "),
    (body(model="qwen-omni-turbo", messages=[{"role": "user", "content": [IMG, AUD]}]), *BAD,
     "one other modality"),
    (body(messages=[{"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": [IMG]},
                    {"role": "user", "content": "And?"}]), *BAD, "text only"),
    (body(messages=[]), *BAD, "non-empty"),
])
def test_service_rules_answer_with_the_services_error_body(emu, client, payload, status,
                                                           code, says):
    before = emu.request_count
    r = client.post(f"{emu.base_url}/chat/completions", json=payload)
    assert r.status_code == status
    err = r.json()
    assert list(err) == ["error", "id", "request_id"]
    assert list(err["error"]) == ["code", "param", "message", "type"]
    assert err["error"]["code"] == code and err["error"]["param"] is None
    assert err["error"]["type"] == "invalid_request_error"
    assert says in err["error"]["message"]
    assert re.fullmatch(UUID, err["request_id"]) and err["id"] == f"chatcmpl-{err['request_id']}"
    assert emu.request_count == before + 1


@pytest.mark.parametrize("payload", [
    speech_body(messages=[{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": "Hi"}]),  # flash allows it
    body(model="qwen-omni-turbo", messages=[{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "Hi"}]),
    speech_body(model="qwen-omni-turbo-0326", voice="Serena"),
    speech_body(voice="Serena"),  # on the 49 voices of the qwen3-omni-flash alias
    speech_body(voice="Zed"),  # the alias's list is not confirmed: the voice goes through
    body(messages=[{"role": "user", "content": [IMG, IMG, {"type": "text", "text": "?"}]}]),
    body(messages=[{"role": "user", "content": [IMG]}, {"role": "assistant", "content": "A."},
                   {"role": "user", "content": [AUD]}]),  # one modality per message
    body(unknown_field=1, temperature=0.2),
])
def test_requests_within_the_rules_stream(emu, client, payload):
    events = run(client, emu.base_url, payload)
    assert finish(events)["finish_reason"] == "stop"


# -- the 2026 service: each family's own rules ---------------------------------------------------

PLUS = DEFAULT_MODEL  # qwen3.5-omni-plus: speaks (Tina), takes any mix of media, never thinks
THINKER = "qwen3.8-omni-flash"  # answers in text only; thinks unless reasoning_effort is "none"
TURBO = "qwen-omni-turbo"  # legacy: speech billed at 25 tokens per second


def refused(client: httpx.Client, emu: Emulator, payload: dict[str, Any]) -> str:
    """POST a body the service refuses; its error message."""
    r = client.post(f"{emu.base_url}/chat/completions", json=payload)
    assert r.status_code == 400, r.text
    err = r.json()
    assert list(err) == ["error", "id", "request_id"]
    assert err["error"]["code"] == "invalid_parameter_error"
    assert err["error"]["type"] == "invalid_request_error"
    return err["error"]["message"]


def test_the_default_model_is_qwen3_5_omni_plus():
    assert DEFAULT_MODEL == "qwen3.5-omni-plus"


def test_an_image_and_audio_in_one_message_go_to_qwen3_5_and_not_to_flash(emu, client):
    content = [{"type": "image_url", "image_url": {"url": _png(64, 64)}},
               {"type": "input_audio", "input_audio": {"data": _wav(2.0), "format": "wav"}},
               {"type": "text", "text": "What do you see and hear?"}]
    messages = [{"role": "user", "content": content}]
    events = run(client, emu.base_url, body(model=PLUS, messages=messages))
    assert finish(events)["finish_reason"] == "stop"
    details = usage(events)["prompt_tokens_details"]
    assert details["image_tokens"] == tokens.image_tokens(64, 64, PLUS)
    assert details["audio_tokens"] == tokens.audio_tokens(2.0, PLUS) == 14  # 7 per second
    for model in (FLASH, "qwen3-omni-flash-2025-09-15", TURBO):
        message = refused(client, emu, body(model=model, messages=messages))
        assert "mixes image and audio" in message and "one other modality" in message


def test_the_reply_describes_every_kind_of_media_of_a_mixed_message(emu, client):
    content = [{"type": "image_url", "image_url": {"url": _png(64, 64)}},
               {"type": "input_audio", "input_audio": {"data": _wav(2.0), "format": "wav"}},
               {"type": "text", "text": "What do you see and hear?"}]
    text = text_of(run(client, emu.base_url,
                       body(model=PLUS, messages=[{"role": "user", "content": content}])))
    assert "1 image (64x64 pixels" in text
    assert "2.0 seconds" in text  # the audio clip is reported too, not only the image


def test_qwen3_5_takes_several_audio_files_where_flash_takes_one(emu, client):
    clip = {"type": "input_audio", "input_audio": {"data": _wav(1.0), "format": "wav"}}
    messages = [{"role": "user", "content": [clip, clip, clip, {"type": "text", "text": "?"}]}]
    events = run(client, emu.base_url, body(model=PLUS, messages=messages))
    assert usage(events)["prompt_tokens_details"]["audio_tokens"] == 3 * tokens.audio_tokens(1.0, PLUS)
    assert "at most 1 " in refused(client, emu, body(model=FLASH, messages=messages))


@pytest.mark.parametrize("payload", [
    body(model=THINKER, modalities=["text", "audio"]),
    body(model=THINKER, modalities=["text", "audio"], audio={"voice": "Tina", "format": "wav"}),
    body(model=THINKER, modalities=["audio", "text"], audio={"voice": "Cherry", "format": "wav"}),
], ids=["no-audio-field", "Tina", "audio-first"])
def test_qwen3_8_refuses_speech(emu, client, payload):
    message = refused(client, emu, payload)
    assert "`qwen3.8-omni-flash` only supports text output" in message


def test_qwen3_5_has_no_thinking_mode(emu, client):
    for payload in (body(model=PLUS, enable_thinking=True),
                    speech_body(model=PLUS, voice="Tina", enable_thinking=True)):
        message = refused(client, emu, payload)
        assert "`qwen3.5-omni-plus` does not support thinking" in message
    events = run(client, emu.base_url, body(model=PLUS, enable_thinking=False))
    assert "reasoning_content" not in deltas(events)[0]
    assert "reasoning_tokens" not in usage(events)["completion_tokens_details"]


def reasoning_first(events: list[Any]) -> None:
    """The stream opens for reasoning, streams all of it, then the answer."""
    ds = deltas(events)
    assert ds[0] == {"content": None, "role": "assistant", "reasoning_content": ""}
    order = ["r" if d.get("reasoning_content") else "c" if d.get("content") else "-" for d in ds]
    assert "r" in order and "c" in order
    assert order.index("c") > len(order) - 1 - order[::-1].index("r")


@pytest.mark.parametrize("effort", [None, "minimal", "low", "medium", "high", "xhigh", "max"])
def test_qwen3_8_streams_its_reasoning_before_the_answer(emu, client, effort):
    extra = {} if effort is None else {"reasoning_effort": effort}
    events = run(client, emu.base_url, body(model=THINKER, **extra))
    reasoning_first(events)
    reasoning = text_of(events, "reasoning_content")
    assert "emulator" in reasoning
    details = usage(events)["completion_tokens_details"]
    assert details["reasoning_tokens"] == tokens.text_tokens(reasoning, THINKER)
    assert details["text_tokens"] == tokens.text_tokens(text_of(events), THINKER)
    assert "audio_tokens" not in details


def test_qwen3_8_with_reasoning_effort_none_answers_without_reasoning(emu, client):
    events = run(client, emu.base_url, body(model=THINKER, reasoning_effort="none"))
    ds = deltas(events)
    assert ds[0] == {"content": "", "role": "assistant"}
    assert not any(d.get("reasoning_content") for d in ds)
    assert "emulator" in text_of(events)
    assert finish(events)["finish_reason"] == "stop"
    assert usage(events)["completion_tokens_details"] == {
        "text_tokens": tokens.text_tokens(text_of(events), THINKER)}


@pytest.mark.parametrize("effort", ["extreme", "", "LOWEST", 3, True])
def test_qwen3_8_refuses_an_unknown_reasoning_effort(emu, client, effort):
    message = refused(client, emu, body(model=THINKER, reasoning_effort=effort))
    assert "reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max" in message
    assert json.dumps(effort) in message


@pytest.mark.parametrize("payload", [
    body(model=THINKER, reasoning_effort="low", thinking_budget=512),
    body(model=THINKER, reasoning_effort="none", thinking_budget=512),
    body(model=FLASH, enable_thinking=True, reasoning_effort="low", thinking_budget=512),
])
def test_reasoning_effort_and_thinking_budget_together_are_refused(emu, client, payload):
    message = refused(client, emu, payload)
    assert "reasoning_effort and thinking_budget cannot be set together" in message


def test_flash_still_takes_a_thinking_budget(emu, client):
    events = run(client, emu.base_url, body(model=FLASH, enable_thinking=True, thinking_budget=512))
    reasoning_first(events)


def test_qwen3_5_speaks_as_tina_and_bills_the_hidden_speech_prompt(emu, client):
    spoken = run(client, emu.base_url, speech_body(model=PLUS, voice="Tina"))
    written = run(client, emu.base_url, body(model=PLUS))
    text_in = tokens.text_tokens("Who are you?", PLUS) + tokens.MESSAGE_OVERHEAD + tokens.REPLY_OVERHEAD
    assert usage(written)["prompt_tokens_details"] == {"text_tokens": text_in}
    u = usage(spoken)
    assert u["prompt_tokens_details"] == {"text_tokens": text_in + SPEECH_PROMPT}
    assert u["prompt_tokens"] == text_in + SPEECH_PROMPT
    _, pcm = audio_of(spoken)
    # Qwen3.5-Omni speaks at 12.5 tokens per second, as Qwen3-Omni-Flash does.
    assert u["completion_tokens_details"]["audio_tokens"] == math.ceil(pcm.size / SAMPLE_RATE * 12.5)
    assert u["completion_tokens_details"]["text_tokens"] == tokens.text_tokens(text_of(spoken), PLUS)
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert "speaking as Tina" in text_of(spoken)
    assert f"about {text_in + SPEECH_PROMPT} prompt tokens" in text_of(spoken)


def test_qwen3_5_allows_a_system_message_with_speech(emu, client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    events = run(client, emu.base_url, speech_body(model=PLUS, voice="Tina", messages=messages))
    assert finish(events)["delta"] == {"audio": {"transcript": ""}}


def test_turbo_speech_is_billed_at_25_tokens_per_second(emu, client):
    events = run(client, emu.base_url, speech_body(model=TURBO, voice="Cherry"))
    _, pcm = audio_of(events)
    seconds = pcm.size / SAMPLE_RATE
    assert seconds > 1
    u = usage(events)
    assert u["completion_tokens_details"]["audio_tokens"] == math.ceil(seconds * 25)
    text_in = tokens.text_tokens("Who are you?", TURBO) + tokens.MESSAGE_OVERHEAD + tokens.REPLY_OVERHEAD + SPEECH_PROMPT
    assert u["prompt_tokens_details"] == {"text_tokens": text_in}


@pytest.mark.parametrize("model, voice", [
    (PLUS, "Zed"), (PLUS, "Nobody Known"), ("qwen3.5-omni-flash", "Zed"),
    ("qwen3.5-omni-plus-2026-03-15", "Cherry"), (FLASH, "Zed"),
])
def test_an_unknown_voice_from_an_unconfirmed_list_is_accepted(emu, client, model, voice):
    events = run(client, emu.base_url, speech_body(model=model, voice=voice))
    assert f"speaking as {voice}" in text_of(events)
    assert audio_of(events)[1].size > 0


def test_not_json_and_wrong_path(emu, client):
    r = client.post(f"{emu.base_url}/chat/completions", content=b"{nope")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameter_error"
    assert client.post(f"{emu.base_url}/completions", json=body()).status_code == 404


def test_openai_style_path_and_model_list(emu, client):
    base = f"http://127.0.0.1:{emu.port}/v1"
    with client.stream("POST", f"{base}/chat/completions", json=body()) as r:
        assert r.status_code == 200
        r.read()
    ids = [m["id"] for m in client.get(f"{emu.base_url}/models").json()["data"]]
    assert "qwen3-omni-flash" in ids and "qwen-omni-turbo" in ids
    assert {"qwen3.8-omni-flash", "qwen3.5-omni-plus", "qwen3.5-omni-flash",
            "qwen3.5-omni-plus-2026-03-15", "qwen3-omni-flash-2025-09-15"} <= set(ids)
    assert len(ids) == len(set(ids))
    assert set(ids) == set(catalog.default().models)  # the catalog's models, no others


def test_request_count_counts_posts_including_rejected_ones():
    with Emulator(auth=False, pacing=Pacing.none()) as emu, httpx.Client() as c:
        assert emu.request_count == 0
        run(c, emu.base_url, body())
        c.post(f"{emu.base_url}/chat/completions", json=body(stream=False))
        c.get(f"{emu.base_url}/models")
        assert emu.request_count == 2
    assert emu.request_count == 2  # still readable after stop()


def test_client_disconnect_mid_stream_is_quiet_and_harmless(capfd):
    with Emulator(auth=False, pacing=Pacing.none()) as emu, httpx.Client() as c:
        payload = json.dumps(speech_body("Tell me a long story.")).encode()
        sock = socket.create_connection(("127.0.0.1", emu.port))
        sock.sendall(b"POST /compatible-mode/v1/chat/completions HTTP/1.1\r\n"
                     b"Host: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # Hang up hard (RST) while the server still has audio to send.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        assert finish(run(c, emu.base_url, body()))["finish_reason"] == "stop"
    err = capfd.readouterr().err  # stop() has joined the cut stream's handler
    assert "Traceback" not in err and "Error" not in err


def test_command_line_serves_until_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "omni_magic.emulator", "--port", "0",
                             "--no-pacing"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"omni_magic emulator listening on "
                         r"(http://127\.0\.0\.1:\d+/compatible-mode/v1)\n", line)
        assert m, line
        emu = Emulator()  # only to reuse run(): point it at the subprocess's URL
        emu.__dict__["_port"] = int(m.group(1).split(":")[2].split("/")[0])
        with httpx.Client() as c:
            assert "Who are you?" in text_of(run(c, emu.base_url, body()))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stderr.read() == ""
    finally:
        proc.kill()
        proc.wait()


def test_command_line_refuses_a_public_address():
    done = subprocess.run([sys.executable, "-m", "omni_magic.emulator", "--host", "0.0.0.0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=10)
    assert done.returncode == 2
    assert "--allow-remote" in done.stderr and done.stdout == ""


# --- a user's catalog -------------------------------------------------------------------------

def test_a_users_catalog_adds_a_model_the_emulator_serves(tmp_path):
    extra = tmp_path / "mine.json"
    extra.write_text(json.dumps({"models": {"qwen3.5-omni-max": {"extends": "qwen3.5-omni-plus"}}}))
    with Emulator(auth=False, pacing=Pacing.none(), catalog=catalog.load_catalog(extra)) as server:
        with httpx.Client(timeout=30) as http:
            listed = http.get(f"{server.base_url}/models").json()
            assert "qwen3.5-omni-max" in [m["id"] for m in listed["data"]]
            answer = http.post(f"{server.base_url}/chat/completions",
                               json=body(model="qwen3.5-omni-max", modalities=["text"]))
            assert answer.status_code == 200 and "qwen3.5-omni-max" in answer.text
    with Emulator(auth=False, pacing=Pacing.none()) as server:  # the shipped catalog does not know it
        answer = httpx.post(f"{server.base_url}/chat/completions",
                            json=body(model="qwen3.5-omni-max", modalities=["text"]), timeout=30)
        assert answer.status_code == 404


def test_the_emulator_cli_refuses_a_malformed_catalog_naming_the_line(tmp_path, capsys):
    from omni_magic.emulator.__main__ import main

    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {\n  "x": {"family": "qwen3.5-omni",\n}}}')
    assert main(["--catalog", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}, line 3: not valid JSON" in err
