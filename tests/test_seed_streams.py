"""The service documentation's two example streams, replayed byte for byte however they are cut.

tests/data/README.md says where they come from: lines without blank separators, misspelled
fields ("reated", "systm_fingerprint", "tem_fingerprint"), a 15-byte speech chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest

from omni_magic import catalog
from omni_magic.client import OmniClient
from omni_magic.errors import OmniError
from omni_magic.response import OmniResponse
from omni_magic.sse import DONE, SSEDecoder

from conftest import DATA, ChunkStream


@dataclass
class Seed:
    name: str
    text: str
    reasoning: str
    usage: dict[str, Any]
    samples: list[int]
    options: dict[str, Any]  # what a request must ask for to get such an answer
    events: int  # data lines in the file, [DONE] included
    misspelled: tuple[str, ...] = ()  # the documentation's typos this stream carries
    data: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.data = (DATA / f"seed_{self.name}.sse").read_bytes()


SEEDS = {
    "who_are_you": Seed(
        "who_are_you", text="I am", reasoning="",
        usage={
            "prompt_tokens": 207, "completion_tokens": 103, "total_tokens": 310,
            "completion_tokens_details": {"audio_tokens": 83, "text_tokens": 20},
            "prompt_tokens_details": {"text_tokens": 207},
        },
        # "/v8AAAAAAAAAAAAAAAAA" is 15 bytes: b"\xfe\xff" then zeros; the 15th byte is carried.
        samples=[-2, 0, 0, 0, 0, 0, 0],
        options={"audio": True},
        events=6,
    ),
    "thinking": Seed(
        "thinking", text="tell me!", reasoning="hmm,",
        usage={
            "prompt_tokens": 11, "completion_tokens": 363, "total_tokens": 374,
            "completion_tokens_details": {"reasoning_tokens": 195, "text_tokens": 168},
            "prompt_tokens_details": {"text_tokens": 11},
        },
        samples=[],
        options={"audio": False, "thinking": True},
        events=8,
        misspelled=("reated", "systm_fingerprint", "tem_fingerprint"),
    ),
}


def splits(data: bytes):
    """The whole stream, every cut in two, and one byte at a time."""
    yield "whole", [data]
    for i in range(1, len(data)):
        yield f"cut at {i}", [data[:i], data[i:]]
    yield "byte by byte", [data[i : i + 1] for i in range(len(data))]


# -- the decoder -----------------------------------------------------------------------------

def decode(pieces: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    out: list[str] = []
    for piece in pieces:
        out += decoder.decode(piece)
    return out + decoder.flush()


@pytest.mark.parametrize("name", SEEDS)
def test_decoder_finds_every_event_of_the_seed(name):
    seed = SEEDS[name]
    events = decode([seed.data])
    assert len(events) == seed.events
    assert events[-1] == DONE
    chunks = [json.loads(e) for e in events[:-1]]  # every other event is one JSON object
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["usage"] == seed.usage
    for typo in seed.misspelled:  # the typos are really there, and were no obstacle
        assert any(typo in c for c in chunks), typo


@pytest.mark.parametrize("name", SEEDS)
def test_decoder_gives_the_same_events_however_the_seed_is_cut(name):
    seed = SEEDS[name]
    expected = decode([seed.data])
    for how, pieces in splits(seed.data):
        assert decode(pieces) == expected, how


# -- the client ------------------------------------------------------------------------------

class Replay:
    """A MockTransport handler that answers each request with the seed cut differently."""

    def __init__(self, seed: Seed) -> None:
        self.cuts = list(splits(seed.data))
        self.requests: list[httpx.Request] = []
        self.streams: list[ChunkStream] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        _, pieces = self.cuts[len(self.requests)]
        self.requests.append(request)
        stream = ChunkStream(pieces)
        self.streams.append(stream)
        return httpx.Response(200, stream=stream)


MODES = {
    # A self-hosted server: any model name goes (the seed is DashScope's wire, so its dialect).
    "lenient": dict(client={"base_url": "http://test/v1", "dialect": "dashscope"},
                    model="my-local-omni"),
    # DashScope (and the emulator): the model must be one the catalog knows.
    "strict": dict(client={"api_key": "sk-test"}, model="qwen3-omni-flash"),
}


def check_answer(response: OmniResponse, seed: Seed, how: str) -> None:
    assert response.error is None, (how, response.error)
    assert response.text == seed.text, how
    assert response.reasoning == seed.reasoning, how
    assert response.usage == seed.usage, how
    assert response.finish_reason == "stop", how
    assert response.complete, how
    assert response.audio.tolist() == seed.samples, how
    assert response.model == "qwen3-omni-flash", how  # as the stream names it


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SEEDS)
def test_client_reads_the_seed_however_it_is_cut(name, mode):
    seed, setup = SEEDS[name], MODES[mode]
    replay = Replay(seed)
    with OmniClient(transport=httpx.MockTransport(replay), max_retries=0, **setup["client"]) as client:
        client._sleep = pytest.fail  # a complete stream never needs a retry
        for how, _ in replay.cuts:
            response = client.chat("Who are you?", model=setup["model"], **seed.options)
            check_answer(response, seed, how)
    assert len(replay.requests) == len(replay.cuts)
    assert all(stream.closed for stream in replay.streams)


@pytest.fixture(autouse=True)
def no_endpoint_in_environment(monkeypatch):
    monkeypatch.delenv(catalog.BASE_URL_ENV, raising=False)


def test_strict_mode_really_went_to_dashscope():
    replay = Replay(SEEDS["who_are_you"])
    with OmniClient(api_key="sk-test", transport=httpx.MockTransport(replay)) as client:
        assert client.backend.kind == "dashscope"
        client.chat("Who are you?", model="qwen3-omni-flash")
    assert str(replay.requests[0].url) == (
        f"{catalog.default().regions['intl'].base_url}/chat/completions")
    assert replay.requests[0].url.host == "dashscope-intl.aliyuncs.com"


def test_the_speech_chunk_keeps_its_odd_byte_out_of_the_samples():
    seed = SEEDS["who_are_you"]
    with OmniClient(base_url="http://test/v1", transport=httpx.MockTransport(Replay(seed))) as client:
        response = client.chat("Who are you?")
    assert response.audio_chunks == 1
    assert response.audio.dtype == np.int16
    assert response.audio[0] == -2  # b"\xfe\xff", little-endian
    assert len(response.audio) == 7  # 15 bytes: 7 whole samples, the 15th byte waits
    assert len(response.wav_bytes()) == 44 + 14
    assert response.transcript == ""


def test_the_thinking_seed_has_no_speech_to_save(tmp_path):
    seed = SEEDS["thinking"]
    with OmniClient(base_url="http://test/v1", transport=httpx.MockTransport(Replay(seed))) as client:
        response = client.chat("Think", model="qwen3-omni-flash", thinking=True, audio=False)
    assert response.usage["completion_tokens_details"]["reasoning_tokens"] == 195
    with pytest.raises(OmniError, match="no speech"):
        response.save_audio(tmp_path / "x.wav")


@pytest.mark.parametrize("name", SEEDS)
def test_the_usage_event_carries_the_reported_figures(name):
    seed = SEEDS[name]
    with OmniClient(base_url="http://test/v1", transport=httpx.MockTransport(Replay(seed))) as client:
        # Both seeds are qwen3-omni-flash's answers (the only speaking family that thinks).
        usage = client.chat("Hi", model="qwen3-omni-flash", **seed.options).usage
    assert usage.prompt_tokens == seed.usage["prompt_tokens"]
    assert usage.completion_tokens == seed.usage["completion_tokens"]
    assert usage.total_tokens == seed.usage["total_tokens"]
    assert usage.completion_details == seed.usage["completion_tokens_details"]
    assert usage.prompt_details == seed.usage["prompt_tokens_details"]
