"""The quickstart notebook as saved after a real run, and the README's demo command."""

from __future__ import annotations

import soundfile as sf


def outputs(nb, index: int) -> list:
    return nb.cells[index].get("outputs", [])


def data_of(cell_outputs, mime: str) -> list[str]:
    return [o["data"][mime] for o in cell_outputs if mime in o.get("data", {})]


def test_quickstart_saves_answer_audio_and_usage_table(executed):
    nb, out = executed["quickstart"], executed.out
    ask = next(i for i, c in enumerate(nb.cells) if c.source.startswith("%%omni --out reply"))
    cell = outputs(nb, ask)
    # The answer is static Markdown in the saved file: readable with no widget state.
    answers = data_of(cell, "text/markdown")
    assert answers and "Who are you?" in answers[-1] and "emulator" in answers[-1]
    assert not data_of(cell, "application/vnd.jupyter.widget-view+json")
    assert any("<audio" in html and "data:audio/wav;base64," in html for html in data_of(cell, "text/html"))
    tables = [html for html in data_of(cell, "text/html") if "omni-usage" in html]
    assert tables and "reported" in tables[0] and "completion" in tables[0]
    assert any("Emulated answer" in text for text in data_of(cell, "text/plain"))
    samples, rate = sf.read(out / "quickstart.wav", dtype="int16")
    assert rate == 24000 and len(samples) > rate  # more than a second of speech


def test_quickstart_python_api_cell_and_follow_up(executed):
    nb = executed["quickstart"]
    api = next(i for i, c in enumerate(nb.cells) if c.source.startswith("print(reply.text)"))
    printed = "".join(o.get("text", "") for o in outputs(nb, api))
    assert "Who are you?" in printed and "24000 Hz, int16" in printed
    assert "completion_tokens" in data_of(outputs(nb, api), "text/plain")[0]
    follow = next(i for i, c in enumerate(nb.cells) if c.source.startswith("%%omni --text-only"))
    follow_md = data_of(outputs(nb, follow), "text/markdown")
    assert follow_md and "Say that again" in follow_md[-1]
    assert not any("<audio" in h for h in data_of(outputs(nb, follow), "text/html"))
    history = next(i for i, c in enumerate(nb.cells) if c.source.startswith("%omni history"))
    assert "2 turns" in data_of(outputs(nb, history), "text/plain")[0]


def test_demo_command_prints_the_answer_and_writes_files(executed):
    # The shared run is the README's demo command (it exited 0); its quickstart part:
    printed, out = executed.printed("quickstart"), executed.out
    assert "Who are you?" in printed and "Emulated answer" in printed
    assert (out / "quickstart.ipynb").is_file() and (out / "quickstart.wav").is_file()
    assert "quickstart.wav" in executed.stdout
