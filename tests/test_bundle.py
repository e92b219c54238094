"""The front-end bundles (omni_magic/notebook/static/live.js and recorder.js, built from js/).

The bundles are committed, so they can go stale: each one's first line states the sha256 of
every source and of the lockfile it was built from, and the first test recomputes them. A bundle
must load offline (no import, no require, no URL). With node installed, the bundle's own functions run
under node: the incremental block splitting and the safe Markdown renderer on tricky inputs,
and the model and view (initialize/render) against small fakes of the widget model, the DOM
and Web Audio, which checks the protocol's page side (issue 16) without a browser.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "js"
STATIC = ROOT / "omni_magic" / "notebook" / "static"
BUNDLE = STATIC / "live.js"
RECORDER = STATIC / "recorder.js"
BUNDLES = [BUNDLE, RECORDER]
NODE = shutil.which("node")


def header(bundle: Path = BUNDLE) -> dict[str, str]:
    first = bundle.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith(f"// omni_magic {bundle.name} bundle"), first
    return dict(re.findall(r"(js/[\w.-]+) sha256=([0-9a-f]{64})", first))


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_the_bundle_was_built_from_the_sources_and_lockfile_in_the_repository(bundle):
    stated = header(bundle)
    sources = {f"js/{p.name}" for p in JS.glob("*.js")} | {"js/package-lock.json"}
    assert set(stated) == sources, "a source was added or removed since the bundle was built: cd js && npm run build"
    for name, digest in stated.items():
        actual = hashlib.sha256((ROOT / name).read_bytes()).hexdigest()
        assert actual == digest, f"{name} changed since the bundle was built: cd js && npm ci && npm run build"


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_the_bundle_loads_nothing_from_anywhere(bundle):
    text = bundle.read_text(encoding="utf-8")
    body = re.sub(r"\A(//[^\n]*\n)+", "", text)  # after the header comment lines
    assert not re.search(r"(^|[^\w$.])import\s*[\w{*(\"'`]", body), "an import left in the bundle"
    assert not re.search(r"(^|[^\w$.])require\s*\(", body), "a require() left in the bundle"
    # One URL is text, not a reference: marked's error message says where to report a bug.
    body = body.replace("Please report this to https://github.com/markedjs/marked.", "")
    assert not re.search(r"https?://[\w-]", body), "a URL in the bundle: notebooks run offline"
    assert re.search(r"export\s*\{[^}]*\bas default\b", body), "the bundle has no default export for anywidget"


def test_marked_licence_and_version_travel_with_the_bundle():
    lock = json.loads((JS / "package-lock.json").read_text(encoding="utf-8"))
    version = lock["packages"]["node_modules/marked"]["version"]
    licence = (STATIC / "THIRD_PARTY_LICENSES.md").read_text(encoding="utf-8")
    assert f"marked {version}" in licence and f"Includes marked {version}" in BUNDLE.read_text(encoding="utf-8")
    assert "Permission is hereby granted, free of charge" in licence  # the MIT text itself
    assert "Christopher Jeffrey" in licence and "MarkedJS" in licence  # its copyright lines
    pinned = json.loads((JS / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in pinned.values()), f"versions not pinned: {pinned}"


def test_every_static_file_is_package_data():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["omni_magic"]
    for path in STATIC.iterdir():
        if path.is_file():
            relative = path.relative_to(ROOT / "omni_magic").as_posix()
            assert any(fnmatch(relative, p) for p in patterns), f"{relative} would be left out of the wheel"


# --------------------------------------------------------------------------------------------
# Under node

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (CI may not have it)")

# Fakes of what the page gives the module: anywidget's model, a little DOM, Web Audio.
HARNESS = r"""
const [, , bundle, scenario] = process.argv;
const out = {};
let frames = [];
globalThis.window = globalThis;
globalThis.requestAnimationFrame = (f) => { frames.push(f); return frames.length; };
globalThis.cancelAnimationFrame = () => {};
const flush = () => { const now = frames; frames = []; now.forEach((f) => f()); };
class El {
  constructor(tag) { Object.assign(this, { tag, children: [], dataset: {}, inserted: [], htmlSets: 0, _html: "" }); }
  append(...nodes) { this.children.push(...nodes); }
  insertAdjacentHTML(where, html) { this.inserted.push(html); }
  set innerHTML(html) { this._html = html; this.htmlSets += 1; }
  get innerHTML() { return this._html; }
  addEventListener() {} setAttribute() {} remove() { this.removed = true; }
  find(cls) {
    if ((this.className || "").split(" ").includes(cls)) return this;
    for (const c of this.children) { const f = c.find && c.find(cls); if (f) return f; }
    return null;
  }
}
let audio = null, asked = [];
globalThis.document = {
  createElement: (tag) => new El(tag),
  createTextNode: (text) => ({ text }),
  querySelector: (sel) => { asked.push(sel); return audio; },
  querySelectorAll: (sel) => (audio && sel === "audio[data-omni-speech]" ? [audio] : []),
};
const contexts = [];
class Ctx {
  constructor({ sampleRate }) { Object.assign(this, { sampleRate, currentTime: 0, state: "running", sources: [], destination: {} }); contexts.push(this); }
  createGain() { return { connect() {}, gain: { value: 1, setTargetAtTime(v) { this.value = v; }, cancelScheduledValues() {},
    setValueAtTime(v) { this.value = v; }, linearRampToValueAtTime(v) { this.value = v; } } }; }
  createBuffer(ch, n) { const data = new Float32Array(n); return { length: n, getChannelData: () => data }; }
  createBufferSource() { const s = { connect() {}, start(t) { s.at = t; }, stop(t) { s.stopAt = t ?? 0; } }; this.sources.push(s); return s; }
  suspend() { this.state = "suspended"; return Promise.resolve(); }
  resume() { this.state = "running"; return Promise.resolve(); }
  close() { this.state = "closed"; }
  advance(seconds) {
    this.currentTime += seconds;
    for (const s of this.sources) {
      if (!s.over && s.stopAt === undefined && s.at + s.buffer.length / this.sampleRate <= this.currentTime + 1e-9) {
        s.over = true; if (s.onended) s.onended();
      }
    }
  }
}
globalThis.AudioContext = Ctx;
class Model {
  constructor(traits) { this.traits = { key: "k1", sample_rate: 24000, filename: "omni-1.wav", thinking: false,
    speech: false, done: false, ended: false, muted: false, ...traits }; this.handlers = {}; this.saves = 0; }
  get(k) { return this.traits[k]; }
  set(k, v) { const old = this.traits[k]; this.traits[k] = v; if (old !== v) this.emit(`change:${k}`); }
  save_changes() { this.saves += 1; }
  on(name, f) { (this.handlers[name] ??= []).push(f); }
  off(name, f) { this.handlers[name] = (this.handlers[name] ?? []).filter((g) => g !== f); }
  emit(name, ...args) { for (const f of this.handlers[name] ?? []) f(...args); }
  delta(text = "", reasoning = "", status = "") { this.emit("msg:custom", { type: "delta", text, reasoning, status }, []); }
  pcm(seconds) { const pcm = new Int16Array(Math.round(seconds * this.traits.sample_rate)).fill(1000);
    this.emit("msg:custom", { type: "pcm" }, [new DataView(pcm.buffer)]); }
}
const tick = () => new Promise((r) => setTimeout(r, 0));
const live = await import(bundle);
const widget = live.default;
const norm = (html) => html.replace(/\s+/g, " ").replace(/> </g, "><").trim();
const SCENARIOS = {
  async split() {
    const inputs = JSON.parse(process.argv[4]);
    out.cases = inputs.map((text) => ({ whole: live.splitBlocks(text),
      chunked: [1, 2, 3, 5, 7].map((n) => live.splitBlocks(text, n)),
      same: norm(live.splitBlocks(text).map(live.renderMarkdown).join("")) === norm(live.renderMarkdown(text)) }));
  },
  async render() {
    const inputs = JSON.parse(process.argv[4]);
    out.html = inputs.map((text) => live.renderMarkdown(text));
  },
  async view() {
    const model = new Model({ thinking: true });
    widget.initialize({ model });
    const a = new El("div");
    widget.render({ model, el: a });
    const root = a.find("omni-live"), fold = a.find("omni-reasoning");
    model.delta("", "Let me think", "Thinking…");
    flush();
    out.reasoningOpen = fold.open;
    out.status = a.find("omni-status").textContent;
    const text = JSON.parse(process.argv[4]);
    out.rendersPerFrame = [];
    for (let i = 0, n = 1; i < text.length; i += 3, n++) {
      model.delta(text.slice(i, i + 3), "", i === 0 ? "Answering" : "");
      if (n % 10 === 0 || i + 3 >= text.length) {  // a frame after every 10 deltas
        const before = Number(root.dataset.renders);
        flush();
        out.rendersPerFrame.push(Number(root.dataset.renders) - before);
      }
    }
    out.foldOpenAfterText = fold.open;
    fold.open = true;  // the user opens it again: it stays open
    model.delta(" more.");
    flush();
    out.foldStaysOpen = fold.open;
    const blocks = a.find("omni-blocks"), tail = a.find("omni-tail");
    out.insertedA = blocks.inserted;
    out.viewA = norm(blocks.inserted.join("") + tail.innerHTML);
    out.whole = norm(live.renderMarkdown(text + " more."));
    out.dataA = { ...root.dataset };
    const b = new El("div");  // a view made later shows everything so far, at once
    widget.render({ model, el: b });
    out.viewB = norm(b.find("omni-blocks").inserted.join("") + b.find("omni-tail").innerHTML);
    out.dataB = { ...b.find("omni-live").dataset };
    out.reasoningB = b.find("omni-reasoning-text").children.map((n) => n.text).join("");
    out.foldB = b.find("omni-reasoning").open;
  },
  async no_speech() {
    const model = new Model();
    widget.initialize({ model });
    model.delta("Hello.");
    model.set("done", true);
    Object.assign(out, { ended: model.traits.ended, asked, probe: window.__omniLive.k1 });
  },
  async played_out() {
    const model = new Model({ speech: true });
    widget.initialize({ model });
    model.pcm(0.25); model.pcm(0.25);
    contexts[0].advance(1.0);
    out.endedBeforeDone = model.traits.ended;
    model.set("done", true);
    Object.assign(out, { ended: model.traits.ended, asked, probe: window.__omniLive.k1 });
  },
  async handover() {
    const reject = process.argv[4] === "reject";
    audio = { readyState: 4, currentTime: 0, playing: false, dataset: { omniSpeech: "k1" },
      play() { if (reject) return Promise.reject(new Error("NotAllowedError")); this.playing = true; return Promise.resolve(); },
      pause() { this.playing = false; }, addEventListener() {} };
    const model = new Model({ speech: true });
    widget.initialize({ model });
    for (let i = 0; i < 4; i++) model.pcm(0.5);
    const ctx = contexts[0];
    const start = ctx.sources[0].at;
    out.backToBack = ctx.sources.every((s, i) => i === 0 || Math.abs(s.at - (ctx.sources[i - 1].at + 0.5)) < 1e-9);
    ctx.advance(start + 0.7);  // 0.7 s heard: the first buffer ended, the second playing
    model.set("done", true);
    await tick(); await tick();
    Object.assign(out, { asked, audioAt: audio.currentTime, playing: audio.playing, ended: model.traits.ended,
      probe: { ...window.__omniLive.k1 }, stoppedSources: ctx.sources.filter((s) => s.stopAt !== undefined).length,
      liveSources: ctx.sources.filter((s) => s.stopAt === undefined && !s.over).length });
    ctx.advance(5);
    out.endedAtLast = model.traits.ended;
  },
  async stop() {
    const model = new Model({ speech: true });
    widget.initialize({ model });
    for (let i = 0; i < 4; i++) model.pcm(0.5);
    const ctx = contexts[0];
    ctx.advance(0.3);
    model.emit("msg:custom", { type: "stop" }, []);
    out.stopsBy = Math.max(...ctx.sources.map((s) => s.stopAt ?? Infinity)) - ctx.currentTime;
    model.pcm(0.5);  // in flight when the stop came: kept, not played
    out.sourcesAfter = ctx.sources.length;
    model.set("done", true);
    Object.assign(out, { ended: model.traits.ended, asked, probe: window.__omniLive.k1 });
  },
};
await SCENARIOS[scenario]();
console.log(JSON.stringify(out));
"""


def run_node(tmp_path: Path, scenario: str, arg: object = "") -> dict:
    bundle = tmp_path / "live.mjs"  # .mjs: node reads it as an ES module, as the page does
    shutil.copyfile(BUNDLE, bundle)
    harness = tmp_path / "harness.mjs"
    harness.write_text(HARNESS, encoding="utf-8")
    payload = arg if isinstance(arg, str) else json.dumps(arg)
    done = subprocess.run([NODE, str(harness), bundle.as_uri(), scenario, payload],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


TRICKY = {
    "fence with blank lines": "Intro.\n\n```python\ndef f():\n\n    return 1\n\n\n```\n\nAfter.\n",
    "fence of tildes holding backticks": "~~~\n```\n\nstill code\n~~~\n\nOut.\n",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |\n\nNext paragraph.\n",
    "loose list with continuation": "- one\n\n  more of one\n\n- two\n\n    code in two\n\nEnd.\n",
    "ordered list, fence inside an item": "1. Step:\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n2. Done.\n\nBye.\n",
    "crlf": "Para one.\r\n\r\n- a\r\n\r\n- b\r\n\r\nEnd.\r\n",
    "indented code": "Text.\n\n    code\n\n    more code\n\nText.\n",
}


@needs_node
def test_blocks_are_cut_only_where_the_markdown_allows_and_at_any_chunking(tmp_path):
    cases = run_node(tmp_path, "split", list(TRICKY.values()))["cases"]
    for (name, text), case in zip(TRICKY.items(), cases):
        blocks = case["whole"]
        assert "".join(blocks) == text, name  # nothing lost, nothing twice
        assert all(chunked == blocks for chunked in case["chunked"]), f"{name}: depends on how the text came"
        assert case["same"], f"{name}: rendered block by block, it differs from the whole"
    fence, tildes, table, loose, ordered, crlf, indented = (c["whole"] for c in cases)
    assert fence == ["Intro.\n\n", "```python\ndef f():\n\n    return 1\n\n\n```\n\n", "After.\n"]
    assert tildes == ["~~~\n```\n\nstill code\n~~~\n\n", "Out.\n"]
    assert table == ["| a | b |\n|---|---|\n| 1 | 2 |\n\n", "Next paragraph.\n"]
    assert loose == ["- one\n\n  more of one\n\n- two\n\n    code in two\n\n", "End.\n"]
    assert ordered == ["1. Step:\n\n   ```sh\n   ls\n\n   pwd\n   ```\n\n2. Done.\n\n", "Bye.\n"]
    assert crlf == ["Para one.\r\n\r\n", "- a\r\n\r\n- b\r\n\r\n", "End.\r\n"]
    assert indented == ["Text.\n\n    code\n\n    more code\n\n", "Text.\n"]


@needs_node
def test_the_live_markdown_shows_raw_html_as_text_and_drops_unsafe_links(tmp_path):
    html = run_node(tmp_path, "render", [
        "Hi <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n<div onclick=\"x()\">block</div>\n",
        "[a](javascript:alert(1)) [b](JAVASCRIPT:alert(1)) [c](javascript&#58;alert(1)) "
        "[d](javascript&colon;alert(1)) ![e](javascript:alert(1)) [ok](https://example.org/x) [rel](notes/a.md)",
        "Math $a_1 * b_2 * c$ stays; $5 and $10 are money; *this* is emphasis.",
    ])["html"]
    assert "<script" not in html[0] and "<img" not in html[0] and "<div" not in html[0]
    assert "&lt;script&gt;" in html[0] and "&lt;div onclick" in html[0]
    assert "javascript" not in " ".join(re.findall(r'(?:href|src)="([^"]*)"', html[1])).lower()
    assert '<a href="https://example.org/x">ok</a>' in html[1] and '<a href="notes/a.md">rel</a>' in html[1]
    assert '<span class="omni-math">$a_1 * b_2 * c$</span>' in html[2]
    assert "$5 and $10 are money" in html[2] and "<em>this</em>" in html[2]


ANSWER = "# Title 😀\n\nPara *one*.\n\n```py\na = 1\n\nb = 2\n```\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\nTail"


@needs_node
def test_the_view_renders_each_block_once_and_a_later_view_shows_everything(tmp_path):
    out = run_node(tmp_path, "view", json.dumps(ANSWER))
    assert out["reasoningOpen"] is True and out["status"] == "Thinking…"
    assert set(out["rendersPerFrame"]) == {1}  # ten deltas, one frame, one render of the tail
    assert out["foldOpenAfterText"] is False and out["foldStaysOpen"] is True  # closed once, by the answer
    assert out["viewA"] == out["whole"]  # blocks and tail together: the answer as one text renders
    # Finished blocks appended as they finished, each once: the heading came frames before the table.
    assert len(out["insertedA"]) >= 3 and "<h1>" in out["insertedA"][0] and "<table>" in out["insertedA"][-1]
    assert "".join(out["insertedA"]).count("<h1>") == 1
    assert out["viewB"] == out["whole"] and out["reasoningB"] == "Let me think" and out["foldB"] is False
    data = out["dataA"]
    assert data["textChars"] == str(len(ANSWER + " more.")) == out["dataB"]["textChars"]  # code points, as Python
    assert int(data["deltas"]) == len(range(0, len(ANSWER), 3)) + 2
    assert data["blocks"] == out["dataB"]["blocks"] == "4"


@needs_node
def test_an_answer_without_speech_ends_when_the_stream_does(tmp_path):
    out = run_node(tmp_path, "no_speech")
    assert out["ended"] is True and out["asked"] == []
    assert (out["probe"]["handedOver"], out["probe"]["stopped"]) == (False, False)


@needs_node
def test_speech_that_played_out_ends_at_done_without_a_handover(tmp_path):
    out = run_node(tmp_path, "played_out")
    assert out["endedBeforeDone"] is False and out["ended"] is True and out["asked"] == []
    assert out["probe"]["handedOver"] is False


@needs_node
def test_speech_still_playing_hands_over_to_the_static_audio_where_it_was(tmp_path):
    out = run_node(tmp_path, "handover")
    assert out["backToBack"] is True
    assert out["asked"] == ['audio[data-omni-speech="k1"]']
    assert out["audioAt"] == pytest.approx(0.7, abs=1e-6) and out["playing"] is True
    assert out["liveSources"] == 0 and out["stoppedSources"] == 3  # one voice: the live one fades out
    assert out["ended"] is True and (out["probe"]["handedOver"], out["probe"]["stopped"]) == (True, False)


@needs_node
def test_when_the_page_may_not_play_the_audio_element_the_live_speech_plays_on(tmp_path):
    out = run_node(tmp_path, "handover", "reject")
    assert out["playing"] is False and out["stoppedSources"] == 0 and out["liveSources"] == 3
    assert out["ended"] is False and out["probe"]["handedOver"] is False
    assert out["endedAtLast"] is True  # ... and ends when it has played out


@needs_node
def test_stop_silences_at_once_keeps_no_voice_and_ends(tmp_path):
    out = run_node(tmp_path, "stop")
    assert 0 <= out["stopsBy"] <= 0.01  # every source stops within a few milliseconds
    assert out["sourcesAfter"] == 4  # a chunk in flight is kept for the download, not played
    assert out["ended"] is True and out["asked"] == []
    assert (out["probe"]["handedOver"], out["probe"]["stopped"]) == (False, True)


# --------------------------------------------------------------------------------------------
# The recorder under node: a little DOM, a microphone that says no (or is missing, or is not
# there at all), and one that delivers Float32 at 48 kHz through a worklet or 44.1 kHz through
# a ScriptProcessor. What the kernel is sent is the protocol's page side (issue 19).

RECORDER_HARNESS = r"""
import { resolveObjectURL } from "node:buffer";
const [, , bundle, scenario, arg] = process.argv;
const opts = { limit: 60, seconds: 1.0, tail: 0, hz: 0, channels: 1, accept: false, gate: "", ...JSON.parse(arg) };
const out = { sent: [], asked: 0, pcm: [] };
let frames = [];
globalThis.window = globalThis;
globalThis.requestAnimationFrame = (f) => { frames.push(f); return frames.length; };
globalThis.cancelAnimationFrame = () => {};
const flush = () => { const now = frames; frames = []; now.forEach((f) => f()); };
const tick = () => new Promise((r) => setTimeout(r, 0));
const settle = async () => { for (let i = 0; i < 20; i++) await tick(); };
let gate = null;  // opts.gate: the browser still asking for the microphone, or still resuming the audio
const opened = new Promise((resolve) => { gate = resolve; });
class El {
  constructor(tag) { Object.assign(this, { tag, children: [], dataset: {}, style: {}, listeners: {}, textContent: "", className: "" }); }
  append(...nodes) { this.children.push(...nodes); }
  addEventListener(name, f) { (this.listeners[name] ??= []).push(f); }
  click() { for (const f of this.listeners.click ?? []) f(); }
  removeAttribute(name) { delete this[name]; }
  find(cls) {
    if (this.className.split(" ").includes(cls)) return this;
    for (const c of this.children) { const f = c.find && c.find(cls); if (f) return f; }
    return null;
  }
}
globalThis.document = { createElement: (tag) => new El(tag) };
const track = { stopped: false, stop() { this.stopped = true; } };
const [mode, rate] = [scenario.split(":")[0], Number(scenario.split(":")[1] || 48000)];
const devices = {
  async getUserMedia(constraints) {
    out.asked += 1; out.constraints = constraints;
    if (opts.gate === "media") await opened;
    if (mode === "denied") throw Object.assign(new Error("Permission denied"), { name: "NotAllowedError" });
    if (mode === "missing") throw Object.assign(new Error("Requested device not found"), { name: "NotFoundError" });
    return { getTracks: () => [track] };
  },
};
Object.defineProperty(globalThis, "navigator", { value: mode === "insecure" ? {} : { mediaDevices: devices }, configurable: true });
const contexts = [], nodes = [], asks = [];
const node = () => ({ connect() {}, disconnect() {} });
// A browser whose microphone runs at `rate`: it opens a context at 16 kHz when asked (opts.accept,
// as Chromium does) or refuses that rate (NotSupportedError), and runs the page's worklet text.
class Ctx {
  constructor(options) {
    asks.push(options?.sampleRate ?? null);
    if (options?.sampleRate && !opts.accept) throw Object.assign(new Error("rate"), { name: "NotSupportedError" });
    Object.assign(this, { sampleRate: options?.sampleRate ?? rate, state: opts.gate === "resume" ? "suspended" : "running", destination: {} });
    contexts.push(this);
    if (mode !== "script") this.audioWorklet = { addModule: async (url) => {
      out.moduleUrl = url;
      const registry = {};
      new Function("AudioWorkletProcessor", "registerProcessor", await resolveObjectURL(url).text())(Processor, (n, c) => { registry[n] = c; });
      this.processors = registry;
    } };
  }
  createMediaStreamSource() { return node(); }
  createGain() { return { ...node(), gain: { value: 1 } }; }
  createScriptProcessor(size) { const n = { ...node(), size }; nodes.push(n); return n; }
  async resume() {
    await opened;
    if (this.state === "closed") throw Object.assign(new Error("closed"), { name: "InvalidStateError" });
    this.state = "running";
  }
  close() { this.state = "closed"; }
}
globalThis.AudioContext = Ctx;
// Worklet ports deliver a message a macrotask later, in order, as a MessagePort does.
const later = (target, data) => setTimeout(() => target.onmessage && target.onmessage({ data }), 0);
let wiring = null;
class Processor { constructor() { this.port = wiring; } }
if (mode !== "script") globalThis.AudioWorkletNode = class {
  constructor(ctx, name) {
    this.name = name;
    const inside = { postMessage: (data) => later(this.port, data) };
    this.port = { postMessage: (data) => later(inside, data) };
    wiring = inside;
    this.processor = new ctx.processors[name]();
    nodes.push(this);
  }
  connect() {} disconnect() {}
};
class Model {
  constructor(traits) { this.traits = { limit_seconds: 60, limit_note: "", label: "q", status: "", ...traits }; this.handlers = {}; }
  get(k) { return this.traits[k]; }
  set(k, v) { this.traits[k] = v; for (const f of this.handlers[`change:${k}`] ?? []) f(); }
  on(name, f) { (this.handlers[name] ??= []).push(f); }
  off(name, f) { this.handlers[name] = (this.handlers[name] ?? []).filter((g) => g !== f); }
  send(content, callbacks, buffers) {
    const arrays = (buffers ?? []).map((b) => new Int16Array(b));
    for (const a of arrays) out.pcm.push(...a);
    out.sent.push({ ...content, samples: arrays.map((a) => a.length), first: arrays.map((a) => a[0]),
                    bytes: (buffers ?? []).map((b) => b.byteLength) });
  }
}
const recorder = (await import(bundle)).default;
const model = new Model({ limit_seconds: opts.limit, limit_note: "the test's limit" });
const el = new El("div");
const cleanup = recorder.render({ model, el });
flush();
const find = (cls) => el.find(cls);
const dot = () => (find("omni-recording").style.display !== "none" ? find("omni-recording").textContent : null);
out.askedBeforeClick = out.asked;
out.timeBefore = find("omni-time").textContent;
out.limitLine = find("omni-limit").textContent;
find("omni-record").click();
await tick(); await tick(); await tick();
if (opts.gate) {
  out.starting = { dot: dot(), state: find("omni-recorder").dataset.state, button: find("omni-record").textContent };
  if (opts.stopWhileStarting) find("omni-record").click();
  gate();
  await settle();
  out.note = find("omni-note").textContent;
  out.trackStopped = track.stopped;
  out.contextStates = contexts.map((c) => c.state);
  out.dotAfter = dot();
  out.state = find("omni-recorder").dataset.state;
  if (opts.stopWhileStarting) { console.log(JSON.stringify(out)); process.exit(0); }
}
out.note = find("omni-note").textContent;
out.contexts = contexts.length;
out.contextRate = contexts.length ? contexts[0].sampleRate : null;
out.contextAsks = asks;
out.recordingShown = find("omni-recording").style.display !== "none";
out.recordingText = find("omni-recording").textContent;
out.button = find("omni-record").textContent;
if (contexts.length) {
  const tap = nodes[0];
  const ctxRate = contexts[0].sampleRate;
  let at = 0;  // frames delivered
  const frame = (i) => (opts.hz ? 0.5 * Math.sin(2 * Math.PI * opts.hz * i / ctxRate) : 0.5);
  const deliver = (seconds) => {
    const total = Math.round(seconds * ctxRate);
    const block = tap.processor ? 128 : 4096;  // the worklet's render quanta; the fallback's buffers
    for (let i = 0; i < total; i += block) {
      const n = Math.min(block, total - i);
      // Channel 0 carries the signal; any others carry -0.1: mixed to mono, the mean.
      const chans = Array.from({ length: opts.channels }, (_, c) =>
        Float32Array.from({ length: n }, (_, j) => (c === 0 ? frame(at + j) : -0.1)));
      if (tap.processor) tap.processor.process([chans]);
      else tap.onaudioprocess && tap.onaudioprocess({ inputBuffer: { getChannelData: () => chans[0] } });
      at += n;
    }
  };
  deliver(opts.seconds);
  await settle();
  flush();
  out.level = find("omni-level").style.width;
  out.timeDuring = find("omni-time").textContent;
  out.worklet = tap.name ?? null;
  out.blobModule = String(out.moduleUrl ?? "").startsWith("blob:");
  deliver(opts.tail);  // said just before the stop: held in the worklet or in flight from it
  out.framesIn = at;
  if (mode === "remove") { cleanup(); }
  else if (mode === "discard") { find("omni-discard").click(); }
  else if (model.traits.limit_seconds >= opts.seconds) { find("omni-record").click(); }
  out.stateStopping = find("omni-recorder").dataset.state;
  await settle();
  flush();
  out.secondsAfter = Number(find("omni-recorder").dataset.seconds);
  deliver(0.5);  // after the stop: nothing more is sent
  await settle();
  out.trackStopped = track.stopped;
  out.contextState = contexts[0].state;
  out.recordingShownAfter = find("omni-recording").style.display !== "none";
  out.player = Boolean(find("omni-playback").src) && find("omni-playback").style.display !== "none";
  out.noteAfter = find("omni-note").textContent;
  out.state = find("omni-recorder").dataset.state;
}
model.set("status", "Recorded 1.0 s: stored in q (attach it with -a q).");
out.status = find("omni-status").textContent;
if (!opts.keep) delete out.pcm;
console.log(JSON.stringify(out));
"""


def run_recorder(tmp_path: Path, scenario: str, limit: float = 60, **options: object) -> dict:
    """One recording in the page under node: ``scenario`` is "mode:rate" (the microphone's rate);
    ``options`` are the harness's (seconds delivered, tail before the stop, hz, channels, accept
    16 kHz, gate, keep the PCM)."""
    bundle = tmp_path / "recorder.mjs"
    shutil.copyfile(RECORDER, bundle)
    harness = tmp_path / "recorder_harness.mjs"
    harness.write_text(RECORDER_HARNESS, encoding="utf-8")
    done = subprocess.run([NODE, str(harness), bundle.as_uri(), scenario, json.dumps({"limit": limit, **options})],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


SENTENCES = {  # one sentence each, as js/recorder.js words them
    "denied": "The browser was not allowed to use the microphone",
    "missing": "No microphone was found",
    "insecure": "This page cannot use a microphone: browsers allow it only on a secure page",
}


@needs_node
@pytest.mark.parametrize("scenario", list(SENTENCES))
def test_a_microphone_the_page_cannot_have_is_one_sentence_and_nothing_is_sent(tmp_path, scenario):
    out = run_recorder(tmp_path, scenario)
    assert out["askedBeforeClick"] == 0  # showing the recorder asks for nothing
    assert out["note"].startswith(SENTENCES[scenario]) and out["note"].count(". ") == 0
    assert out["asked"] == (0 if scenario == "insecure" else 1)
    assert out["sent"] == [] and out["contexts"] == 0
    assert out["recordingShown"] is False and out["button"] == "● Record"


def pcm_messages(out: dict) -> list[dict]:
    return [m for m in out["sent"] if m["type"] == "pcm"]


@needs_node
def test_48_khz_from_the_worklet_reaches_the_kernel_as_16_khz_int16_in_quarter_seconds(tmp_path):
    out = run_recorder(tmp_path, "worklet:48000", seconds=1.1)
    assert out["askedBeforeClick"] == 0 and out["asked"] == 1
    audio = out["constraints"]["audio"]
    assert audio["channelCount"] == 1 and not (audio["echoCancellation"] or audio["noiseSuppression"] or audio["autoGainControl"])
    assert out["worklet"] == "omni-tap" and out["blobModule"] is True  # the module from a Blob: no network
    assert out["contextAsks"] == [16000, None] and out["contextRate"] == 48000  # 16 kHz refused: resampled here
    assert out["recordingShown"] is True and out["recordingText"] == "● Recording…" and out["button"] == "■ Stop"
    assert out["timeBefore"] == "0:00 / 1:00" and out["timeDuring"] == "0:01 / 1:00"
    assert out["limitLine"].startswith("Up to 1:00: the test's limit.")
    assert out["level"] != "0%"
    kinds = [m["type"] for m in out["sent"]]
    assert kinds[0] == "start" and kinds[-1] == "stop" and set(kinds[1:-1]) == {"pcm"}
    pcm = pcm_messages(out)
    assert [m["samples"] for m in pcm] == [[4000]] * 4 + [[1600]]  # 1.1 s at 16 kHz, in quarters
    assert all(m["bytes"] == [2 * m["samples"][0]] for m in pcm)
    assert all(m["first"] == [16384] for m in pcm[1:])  # 0.5 as int16 (the first rises from silence)
    assert out["sent"][-1]["limit"] is False
    assert out["trackStopped"] is True and out["contextState"] == "closed"
    assert out["recordingShownAfter"] is False and out["player"] is True and out["state"] == "recorded"
    assert out["status"] == "Recorded 1.0 s: stored in q (attach it with -a q)."


@needs_node
def test_the_seconds_the_page_shows_after_stop_are_all_it_sent(tmp_path):
    out = run_recorder(tmp_path, "worklet:48000", seconds=1.1)
    sent = sum(m["samples"][0] for m in pcm_messages(out))
    assert sent == 17600 and out["secondsAfter"] == 1.1  # counted after the last samples went


@needs_node
@pytest.mark.parametrize("scenario", ["worklet:48000", "worklet:44100", "script:44100"])
def test_the_last_moments_before_stop_are_sent_and_every_second_makes_16000_samples(tmp_path, scenario):
    # 2.0 s, then 40 ms said just before stop is pressed: part held in the worklet's batch, part
    # in messages still in flight. All of it reaches the kernel, at exactly 16/rate samples each.
    out = run_recorder(tmp_path, scenario, seconds=2.0, tail=0.04)
    rate = int(scenario.split(":")[1])
    sent = sum(m["samples"][0] for m in pcm_messages(out))
    if scenario.startswith("script"):  # a ScriptProcessor's buffer is the browser's: whole ones only
        assert sent == out["framesIn"] * 16000 // rate
    else:
        assert out["framesIn"] % 2048 and sent == out["framesIn"] * 16000 // rate
        assert out["stateStopping"] == "stopping"
    assert out["sent"][-1]["type"] == "stop" and out["secondsAfter"] == sent / 16000


@needs_node
def test_a_browser_that_opens_the_context_at_16_khz_resamples_the_microphone_itself(tmp_path):
    out = run_recorder(tmp_path, "worklet:48000", accept=True, keep=True)
    assert out["contextAsks"] == [16000] and out["contextRate"] == 16000
    assert [m["samples"] for m in pcm_messages(out)] == [[4000]] * 4  # 16 kHz in: passed through
    assert set(out["pcm"]) == {16384}


def tone_db(samples: list[int], reference: np.ndarray | None = None) -> float:
    """The output's power against a full 0.5 sine, or (with ``reference``) the error's, in dB;
    the first and last 10 ms left out (a tone switched on is not a tone there)."""
    y = np.asarray(samples, dtype=float)[160:-160] / 32768
    if reference is None:
        return 10 * np.log10(np.mean(y ** 2) / 0.125)
    return 10 * np.log10(np.mean((y - reference[160:-160]) ** 2) / np.mean(reference[160:-160] ** 2))


@needs_node
@pytest.mark.parametrize("scenario", ["worklet:48000", "script:44100"])
def test_a_9_khz_tone_is_filtered_out_not_folded_down_to_7_khz(tmp_path, scenario):
    out = run_recorder(tmp_path, scenario, hz=9000, keep=True)
    assert len(out["pcm"]) == 16000 and tone_db(out["pcm"]) <= -40


@needs_node
@pytest.mark.parametrize("scenario", ["script:44100", "worklet:48000"])
def test_a_1_khz_tone_comes_out_as_the_same_tone_at_16_khz(tmp_path, scenario):
    out = run_recorder(tmp_path, scenario, hz=1000, keep=True)
    ideal = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)
    assert len(out["pcm"]) == 16000 and tone_db(out["pcm"], ideal) <= -40  # an SNR of 40 dB or more


@needs_node
def test_the_worklet_mixes_every_channel_to_mono(tmp_path):
    out = run_recorder(tmp_path, "worklet:48000", channels=2)
    assert all(abs(m["first"][0] - round(0.2 * 32767)) <= 1 for m in pcm_messages(out)[1:])  # (0.5 - 0.1) / 2


@needs_node
@pytest.mark.parametrize("gate", ["media", "resume"])
def test_it_says_recording_only_once_the_microphone_records(tmp_path, gate):
    out = run_recorder(tmp_path, "worklet:48000", gate=gate)
    assert out["starting"] == {"dot": "● Starting the microphone…", "state": "starting", "button": "■ Stop"}
    assert out["sent"][0]["type"] == "start" and out["dotAfter"] == "● Recording…"


@needs_node
@pytest.mark.parametrize("scenario,gate", [("worklet:48000", "media"), ("worklet:48000", "resume"),
                                           ("denied:48000", "media")])
def test_stop_while_the_microphone_starts_sends_nothing_and_says_nothing(tmp_path, scenario, gate):
    out = run_recorder(tmp_path, scenario, gate=gate, stopWhileStarting=True)
    assert out["starting"]["dot"] == "● Starting the microphone…"
    assert out["sent"] == [] and out["note"] == "" and out["dotAfter"] is None and out["state"] == "idle"
    assert out["contextStates"] in ([], ["closed"]) and (out["trackStopped"] or scenario.startswith("denied"))


@needs_node
def test_44_1_khz_through_the_script_processor_fallback_makes_the_same_16_khz(tmp_path):
    out = run_recorder(tmp_path, "script:44100")
    assert out["worklet"] is None  # no AudioWorklet in this page
    assert sum(m["samples"][0] for m in pcm_messages(out)) == 16000
    assert all(m["samples"] == [4000] for m in pcm_messages(out)) and out["sent"][-1]["type"] == "stop"


@needs_node
def test_the_recorder_stops_by_itself_at_the_limit_with_a_note(tmp_path):
    out = run_recorder(tmp_path, "worklet:48000", limit=0.6)
    assert sum(m["samples"][0] for m in pcm_messages(out)) == 9600  # 0.6 s, not a sample more
    assert out["sent"][-1] == {"type": "stop", "limit": True, "samples": [], "first": [], "bytes": []}
    assert out["noteAfter"] == "Stopped at the limit of 0:00 (the test's limit)."
    assert out["trackStopped"] is True and out["recordingShownAfter"] is False


@needs_node
@pytest.mark.parametrize("scenario", ["discard", "remove"])
def test_discarding_or_removing_the_view_releases_the_microphone_and_sends_no_stop(tmp_path, scenario):
    out = run_recorder(tmp_path, f"{scenario}:48000")
    assert out["trackStopped"] is True and out["contextState"] == "closed"
    kinds = [m["type"] for m in out["sent"]]
    assert "stop" not in kinds and kinds[-1] == ("discard" if scenario == "discard" else "pcm")
    assert out["player"] is False
