"""Ask by voice (issue 19) in a real JupyterLab 4, in Debian's Chromium driven by Playwright,
with Chromium's fake microphone playing a WAV made here.

``%omni record q``: record, stop; ``%%omni -a q`` sends it and the emulator reports its length;
then a "reply by voice" round trip: the recorder under the answer records, its stop sends the
next turn, whose live answer streams inside the reply's Output widget, hands over to the static
answer and its <audio> element there, and lands in ``%omni history``. Then the classroom demo,
notebooks/voice_conversation.ipynb: record, answer, reply twice.

Chromium's flags: ``--use-fake-ui-for-media-stream`` grants the microphone with no prompt,
``--use-fake-device-for-media-stream`` gives a fake one, ``--use-file-for-fake-audio-capture=
WAV%noloop`` makes it play WAV once from when a capture opens, then silence (without ``%noloop``
it loops). Same skip policy as test_browser.py: skipped without Chromium, Playwright or
JupyterLab, a failure under ``OMNI_REQUIRE_BROWSER=1`` (``.ci/run``). Screenshots go to
``$OMNI_UI_ARTIFACTS``, else ``build/ui/`` under the checkout.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from lab import CHROMIUM_ARGS, JUPYTERLAB, KERNEL_IDLE_JS, ROOT, Lab, screenshot_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO = ROOT / "notebooks" / "voice_conversation.ipynb"
RATE = 48_000
LEAD = 1.0  # seconds of silence before the sound: room for the page to start capturing
SOUND = 3.0  # seconds of a speech-like sound
# Then silence: at the end of a %noloop file Chromium's fake device repeats its last buffer
# (measured: a steady 0.3 peak after a sound), so the file ends with silence to repeat.
TAIL = 1.0
FILE_SECONDS = LEAD + SOUND + TAIL
EMULATOR = "This is the omni_magic emulator"


@pytest.fixture
def microphone(tmp_path) -> Path:
    """The fake microphone's WAV: LEAD s of silence, SOUND s of a voice-like sound (a 150 Hz buzz
    with its harmonics, its loudness rising and falling four times a second like syllables, never
    below a fifth of its peak), TAIL s of silence; 48 kHz mono 16-bit."""
    import soundfile as sf

    t = np.arange(int(SOUND * RATE)) / RATE
    buzz = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 6))
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    sound = 0.5 * buzz / np.max(np.abs(buzz)) * syllables
    samples = np.concatenate([np.zeros(int(LEAD * RATE)), sound, np.zeros(int(TAIL * RATE))])
    path = tmp_path / "microphone.wav"
    sf.write(path, (samples * 32767).astype(np.int16), RATE, subtype="PCM_16")
    return path


def _notebook(path: Path, sources: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return path


def _lab(tmp_path_factory, notebook: Path):
    server = Lab(tmp_path_factory.mktemp("lab"), JUPYTERLAB, notebooks=[notebook])
    server.start()
    return server


# -- the page ------------------------------------------------------------------------------------
RUN_CELL_JS = """async ([i, mark]) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.widgets[i];
  cell.node.setAttribute('data-omni-test', mark);
  panel.content.activeCellIndex = i;
  panel.content.deselectAll();
  await window.jupyterapp.commands.execute('notebook:run-cell');
  return cell.model.sharedModel.getSource();
}"""

# One reply (an .omni-reply box) as the page shows it, its own outputs only (not those of the
# replies nested in it): the live answer, the static answers, the speech elements.
REPLY_JS = """(box) => {
  const own = (selector) => Array.from(box.querySelectorAll(selector))
      .filter(e => e.parentElement.closest('.omni-reply') === box);
  const live = own('.omni-live');
  return {
    live: live.length ? live[0].querySelector('.omni-answer').innerText : null,
    finals: own('.jp-RenderedMarkdown[data-mime-type="text/markdown"]').map(e => e.innerText),
    speech: own('audio[data-omni-speech]').map(a => a.dataset.omniSpeech),
    replies: own('.omni-reply').length,
    usage: own('table.omni-usage').length,
  };
}"""


def _run_cell(page, index: int, mark: str) -> str:
    source = page.evaluate(RUN_CELL_JS, [index, mark])
    page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000)
    return source


def _outputs(page, mark: str) -> str:
    return "\n".join(page.locator(f'[data-omni-test="{mark}"] .jp-OutputArea-output').all_inner_texts())


def _record(page, recorder, seconds: float | None) -> str:
    """Press record, let the fake microphone play for ``seconds`` of recording, press stop (with
    ``seconds`` None: let the recorder stop itself at its limit); the status the kernel gave the
    recording ("Recorded 4.6 s ...")."""
    root = recorder.locator(".omni-recorder").first  # its own: replies nest inside a reply
    root.locator(".omni-record").click()
    if seconds is not None:
        # Stopped once the page holds `seconds` of recording, counted in samples it captured: the
        # fake file started playing when the capture opened, so by then it has played that long.
        page.wait_for_function(
            "([el, s]) => el.dataset.state === 'recording' && +el.dataset.seconds >= s",
            arg=[root.element_handle(), seconds], timeout=60_000)
        root.locator(".omni-record").click()
    status = root.locator(".omni-status")
    status.filter(has_text="Recorded").wait_for(timeout=30_000)
    return status.inner_text()


def _await_reply(page, box, timeout: float = 90) -> tuple[dict, list[dict]]:
    """Sample one reply until its static answer has replaced its live answer; (last, all)."""
    samples: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sample = box.evaluate(REPLY_JS)
        samples.append(sample)
        # Done: the static answer in its place, its speech and table, and the recorder under it
        # (shown last, after the turn is recorded: sampled too early, it is not there yet).
        if sample["live"] is None and any(EMULATOR in f for f in sample["finals"]) \
                and sample["speech"] and sample["usage"] and sample["replies"]:
            return sample, samples
        page.wait_for_timeout(30)
    raise AssertionError(f"the reply's answer never replaced its live view: {samples[-1:]}")


def _check_reply(page, box, label: str) -> dict:
    final, samples = _await_reply(page, box)
    grown = sorted({len(s["live"]) for s in samples if s["live"]})
    print(f"{label}: the live answer rendered in the reply's Output in {len(grown)} lengths "
          f"(up to {grown[-1:]}), then its static answer")
    # The live answer rendered inside the Output widget and grew there while it streamed ...
    assert len(grown) >= 3, f"{label}: no live answer seen growing in the reply's output: {samples[:5]}"
    # ... and its place went to the static answer, once, with the speech element and the table.
    answers = [f for f in final["finals"] if EMULATOR in f]
    assert len(answers) == 1, final["finals"]
    assert len(final["speech"]) == 1 and final["usage"] == 1, final
    assert final["replies"] == 1, f"{label}: the reply's answer has no reply of its own"
    key = final["speech"][0]
    # The speech that played live was handed over to that <audio> element (live.js's probe).
    page.wait_for_function("(k) => !!(window.__omniLive[k] && window.__omniLive[k].handedOver)",
                           arg=key, timeout=60_000)
    return {"answer": answers[0]}


def _seconds_reported(answer: str) -> float:
    found = re.findall(r"an audio clip of [\d.,]+ kB, ([\d.]+) seconds", answer)
    assert len(found) == 1, answer
    return float(found[0])


def _browse(chromium_path: str, wav: Path, lab: Lab, notebook: str, body) -> None:
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    try:
        with sync_playwright() as p:
            args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                    f"--use-file-for-fake-audio-capture={wav}%noloop"]
            browser = p.chromium.launch(executable_path=chromium_path, args=args, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 1000})
                context.grant_permissions(["microphone"], origin=lab.url)
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                        if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
                page.goto(lab.page_url(notebook), timeout=90_000)
                page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)
                body(page)
            finally:
                browser.close()
    except BaseException:
        print("\n--- browser console (errors and warnings) ---\n" + "\n".join(console[-30:]))
        print("--- server log (tail) ---\n" + lab.log_tail())
        raise


# -- the tests -----------------------------------------------------------------------------------
def test_record_ask_and_reply_by_voice(chromium_path, microphone, tmp_path, tmp_path_factory, artifacts):
    # The default model's family given an audio limit of the file's length (a catalog file merged
    # over the shipped one): the recorder stops itself after exactly FILE_SECONDS of recording,
    # so what the emulator hears can be compared with the file itself, not with a moment of a click.
    limits = tmp_path / "catalog.json"
    limits.write_text(json.dumps({"families": {"qwen3.5-omni": {"limits": {"audio": {
        "max_seconds": FILE_SECONDS}}}}}), encoding="utf-8")
    notebook = _notebook(tmp_path / "voice_test.ipynb", [
        f"%load_ext omni_magic\n%config OmniMagics.catalog_file = {str(limits)!r}",
        "%omni record q",
        "%%omni -a q --out r\nWhat did I say?",
        # Where the file's sound lies in the recording: the span of loud samples.
        "import numpy as np\nloud = np.flatnonzero(np.abs(q.samples.astype(int)) > 1000)\n"
        "print(f'clip {q.seconds:.3f} s; sound {(loud[-1] - loud[0] + 1) / q.rate:.3f} s "
        "from {loud[0] / q.rate:.3f} s')",
        "%omni history",
    ])
    lab = _lab(tmp_path_factory, notebook)

    def body(page) -> None:
        _run_cell(page, 0, "load")
        _run_cell(page, 1, "record")
        # Not stopped by a click: at the limit, FILE_SECONDS, with the page's note.
        status = _record(page, page.locator('[data-omni-test="record"]'), None)
        recorded = float(re.search(r"Recorded ([\d.]+) s", status).group(1))
        assert "stored in q" in status and "It stopped at the limit of 0:05" in status, status
        _run_cell(page, 2, "ask")
        answer = page.locator('[data-omni-test="ask"] .jp-RenderedMarkdown', has_text=EMULATOR)
        answer.first.wait_for(timeout=60_000)
        reported = _seconds_reported(answer.first.inner_text())
        # Reply by voice: the recorder under the answer.
        box = page.locator('[data-omni-test="ask"] .omni-reply').first
        box.scroll_into_view_if_needed()
        _record(page, box, 2.0)
        reply = _check_reply(page, box, "reply")
        assert "2 user turns" in reply["answer"], reply["answer"]  # the first turn went with it
        assert 1.9 <= _seconds_reported(reply["answer"]) <= FILE_SECONDS + 5
        # Measured after the reply: running a cell retires the reply recorder under the answer.
        _run_cell(page, 3, "measure")
        clip, sound, start = map(float, re.search(r"clip ([\d.]+) s; sound ([\d.]+) s from ([\d.]+) s",
                                                  _outputs(page, "measure")).groups())
        print(f"recorded: page {recorded} s, kernel {clip} s, emulator {reported} s, the file "
              f"{FILE_SECONDS} s; the file's sound ({SOUND} s from {LEAD} s) found as {sound} s "
              f"from {start} s (the capture's lag behind the file: {start - LEAD:+.3f} s)")
        assert clip == FILE_SECONDS  # the recorder stopped itself at the file's length ...
        assert abs(reported - FILE_SECONDS) <= 0.2  # ... and the emulator heard that long
        assert abs(sound - SOUND) <= 0.2  # the file's sound is there whole, once (%noloop)
        _run_cell(page, 4, "history")
        history = _outputs(page, "history")
        assert "2 turns" in history, history
        print(f"screenshot: {screenshot_notebook(page, artifacts / 'voice-reply.png')}")
        page.locator('[data-omni-test="ask"]').screenshot(path=str(artifacts / "voice-reply-cell.png"))

    try:
        _browse(chromium_path, microphone, lab, notebook.name, body)
    finally:
        lab.stop()


def test_the_voice_conversation_demo_runs_with_a_microphone(chromium_path, microphone, tmp_path_factory,
                                                            artifacts):
    import nbformat

    cells = nbformat.read(DEMO, as_version=4).cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    index = {name: next(i for i in code if cells[i].source.startswith(start))
             for name, start in [("load", "%load_ext"), ("record", "%omni record"),
                                 ("ask", "%%omni -a"), ("history", "%omni history")]}
    assert set(code) == set(index.values()), "the demo has cells this test does not run"
    lab = _lab(tmp_path_factory, DEMO)

    def body(page) -> None:
        _run_cell(page, index["load"], "load")
        _run_cell(page, index["record"], "record")
        _record(page, page.locator('[data-omni-test="record"]'), FILE_SECONDS + 0.5)
        _run_cell(page, index["ask"], "ask")
        page.locator('[data-omni-test="ask"] .jp-RenderedMarkdown', has_text=EMULATOR).first.wait_for()
        # Two replies: under the answer, then under the first reply's answer.
        first = page.locator('[data-omni-test="ask"] .omni-reply').first
        _record(page, first, 2.0)
        assert "2 user turns" in _check_reply(page, first, "first reply")["answer"]
        second = first.locator(".omni-reply").first
        second.scroll_into_view_if_needed()
        _record(page, second, 2.0)
        answer = _check_reply(page, second, "second reply")["answer"]
        assert "3 user turns" in answer and "Ethan" in answer, answer  # the cell's voice still
        _run_cell(page, index["history"], "history")
        assert "3 turns" in _outputs(page, "history")
        print(f"screenshot: {screenshot_notebook(page, artifacts / 'voice-conversation-demo.png')}")

    try:
        _browse(chromium_path, microphone, lab, DEMO.name, body)
    finally:
        lab.stop()
