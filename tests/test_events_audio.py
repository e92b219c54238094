"""Chunks become typed events; speech chunks become exact PCM samples and playable WAV."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import soundfile as sf

from omni_magic.audio import PCMAssembler, wav_bytes
from omni_magic.errors import OmniError, ProtocolError
from omni_magic.events import (
    AudioDelta,
    Finished,
    ReasoningDelta,
    TextDelta,
    Transcript,
    Usage,
    events_from_chunk,
)
from omni_magic.response import OmniResponse, collect

SAMPLE_RATE = 24_000


def events_of(chunk) -> list:
    out: list = []
    events_from_chunk(chunk, out)
    return out


def delta_chunk(delta: dict, finish_reason=None) -> dict:
    """A chunk shaped like the service's, unknown and misspelled fields included."""
    return {
        "choices": [{"delta": delta, "finish_reason": finish_reason, "index": 0, "logprobs": None}],
        "object": "chat.completion.chunk",
        "usage": None,
        "reated": 1757937336,
        "systm_fingerprint": None,
        "model": "qwen3-omni-flash",
        "id": "chatcmpl-x",
    }


# -- events_from_chunk -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "delta, finish_reason, expected",
    [
        ({"content": "Hi"}, None, [TextDelta("Hi")]),
        ({"content": None, "role": "assistant", "reasoning_content": ""}, None, []),
        ({"content": "", "reasoning_content": None}, None, []),
        ({"content": None, "reasoning_content": "hmm"}, None, [ReasoningDelta("hmm")]),
        (
            {"audio": {"data": "/v8A", "expires_at": 1757647879, "id": "audio_1"}},
            None,
            [AudioDelta("/v8A")],
        ),
        ({"audio": {"transcript": ""}}, "stop", [Transcript(""), Finished("stop")]),
        ({"audio": {"transcript": "I am Qwen."}}, None, [Transcript("I am Qwen.")]),
        ({"content": ""}, "stop", [Finished("stop")]),
        ({"content": "cut"}, "length", [TextDelta("cut"), Finished("length")]),
        ({}, None, []),
    ],
    ids=[
        "content", "first-chunk-role-empty-reasoning", "null-reasoning", "reasoning",
        "audio-data", "transcript-and-stop", "transcript-text", "stop", "length", "empty-delta",
    ],
)
def test_each_delta_shape_gives_its_events(delta, finish_reason, expected):
    assert events_of(delta_chunk(delta, finish_reason)) == expected


def test_a_delta_with_reasoning_and_content_gives_both_in_order():
    chunk = delta_chunk({"reasoning_content": "think", "content": "say"})
    assert events_of(chunk) == [ReasoningDelta("think"), TextDelta("say")]


def test_usage_on_a_final_chunk_without_choices():
    usage = {
        "prompt_tokens": 207, "completion_tokens": 103, "total_tokens": 310,
        "completion_tokens_details": {"audio_tokens": 83, "text_tokens": 20},
        "prompt_tokens_details": {"text_tokens": 207},
    }
    (event,) = events_of({"choices": [], "object": "chat.completion.chunk", "usage": usage})
    assert isinstance(event, Usage)
    assert (event.prompt_tokens, event.completion_tokens, event.total_tokens) == (207, 103, 310)
    assert event.completion_details == {"audio_tokens": 83, "text_tokens": 20}
    assert event.prompt_details == {"text_tokens": 207}
    assert event.raw == usage


def test_usage_with_absent_keys_leaves_them_none():
    (event,) = events_of({"choices": [], "usage": {"total_tokens": 5}})
    assert event.total_tokens == 5
    assert event.prompt_tokens is None and event.completion_tokens is None
    assert event.prompt_details == {} and event.completion_details == {}


def test_usage_null_on_an_ordinary_chunk_is_no_event():
    assert not any(isinstance(e, Usage) for e in events_of(delta_chunk({"content": "x"})))


@pytest.mark.parametrize("chunk", [[1, 2], "text", 3, None])
def test_a_chunk_that_is_not_an_object_is_refused(chunk):
    with pytest.raises(TypeError):
        events_of(chunk)


# -- PCM assembly ------------------------------------------------------------------------------

def pcm_of(samples: np.ndarray) -> bytes:
    return samples.astype("<i2").tobytes()


def split_bytes(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, start = [], 0
    for size in sizes:
        pieces.append(data[start : start + size])
        start += size
    assert start == len(data)
    return pieces


# Chunk sizes that are never a multiple of 3, so every base64 string carries padding; the odd
# ones end chunks in the middle of a sample. 26 rounds of 77 bytes: 2002 bytes, 1001 samples.
SIZES = [5, 7, 11, 13, 4, 8, 10, 16, 2, 1] * 26


@pytest.fixture
def speech() -> np.ndarray:
    """A recognisable signal: a 440 Hz tone with noise, one sample per two bytes of SIZES."""
    rng = np.random.default_rng(7)
    t = np.arange(sum(SIZES) // 2) / SAMPLE_RATE
    tone = 20000 * np.sin(2 * np.pi * 440 * t) + rng.integers(-3000, 3000, t.size)
    return np.clip(tone, -32768, 32767).astype(np.int16)


def test_decoding_chunk_by_chunk_gives_the_exact_samples(speech):
    pcm = pcm_of(speech)
    chunks = [base64.b64encode(p).decode() for p in split_bytes(pcm, SIZES)]
    assert all(c.endswith("=") for c in chunks)  # each one carries padding

    assembler = PCMAssembler()
    for chunk in chunks:
        assembler.add(chunk)
    np.testing.assert_array_equal(assembler.samples(), speech)
    assert assembler.pcm_bytes() == pcm
    assert assembler.chunks == len(chunks)
    assert assembler.duration == pytest.approx(len(speech) / SAMPLE_RATE)


def test_joining_the_strings_then_decoding_once_loses_speech(speech):
    # What the service's own sample code does; this is why chunks are decoded one by one.
    pcm = pcm_of(speech)
    chunks = [base64.b64encode(p).decode() for p in split_bytes(pcm, SIZES)]
    naive = base64.b64decode("".join(chunks))
    assert naive != pcm
    assert len(naive) < len(pcm)


def test_a_sample_split_over_two_chunks_is_reassembled():
    assembler = PCMAssembler()
    assert assembler.add(base64.b64encode(b"\xfe").decode()) == 0  # half a sample: none yet
    assert assembler.samples().tolist() == []
    assert assembler.add(base64.b64encode(b"\xff\x01\x00\x00").decode()) == 2
    assert assembler.samples().tolist() == [-2, 1]
    assert assembler.pcm_bytes() == b"\xfe\xff\x01\x00"  # the odd trailing byte waits
    assert assembler.add(base64.b64encode(b"\x80").decode()) == 1
    assert assembler.samples().tolist() == [-2, 1, -32768]


def test_samples_from_an_offset():
    assembler = PCMAssembler()
    assembler.add(base64.b64encode(pcm_of(np.array([1, 2, 3, 4], dtype=np.int16))).decode())
    assert assembler.samples(2).tolist() == [3, 4]


@pytest.mark.parametrize("bad", ["not base64!", "abc", "====", "AAA=AAA"])
def test_invalid_base64_raises_protocol_error_and_keeps_earlier_speech(bad):
    assembler = PCMAssembler()
    assembler.add(base64.b64encode(b"\x01\x00\x02\x00").decode())
    with pytest.raises(ProtocolError, match="chunk 2 is not valid base64"):
        assembler.add(bad)
    assert assembler.samples().tolist() == [1, 2]


# -- WAV ---------------------------------------------------------------------------------------

def test_wav_bytes_reads_back_as_24khz_mono_with_identical_samples(speech):
    data = wav_bytes(pcm_of(speech))
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    info = sf.info(io.BytesIO(data))
    assert rate == SAMPLE_RATE
    assert info.channels == 1
    assert info.subtype == "PCM_16"
    np.testing.assert_array_equal(samples, speech)


def test_wav_bytes_of_no_speech_is_a_valid_empty_file():
    samples, rate = sf.read(io.BytesIO(wav_bytes(b"")), dtype="int16")
    assert rate == SAMPLE_RATE and samples.size == 0


def response_with_speech(samples: np.ndarray, sizes: list[int]) -> OmniResponse:
    pcm = pcm_of(samples)
    events = [AudioDelta(base64.b64encode(p).decode()) for p in split_bytes(pcm, sizes)]
    return collect(events + [TextDelta("hello"), Finished("stop")], OmniResponse("qwen3-omni-flash"))


def test_response_save_audio_writes_a_readable_wav(tmp_path, speech):
    response = response_with_speech(speech, SIZES)
    path = response.save_audio(tmp_path / "answer.wav")
    samples, rate = sf.read(str(path), dtype="int16")
    assert rate == SAMPLE_RATE
    np.testing.assert_array_equal(samples, speech)
    np.testing.assert_array_equal(response.audio, speech)
    assert response.audio.dtype == np.int16 and response.audio.ndim == 1


def test_response_wav_bytes_match_the_saved_speech(speech):
    response = response_with_speech(speech, SIZES)
    samples, rate = sf.read(io.BytesIO(response.wav_bytes()), dtype="int16")
    assert rate == response.sample_rate == SAMPLE_RATE
    np.testing.assert_array_equal(samples, speech)


def test_save_audio_on_a_text_only_answer_raises(tmp_path):
    response = collect([TextDelta("just text"), Finished("stop")], OmniResponse("qwen3-omni-flash"))
    assert response.audio.size == 0
    with pytest.raises(OmniError, match="no speech"):
        response.save_audio(tmp_path / "nothing.wav")
    assert not (tmp_path / "nothing.wav").exists()


def test_an_invalid_speech_chunk_mid_answer_is_kept_on_error_with_earlier_parts():
    events = [
        TextDelta("partial"),
        AudioDelta(base64.b64encode(b"\x05\x00").decode()),
        AudioDelta("%%%"),
        TextDelta(" never seen"),
    ]
    response = collect(events, OmniResponse("qwen3-omni-flash"))
    assert isinstance(response.error, ProtocolError)
    assert response.text == "partial"
    assert response.audio.tolist() == [5]


def test_usage_is_the_reported_dict_with_typed_views():
    from omni_magic.events import Usage

    usage = Usage({"prompt_tokens": 207, "completion_tokens": 103, "total_tokens": 310,
                   "completion_tokens_details": {"audio_tokens": 83, "text_tokens": 20},
                   "prompt_tokens_details": {"text_tokens": 207, "cached": "n/a"}, "extra": 1})
    assert usage["prompt_tokens"] == 207 and usage["extra"] == 1  # the service's own object
    assert (usage.input, usage.output, usage.total) == (207, 103, 310)
    assert usage.input_details == {"text_tokens": 207}  # only whole numbers are figures
    assert usage.output_details == {"audio_tokens": 83, "text_tokens": 20}
    odd = Usage({"prompt_tokens": "12", "completion_tokens": True})
    assert (odd.input, odd.output, odd.total, odd.input_details) == (None, None, None, {})
