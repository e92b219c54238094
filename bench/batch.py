"""Batch throughput: 200 files at 200 ms of latency each, 8 in flight, against the emulator.

    python bench/batch.py [--files 200] [--latency 0.2] [--concurrency 8]

The ideal is ``ceil(files / concurrency)`` rounds of one request's time. That time is
measured in the same run (the median of 10 lone requests, about the latency), so the
ratio is against this machine, not a number written down. Two ways are timed:

- ``Batch`` from the Python API;
- ``%%omni --each`` in an IPython shell, with its progress line redrawn as it goes.

Text only (a batch asks for speech only with ``--save``), small PNGs, no cache.
The emulator runs in its own process, as a server would, so its work does not share
this interpreter's lock with the batch. Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from omni_magic import OmniClient  # noqa: E402
from omni_magic.attachments import Attachment  # noqa: E402
from omni_magic.batch import Batch  # noqa: E402


def make_images(folder: Path, count: int) -> list[str]:
    from PIL import Image

    for i in range(count):
        Image.new("RGB", (64 + i % 32, 48), (i % 256, 120, 60)).save(folder / f"img{i:03d}.png")
    return sorted(str(p) for p in folder.glob("*.png"))


@contextlib.contextmanager
def emulator(latency: float):
    """``python -m omni_magic.emulator`` on a free port; yields its base URL."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(
        [sys.executable, "-m", "omni_magic.emulator", "--first-token", str(latency), "--per-chunk", "0",
         "--no-auth"],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(10)


def one_request(client: OmniClient, file: str) -> float:
    start = time.perf_counter()
    response = client.chat("Describe it", audio=False, attachments=[Attachment("image", file)])
    assert response.error is None
    return time.perf_counter() - start


def with_batch(client: OmniClient, files: list[str], concurrency: int) -> float:
    build = lambda f: client.prepare("Describe it", audio=False, attachments=[Attachment("image", f)])  # noqa: E731
    start = time.perf_counter()
    rows = Batch(client, files, build, concurrency=concurrency).run()
    elapsed = time.perf_counter() - start
    assert len(rows) == len(files) and all(r.error is None for r in rows), "a batch item failed"
    return elapsed


def with_magic(base_url: str, folder: Path, concurrency: int) -> float:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "omni_magic")
    shell.run_line_magic("config", "OmniMagics.batch_cache = False")
    shell.run_line_magic("config", "OmniMagics.display_mode = 'text'")
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_cell_magic("omni", f"--each {folder} --concurrency {concurrency} "
                             f"--base-url {base_url} --out table", "Describe it")
    elapsed = time.perf_counter() - start
    table = shell.user_ns["table"]
    assert len(table) == len(list(folder.glob("*.png"))) and table["error"].isna().all()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    os.environ.pop("DASHSCOPE_API_KEY", None)
    rounds = math.ceil(args.files / args.concurrency)
    with tempfile.TemporaryDirectory() as tmp, emulator(args.latency) as base_url:
        folder = Path(tmp)
        files = make_images(folder, args.files)
        with OmniClient(base_url=base_url) as client:
            one_request(client, files[0])  # warm: connection, imports
            lone = statistics.median(one_request(client, f) for f in files[:10])
            batch = with_batch(client, files, args.concurrency)
        magic = with_magic(base_url, folder, args.concurrency)
    ideal = rounds * lone
    print(f"{args.files} files, {args.latency * 1000:.0f} ms latency, {args.concurrency} in flight")
    print(f"one request (median of 10):  {lone * 1000:7.1f} ms")
    print(f"ideal ({rounds} rounds of one):  {ideal:7.2f} s   (nominal {rounds * args.latency:.2f} s)")
    print(f"Batch (Python API):          {batch:7.2f} s   {batch / ideal:.2f}x ideal")
    print(f"%%omni --each:               {magic:7.2f} s   {magic / ideal:.2f}x ideal")
    target = 1.25
    worst = max(batch, magic) / ideal
    print(f"target <= {target}x: {'met' if worst <= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
