// The recorder (anywidget): record/stop, a live level meter, the time against the limit, play
// back and discard. Issue 19: ask by voice.
//
// The page sends the kernel (the protocol; omni_magic/notebook/recorder.py is the other side):
//   {type: "start"}                      a new recording begins (the previous one is dropped)
//   {type: "pcm"} + one buffer           PCM16 mono little-endian at 16 kHz, ~0.25 s each
//   {type: "stop", limit: bool}          the user pressed stop, or the limit was reached
//   {type: "discard"}                    the user threw the recording away
// and reads `limit_seconds`, `limit_note` (why that limit) and `status` (what the kernel made
// of the recording: "Recorded 12.3 s: stored in q ...").
//
// Privacy: the microphone is asked for only in the record button's click handler, a red dot
// says "Recording…" for as long as it is open, and every way out (stop, the limit, discard, the
// view removed) stops its tracks, which turns the browser's own recording indicator off.
//
// Built into omni_magic/notebook/static/recorder.js: see README.md here.

export const RATE = 16000; // what the kernel stores: mono 16 kHz, the rate speech models read
export const CHUNK = RATE / 4; // samples per message: ~0.25 s, so the kernel has it all soon after stop

// One sentence each for what the page cannot do; the name is the DOMException's.
export const MESSAGES = {
  insecure: "This page cannot use a microphone: browsers allow it only on a secure page " +
    "(served over HTTPS, or from this computer as localhost): open the notebook that way and press record again.",
  denied: "The browser was not allowed to use the microphone: allow it for this page (the icon " +
    "in the address bar) and press record again.",
  missing: "No microphone was found: connect one (or pick one in the system's sound settings) " +
    "and press record again.",
};

export function problem(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") return MESSAGES.denied;
  if (name === "NotFoundError" || name === "OverconstrainedError") return MESSAGES.missing;
  return `The microphone could not be started (${name || "Error"}: ${(error && error.message) || error}).`;
}

export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// Float32 at the AudioContext's rate (48 kHz, 44.1 kHz...) to int16 at 16 kHz. Each output
// sample is the mean of the input samples of its period: a box filter, which keeps most of what
// lies above 8 kHz out (plain decimation would fold it back down as noise). Its state carries
// across calls, so how the input was cut into blocks does not change the output.
export class Downsampler {
  constructor(inRate, outRate = RATE) {
    // Whole numbers, so a second in makes exactly one second out (floats drift by a sample).
    this.inRate = Math.round(inRate);
    this.outRate = outRate;
    this.acc = 0; // outRate units of input taken since the last output sample
    this.sum = 0;
    this.n = 0;
  }

  push(input) {
    const out = new Int16Array(Math.floor((this.acc + input.length * this.outRate) / this.inRate));
    let k = 0;
    for (let i = 0; i < input.length; i++) {
      this.sum += input[i];
      this.n += 1;
      this.acc += this.outRate;
      if (this.acc >= this.inRate) {
        const v = Math.max(-1, Math.min(1, this.sum / this.n));
        const s = Math.round(v < 0 ? v * 32768 : v * 32767);
        // Below 16 kHz (rare) one input sample makes several output samples: held, not invented.
        while (this.acc >= this.inRate) {
          out[k++] = s;
          this.acc -= this.inRate;
        }
        this.sum = 0;
        this.n = 0;
      }
    }
    return out;
  }
}

// The worklet: hands the page every block of the microphone's first channel, in batches of
// 2,048 frames (16 blocks of 128) so the main thread is woken ~23 times a second, not 375.
const WORKLET = `
class OmniTap extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(2048); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      if (this.n + ch.length > this.buf.length) { this.port.postMessage(this.buf.slice(0, this.n)); this.n = 0; }
      this.buf.set(ch, this.n); this.n += ch.length;
      if (this.n >= this.buf.length) { this.port.postMessage(this.buf.slice(0, this.n)); this.n = 0; }
    }
    return true;
  }
}
registerProcessor("omni-tap", OmniTap);
`;

export function wavBlob(chunks, rate = RATE) {
  const samples = chunks.reduce((n, c) => n + c.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (at, s) => { for (let i = 0; i < s.length; i++) header.setUint8(at + i, s.charCodeAt(i)); };
  text(0, "RIFF"); header.setUint32(4, 36 + samples * 2, true); text(8, "WAVE");
  text(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, samples * 2, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

// ---------------------------------------------------------------------------------------------
// One capture: the microphone open, its samples going to the kernel.

class Capture {
  constructor(model, onLevel, onLimit) {
    Object.assign(this, { model, onLevel, onLimit });
    this.kept = []; // the int16 chunks sent, for playing back in the page
    this.samples = 0;
    this.pending = [];
    this.pendingLength = 0;
    this.closed = false;
    this.max = Math.floor(Math.max(0, Number(model.get("limit_seconds")) || 0) * RATE);
  }

  async open() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      // The voice as spoken: the browser's call processing is for calls, not for a model to hear.
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    if (this.closed) return this.release(); // stopped or removed while the browser asked
    const Context = window.AudioContext || window.webkitAudioContext;
    this.ctx = new Context();
    this.down = new Downsampler(this.ctx.sampleRate);
    this.source = this.ctx.createMediaStreamSource(this.stream);
    this.mute = this.ctx.createGain(); // the graph is pulled from the destination: silently
    this.mute.gain.value = 0;
    this.mute.connect(this.ctx.destination);
    const take = (block) => this.take(block);
    if (this.ctx.audioWorklet && typeof AudioWorkletNode !== "undefined") {
      // From a Blob URL: the module is this text, nothing is fetched from anywhere.
      const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
      try {
        await this.ctx.audioWorklet.addModule(url);
      } finally {
        URL.revokeObjectURL(url);
      }
      if (this.closed) return this.release();
      this.node = new AudioWorkletNode(this.ctx, "omni-tap", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
      this.node.port.onmessage = (e) => take(e.data);
    } else {
      this.node = this.ctx.createScriptProcessor(4096, 1, 1);
      this.node.onaudioprocess = (e) => take(e.inputBuffer.getChannelData(0));
    }
    this.source.connect(this.node);
    this.node.connect(this.mute);
    if (this.ctx.state === "suspended" && this.ctx.resume) await this.ctx.resume();
    this.model.send({ type: "start" });
  }

  take(block) {
    if (this.closed) return;
    let peak = 0;
    for (let i = 0; i < block.length; i++) peak = Math.max(peak, Math.abs(block[i]));
    this.onLevel(peak);
    let pcm = this.down.push(block);
    const room = this.max - this.samples - this.pendingLength;
    const full = pcm.length >= room;
    if (full) pcm = pcm.subarray(0, Math.max(0, room));
    if (pcm.length) {
      this.pending.push(pcm);
      this.pendingLength += pcm.length;
    }
    while (this.pendingLength >= CHUNK) this.send(CHUNK);
    if (full) this.onLimit();
  }

  send(count) {
    const out = new Int16Array(Math.min(count, this.pendingLength));
    let k = 0;
    while (k < out.length) {
      const head = this.pending[0];
      const n = Math.min(head.length, out.length - k);
      out.set(head.subarray(0, n), k);
      k += n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    this.pendingLength -= out.length;
    this.samples += out.length;
    this.kept.push(out);
    this.model.send({ type: "pcm" }, undefined, [out.buffer]);
  }

  // Stop: the rest goes out, then the stop; the microphone is released either way.
  finish(limit) {
    if (!this.closed && this.ctx) {
      if (this.pendingLength) this.send(this.pendingLength);
      this.model.send({ type: "stop", limit: Boolean(limit) });
    }
    this.release();
  }

  release() {
    this.closed = true;
    for (const track of this.stream ? this.stream.getTracks() : []) track.stop();
    if (this.node) {
      if (this.node.port) this.node.port.onmessage = null;
      this.node.onaudioprocess = null;
      try { this.node.disconnect(); } catch { /* never connected */ }
    }
    if (this.ctx && this.ctx.state !== "closed") this.ctx.close();
    this.stream = this.node = this.ctx = null;
  }
}

// ---------------------------------------------------------------------------------------------
// The view

function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const root = h("div", "omni-recorder");
  root.style.cssText = "font: 13px sans-serif; display: flex; flex-direction: column; gap: 6px; padding: 4px 0;";
  const row = h("div", "omni-recorder-row");
  row.style.cssText = "display: flex; align-items: center; gap: 8px; flex-wrap: wrap;";
  const record = h("button", "omni-record", "● Record");
  const dot = h("span", "omni-recording", "● Recording…");
  dot.style.cssText = "color: #d00; font-weight: bold; display: none;";
  const meter = h("span", "omni-meter");
  meter.style.cssText = "display: inline-block; width: 120px; height: 8px; background: #ddd; border-radius: 4px; overflow: hidden;";
  const bar = h("span", "omni-level");
  bar.style.cssText = "display: block; height: 100%; width: 0%; background: #2a2;";
  meter.append(bar);
  const time = h("span", "omni-time");
  const discard = h("button", "omni-discard", "Discard");
  const player = h("audio", "omni-playback");
  player.controls = true;
  player.style.cssText = "height: 32px; display: none;";
  const limitLine = h("div", "omni-limit");
  limitLine.style.cssText = "color: #555; font-size: 0.9em;";
  const note = h("div", "omni-note");
  const status = h("div", "omni-status");
  row.append(record, dot, meter, time, player, discard);
  root.append(row, limitLine, note, status);
  el.append(root);

  let capture = null;
  let recorded = 0; // seconds in the last recording
  let url = null;
  let level = 0;
  let frame = 0;
  const limit = () => Number(model.get("limit_seconds")) || 0;
  const why = () => model.get("limit_note") || "";

  const draw = () => {
    frame = 0;
    const seconds = capture ? capture.samples / RATE : recorded;
    time.textContent = `${clock(seconds)} / ${clock(limit())}`;
    limitLine.textContent = `Up to ${clock(limit())}${why() ? `: ${why()}` : ""}. The microphone is used only while it records.`;
    // The peak in dB from -60 to 0 across the bar: speech sits in its upper half.
    const db = level > 0 ? 20 * Math.log10(level) : -60;
    bar.style.width = `${Math.round(Math.max(0, Math.min(1, (db + 60) / 60)) * 100)}%`;
    bar.style.background = db > -3 ? "#d00" : "#2a2";
    root.dataset.state = capture ? "recording" : recorded ? "recorded" : "idle";
    root.dataset.seconds = seconds.toFixed(2);
  };
  const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };
  const showStatus = () => { status.textContent = model.get("status") || ""; };
  const recording = (on) => {
    record.textContent = on ? "■ Stop" : "● Record";
    dot.style.display = on ? "" : "none";
    root.dataset.recording = on ? "true" : "false";
  };
  const forget = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
    player.removeAttribute("src");
    player.style.display = "none";
  };

  const stop = (limitReached) => {
    const done = capture;
    if (!done) return;
    capture = null;
    level = 0;
    recording(false);
    recorded = done.samples / RATE;
    done.finish(limitReached);
    if (limitReached) {
      note.textContent = `Stopped at the limit of ${clock(limit())}${why() ? ` (${why()})` : ""}.`;
    }
    if (done.kept.length) {
      url = URL.createObjectURL(wavBlob(done.kept));
      player.src = url;
      player.style.display = "";
    }
    redraw();
  };

  const start = async () => {
    note.textContent = "";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      note.textContent = MESSAGES.insecure;
      return;
    }
    forget();
    recorded = 0;
    const mine = new Capture(model, (peak) => { level = peak; redraw(); }, () => stop(true));
    capture = mine;
    recording(true);
    redraw();
    try {
      await mine.open();
    } catch (error) {
      mine.release();
      if (capture === mine) {
        capture = null;
        recording(false);
        redraw();
      }
      note.textContent = problem(error);
    }
  };

  // The only place the microphone is asked for: the user's click.
  record.addEventListener("click", () => (capture ? stop(false) : start()));
  discard.addEventListener("click", () => {
    if (capture) {
      capture.release(); // nothing more is sent: the kernel drops what it has
      capture = null;
      recording(false);
    }
    forget();
    recorded = 0;
    level = 0;
    note.textContent = "";
    model.send({ type: "discard" });
    redraw();
  });
  model.on("change:status", showStatus);
  model.on("change:limit_seconds", redraw);
  model.on("change:limit_note", redraw);
  showStatus();
  recording(false);
  draw();

  return () => {
    // The view is removed (the cell cleared, the notebook closed): the microphone goes with it.
    if (capture) capture.release();
    capture = null;
    forget();
    if (frame) cancelAnimationFrame(frame);
    model.off("change:status", showStatus);
    model.off("change:limit_seconds", redraw);
    model.off("change:limit_note", redraw);
  };
}

export default { render };
