"""A canary key through every demo notebook: it is sent, and it is written nowhere.

The notebooks run in real kernels with ``DASHSCOPE_API_KEY`` set to the canary and
``OmniMagics.base_url`` pointing at an emulator in this process (through an IPython
profile, as a user would configure it). Afterwards the saved notebooks, the runner's
output and the kernel's logs are searched for the canary: zero hits. The fault matrix
(test_fault_matrix.py) does the same for every fault, with reprs, exceptions and logs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omni_magic.emulator import Emulator, Pacing

CANARY = "sk-canary-5e1d0c9b8a7f6e54"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def emulator():
    with Emulator(pacing=Pacing.none()) as server:
        yield server


@pytest.mark.slow  # every demo notebook in a real kernel: about 20 s
def test_the_key_reaches_the_server_and_no_saved_notebook_or_log(tmp_path, emulator):
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(f"c.OmniMagics.base_url = {emulator.base_url!r}\n")
    out = tmp_path / "out"
    env = {"DASHSCOPE_API_KEY": CANARY, "IPYTHONDIR": str(tmp_path / "ipython"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(NOTEBOOKS.parent)}  # this checkout, installed or not
    before = emulator.authorized_count
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    done = subprocess.run(
        [sys.executable, "-m", "omni_magic.demo", *map(str, notebooks), "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert emulator.authorized_count - before >= len(notebooks)  # the key was really sent
    saved = sorted(out.glob("*.ipynb"))
    assert len(saved) == len(notebooks)
    hits = [p.name for p in out.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert hits == []
    assert CANARY not in done.stdout and CANARY not in done.stderr  # runner and kernel logs
    # The dry runs show where the key goes, masked.
    dry = (out / "image_question.ipynb").read_text()
    assert "Authorization: Bearer ********" in dry
