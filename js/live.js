// The live answer (anywidget): status line, reasoning fold, the answer as Markdown, and speech.
//
// The kernel sends only what is new (the protocol: issue 16):
//   {type: "delta", text, reasoning, status}   text and reasoning since the last delta
//   {type: "pcm"} + one buffer                 PCM16 mono little-endian at `sample_rate`
//   {type: "stop"}                             the user interrupted: silence now
// and sets `done` when the stream has ended. At the end the kernel replaces this widget's view
// with the static answer and a static <audio data-omni-speech=KEY> element, but the model lives
// on until the page sets `ended`. Everything that must outlive a view (the text received, the
// speech, the handover to the static audio element) therefore lives at model level
// (initialize); a view (render) only draws it, and a view made later draws all of it.
//
// Built with marked into omni_magic/notebook/static/live.js: see README.md here.

import { BlockSplitter, codePoints, renderMarkdown } from "./blocks.js";
import { Speech } from "./speech.js";

export { BlockSplitter, codePoints, escapeHtml, listMarker, renderMarkdown, safeUrl, splitBlocks } from "./blocks.js";
export { wavBlob } from "./speech.js";

// ---------------------------------------------------------------------------------------------
// The model: everything received, kept for every view

const answers = new Map(); // widget key -> Answer, shared by initialize and render

class Answer {
  constructor(model, probe) {
    this.splitter = new BlockSplitter();
    this.blocks = []; // the answer's finished Markdown blocks, each rendered once per view
    this.reasoning = []; // the reasoning's pieces, as they came (appended, never joined whole)
    this.status = "";
    this.deltas = 0;
    this.textChars = 0;
    this.speech = new Speech(model, probe);
    this.views = new Set(); // each view's "something changed: draw at the next frame"
  }

  delta(msg) {
    this.deltas += 1;
    if (msg.text) {
      for (const block of this.splitter.push(msg.text)) this.blocks.push(block);
      this.textChars += codePoints(msg.text);
    }
    if (msg.reasoning) this.reasoning.push(msg.reasoning);
    if (msg.status) this.status = msg.status;
    for (const view of this.views) view();
  }
}

function initialize({ model }) {
  const key = model.get("key");
  window.__omniLive = window.__omniLive || {};
  // For tests: what the model received (a view removed before its next frame never shows the
  // last delta in its data attributes), and how the speech ended.
  const probe = { handedOver: false, stopped: false, deltas: 0, textChars: 0 };
  window.__omniLive[key] = probe; // kept after the model closes: tests read it afterwards
  const answer = new Answer(model, probe);
  const speech = answer.speech;
  answers.set(key, answer);
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "delta") {
      answer.delta(msg);
      probe.deltas = answer.deltas;
      probe.textChars = answer.textChars;
    }
    else if (msg.type === "stop") speech.stop();
    else if (msg.type === "pcm" && buffers.length) {
      const view = buffers[0];
      // Copy out of the message's buffer: Int16Array needs an even, aligned offset.
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
      speech.add(new Int16Array(bytes.buffer, 0, bytes.length >> 1));
    }
  });
  model.on("change:done", () => {
    if (model.get("done")) speech.onDone();
  });
  model.on("change:muted", () => speech.applyMuted());
  if (model.get("done")) speech.onDone();
  return () => {
    speech.close();
    answers.delete(key);
  };
}

// ---------------------------------------------------------------------------------------------
// The view

// Icons as inline SVG paths (24×24): emoji and symbol glyphs are missing from many fonts.
const ICONS = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zm8 0h4v14h-4z",
  sound: "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z",
  muted: "M3 9v6h4l5 5V4L7 9H3zm13.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4z",
  replay: "M12 5V1L7 6l5 5V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z",
  download: "M5 20h14v-2H5v2zM19 9h-4V3H9v6H5l7 7 7-7z",
};

function setIcon(b, name, title) {
  b.innerHTML = `<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="${ICONS[name]}"/></svg>`;
  b.title = title;
  b.setAttribute("aria-label", title);
}

function element(tag, className, parent) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (parent) parent.append(node);
  return node;
}

function button(name, title, onClick, parent) {
  const b = element("button", "omni-player-button", parent);
  setIcon(b, name, title);
  b.addEventListener("click", onClick);
  return b;
}

function speechControls(model, speech, root) {
  const el = element("div", "omni-player", root);
  const play = button("pause", "Pause", () => speech.toggle(), el);
  const mute = button("sound", "Mute", () => speech.mute(), el);
  button("replay", "Play again from the start", () => speech.replay(), el);
  button("download", "Download as WAV", () => speech.download(), el);
  const label = element("span", "omni-player-label", el);
  const draw = () => {
    el.hidden = !model.get("speech");
    const seconds = speech.scheduledFrames / speech.rate;
    const state = speech.state;
    if (play.dataset.icon !== state) { // redraw the icons only when they change
      play.dataset.icon = state;
      setIcon(play, state === "paused" ? "play" : "pause", state === "paused" ? "Play" : "Pause");
    }
    const muted = model.get("muted");
    if (mute.dataset.icon !== String(muted)) {
      mute.dataset.icon = String(muted);
      setIcon(mute, muted ? "muted" : "sound", muted ? "Unmute" : "Mute");
    }
    const more = model.get("done") || speech.stopped ? "" : " so far";
    label.textContent = `Live speech · ${seconds.toFixed(1)} s${more} · ${state}`;
    el.dataset.scheduled = String(speech.scheduled);
    el.dataset.scheduledSeconds = seconds.toFixed(4);
    el.dataset.firstScheduledAt = speech.firstScheduledAt === null ? "" : String(speech.firstScheduledAt);
    el.dataset.state = state;
    el.dataset.firstLead = speech.firstLead === null ? "" : speech.firstLead.toFixed(4);
    el.dataset.gaps = String(speech.gaps);
  };
  return draw;
}

function render({ model, el }) {
  const answer = answers.get(model.get("key"));
  if (answer === undefined) return undefined;
  const root = element("div", "omni-live", el);
  const status = element("div", "omni-status", root);
  const fold = element("details", "omni-reasoning", root);
  fold.open = true;
  element("summary", "", fold).textContent = "Reasoning";
  const reasoning = element("div", "omni-reasoning-text", fold);
  // The classes of JupyterLab's rendered Markdown: the live answer looks as the final one will.
  const body = element("div", "omni-answer jp-RenderedHTMLCommon jp-RenderedMarkdown", root);
  const blocks = element("div", "omni-blocks", body);
  const tail = element("div", "omni-tail", body);
  const drawSpeech = speechControls(model, answer.speech, root);

  let reasoningShown = 0; // pieces of the reasoning appended
  let blocksShown = 0; // finished blocks rendered into .omni-blocks
  let tailShown = -1; // answer length when the tail was last rendered
  let folded = false;
  let renders = 0;
  let frame = null;

  const draw = () => {
    frame = null;
    if (status.textContent !== answer.status) status.textContent = answer.status;
    fold.hidden = !model.get("thinking");
    if (answer.reasoning.length > reasoningShown) {
      reasoning.append(document.createTextNode(answer.reasoning.slice(reasoningShown).join("")));
      reasoningShown = answer.reasoning.length;
    }
    const received = answer.splitter.length;
    if (!folded && received > 0) {
      fold.open = false; // once: the user may open it again
      folded = true;
    }
    if (answer.blocks.length > blocksShown) {
      // Several blocks finished since the last frame are parsed together: one parse, one insert.
      const html = renderMarkdown(answer.blocks.slice(blocksShown).join(""));
      blocks.insertAdjacentHTML("beforeend", html);
      blocksShown = answer.blocks.length;
      tailShown = -1;
    }
    if (received !== tailShown) {
      tail.innerHTML = renderMarkdown(answer.splitter.tail);
      tailShown = received;
      renders += 1;
    }
    root.dataset.deltas = String(answer.deltas);
    root.dataset.textChars = String(answer.textChars);
    root.dataset.renders = String(renders);
    root.dataset.blocks = String(blocksShown);
  };
  const later = () => {
    if (frame === null) frame = requestAnimationFrame(draw);
  };
  answer.views.add(later);
  answer.speech.views.add(drawSpeech);
  const onTraits = () => {
    later();
    drawSpeech();
  };
  const traits = ["change:thinking", "change:speech", "change:done", "change:muted"];
  for (const name of traits) model.on(name, onTraits);
  draw(); // at once: a view made mid-stream shows everything received so far
  drawSpeech();
  return () => {
    if (frame !== null) cancelAnimationFrame(frame);
    answer.views.delete(later);
    answer.speech.views.delete(drawSpeech);
    for (const name of traits) model.off(name, onTraits);
    root.remove();
  };
}

export default { initialize, render };
