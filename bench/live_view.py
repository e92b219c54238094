"""The live view in a real page: JupyterLab 4 in Debian's Chromium, one long Markdown answer.

    python bench/live_view.py [--repeat 3] [--seconds 20] [--product DIR]

A local SSE server answers every POST .../chat/completions with the same answer: 16,850
characters of Markdown (headings, lists, code fences, a table, emphasis, $math$) in about
4,100 text chunks paced over ``--seconds``, shaped as the service sends them (role chunk,
deltas, finish chunk, usage chunk, ``[DONE]``). One notebook, one page, three cells run one
after the other, the outputs cleared between them:

- omni_magic: ``%%omni --base-url ... --dialect dashscope --text-only`` (its live view);
- print: the openai SDK, ``print(delta, end="", flush=True)`` per chunk;
- markdown: the SDK, one ``display(Markdown(text), display_id=True)`` updated every 50 ms.

Per cell, measured in the page: main-thread long tasks (PerformanceObserver ``longtask``,
buffered), their total and the longest, from the run until 1 s after it ended (the last render
included); frames per second (a requestAnimationFrame counter over the run); bytes received on
the kernel's websocket (Playwright's ``framereceived``, payload sizes summed); wall time of
the run. Then the issue's three ratios, met or not. ``--repeat N`` runs the three cells N times
in the same page and reports medians.

Needs the test extra (JupyterLab, Playwright, openai) and ``apt-get install chromium``; no
browser is downloaded. Not a test: timings depend on the machine and what else it runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "ui")]

from lab import CHROMIUM_ARGS, KERNEL_IDLE_JS, Lab, chromium  # noqa: E402

ENDING = "That is all: append, do not resend."  # the answer's last line, checked in each output
PROMPT = "How should a notebook show a long streamed answer? Be thorough."
WAYS = ("omni_magic", "print", "markdown")


# -- the answer ---------------------------------------------------------------------------------
TOPICS = ["tokens", "chunks", "deltas", "frames", "buffers", "sockets", "renders", "layouts",
          "caches", "queues", "threads", "comms"]

SECTION = """## {n}. Keeping {topic} cheap

When a model streams an answer, every piece of it crosses three boundaries: the **network**, the
**kernel** and the **page**. Each boundary has a cost per message and a cost per byte, and the
second one is easy to underestimate when the same text is sent *again and again*. With {topic},
the rule of thumb is simple: send what is new, render what changed, and keep the rest.

### What goes wrong

1. The kernel redraws the whole answer on every update, so the work grows as $O(n^2)$ in the
   length $n$ of the text.
2. The page parses all of the Markdown again, lays it out again, and paints it again.
3. The websocket carries the full text each time: after $k$ updates it has carried about
   $k \\cdot n / 2$ characters.

> A stream of {count} updates of a {size}-character answer moves roughly
> {moved:,} characters, while the answer itself is only {size:,}.

### A better loop

```python
def stream_{topic}(events, view):
    pending = []
    for event in events:
        pending.append(event.text)      # cheap: no rendering here
        if view.due():                  # at most ~20 times a second
            view.append("".join(pending))
            pending.clear()
    view.append("".join(pending))       # nothing lost at the end
```

- *Coalesce* small deltas into one message per frame.
- Render **finished blocks** once, and only re-render the open tail.
- Keep the final, static output for the saved notebook: `display(Markdown(text))`.

| approach | bytes sent | renders | cost |
|---|---:|---:|---|
| resend everything | {moved:,} | {count} | quadratic |
| append deltas | {size:,} | {count} | linear |
| append, coalesced | {size:,} | {frames} | linear, bounded |

The expected cost per update is $c_0 + c_1 \\cdot \\Delta n$ instead of $c_0 + c_1 \\cdot n$,
and with {topic} the constant $c_0$ matters as much as the slope: *fewer, larger* messages win.

"""


def markdown_answer(target: int = 16_500) -> str:
    """About ``target`` characters of Markdown: sections on a theme, whole sections only."""
    text = "# Streaming long answers in notebooks\n\n"
    for n, topic in enumerate(TOPICS * 4, start=1):
        section = SECTION.format(n=n, topic=topic, count=40 * n, size=900 * n,
                                 moved=900 * n * 20 * n, frames=12 * n)
        if len(text) + len(section) > target + 600:
            break
        text += section
    return text + ENDING + "\n"


# Word-sized pieces, as a tokenizer would cut them: a word with its leading space and a trailing
# comma or stop, a number, a run of one or two other signs, white space.
_PIECE = re.compile(r" ?[A-Za-z]+[.,:;]?| ?\d[\d,]*| ?[^\sA-Za-z\d]{1,2}|\s+")


def pieces(text: str) -> list[str]:
    found = _PIECE.findall(text)
    assert "".join(found) == text
    return found


# -- the SSE server -----------------------------------------------------------------------------
def sse_events(parts: list[str], model: str) -> list[bytes]:
    created, uid = int(time.time()), "chatcmpl-bench"

    def envelope(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        chunk = {"choices": choices, "object": "chat.completion.chunk", "usage": usage,
                 "created": created, "system_fingerprint": None, "model": model, "id": uid}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}]

    events = [envelope(choice({"content": "", "role": "assistant"}))]
    events += [envelope(choice({"content": p})) for p in parts]
    events.append(envelope(choice({"content": "", "reasoning_content": None}, "stop")))
    usage = {"prompt_tokens": 18, "completion_tokens": len(parts), "total_tokens": 18 + len(parts),
             "completion_tokens_details": {"text_tokens": len(parts)},
             "prompt_tokens_details": {"text_tokens": 18}}
    events.append(envelope([], usage))
    events.append(b"data: [DONE]\n\n")
    return events


def serve(parts: list[str], seconds: float) -> ThreadingHTTPServer:
    """A server in a thread: the same answer to every POST .../chat/completions."""
    interval = seconds / len(parts)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self.send_error(404)
                return
            model = json.loads(body or b"{}").get("model") or "qwen3-omni-flash"
            events = sse_events(parts, model)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")  # the body ends when the socket closes
            self.end_headers()
            start = time.perf_counter()
            try:
                self.wfile.write(events[0])
                for i, event in enumerate(events[1:-3]):  # the text chunks, on a fixed schedule
                    wait = start + (i + 1) * interval - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    self.wfile.write(event)
                for event in events[-3:]:
                    self.wfile.write(event)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- the notebook -------------------------------------------------------------------------------
def cells(base: str) -> list[str]:
    create = ("client.chat.completions.create(model='qwen3-omni-flash', messages=MESSAGES, "
              "stream=True, stream_options={'include_usage': True})")
    setup = (
        "%load_ext omni_magic\n"
        "import time\n"
        "import ipywidgets\n"
        "import openai\n"
        "from IPython.display import Markdown, display\n"
        f"MESSAGES = [{{'role': 'user', 'content': {PROMPT!r}}}]\n"
        f"client = openai.OpenAI(base_url={base!r}, api_key='bench')\n"
        "display(ipywidgets.HTML('the widget manager is loaded'))  # before anything is measured"
    )
    product = f"%%omni --base-url {base} --dialect dashscope --text-only\n{PROMPT}"
    printed = (
        f"for chunk in {create}:\n"
        "    if chunk.choices and chunk.choices[0].delta.content:\n"
        "        print(chunk.choices[0].delta.content, end='', flush=True)"
    )
    markdown = (
        "text, last = '', 0.0\n"
        "handle = display(Markdown(''), display_id=True)\n"
        f"for chunk in {create}:\n"
        "    if chunk.choices and chunk.choices[0].delta.content:\n"
        "        text += chunk.choices[0].delta.content\n"
        "        if time.monotonic() - last >= 0.05:\n"
        "            handle.update(Markdown(text))\n"
        "            last = time.monotonic()\n"
        "handle.update(Markdown(text))"
    )
    return [setup, product, printed, markdown]


def notebook(sources: list[str]) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
                   "outputs": [], "source": source} for i, source in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


# -- the page -----------------------------------------------------------------------------------
# Installed before JupyterLab's own scripts: every long task from the start, a frame counter.
PROBE_JS = """
window.__bench = {longtasks: [], frames: 0};
new PerformanceObserver(list => {
  for (const e of list.getEntries()) window.__bench.longtasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
const tick = () => { window.__bench.frames += 1; requestAnimationFrame(tick); };
requestAnimationFrame(tick);
"""

RUN_JS = """async (index) => {
  const app = window.jupyterapp, notebook = app.shell.currentWidget.content;
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  notebook.activeCell.node.scrollIntoView({block: 'start'});
  await new Promise(r => setTimeout(r, 500));
  const frames = window.__bench.frames, start = performance.now();
  await app.commands.execute('notebook:run-cell');
  const end = performance.now();
  const outputs = JSON.stringify(notebook.activeCell.model.outputs.toJSON());
  return {start, end, frames: window.__bench.frames - frames, outputs};
}"""

LONGTASKS_JS = """([from, to]) => window.__bench.longtasks.filter(([t]) => t >= from && t < to)
  .map(([, d]) => d)"""


@dataclass
class Figures:
    longtask_s: float  # total long-task time
    longest_ms: float
    fps: float
    ws_bytes: int
    wall_s: float


class Page:
    """One JupyterLab page with the benchmark notebook open, counting kernel websocket bytes."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.received = 0
        page.add_init_script(PROBE_JS)
        page.on("websocket", self._watch)

    def _watch(self, ws: Any) -> None:
        if "/api/kernels/" in ws.url and "/channels" in ws.url:
            ws.on("framereceived", self._count)

    def _count(self, payload: str | bytes) -> None:
        self.received += len(payload.encode() if isinstance(payload, str) else payload)

    def settle(self, ms: int) -> None:
        self.page.wait_for_timeout(ms)  # Playwright delivers the websocket events meanwhile

    def run(self, index: int, answer: bool = True) -> Figures:
        before = self.received
        run = self.page.evaluate(RUN_JS, index)
        if '"output_type":"error"' in run["outputs"] or answer and ENDING not in run["outputs"]:
            raise RuntimeError(f"cell {index} did not show the whole answer: {run['outputs'][:2000]}")
        self.page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000)
        self.settle(1500)  # the last render, its long tasks and websocket frames
        tasks = self.page.evaluate(LONGTASKS_JS, [run["start"], run["end"] + 1000])
        seconds = (run["end"] - run["start"]) / 1000
        return Figures(sum(tasks) / 1000, max(tasks, default=0.0), run["frames"] / seconds,
                       self.received - before, seconds)

    def clear(self) -> None:
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        self.settle(3000)


def measure(repeat: int, seconds: float, product: Path) -> tuple[dict[str, list[Figures]], dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    text = markdown_answer()
    parts = pieces(text)
    server = serve(parts, seconds)
    base = f"http://127.0.0.1:{server.server_address[1]}/v1"
    results: dict[str, list[Figures]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory(prefix="omni-live-bench-") as tmp:
        path = Path(tmp) / "live_view.ipynb"
        path.write_text(json.dumps(notebook(cells(base)), indent=1))
        lab = Lab(Path(tmp) / "lab", notebooks=[path], source=product)
        try:
            lab.start()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS,
                                            headless=True)
                try:
                    page = Page(browser.new_page(viewport={"width": 1280, "height": 1000}))
                    page.page.set_default_timeout(120_000)
                    page.page.goto(lab.page_url(path.name), timeout=90_000)
                    page.page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)
                    page.run(0, answer=False)  # the setup cell: imports, the widget manager
                    page.clear()
                    for n in range(repeat):
                        for index, way in enumerate(WAYS, start=1):
                            results[way].append(page.run(index))
                            page.clear()
                            f = results[way][-1]
                            print(f"  run {n + 1} {way:<10} {f.longtask_s:6.2f} s long tasks, "
                                  f"{f.fps:5.1f} fps, {f.ws_bytes / 1e6:5.2f} MB, {f.wall_s:5.1f} s",
                                  flush=True)
                    about = {"browser": browser.version}
                finally:
                    browser.close()
        except BaseException:
            print(f"--- JupyterLab server log (tail) ---\n{lab.log_tail()}", file=sys.stderr)
            raise
        finally:
            lab.stop()
            server.shutdown()
    about.update(chars=len(text), chunks=len(parts), seconds=seconds)
    return results, about


def median(figures: list[Figures]) -> Figures:
    return Figures(*(statistics.median(getattr(f, name) for f in figures)
                     for name in Figures.__dataclass_fields__))


def report(results: dict[str, list[Figures]], repeat: int) -> None:
    m = {way: median(figures) for way, figures in results.items()}
    label = "median of " + str(repeat) if repeat > 1 else "one run"
    print(f"\n{label}:")
    print(f"{'way':<12}{'long tasks':>12}{'longest':>10}{'fps':>8}{'websocket':>12}{'wall':>8}")
    for way, f in m.items():
        print(f"{way:<12}{f.longtask_s:>10.2f} s{f.longest_ms:>7.0f} ms{f.fps:>8.1f}"
              f"{f.ws_bytes / 1e6:>9.2f} MB{f.wall_s:>6.1f} s")
    ours, md, pr = m["omni_magic"], m["markdown"], m["print"]
    checks = [
        ("long-task time vs the Markdown loop's", ours.longtask_s / md.longtask_s if md.longtask_s
         else float("inf"), "<=", 0.1),
        ("frames per second vs the print loop's", ours.fps / pr.fps, ">=", 0.8),
        ("websocket bytes vs the print loop's", ours.ws_bytes / pr.ws_bytes, "<=", 0.5),
    ]
    for name, ratio, op, target in checks:
        met = ratio <= target if op == "<=" else ratio >= target
        print(f"{name}: {ratio:.2f}x (target {op} {target}x): {'met' if met else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of the three cells; medians")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the answer streams")
    parser.add_argument("--product", type=Path, default=ROOT, metavar="DIR",
                        help="a checkout whose omni_magic the kernel imports (default: this one), "
                        "e.g. an earlier commit's, from git archive")
    args = parser.parse_args()
    if chromium() is None:
        print("needs Debian's Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    results, about = measure(args.repeat, args.seconds, args.product.resolve())
    print(f"\nJupyterLab {version('jupyterlab')}, ipykernel {version('ipykernel')}, Chromium "
          f"{about['browser']} (headless); the answer: {about['chars']:,} characters of Markdown "
          f"in {about['chunks']:,} chunks over {about['seconds']:.0f} s")
    report(results, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
