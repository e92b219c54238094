"""Every demo notebook, run top to bottom in a real kernel against the emulator.

Each test reads the saved outputs the way nbconvert or a code host would: no
widget state, only what was written to the file.
"""

from __future__ import annotations

import re

import pytest

from demos import DEMOS, NOTEBOOKS, WITH_MICROPHONE

WIDGET = "application/vnd.jupyter.widget-view+json"


def cell(nb, starts: str):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(starts))


def data(c, mime: str) -> list[str]:
    return [o["data"][mime] for o in c.outputs if mime in o.get("data", {})]


def shown(c) -> str:
    """What a reader sees in the saved cell, as text."""
    parts = [o.get("text", "") for o in c.outputs]
    parts += [o["data"].get("text/markdown") or o["data"].get("text/plain", "")
              for o in c.outputs if "data" in o]
    parts += ["\n".join(o.get("traceback", [])) for o in c.outputs if o.output_type == "error"]
    return "\n".join(parts)


def answer(c) -> str:
    markdown = data(c, "text/markdown")
    assert len(markdown) == 1, f"expected one answer in {c.source!r}, got {len(markdown)}"
    return markdown[0]


def audio_players(c) -> list[str]:
    return [h for h in data(c, "text/html") if "<audio" in h and "data:audio/wav;base64," in h]


def usage_table(c) -> str:
    tables = [h for h in data(c, "text/html") if "omni-usage" in h]
    assert len(tables) == 1
    return tables[0]


def numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_the_promised_demos_are_all_there():
    assert sorted(DEMOS + WITH_MICROPHONE) == sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb"))


def test_voice_conversation_runs_headless_with_its_recording_cells_skipped_with_a_note(executed):
    nb = executed["voice_conversation"]
    tagged = [c for c in nb.cells if "needs-microphone" in c.metadata.get("tags", [])]
    assert [c.source.split("\n")[0] for c in tagged] == ["%omni record question", "%%omni -a question"]
    for c in tagged:  # the saved copy says why the cell has no answer, and so did the run
        assert "needs a microphone" in shown(c) and c.get("execution_count") is None
    assert executed.printed("voice_conversation").count("this cell needs a microphone") == 2
    assert "No turns yet" in shown(cell(executed["voice_conversation"], "%omni history"))


@pytest.mark.parametrize("name", DEMOS)
def test_every_answer_is_saved_once_as_static_outputs(executed, name):
    nb = executed[name]
    asks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%omni")
            and "--dry-run" not in c.source and "raises-exception" not in c.metadata.get("tags", [])]
    assert asks, name
    assert "Emulated answer" in shown(asks[0])  # the backend is said plainly, once
    assert not any("Emulated answer" in shown(c) for c in asks[1:])
    assert "widgets" not in nb.metadata  # nor carry any: every widget's place became static
    for c in asks:
        assert not data(c, WIDGET), "a saved notebook must not need widget state"
        assert "This is the omni_magic emulator" in answer(c)
        assert answer(c).startswith("<sub>") and "omni_magic emulator</sub>" in answer(c)
        speech = not any(flag in c.source for flag in ("--text-only", "--think", "qwen3.8"))
        assert len(audio_players(c)) == (1 if speech else 0), c.source
        usage_table(c)
    expected = [c for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    errors = [o for c in nb.cells if c not in expected
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    for c in expected:  # a refusal reads as one paragraph, never a traceback
        assert "Traceback" not in shown(c) and all(
            len(o.get("traceback", [])) <= 1 for o in c.outputs if o.output_type == "error")


def test_image_question(executed):
    nb = executed["image_question"]
    dry = cell(nb, "%%omni --dry-run")
    assert "Dry run: nothing was sent" in shown(dry) and any("omni-estimate" in h for h in data(dry, "text/html"))
    assert "<2,289 bytes of garden.png>" in shown(dry)  # the body, with the image elided
    ask = cell(nb, "%%omni -i media/garden.png --out garden")
    assert any("omni-previews" in h and "<img" in h for h in data(ask, "text/html"))  # a thumbnail
    assert "with 1 image (640x400 pixels" in answer(ask)
    assert "with 1 image (220x210 pixels" in answer(cell(nb, "%%omni -i house"))
    estimate, reported, _ = eval(data(cell(nb, "garden.estimate.total"), "text/plain")[0])
    assert estimate == reported  # the estimate made before the call matches the usage


def test_audio_captioning(executed):
    nb = executed["audio_captioning"]
    ask = cell(nb, "%%omni -a media/science_fair.wav")
    assert "an audio clip of 215.7 kB, 6.7 seconds" in answer(ask)
    assert "an audio clip of 96.0 kB, 3.0 seconds" in answer(cell(nb, "%%omni -a opening --rate 16000"))
    estimated, reported = eval(data(cell(nb, "caption.estimate.by_modality()"), "text/plain")[0])
    assert estimated["audio"] == reported["audio_tokens"] > 0


def test_video_description(executed):
    nb = executed["video_description"]
    assert "4.0 seconds of 320x240 pixels at 12 fps, silent" in answer(cell(nb, "%%omni --video"))
    assert "a video of 4 frames of 320x240 pixels" in answer(cell(nb, '%%omni --frames'))
    turbo = cell(nb, "%%omni -m qwen-omni-turbo")
    assert "Dry run" in shown(turbo) and "frames (4)" in shown(turbo)
    estimated, reported = eval(data(cell(nb, "clip.estimate.by_modality()"), "text/plain")[0])
    assert estimated["video"] == reported["video_tokens"] > 0


def test_conversation(executed):
    nb = executed["conversation"]
    assert "Ethan" in shown(cell(nb, "%omni voices")) and "Cantonese" in shown(cell(nb, "%omni voices"))
    first = cell(nb, '%%omni --system')
    assert "of 2 messages (1 user turn)" in answer(first) and "speaking as Ethan" in answer(first)
    # The tutor's system message holds for the whole conversation, not for its cell only.
    assert "of 4 messages (2 user turns)" in answer(cell(nb, "%%omni --out second"))
    assert "['system', 'user', 'assistant', 'user']" in shown(cell(nb, '[m["role"]'))
    history = shown(cell(nb, "%omni history"))
    assert "2 turns" in history and "patient science tutor" in history
    assert "as the only message" in answer(cell(nb, "%%omni --new"))
    assert "No turns yet" in shown(cell(nb, "%omni reset"))


def test_thinking_mode(executed):
    nb = executed["thinking_mode"]
    ask = cell(nb, "%%omni -m qwen3.8-omni-flash --out solved")
    md = answer(ask)
    # Qwen3.8-Omni-Flash thinks by default: the reasoning is folded above the answer in the
    # saved file too, and the default speech is turned off with a note.
    assert md.index("<details><summary>Reasoning</summary>") < md.index("This is the omni_magic emulator")
    assert "answers in text only: speech is off for this cell" in shown(ask)
    assert "reasoning" in usage_table(ask)
    printed = shown(cell(nb, "print(solved.reasoning)"))
    assert printed.index("I am an emulator") < printed.index("---") < printed.index("This is the omni")
    effort = shown(cell(nb, "%%omni -m qwen3.8-omni-flash --effort low"))
    assert "Dry run" in effort and '"reasoning_effort": "low"' in effort
    flash = cell(nb, "%%omni -m qwen3-omni-flash --think --new")
    assert "<details><summary>Reasoning</summary>" in answer(flash)
    assert "Thinking mode answers in text only" in shown(flash)
    refused = shown(cell(nb, "%%omni -m qwen3-omni-flash --think -v Ethan"))
    assert "Drop -v, or drop --think" in refused and "Traceback" not in refused
    no_thinking = shown(cell(nb, "%%omni --think\n"))
    assert "has no thinking mode" in no_thinking and "qwen3.8-omni-flash" in no_thinking


def test_mixed_media(executed):
    nb = executed["mixed_media"]
    ask = cell(nb, "%%omni -i media/garden.png -a media/science_fair.wav")
    assert "1 image (640x400 pixels" in answer(ask) and "an audio clip of 215.7 kB" in answer(ask)
    assert "speaking as Tina" in answer(ask)
    estimated, reported = eval(data(cell(nb, "both.estimate.by_modality()"), "text/plain")[0])
    assert estimated["image"] == reported["image_tokens"] > 0
    assert estimated["audio"] == reported["audio_tokens"] == 48  # 6.74 s x 7 tokens/s, rounded up
    refused = shown(cell(nb, "%%omni -m qwen3-omni-flash"))
    assert "more than one kind of media" in refused and "Traceback" not in refused
