"""Today's service, tried as a new user with a key would: ``DASHSCOPE_API_KEY`` set and
``DASHSCOPE_BASE_URL`` (as the official samples read it) pointing at a local server standing
in for DashScope. Each model of SPEC §4 passes --dry-run with its own rules and streams through
the stand-in; the estimates equal the official estimator code per family; an unknown
``qwen4-omni-plus`` goes through with its note and the server decides.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from IPython.utils.capture import capture_output

from omni_magic.emulator import Emulator, Pacing

import official_reference as ref
from media import png, wav

KEY = "sk-standin-0123456789abcdef"

# model -> (speaks, thinks by default, takes several kinds of media in one message)
TODAY = {
    "qwen3.5-omni-plus": (True, False, True),
    "qwen3.5-omni-plus-2026-03-15": (True, False, True),
    "qwen3.5-omni-flash": (True, False, True),
    "qwen3.5-omni-flash-2026-03-15": (True, False, True),
    "qwen3.8-omni-flash": (False, True, True),
    "qwen3-omni-flash": (True, False, False),
    "qwen3-omni-flash-2025-12-01": (True, False, False),
    "qwen3-omni-flash-2025-09-15": (True, False, False),
    "qwen-omni-turbo": (True, False, False),
    "qwen2.5-omni-7b": (True, False, False),
}
REFERENCE = {
    "qwen3.5": ref.QWEN3_5_OMNI, "qwen3.8": ref.QWEN3_8_OMNI_FLASH,
    "qwen3-omni": ref.QWEN3_OMNI_FLASH, "qwen-omni-turbo": ref.QWEN_OMNI_TURBO,
    "qwen2.5": ref.QWEN2_5_OMNI,
}


@pytest.fixture
def standin(ip, monkeypatch):
    """A local server standing in for DashScope, reached the way the official samples do."""
    with Emulator(pacing=Pacing.none()) as server:
        monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
        monkeypatch.setenv("DASHSCOPE_BASE_URL", server.base_url)
        yield server


def run(shell, line: str, cell: str) -> str:
    with capture_output() as cap:
        shell.run_cell_magic("omni", line, cell)
    return cap.stdout + "\n".join(o.data.get("text/plain", "") for o in cap.outputs)


def body_of(shown: str) -> dict:
    """The request body a --dry-run printed."""
    return json.loads(shown[shown.index("\n{") + 1: shown.rindex("}") + 1])


def constants(model: str):
    return next(c for prefix, c in REFERENCE.items() if model.startswith(prefix))


@pytest.mark.parametrize("model", TODAY)
def test_each_model_of_today_dry_runs_with_its_own_rules(ip, standin, tmp_path, model):
    speaks, thinks, mixed = TODAY[model]
    (tmp_path / "photo.png").write_bytes(png(1000, 700))
    (tmp_path / "note.wav").write_bytes(wav(5.5))
    media = f"-i {tmp_path}/photo.png" + (f" -a {tmp_path}/note.wav" if mixed else "")
    shown = run(ip, f"-m {model} --dry-run {media}", "What is in the picture?")
    assert "Dry run: nothing was sent" in shown and standin.request_count == 0
    assert f"POST {standin.base_url}/chat/completions" in shown  # DASHSCOPE_BASE_URL honoured
    assert KEY not in shown and "Authorization: Bearer ********" in shown
    body = body_of(shown)
    assert body["model"] == model
    assert ("audio" in body) is speaks and body["modalities"] == (["text", "audio"] if speaks else ["text"])
    assert ("answers in text only" in shown) is (not speaks)
    assert "not in omni_magic's catalog" not in shown
    c = constants(model)
    image = re.search(r"image photo\.png \[image\]: (\d+)", shown)
    assert int(image.group(1)) == ref.image_token_calculate(700, 1000, c)
    if mixed:
        audio = re.search(r"audio note\.wav \[audio\]: (\d+)", shown)
        assert int(audio.group(1)) == math.ceil(ref.audio_token_calculate(5.5, c.AUDIO_INPUT_RATE))
    assert ("speech prompt (hidden) [text]: 196" in shown) is speaks


@pytest.mark.parametrize("model", TODAY)
def test_each_model_of_today_answers_through_the_stand_in(ip, standin, model):
    speaks, thinks, _ = TODAY[model]
    shown = run(ip, f"-m {model} --out reply", "Who are you?")
    reply = ip.user_ns["reply"]
    assert reply.error is None and "This is the omni_magic emulator" in reply.text
    assert (reply.audio_seconds > 0) is speaks
    assert bool(reply.reasoning) is thinks
    assert "(from DASHSCOPE_BASE_URL)" in shown and KEY not in shown
    assert standin.authorized_count == standin.request_count == 1  # the key went to the stand-in only
    # The estimate made before the call is what the stand-in reports, part for part.
    assert reply.estimate.total == reply.usage["prompt_tokens"]


def test_mixing_media_is_refused_only_where_the_page_says_so(ip, standin, tmp_path):
    (tmp_path / "photo.png").write_bytes(png())
    (tmp_path / "note.wav").write_bytes(wav(1.0))
    line = f"-i {tmp_path}/photo.png -a {tmp_path}/note.wav --dry-run"
    for model, (_, _, mixed) in TODAY.items():
        if mixed:
            assert "Dry run" in run(ip, f"-m {model} {line}", "Both?")
        else:
            with pytest.raises(Exception, match="only one other kind"):
                run(ip, f"-m {model} {line}", "Both?")
    assert standin.request_count == 0


def test_an_unknown_model_goes_through_with_its_note_and_the_server_decides(ip, standin):
    shown = run(ip, "-m qwen4-omni-plus --dry-run", "Hello")
    assert "qwen4-omni-plus is not in omni_magic's catalog: limits and estimates not checked; " \
           "the service decides." in shown
    assert body_of(shown)["model"] == "qwen4-omni-plus"
    with pytest.raises(Exception, match="404"):
        run(ip, "-m qwen4-omni-plus --out unknown", "Hello")
    assert standin.request_count == 1  # it was sent; the stand-in answered as the service does
    assert ip.user_ns["unknown"].error is not None
