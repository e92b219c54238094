"""Every benchmark, one after the other, each in a fresh process:

    python bench/run_all.py

Needs the test extras (the openai SDK is a baseline): pip install -e ".[test]".
Each script prints its figures and its ratio against the baseline it measures in the same run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["stream_processing.py", "display_overhead.py", "first_token.py",
           "attachment_memory.py", "startup.py", "batch.py", "long_session.py", "long_lines.py",
           "fit.py", "live_view.py"]  # the last: JupyterLab in Debian's Chromium (apt-get install chromium)


def main() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}")
    failed = []
    for script in BENCHES:
        print(f"\n== {script}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script)]).returncode:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
