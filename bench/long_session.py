"""A long session: 1,000 spoken ``%%omni`` cells in one real kernel, against the client alone.

    python bench/long_session.py [--cells 1000] [--warm-up 100]

Two fresh IPython kernels (jupyter_client, this checkout, no API key: the embedded emulator,
unpaced), each running the same question ``--cells`` times, one cell per request:

- omni_magic: ``%%omni --new --out last``, with speech: the live view, then the static
  Markdown, audio element and token table, as in a notebook;
- baseline: ``OmniClient.chat`` in a plain cell, same question, same speech, same kind of
  embedded emulator: the client with no notebook layer.

After ``--warm-up`` cells each kernel is probed (open sockets and threads, resident memory,
after ``gc.collect()``), then again after the rest. A leaked response, connection, widget or
handler thread shows as growth; the tests (tests/reliability/test_load.py) assert the same on
100 cells. Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_client.manager import start_new_kernel  # noqa: E402

from omni_magic.demo import kernel_env  # noqa: E402

QUESTION = "Count the rivers of Europe."
PROBE = """
import gc, json, os, threading
def _omni_probe():
    gc.collect()
    sockets = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {"sockets": sockets, "threads": threading.active_count(), "rss": rss}
"""
WAYS = {
    "omni_magic": (
        "%load_ext omni_magic\n"
        "%config OmniMagics.emulator_first_token = 0.0\n"
        "%config OmniMagics.emulator_per_chunk = 0.0\n",
        f"%%omni --new --out last\n{QUESTION}",
    ),
    "baseline": (
        "from omni_magic import OmniClient\n"
        "from omni_magic.emulator import Pacing\n"
        "_client = OmniClient(emulator_pacing=Pacing.none())\n",
        f"last = _client.chat({QUESTION!r})",
    ),
}
CHECK = "print(json.dumps([last.complete, last.audio_seconds > 1, len(last.text) > 50]))"


def run(client, code: str) -> str:
    """Execute ``code``; what it printed. Raises if the cell failed."""
    printed: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])

    reply = client.execute_interactive(code, output_hook=hook, timeout=120)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"{code.splitlines()[0]!r} failed: {reply['content'].get('evalue')}")
    return "".join(printed)


def probe(client) -> dict:
    return json.loads(run(client, "print(json.dumps(_omni_probe()))"))


def session(way: str, cells: int, warm_up: int) -> dict:
    """One fresh kernel: set up, warm up, probe, the rest of the cells, probe."""
    setup, cell = WAYS[way]
    env = kernel_env()
    env.pop("DASHSCOPE_API_KEY", None)
    with tempfile.TemporaryDirectory() as cwd:
        manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=cwd)
        try:
            run(client, setup + PROBE)
            for _ in range(warm_up):
                run(client, cell)
            before = probe(client)
            start = time.perf_counter()
            for _ in range(cells - warm_up):
                run(client, cell)
            seconds = time.perf_counter() - start
            after = probe(client)
            if json.loads(run(client, CHECK)) != [True, True, True]:
                raise RuntimeError(f"{way}: the last answer is not a complete spoken answer")
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return {"before": before, "after": after, "per_cell": seconds / (cells - warm_up)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--warm-up", type=int, default=100)
    args = parser.parse_args()
    if not os.path.isdir("/proc/self/fd"):
        sys.exit("counts open sockets through /proc: Linux only")
    if not 0 < args.warm_up < args.cells:
        sys.exit("--warm-up must be between 0 and --cells")
    results = {way: session(way, args.cells, args.warm_up) for way in WAYS}
    print(f"{args.cells:,} spoken cells per kernel, probed after {args.warm_up} warm-up cells and at the end")
    for way, r in results.items():
        b, a = r["before"], r["after"]
        print(f"{way:>10}: sockets {b['sockets']} -> {a['sockets']}, threads {b['threads']} -> {a['threads']}, "
              f"RSS {b['rss'] / 1e6:.1f} -> {a['rss'] / 1e6:.1f} MB ({(a['rss'] - b['rss']) / 1e6:+.1f} MB), "
              f"{r['per_cell'] * 1000:.1f} ms per cell")
    magic, base = results["omni_magic"], results["baseline"]
    growth = {way: (r["after"]["rss"] - r["before"]["rss"]) / 1e6 for way, r in results.items()}
    gained = {way: f"{r['after']['sockets'] - r['before']['sockets']:+d} sockets, "
                   f"{r['after']['threads'] - r['before']['threads']:+d} threads" for way, r in results.items()}
    print(f"%%omni cell / client alone: {magic['per_cell'] / base['per_cell']:.2f}x per cell "
          f"({magic['per_cell'] * 1000:.1f} vs {base['per_cell'] * 1000:.1f} ms)")
    print(f"over the {args.cells - args.warm_up:,} probed cells: %%omni {growth['omni_magic']:+.1f} MB, "
          f"{gained['omni_magic']}; client alone {growth['baseline']:+.1f} MB, {gained['baseline']} "
          f"(target: no socket or thread gained, below 20 MB)")

if __name__ == "__main__":
    main()
