"""The official openai SDK and OmniClient read the same stream from the emulator.

This is the proof that the emulator speaks the protocol: a client that was not
written with it in mind decodes the same text and the same audio bytes.
"""

from __future__ import annotations

import base64

import pytest

from omni_magic import OmniClient
from omni_magic.emulator import Emulator, Pacing

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def emulator():
    with Emulator(auth=False, pacing=Pacing.none()) as emu:
        yield emu


def sdk_read(base_url: str, **extra):
    sdk = openai.OpenAI(api_key="not-needed", base_url=base_url, max_retries=0)
    text, reasoning, pcm, usage = [], [], bytearray(), None
    stream = sdk.chat.completions.create(stream=True, stream_options={"include_usage": True}, **extra)
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage.model_dump(exclude_none=True)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text.append(delta.content or "")
        reasoning.append(getattr(delta, "reasoning_content", None) or "")
        audio = getattr(delta, "audio", None)
        # Older SDKs hand the audio delta over as a dict, newer ones as a typed model.
        data = audio.get("data") if isinstance(audio, dict) else getattr(audio, "data", None)
        if data:
            pcm += base64.b64decode(data)  # chunk by chunk, as the stream requires
    sdk.close()
    return "".join(text), "".join(reasoning), bytes(pcm), usage


def test_text_and_audio_match(emulator):
    messages = [{"role": "user", "content": "Who are you?"}]
    text, _, pcm, usage = sdk_read(
        emulator.base_url, model="qwen3-omni-flash", messages=messages,
        modalities=["text", "audio"], audio={"voice": "Cherry", "format": "wav"},
    )
    with OmniClient(base_url=emulator.base_url) as client:
        reply = client.chat("Who are you?", model="qwen3-omni-flash", voice="Cherry")
    assert reply.error is None
    assert text == reply.text and "Who are you?" in text
    assert len(pcm) > 24000 and pcm == reply.audio.tobytes()
    assert usage["total_tokens"] == reply.usage["total_tokens"]
    assert usage["completion_tokens_details"]["audio_tokens"] == reply.usage["completion_tokens_details"]["audio_tokens"]


def test_thinking_stream_matches(emulator):
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    text, reasoning, pcm, _ = sdk_read(
        emulator.base_url, model="qwen3-omni-flash", messages=messages, modalities=["text"],
        extra_body={"enable_thinking": True},
    )
    with OmniClient(base_url=emulator.base_url) as client:
        reply = client.chat("Why is the sky blue?", model="qwen3-omni-flash", thinking=True,
                            audio=False)
    assert reasoning and reasoning == reply.reasoning
    assert text == reply.text and pcm == b""


def test_sdk_sees_the_services_error_shape(emulator):
    sdk = openai.OpenAI(api_key="not-needed", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="qwen3-omni-flash", messages=[{"role": "user", "content": "Hi"}], stream=True,
            modalities=["text", "audio"], audio={"voice": "Cherry", "format": "wav"},
            extra_body={"enable_thinking": True},
        )
    assert caught.value.code == "invalid_parameter_error"
    sdk.close()


def test_the_default_model_speaks_as_tina_and_matches(emulator):
    messages = [{"role": "user", "content": "Who are you?"}]
    text, _, pcm, usage = sdk_read(
        emulator.base_url, model="qwen3.5-omni-plus", messages=messages,
        modalities=["text", "audio"], audio={"voice": "Tina", "format": "wav"},
    )
    with OmniClient(base_url=emulator.base_url) as client:
        request = client.prepare("Who are you?")
        assert request.body["model"] == "qwen3.5-omni-plus"
        assert request.body["audio"] == {"voice": "Tina", "format": "wav"}
        reply = client.chat("Who are you?")
    assert reply.error is None
    assert text == reply.text and len(pcm) > 24000 and pcm == reply.audio.tobytes()
    assert usage["total_tokens"] == reply.usage["total_tokens"]


def test_qwen38_streams_reasoning_by_default_and_matches(emulator):
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    text, reasoning, pcm, usage = sdk_read(
        emulator.base_url, model="qwen3.8-omni-flash", messages=messages, modalities=["text"],
    )
    with OmniClient(base_url=emulator.base_url) as client:
        reply = client.chat("Why is the sky blue?", model="qwen3.8-omni-flash")
    assert reply.error is None
    assert reasoning and reasoning == reply.reasoning
    assert text == reply.text and pcm == b"" and reply.audio.size == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == (
        reply.usage["completion_tokens_details"]["reasoning_tokens"])


def test_qwen38_without_thinking_matches_reasoning_effort_none(emulator):
    messages = [{"role": "user", "content": "Why is the sky blue?"}]
    text, reasoning, _, _ = sdk_read(
        emulator.base_url, model="qwen3.8-omni-flash", messages=messages, modalities=["text"],
        extra_body={"reasoning_effort": "none"},
    )
    with OmniClient(base_url=emulator.base_url) as client:
        reply = client.chat("Why is the sky blue?", model="qwen3.8-omni-flash", thinking=False)
    assert reasoning == "" == reply.reasoning
    assert text == reply.text


@pytest.mark.parametrize(
    "options",
    [dict(model="qwen3.8-omni-flash", modalities=["text", "audio"],
          audio={"voice": "Tina", "format": "wav"}),
     dict(model="qwen3.5-omni-plus", modalities=["text"], extra_body={"enable_thinking": True})],
    ids=["speech-on-qwen3.8", "thinking-on-qwen3.5"],
)
def test_sdk_sees_the_new_families_refusals(emulator, options):
    sdk = openai.OpenAI(api_key="not-needed", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], stream=True,
                                    **options)
    assert caught.value.code == "invalid_parameter_error"
    sdk.close()
