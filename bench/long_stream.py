"""A long answer with text and speech, as the emulator's server would stream it, served from
memory: shared by the benchmarks so they all read the same bytes."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np

from omni_magic.catalog import SAMPLE_RATE, get_model
from omni_magic.emulator.dialect import DASHSCOPE
from omni_magic.emulator.received import summarize
from omni_magic.emulator.stream import Plan, chunks, words

BASE_URL = "http://bench.invalid/compatible-mode/v1"
READ_SIZE = 65_536
BODY = {"model": "qwen3-omni-flash", "stream": True, "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"], "audio": {"voice": "Cherry", "format": "wav"},
        "messages": [{"role": "user", "content": "Tell me a long story."}]}


def make_stream(n_words: int, speech_seconds: float) -> tuple[bytes, int, str, np.ndarray]:
    """The emulator's bytes for a long answer: (stream, events, text, pcm)."""
    text = " ".join(f"word{i % 97}" for i in range(n_words)) + "."
    t = np.arange(int(speech_seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pcm = (3000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    plan = Plan(summarize(BODY, get_model("qwen3-omni-flash"), DASHSCOPE), [], words(text), "stop", pcm, "tone")
    events = [json.dumps(c.data, ensure_ascii=False, separators=(",", ":")) for c in chunks(plan, "bench", 0)]
    raw = "".join(f"data: {e}\n\n" for e in events) + "data: [DONE]\n\n"
    return raw.encode(), len(events), text, pcm


class Pieces(httpx.SyncByteStream):
    """The stream in reads of READ_SIZE, or event by event when paced over ``seconds``."""

    def __init__(self, stream: bytes, seconds: float = 0.0) -> None:
        self.stream, self.seconds = stream, seconds

    def __iter__(self):
        if not self.seconds:
            for i in range(0, len(self.stream), READ_SIZE):
                yield self.stream[i:i + READ_SIZE]
            return
        events = self.stream.split(b"\n\n")
        pause = self.seconds / len(events)
        for event in events:
            time.sleep(pause)
            yield event + b"\n\n"


def transport(stream: bytes, seconds: float = 0.0) -> httpx.MockTransport:
    """Serves ``stream`` in socket-sized reads, spread over ``seconds`` (0: all at once)."""
    return httpx.MockTransport(lambda request: httpx.Response(
        200, headers={"Content-Type": "text/event-stream"}, stream=Pieces(stream, seconds)))
