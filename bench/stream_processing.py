"""Stream processing: one emulator stream with text and speech, consumed three ways.

    python bench/stream_processing.py [--words 4000] [--speech 100] [--repeat 7]

The stream is made by the emulator's own code (``emulator.stream.chunks``): word-sized
text chunks with 0.1 s speech chunks interleaved, a finish chunk, usage and ``[DONE]``,
exactly the bytes its server writes. Every way reads the same bytes from an in-memory
httpx transport, in 64 KiB pieces as a socket delivers them, so only the client's own
work is measured:

- omni_magic: ``OmniClient.chat`` into an ``OmniResponse`` (text, speech decoded per
  chunk, usage);
- openai: the official SDK iterating the chunks and collecting the speech the way the
  service's sample does (join the base64 strings, decode once at the end);
- floor: raw httpx ``iter_lines`` and ``json.loads`` per event, nothing else;
- omni_magic again with the standard library's json and base64 in place of the ``fast``
  extra (orjson, pybase64), for users who do not install it.

Each way runs ``--repeat`` times, interleaved; the best time of each is compared.
Prints the figures and the ratios. Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from omni_magic import OmniClient, audio  # noqa: E402
from omni_magic import chunks as chunk_reader
from omni_magic.catalog import SAMPLE_RATE  # noqa: E402

from long_stream import BASE_URL, BODY, make_stream, transport  # noqa: E402


def omni_magic_way(stream: bytes) -> tuple[str, bytes]:
    with OmniClient(base_url=BASE_URL, transport=transport(stream)) as client:
        reply = client.chat("Tell me a long story.")
    assert reply.error is None and reply.complete
    return reply.text, reply.audio.tobytes()


def openai_way(stream: bytes) -> tuple[str, bytes]:
    from openai import OpenAI

    client = OpenAI(base_url=BASE_URL, api_key="bench", http_client=httpx.Client(transport=transport(stream)))
    completion = client.chat.completions.create(**{k: v for k, v in BODY.items() if k != "stream"}, stream=True)
    text, audio_string = [], ""
    for chunk in completion:  # the service's sample, with the text kept instead of printed
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        if chunk.choices and getattr(chunk.choices[0].delta, "audio", None):
            audio = chunk.choices[0].delta.audio
            data = audio.get("data", "") if isinstance(audio, dict) else getattr(audio, "data", "")
            audio_string += data or ""
    client.close()
    return "".join(text), base64.b64decode(audio_string)


def omni_magic_stdlib_way(stream: bytes) -> tuple[str, bytes]:
    fast = chunk_reader._loads, audio.b64decode
    chunk_reader._loads, audio.b64decode = json.loads, base64.b64decode
    try:
        return omni_magic_way(stream)
    finally:
        chunk_reader._loads, audio.b64decode = fast


def floor_way(stream: bytes) -> tuple[str, bytes]:
    with httpx.Client(transport=transport(stream)) as client:
        with client.stream("POST", f"{BASE_URL}/chat/completions", json=BODY) as response:
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    json.loads(line[6:])
    return "", b""


def timed(way: Callable[[bytes], tuple[str, bytes]], stream: bytes, times: list[float]) -> None:
    start = time.perf_counter()
    way(stream)
    times.append(time.perf_counter() - start)


def openai_version() -> str:
    import openai

    return openai.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=4000, help="text chunks (default 4000)")
    parser.add_argument("--speech", type=float, default=100.0, help="seconds of speech (default 100)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    stream, n_events, text, pcm = make_stream(args.words, args.speech)
    # Every way must read the same answer before its time means anything.
    got_text, got_pcm = omni_magic_way(stream)
    # (the emulator may pad the speech with one silent sample to keep its last chunk padded)
    assert got_text == text and got_pcm[: pcm.nbytes] == pcm.tobytes(), "omni_magic read a different answer"
    sdk_text, _ = openai_way(stream)
    assert sdk_text == text, "the SDK read a different text"

    ways = {"omni_magic": omni_magic_way, "openai SDK": openai_way,
            "floor (iter_lines + json.loads)": floor_way,
            "omni_magic, stdlib json + base64": omni_magic_stdlib_way}
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeat):
        for name, way in ways.items():
            timed(way, stream, times[name])
    best = {name: min(t) for name, t in times.items()}
    fast = f"{chunk_reader.JSON_PARSER} + {audio.b64decode.__module__}"
    print(f"omni_magic parses with {fast}; openai {openai_version()}, httpx {httpx.__version__}, "
          f"Python {sys.version.split()[0]}")
    print(f"stream: {n_events:,} events ({args.words:,} text, {len(pcm) / SAMPLE_RATE:.0f} s of speech), "
          f"{len(stream) / 1e6:.1f} MB; best of {args.repeat}")
    for name, seconds in best.items():
        print(f"  {name:<34} {seconds * 1000:8.1f} ms  ({n_events / seconds / 1000:6.0f} k events/s)")
    omni, sdk, floor = best["omni_magic"], best["openai SDK"], best["floor (iter_lines + json.loads)"]
    print(f"openai SDK / omni_magic: {sdk / omni:.1f}x   (target >= 5x)")
    print(f"omni_magic / floor:      {omni / floor:.2f}x  (target <= 1.1x; below 1 beats the floor)")
    print(f"openai SDK / floor:      {sdk / floor:.1f}x")
    stdlib = best["omni_magic, stdlib json + base64"]
    print(f"without the fast extra:  SDK / omni_magic {sdk / stdlib:.1f}x, omni_magic / floor {stdlib / floor:.2f}x")


if __name__ == "__main__":
    main()
