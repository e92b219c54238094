"""The page's two text-and-speech samples, run with the SDK they were written for.

They read ``chunk.choices[0].delta.audio`` as a dict, as openai 1.x left that undeclared field;
openai 2+ declares it (a ``ChoiceDeltaAudio``, or None), so under this environment's SDK they
fail mid-stream against any server (tests/test_fidelity.py keeps that as a strict xfail). Here
each runs verbatim but for its base URL, in a subprocess that imports openai 1.x from a folder
pip installed it into (``--no-deps --target``: its dependencies are this environment's), against
the emulator in this process. What must hold: the sample completes, writes its WAV, and the
usage it prints is the seed's own example, 207 prompt tokens for "Who are you" with speech.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fidelity_samples as doc
import pytest
import soundfile as sf

from omni_magic.emulator import Emulator, Pacing

DOCUMENTED = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"


@pytest.fixture(scope="module")
def openai1(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("openai1")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         "openai>=1.40,<2", "distro"], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        message = f"pip could not install openai 1.x: {done.stderr.strip()[-500:]}"
        if os.environ.get("OMNI_REQUIRE_BROWSER") == "1":  # CI: everything must run
            pytest.fail(message)
        pytest.skip(message)
    return target


@pytest.fixture(scope="module")
def emulator():
    with Emulator(pacing=Pacing.none(), offline=True) as server:
        yield server


def run(sample: str, openai1: Path, emulator, cwd: Path) -> subprocess.CompletedProcess:
    code = sample.replace(DOCUMENTED, emulator.base_url)
    env = {**os.environ, "PYTHONPATH": str(openai1), "DASHSCOPE_API_KEY": "sk-fidelity-test"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_text_and_speech_completes_and_saves_its_speech(openai1, emulator, tmp_path):
    done = run(doc.TEXT_AND_SPEECH, openai1, emulator, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Audio file saved" in done.stdout
    info = sf.info(str(tmp_path / "audio_assistant.wav"))
    assert info.samplerate == 24_000 and info.frames > 0


def test_speech_decoded_after_the_stream_bills_the_seeds_207_prompt_tokens(openai1, emulator,
                                                                           tmp_path):
    done = run(doc.SPEECH_DECODED, openai1, emulator, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "prompt_tokens=207" in done.stdout, done.stdout[-1000:]
