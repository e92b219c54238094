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
// says "Starting the microphone…" while the browser asks and opens it, then "Recording…" for as
// long as its samples go out, and every way out (stop, the limit, discard, the
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

// Float32 at the AudioContext's rate to int16 at 16 kHz, for a browser that would not open
// the context at 16 kHz itself (Chromium does, and resamples the microphone properly). Output
// sample n is the input around position n·inRate/outRate through a windowed-sinc low-pass at
// 7.2 kHz (Blackman window, ±2 ms): what lies above 8 kHz would fold back down as false tones
// (a mean of 2-3 samples let a 9 kHz whistle through at 7 kHz, and at 44.1 kHz, whose periods
// are uneven, it blurred speech itself); here it is 70 dB down from 8 kHz on. The positions
// are fractions (44.1 kHz: 441/160 input samples an output), counted in whole numbers so a
// second in makes exactly one second out. The state carries across calls, so how the input was
// cut into blocks does not change the output; flush() gives the last samples, each of which
// looks 2 ms ahead (the input after the end taken as silence, as before the start).
export const CUTOFF = 7200;
const HALF_WIDTH = 0.002; // seconds of input either side of an output sample
const TABLE_PHASES = 1024; // kernels kept per fractional position, when there are this few

const gcd = (a, b) => (b ? gcd(b, a % b) : a);
const toInt16 = (v) => {
  const c = Math.max(-1, Math.min(1, v));
  return Math.round(c < 0 ? c * 32768 : c * 32767);
};

export class Resampler {
  constructor(inRate, outRate = RATE) {
    this.inRate = Math.round(inRate);
    this.outRate = outRate;
    const g = gcd(this.inRate, outRate);
    this.num = this.inRate / g; // output n sits at input position n·num/den
    this.den = outRate / g;
    this.same = this.inRate === outRate;
    this.half = Math.ceil(HALF_WIDTH * this.inRate);
    this.fc = Math.min(CUTOFF, 0.45 * Math.min(this.inRate, outRate)) / this.inRate; // cycles a sample
    this.kernels = new Map();
    this.buf = new Float32Array(0);
    this.first = 0; // the input index of buf[0]
    this.taken = 0; // input samples pushed
    this.n = 0; // the next output sample
  }

  // The taps for an output at fraction rest/den past an input sample: k - p runs over
  // (-half, half]; their sum is 1 at every position, so the gain does not wobble with it.
  kernel(rest) {
    const known = this.kernels.get(rest);
    if (known) return known;
    const taps = new Float64Array(2 * this.half);
    const f = rest / this.den;
    let sum = 0;
    for (let j = 0; j < taps.length; j++) {
      const t = j - this.half + 1 - f; // the tap's distance from the position, in input samples
      const x = 2 * this.fc * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = (t + this.half) / (2 * this.half); // 0..1 across the window
      const blackman = 0.42 - 0.5 * Math.cos(2 * Math.PI * w) + 0.08 * Math.cos(4 * Math.PI * w);
      taps[j] = sinc * blackman;
      sum += taps[j];
    }
    for (let j = 0; j < taps.length; j++) taps[j] /= sum;
    if (this.den <= TABLE_PHASES) this.kernels.set(rest, taps);
    return taps;
  }

  push(input) {
    if (this.same) {
      const out = new Int16Array(input.length);
      for (let i = 0; i < input.length; i++) out[i] = toInt16(input[i]);
      return out;
    }
    const buf = new Float32Array(this.buf.length + input.length);
    buf.set(this.buf);
    buf.set(input, this.buf.length);
    this.buf = buf;
    this.taken += input.length;
    return this.emit(false);
  }

  flush() {
    return this.same ? new Int16Array(0) : this.emit(true);
  }

  emit(last) {
    const total = Math.floor((this.taken * this.den) / this.num); // outputs this input makes
    const out = [];
    while (this.n < total) {
      const at = this.n * this.num;
      const base = Math.floor(at / this.den);
      if (!last && base + this.half >= this.taken) break; // its last tap is not here yet
      const taps = this.kernel(at - base * this.den);
      let acc = 0;
      for (let j = 0, k = base - this.half + 1 - this.first; j < taps.length; j++, k++) {
        if (k >= 0 && k < this.buf.length) acc += taps[j] * this.buf[k]; // silence outside
      }
      out.push(toInt16(acc));
      this.n += 1;
    }
    // Keep only what the next output's taps reach back to.
    const next = Math.floor((this.n * this.num) / this.den) - this.half + 1;
    if (next > this.first) {
      this.buf = this.buf.slice(Math.min(this.buf.length, next - this.first));
      this.first = next;
    }
    return Int16Array.from(out);
  }
}

// The worklet: hands the page the microphone, mixed to mono (the mean of its channels, as the
// ScriptProcessor fallback's down-mix), in batches of 2,048 frames (16 blocks of 128) so the
// main thread is woken ~23 times a second, not 375. "flush" from the page sends what is held
// at once, then "flushed": messages arrive in order, so after it nothing is in flight.
const WORKLET = `
class OmniTap extends AudioWorkletProcessor {
  constructor() {
    super(); this.buf = new Float32Array(2048); this.n = 0;
    this.port.onmessage = (e) => { if (e.data === "flush") { this.send(); this.port.postMessage("flushed"); } };
  }
  send() { if (this.n) { this.port.postMessage(this.buf.slice(0, this.n)); this.n = 0; } }
  process(inputs) {
    const chans = inputs[0] || [];
    if (chans.length) {
      const len = chans[0].length;
      if (this.n + len > this.buf.length) this.send();
      for (let i = 0; i < len; i++) {
        let s = 0;
        for (let c = 0; c < chans.length; c++) s += chans[c][i];
        this.buf[this.n + i] = s / chans.length;
      }
      this.n += len;
      if (this.n >= this.buf.length) this.send();
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
  constructor(model, onLevel, onLimit, onStarted) {
    Object.assign(this, { model, onLevel, onLimit, onStarted });
    this.kept = []; // the int16 chunks sent, for playing back in the page
    this.samples = 0;
    this.pending = [];
    this.pendingLength = 0;
    this.started = false; // "start" sent: the microphone's samples are going out
    this.stopping = false;
    this.full = false; // the limit was reached
    this.closed = false;
    this.max = Math.floor(Math.max(0, Number(model.get("limit_seconds")) || 0) * RATE);
  }

  // The context at 16 kHz, where the browser resamples the microphone itself (Chromium, with a
  // proper filter); else at its own rate, resampled here. Firefox opens a 16 kHz context but
  // refuses to connect a microphone at another rate to it: that falls back too.
  connect(Context) {
    try {
      const ctx = new Context({ sampleRate: RATE });
      try {
        return [ctx, ctx.createMediaStreamSource(this.stream)];
      } catch (error) {
        ctx.close();
      }
    } catch (error) { /* this rate refused: the context's own, below */ }
    const ctx = new Context();
    return [ctx, ctx.createMediaStreamSource(this.stream)];
  }

  async open() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      // The voice as spoken: the browser's call processing is for calls, not for a model to hear.
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    if (this.closed) return this.release(); // stopped or removed while the browser asked
    const Context = window.AudioContext || window.webkitAudioContext;
    [this.ctx, this.source] = this.connect(Context);
    this.down = new Resampler(this.ctx.sampleRate);
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
      this.node = new AudioWorkletNode(this.ctx, "omni-tap", { numberOfInputs: 1, numberOfOutputs: 1 });
      this.node.port.onmessage = (e) => {
        if (e.data === "flushed") { if (this.flushed) this.flushed(); } else take(e.data);
      };
    } else {
      this.node = this.ctx.createScriptProcessor(4096, 1, 1); // its one input channel: down-mixed
      this.node.onaudioprocess = (e) => take(e.inputBuffer.getChannelData(0));
    }
    this.source.connect(this.node);
    this.node.connect(this.mute);
    if (this.ctx.state === "suspended" && this.ctx.resume) await this.ctx.resume();
    if (this.closed) return this.release(); // stopped while the audio was starting: no "start"
    this.started = true;
    this.model.send({ type: "start" });
    this.onStarted();
  }

  take(block) {
    if (this.closed || !this.started) return;
    let peak = 0;
    for (let i = 0; i < block.length; i++) peak = Math.max(peak, Math.abs(block[i]));
    this.onLevel(peak);
    this.keep(this.down.push(block));
  }

  keep(pcm) {
    if (this.full) return;
    const room = this.max - this.samples - this.pendingLength;
    this.full = pcm.length >= room;
    if (this.full) pcm = pcm.subarray(0, Math.max(0, room));
    if (pcm.length) {
      this.pending.push(pcm);
      this.pendingLength += pcm.length;
    }
    while (this.pendingLength >= CHUNK) this.send(CHUNK);
    if (this.full && !this.stopping) this.onLimit();
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

  // Stop: what the worklet holds and what is in flight from it (the last ~50 ms said), the
  // resampler's last samples, then the stop; the microphone is released either way. Whether
  // the limit stopped it, for the note.
  async finish(limit) {
    this.stopping = true;
    if (this.started && !this.full && this.node && this.node.port) {
      await new Promise((resolve) => {
        this.flushed = resolve;
        this.node.port.postMessage("flush");
        setTimeout(resolve, 500); // a worklet that no longer runs: stop with what came
      });
    }
    if (this.closed) return false; // discarded or removed meanwhile: nothing more goes out
    const reached = Boolean(limit) || this.full;
    if (this.started) {
      this.keep(this.down.flush());
      if (this.pendingLength) this.send(this.pendingLength);
      this.model.send({ type: "stop", limit: reached });
    }
    this.release();
    return reached;
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
    if (this.flushed) this.flushed();
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
  const dot = h("span", "omni-recording", "● Recording…"); // or "Starting the microphone…"
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

  let capture = null; // the capture starting or recording
  let finishing = null; // the capture stopped, its last samples still going out
  let recorded = 0; // seconds in the last recording
  let url = null;
  let level = 0;
  let frame = 0;
  const limit = () => Number(model.get("limit_seconds")) || 0;
  const why = () => model.get("limit_note") || "";

  // The state, at once (not at the next frame): "Recording…" only once samples go out.
  const showState = () => {
    const live = capture || finishing;
    root.dataset.state = capture ? (capture.started ? "recording" : "starting")
      : finishing ? "stopping" : recorded ? "recorded" : "idle";
    record.textContent = capture ? "■ Stop" : "● Record";
    record.disabled = Boolean(finishing);
    dot.textContent = capture && !capture.started ? "● Starting the microphone…" : "● Recording…";
    dot.style.display = live ? "" : "none";
    root.dataset.recording = capture && capture.started ? "true" : "false";
  };
  const draw = () => {
    frame = 0;
    const live = capture || finishing;
    const seconds = live ? (live.samples + live.pendingLength) / RATE : recorded; // said so far
    time.textContent = `${clock(seconds)} / ${clock(limit())}`;
    limitLine.textContent = `Up to ${clock(limit())}${why() ? `: ${why()}` : ""}. The microphone is used only while it records.`;
    // The peak in dB from -60 to 0 across the bar: speech sits in its upper half.
    const db = level > 0 ? 20 * Math.log10(level) : -60;
    bar.style.width = `${Math.round(Math.max(0, Math.min(1, (db + 60) / 60)) * 100)}%`;
    bar.style.background = db > -3 ? "#d00" : "#2a2";
    showState();
    root.dataset.seconds = seconds.toFixed(2);
  };
  const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };
  const showStatus = () => { status.textContent = model.get("status") || ""; };
  const forget = () => {
    if (url) URL.revokeObjectURL(url);
    url = null;
    player.removeAttribute("src");
    player.style.display = "none";
  };

  const stop = async (limitReached) => {
    const done = capture;
    if (!done) return;
    capture = null;
    level = 0;
    finishing = done.started ? done : null; // one still starting just stops: nothing was sent
    showState();
    const reached = await done.finish(limitReached);
    if (finishing !== done) return; // discarded or removed meanwhile
    finishing = null;
    recorded = done.samples / RATE; // after the last samples went: what the kernel has
    if (reached) {
      note.textContent = `Stopped at the limit of ${clock(limit())}${why() ? ` (${why()})` : ""}.`;
    }
    if (done.kept.length) {
      url = URL.createObjectURL(wavBlob(done.kept));
      player.src = url;
      player.style.display = "";
    }
    showState();
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
    const mine = new Capture(model, (peak) => { level = peak; redraw(); }, () => stop(true), showState);
    capture = mine;
    showState();
    redraw();
    try {
      await mine.open();
    } catch (error) {
      const stopped = mine.closed; // the user stopped it while it started: no error to tell
      mine.release();
      if (capture === mine) {
        capture = null;
        showState();
        redraw();
      }
      if (!stopped) note.textContent = problem(error);
    }
  };

  // The only place the microphone is asked for: the user's click.
  record.addEventListener("click", () => {
    if (finishing) return; // the last samples of the recording just stopped are going out
    if (capture) stop(false);
    else start();
  });
  discard.addEventListener("click", () => {
    for (const open of [capture, finishing]) if (open) open.release(); // nothing more is sent
    capture = finishing = null;
    forget();
    recorded = 0;
    level = 0;
    note.textContent = "";
    model.send({ type: "discard" });
    showState();
    redraw();
  });
  model.on("change:status", showStatus);
  model.on("change:limit_seconds", redraw);
  model.on("change:limit_note", redraw);
  showStatus();
  draw();

  return () => {
    // The view is removed (the cell cleared, the notebook closed): the microphone goes with it.
    for (const open of [capture, finishing]) if (open) open.release();
    capture = finishing = null;
    forget();
    if (frame) cancelAnimationFrame(frame);
    model.off("change:status", showStatus);
    model.off("change:limit_seconds", redraw);
    model.off("change:limit_note", redraw);
  };
}

export default { render };
