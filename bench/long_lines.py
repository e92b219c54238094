"""Long SSE lines: one event of N MB, as vllm-omni sends a whole WAV per speech chunk.

    python bench/long_lines.py [--sizes 2 8 32] [--piece 65536] [--repeat 3]

The same bytes, ``data: <N MB>`` and a blank line, are fed in ``--piece``-byte reads (as a
socket delivers them) to omni_magic's ``SSEDecoder`` and to the official openai SDK's
(``openai._streaming.SSEDecoder``), the baseline measured in the same run. The best of
``--repeat`` runs of each is compared. A decoder that joins the line so far on every read is
quadratic in the line's length: its time grows 16-fold when the line grows 4-fold; a linear
one grows 4-fold. Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from omni_magic.sse import SSEDecoder  # noqa: E402


def pieces(line: bytes, size: int) -> list[bytes]:
    return [line[i:i + size] for i in range(0, len(line), size)]


def omni_magic_way(reads: list[bytes]) -> int:
    decoder = SSEDecoder()
    found = [data for read in reads for data in decoder.decode(read)]
    return len(found[0])


def openai_way(reads: list[bytes]) -> int:
    from openai._streaming import SSEDecoder as OpenAIDecoder

    found = [event.data for event in OpenAIDecoder().iter_bytes(iter(reads))]
    return len(found[0])


def best(way, reads: list[bytes], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        way(reads)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 8, 32], help="MB per line")
    parser.add_argument("--piece", type=int, default=65536)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'line':>6} {'omni_magic':>11} {'openai':>9} {'ratio':>7}")
    for mb in args.sizes:
        line = b"data: " + b"UklGRg" * (mb * 1024 * 1024 // 6) + b"\n\n"
        reads = pieces(line, args.piece)
        assert omni_magic_way(reads) == openai_way(reads)
        ours, theirs = best(omni_magic_way, reads, args.repeat), best(openai_way, reads, args.repeat)
        print(f"{mb:>4}MB {ours:>10.3f}s {theirs:>8.3f}s {ours / theirs:>6.2f}x")
    print("ratio: omni_magic's time over the openai SDK's on the same reads (below 1 is faster)")


if __name__ == "__main__":
    main()
