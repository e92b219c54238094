"""Start-up: what ``%load_ext omni_magic`` costs, beside ``import openai``, in fresh processes.

    python bench/startup.py [--runs 15]

Each figure is the median of ``--runs`` fresh interpreters, timed inside the process
around the statement alone (interpreter start-up excluded):

- ``%load_ext omni_magic`` in an IPython shell that already exists, as in a kernel;
- ``import omni_magic`` in a bare interpreter (the Python API);
- ``import openai`` in a bare interpreter: the baseline.

Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TIMED = {
    "%load_ext omni_magic (IPython shell ready)": (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "t = time.perf_counter()\n"
        "shell.run_line_magic('load_ext', 'omni_magic')\n"
    ),
    "import omni_magic": "t = time.perf_counter()\nimport omni_magic\n",
    "import openai": "t = time.perf_counter()\nimport openai\n",
}


def once(setup_and_statement: str) -> float:
    code = "import time\n" + setup_and_statement + "print(time.perf_counter() - t)\n"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    medians: dict[str, float] = {}
    for _ in range(2):  # warm the file cache so the first runs do not read from disk
        for code in TIMED.values():
            once(code)
    samples: dict[str, list[float]] = {name: [] for name in TIMED}
    for _ in range(args.runs):  # interleaved, so a busy moment hits every way alike
        for name, code in TIMED.items():
            samples[name].append(once(code))
    print(f"median of {args.runs} fresh processes, Python {sys.version.split()[0]}")
    for name, values in samples.items():
        medians[name] = statistics.median(values)
        print(f"  {name:<45} {medians[name] * 1000:7.1f} ms")
    load, bare, openai = medians.values()
    print(f"%load_ext omni_magic / import openai: {load / openai:.2f}x (target: below 150 ms and below 1)")
    print(f"import omni_magic / import openai:    {bare / openai:.2f}x")


if __name__ == "__main__":
    main()
