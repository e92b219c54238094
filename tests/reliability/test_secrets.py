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


@pytest.mark.slow  # a fresh interpreter running the doctor's three requests: about 5 s
@pytest.mark.parametrize("suffix", [".json", ".md"])
def test_the_doctors_lines_and_report_never_hold_the_key(tmp_path, emulator, suffix):
    # python -m omni_magic.doctor with the canary as DASHSCOPE_API_KEY: the key reaches the server,
    # and neither the printed lines nor the report (steps, recorded streams) hold it, whole or in
    # part (any eight of its characters in a row: what Secret.mask hides).
    report = tmp_path / f"doctor{suffix}"
    env = {"DASHSCOPE_API_KEY": CANARY, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(NOTEBOOKS.parent)}
    before = emulator.authorized_count
    done = subprocess.run(
        [sys.executable, "-m", "omni_magic.doctor", "--base-url", emulator.base_url,
         "--model", "qwen3-omni-flash", "--report", str(report)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert emulator.authorized_count - before == 3  # text, speech, thinking: the key was sent
    written = report.read_text()
    assert "omni_magic_recording" in written and "key set (********" in done.stdout
    runs = {CANARY[i:i + 8] for i in range(len(CANARY) - 7)}
    for text in (written, done.stdout, done.stderr):
        assert [run for run in runs if run in text] == []
