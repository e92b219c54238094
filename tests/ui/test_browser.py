"""The quickstart notebook run in a real JupyterLab 4 and a real Notebook 7, in Debian's
Chromium driven by Playwright.

What only a browser can show: the answer grows in the page while it streams (the live answer,
an anywidget, renders, so the widget manager works), received as deltas (each character once),
with the kernel reading busy all along; the live view is replaced by static outputs when the
stream ends, equal to what streamed; the live answer schedules the speech while it streams and
hands it over to the ``<audio>`` element, which plays exactly the speech saved to disk; the usage
table renders; and the notebook saved from the page holds everything with no widget state.

The same check runs in both frontends, each in a server of its own: ``python -m jupyterlab``
(the notebook at ``/lab/tree/<file>``) and ``python -m notebook``, the ``notebook`` package's
Notebook 7 (its file browser at ``/tree``, the notebook at ``/notebooks/<file>``). Each test
asserts which application the page runs, so a redirect to the other frontend cannot pass.
VS Code is not driven here.

No browser is downloaded: the tests drive ``/usr/bin/chromium`` (``apt-get install chromium``).
Without Chromium, Playwright, JupyterLab or (for Notebook 7) the notebook package they are
skipped, unless ``OMNI_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a
failure. Screenshots go to ``$OMNI_UI_ARTIFACTS``, else ``build/ui/`` under the checkout.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

# The server and browser helpers, shared with bench/live_view.py (tests/ui/lab.py).
from lab import CHROMIUM_ARGS, JUPYTERLAB, KERNEL_IDLE_JS, NOTEBOOK7, QUICKSTART, TOKEN, Lab, screenshot_notebook

from omni_magic.notebook.reply import PLACEHOLDER as REPLY  # the reply recorder's text/plain twin

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# -- the Jupyter server -------------------------------------------------------------------------
# Function-scoped: each server serves one test, and is gone before the next one starts.
@pytest.fixture
def lab(chromium_path, tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"), JUPYTERLAB)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def notebook7(chromium_path, require, tmp_path_factory):
    require(NOTEBOOK7.module)  # the notebook package too, with the same skip policy
    server = Lab(tmp_path_factory.mktemp("notebook7"), NOTEBOOK7)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# -- the page -----------------------------------------------------------------------------------
# Reads the %%omni cell (marked data-omni-test="ask") in one round trip: the live view (an
# ipywidgets Output widget, class omni-answer, whose two Markdown outputs are the status line
# and the answer) and the static outputs that replace it.
SAMPLE_JS = """() => {
  const cell = document.querySelector('[data-omni-test="ask"]');
  if (!cell) return null;
  const area = cell.querySelector('.jp-Cell-outputArea');
  const root = cell.querySelector('.omni-live');
  const finals = Array.from(area.querySelectorAll(
      ':scope > .jp-OutputArea-child > .jp-RenderedMarkdown[data-mime-type="text/markdown"]'));
  return {
    now: performance.now(),
    widget: !!root,
    live: root ? root.querySelector('.omni-answer').innerText : null,
    status: root ? root.querySelector('.omni-status').innerText : null,
    deltas: root ? +root.dataset.deltas : null,
    textChars: root ? +root.dataset.textChars : null,
    finals: finals.map(e => e.innerText),
    audio: cell.querySelectorAll('audio').length,
    usage: cell.querySelectorAll('table.omni-usage').length,
  };
}"""

# Installed before the run: a MutationObserver notes, with performance.now(), every change of
# the live answer's text and every state of its speech controls (their data attributes).
PROBE_JS = """() => {
  const cell = document.querySelector('[data-omni-test="ask"]');
  // The kernel's status as the status bar shows it, each change with its time.
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  window.__omniStatus = [];
  kernel.statusChanged.connect((_, status) => window.__omniStatus.push([performance.now(), status]));
  window.__omniText = [];   // [time, length] each time the live answer's text changed
  window.__omniPlayer = []; // [time, scheduled buffers, scheduled seconds, state, first]
  let lastLength = -1, lastPlayer = '';
  new MutationObserver(() => {
    const drawn = cell.querySelector('.omni-live .omni-answer');
    if (drawn) {
      const n = drawn.innerText.length;
      if (n !== lastLength) { lastLength = n; window.__omniText.push([performance.now(), n]); }
    }
    const player = cell.querySelector('.omni-player');
    if (player && player.dataset.scheduled !== undefined) {
      const d = player.dataset;
      const key = [d.scheduled, d.scheduledSeconds, d.state].join();
      if (key !== lastPlayer) {
        lastPlayer = key;
        window.__omniPlayer.push([performance.now(), +d.scheduled, +d.scheduledSeconds, d.state,
                                  d.firstScheduledAt === '' ? null : +d.firstScheduledAt,
                                  d.firstLead === '' ? null : +d.firstLead, +d.gaps]);
      }
    }
  }).observe(cell, {subtree: true, childList: true, characterData: true, attributes: true});
}"""

def _ask_cell(nb: dict) -> tuple[int, str]:
    """Index of the quickstart's speaking %%omni cell and the file its --save names."""
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        match = re.match(r"%%omni\b[^\n]*--save[ =](\S+)", source)
        if cell["cell_type"] == "code" and match and "--out reply" in source.splitlines()[0]:
            return index, match.group(1)
    raise AssertionError("quickstart.ipynb has no `%%omni --out reply --save FILE` cell")


def _new_maxima(lengths: list[int]) -> list[int]:
    """The lengths that beat every earlier one, in order: how many steps the answer grew by."""
    steps: list[int] = []
    for n in lengths:
        if not steps or n > steps[-1]:
            steps.append(n)
    return steps


def test_quickstart_streams_plays_and_saves_in_jupyterlab(lab, chromium_path, artifacts):
    _quickstart_in_browser(lab, chromium_path, artifacts)


def test_quickstart_streams_plays_and_saves_in_notebook7(notebook7, chromium_path, artifacts):
    _quickstart_in_browser(notebook7, chromium_path, artifacts)


def _quickstart_in_browser(lab: Lab, chromium_path: str, artifacts: Path) -> None:
    from playwright.sync_api import sync_playwright

    nb_path = lab.root / QUICKSTART.name
    ask_index, wav_name = _ask_cell(json.loads(nb_path.read_text()))
    console: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(60_000)
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                        if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
                _run_and_check(page, lab, ask_index, wav_name, artifacts)
            finally:
                browser.close()
    except BaseException:
        print("\n--- browser console (errors and warnings) ---\n" + "\n".join(console[-30:]))
        print(f"--- {lab.frontend.label} server log (tail) ---\n" + lab.log_tail())
        raise


def _open_notebook(page, lab: Lab) -> None:
    """Open the quickstart in the frontend's own notebook page; check the page is that frontend's."""
    frontend = lab.frontend
    if frontend.tree_path is not None:  # Notebook 7: its file browser lists the notebook
        page.goto(f"{lab.url}{frontend.tree_path}?token={TOKEN}", timeout=90_000)
        page.locator(".jp-DirListing-item", has_text=QUICKSTART.name).first.wait_for(timeout=60_000)
        assert "/tree" in page.url, page.url
    page.goto(f"{lab.url}{frontend.notebook_path.format(name=QUICKSTART.name)}?token={TOKEN}",
              timeout=90_000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)  # the first kernel start is slow
    app = page.evaluate("() => ({name: window.jupyterapp.name, version: window.jupyterapp.version})")
    print(f"\n{frontend.label}: the page runs {app['name']} {app['version']} at {page.url.split('?')[0]}")
    assert app["name"] == frontend.app_name, (app, frontend)
    assert app["version"].split(".")[0] == frontend.major, (app, frontend)
    path = frontend.notebook_path.format(name=QUICKSTART.name)
    assert page.url.split("?")[0].endswith(path), (page.url, path)  # not redirected elsewhere


def _run_and_check(page, lab: Lab, ask_index: int, wav_name: str, artifacts: Path) -> None:
    frontend = lab.frontend
    _open_notebook(page, lab)
    marked = page.evaluate(
        """(i) => {
          const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
          cell.node.setAttribute('data-omni-test', 'ask');
          return cell.model.sharedModel.getSource();
        }""",
        ask_index,
    )
    assert marked.startswith("%%omni"), marked
    page.evaluate(PROBE_JS)

    # Run All Cells (the command behind Run ▸ Run All Cells); not awaited here, so the page can
    # be sampled while the cell streams.
    page.evaluate(
        """() => {
          window.__omniRun = 'running';
          window.jupyterapp.commands.execute('notebook:run-all-cells')
            .then(() => { window.__omniRun = 'done'; }, e => { window.__omniRun = 'error: ' + e; });
        }"""
    )

    # 3. Sample the answer every ~20 ms until the static answer has replaced the live view.
    samples: list[dict] = []
    deadline = time.monotonic() + 90
    final = None
    streaming_shot = artifacts / f"quickstart{frontend.cell_tag}-omni-cell-streaming.png"
    streaming_shot.unlink(missing_ok=True)
    shot_taken = False
    while time.monotonic() < deadline:
        sample = page.evaluate(SAMPLE_JS)
        samples.append(sample)
        if not shot_taken and sample and sample["live"] and len(sample["live"]) > 100:
            shot_taken = True  # one picture of the live view, halfway through the answer
            try:
                page.locator('[data-omni-test="ask"]').screenshot(path=str(streaming_shot), timeout=5_000)
            except Exception as exc:  # a picture is a bonus: never fail the sampling for it
                print(f"(no streaming screenshot: {exc})")
        if sample and not sample["widget"] and any("This is the omni_magic emulator" in f
                                                   for f in sample["finals"]):
            final = sample
            break
        page.wait_for_timeout(20)
    assert final is not None, f"the static answer never replaced the live view; last sample: {samples[-1:]}"

    live = [s["live"] for s in samples if s and s["live"] is not None]
    lengths = [len(text.strip()) for text in live]
    steps = _new_maxima([n for n in lengths if n > 0])
    print(f"\nlive answer: {len(samples)} samples, {len(live)} with the live widget; "
          f"distinct lengths in order: {steps}")
    assert live, "the ipywidgets live view never rendered (is the widget manager extension found?)"
    assert len(steps) >= 5, f"the answer did not grow in steps while streaming: lengths {lengths}"
    assert any(s and s["status"] and "streaming" in s["status"] for s in samples), \
        "no status line with 'streaming…' in the live view"
    # The kernel reads busy all the while the cell streams (JupyterLab took a kernel subshell's
    # control-channel idle for the kernel's: see frontend.anchor_comm).
    running = [s["now"] for s in samples if s and s["widget"]]
    idle = [t for t, status in page.evaluate("() => window.__omniStatus")
            if status == "idle" and min(running) <= t <= max(running)]
    assert idle == [], f"the kernel read idle while the cell streamed, at {idle}"
    # Appended, not resent: the page received each character of the answer once, in many
    # delta messages (a view that resent the whole text would have received ~n²/2).
    probes = page.evaluate("() => Object.values(window.__omniLive || {})")
    received = max(p["textChars"] for p in probes)
    deltas = max(p["deltas"] for p in probes)
    print(f"deltas: {deltas} messages carried {received} characters")
    assert deltas >= 5

    page.wait_for_function("() => window.__omniRun !== 'running'", timeout=90_000)
    assert page.evaluate("() => window.__omniRun") == "done"
    page.wait_for_function(KERNEL_IDLE_JS, timeout=30_000)

    cell = page.locator('[data-omni-test="ask"]')
    final = page.evaluate(SAMPLE_JS)
    answers = [f for f in final["finals"] if "This is the omni_magic emulator" in f]
    assert len(answers) == 1, f"expected the answer once, got {final['finals']}"
    status, _, answer = answers[0].strip().partition("\n")
    assert " · " in status and "first token" in status and "emulator" in status, status
    assert "streaming" not in status, status
    assert answer.strip().startswith("This is the omni_magic emulator"), answers[0]
    assert cell.locator(".jp-Cell-outputArea sub").first.inner_text().strip() == status.strip()
    longest_live = max(live, key=len).strip()
    assert answer.strip()[:12] == longest_live[:12], (longest_live, answer)
    # The streamed text is the final answer: every character arrived once, none twice.
    assert abs(received - len(answer.strip())) <= 2, (received, len(answer))
    assert not final["widget"], "the live widget is still in the cell"

    # 4. The speech: the <audio> element's duration equals the saved WAV's.
    import soundfile as sf

    audio = cell.locator("audio[data-omni-speech]")  # the reply recorder below has its own
    assert audio.count() == 1, f"expected one <audio> in the cell, found {audio.count()}"
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-omni-test="ask"] audio[data-omni-speech]');
                   return a && a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 0; }""",
        timeout=30_000,
    )
    page_seconds = audio.evaluate("a => a.duration")
    wav = lab.root / wav_name
    assert wav.is_file(), f"{wav_name} was not saved beside the notebook"
    info = sf.info(str(wav))
    file_seconds = info.frames / info.samplerate
    print(f"audio: <audio>.duration = {page_seconds:.4f} s, {wav_name} = {file_seconds:.4f} s "
          f"({info.frames} frames at {info.samplerate} Hz)")
    assert abs(page_seconds - file_seconds) <= 0.05

    _check_live_speech(page, cell, file_seconds, info.samplerate)

    # 5. The usage table.
    table = cell.locator("table.omni-usage")
    assert table.count() == 1
    headers = [h.strip() for h in table.locator("th").all_inner_texts()]
    assert "estimated" in headers and "reported" in headers, headers
    rows = table.locator("tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()))")
    prompt = next((r for r in rows if r and r[0] == "prompt"), None)
    assert prompt is not None, rows
    assert all(re.fullmatch(r"[\d,]+", value) for value in prompt[1:]), prompt

    # 6. Save from the page, then read the file.
    nb_path = lab.root / QUICKSTART.name
    before = nb_path.stat().st_mtime_ns
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    assert nb_path.stat().st_mtime_ns != before, "the notebook on disk was not rewritten"
    saved = json.loads(nb_path.read_text())
    outputs = saved["cells"][ask_index].get("outputs", [])
    data = [o.get("data", {}) for o in outputs]
    markdown = ["".join(d["text/markdown"]) if isinstance(d.get("text/markdown"), list)
                else d.get("text/markdown", "") for d in data]
    html = ["".join(d["text/html"]) if isinstance(d.get("text/html"), list)
            else d.get("text/html", "") for d in data]
    assert any("This is the omni_magic emulator" in m and "<sub>" in m for m in markdown), markdown
    assert any("<audio" in h and "data:audio/wav;base64," in h for h in html)
    assert any("omni-usage" in h and "reported" in h for h in html)
    # No widget is left: the spoken answer's "reply by voice" recorder (issue 19) gave its place
    # to static outputs (the replies it took: none here) when the next cell ran.
    widget_outputs = [(i, o) for i, c in enumerate(saved["cells"]) for o in c.get("outputs", [])
                      if WIDGET_VIEW in o.get("data", {})]
    assert not widget_outputs, f"widget views saved in the notebook: {widget_outputs}"
    assert not [o for o in outputs if "".join(o.get("data", {}).get("text/plain", "")) == REPLY]

    # 7. Screenshots: the whole notebook (the viewport stretched to its height) and the cell.
    full = screenshot_notebook(page, artifacts / f"quickstart-{frontend.tag}.png")
    clip = artifacts / f"quickstart{frontend.cell_tag}-omni-cell.png"
    cell.screenshot(path=str(clip))
    shutil.copy(nb_path, artifacts / f"quickstart{frontend.cell_tag}-saved.ipynb")
    shots = [full, clip] + ([streaming_shot] if streaming_shot.exists() else [])
    print("screenshots: " + ", ".join(str(s) for s in shots))


CHUNK_SAMPLES = 2401  # the emulator's speech chunk (the service's is about as long)


def _check_live_speech(page, cell, wav_seconds: float, rate: int) -> None:
    """The live answer scheduled the speech while it streamed, all of it, and when the stream
    ended handed it over to the static audio element, which plays on from there: one voice."""
    page.wait_for_function(
        "() => Object.values(window.__omniLive || {}).some(p => p.handedOver)",
        timeout=int((wav_seconds + 30) * 1000))
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-omni-test="ask"] audio[data-omni-speech]');
                   return !!a && !a.paused && a.currentTime > 0; }""", timeout=10_000)
    assert page.evaluate("() => document.querySelectorAll('[data-omni-test=\"ask\"] .omni-player')"
                         ".length") == 0  # the live controls gave their place to the element
    log = page.evaluate("() => window.__omniPlayer")
    text = page.evaluate("() => window.__omniText")
    counts = _new_maxima([entry[1] for entry in log])
    first_scheduled = next(entry[4] for entry in log if entry[4] is not None)
    last_text = max(t for t, _ in text)
    total = max(entry[2] for entry in log)
    lead = next(entry[5] for entry in log if entry[5] is not None)
    print(f"live speech: scheduled buffers seen growing {counts[:8]}... to {counts[-1]}; "
          f"{total:.4f} s scheduled vs the WAV's {wav_seconds:.4f} s; first buffer scheduled "
          f"{last_text - first_scheduled:.0f} ms before the last text change, to start "
          f"{lead * 1000:.0f} ms after its arrival; underruns: {log[-1][6]}")
    assert lead <= 0.3  # where the page placed it, by design (a scheduled time, not a timing)
    assert len(counts) >= 5, f"the page did not see the scheduled buffers grow: {log[:10]}"
    assert first_scheduled < last_text, "the first buffer was scheduled after the text had all come"
    assert abs(total - wav_seconds) <= CHUNK_SAMPLES / rate, (total, wav_seconds)
    assert "playing" in {entry[3] for entry in log}
