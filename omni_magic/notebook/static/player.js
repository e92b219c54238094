// The live speech player: PCM16 chunks from the kernel, scheduled back to back with Web Audio.
//
// The playback lives with the model (initialize), not with a view (render): a view can be
// re-rendered or removed while the speech goes on. Buffers are placed on whole sample frames of
// a context running at the speech's own rate, so consecutive chunks join with no gap and no
// overlap: the waveform is continuous across the join, and there is nothing to click.
//
// A probe for tests reads each view's data attributes: scheduled (buffers), scheduledSeconds,
// firstScheduledAt (performance.now() when the first buffer was scheduled), firstLead (seconds
// from then to its start), gaps (underruns: a chunk that came after the previous had ended), state.

const LEAD = 0.08; // seconds between a first (or late) chunk's arrival and its start
const players = new Map(); // player key -> Player, shared by initialize and render

class Player {
  constructor(model) {
    this.model = model;
    this.rate = model.get("sample_rate");
    this.chunks = []; // Int16Array per chunk, kept for replay and download
    this.ctx = null;
    this.gain = null;
    this.nextFrame = 0; // where the next buffer starts, in sample frames of the context
    this.sources = new Set();
    this.scheduled = 0;
    this.scheduledFrames = 0;
    this.firstScheduledAt = null;
    this.firstLead = null; // seconds from the first chunk's arrival to its start
    this.gaps = 0; // buffers that could not start where the previous one ended (underruns)
    this.views = new Set();
  }

  context() {
    if (this.ctx === null) {
      this.rate = this.model.get("sample_rate"); // the kernel sets it before the first chunk
      this.ctx = new AudioContext({ sampleRate: this.rate });
      this.gain = this.ctx.createGain();
      this.gain.gain.value = this.model.get("muted") ? 0 : 1;
      this.gain.connect(this.ctx.destination);
    }
    return this.ctx;
  }

  add(samples) {
    this.chunks.push(samples);
    this.schedule(samples);
  }

  schedule(samples) {
    if (samples.length === 0) return;
    const ctx = this.context();
    const buffer = ctx.createBuffer(1, samples.length, this.rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.gain);
    const now = Math.ceil(ctx.currentTime * this.rate);
    if (this.nextFrame <= now) {
      // The first chunk, or one that came after the previous ran out: start just ahead.
      if (this.scheduled > 0) this.gaps += 1;
      this.nextFrame = now + Math.round(LEAD * this.rate);
    }
    if (this.firstLead === null) this.firstLead = this.nextFrame / this.rate - ctx.currentTime;
    source.start(this.nextFrame / this.rate);
    this.nextFrame += samples.length;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      this.checkEnded();
    };
    this.scheduled += 1;
    this.scheduledFrames += samples.length;
    if (this.firstScheduledAt === null) this.firstScheduledAt = performance.now();
    this.render();
  }

  checkEnded() {
    if (this.sources.size === 0 && this.model.get("done") && !this.model.get("ended")) {
      this.model.set("ended", true);
      this.model.save_changes();
    }
    this.render();
  }

  get paused() {
    return this.ctx !== null && this.ctx.state === "suspended";
  }

  toggle() {
    const ctx = this.context();
    (ctx.state === "running" ? ctx.suspend() : ctx.resume()).then(() => this.render());
  }

  mute() {
    const muted = !this.model.get("muted");
    this.model.set("muted", muted);
    this.model.save_changes();
    if (this.gain !== null) {
      // A short ramp rather than a jump: a jump in level is itself a click.
      this.gain.gain.setTargetAtTime(muted ? 0 : 1, this.ctx.currentTime, 0.01);
    }
    this.render();
  }

  replay() {
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
    }
    this.sources.clear();
    this.nextFrame = 0;
    const all = new Int16Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.schedule(all);
    if (this.paused) this.toggle();
  }

  wav() {
    const frames = this.chunks.reduce((n, c) => n + c.length, 0);
    const header = new DataView(new ArrayBuffer(44));
    const text = (offset, s) => [...s].forEach((ch, i) => header.setUint8(offset + i, ch.charCodeAt(0)));
    text(0, "RIFF");
    header.setUint32(4, 36 + frames * 2, true);
    text(8, "WAVE");
    text(12, "fmt ");
    header.setUint32(16, 16, true);
    header.setUint16(20, 1, true); // PCM
    header.setUint16(22, 1, true); // mono
    header.setUint32(24, this.rate, true);
    header.setUint32(28, this.rate * 2, true);
    header.setUint16(32, 2, true);
    header.setUint16(34, 16, true);
    text(36, "data");
    header.setUint32(40, frames * 2, true);
    return new Blob([header, ...this.chunks], { type: "audio/wav" });
  }

  download() {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(this.wav());
    link.download = this.model.get("filename");
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  render() {
    for (const view of this.views) view();
  }

  close() {
    for (const source of this.sources) source.onended = null;
    if (this.ctx !== null) this.ctx.close();
  }
}

function initialize({ model }) {
  const key = model.get("key");
  const player = new Player(model);
  players.set(key, player);
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type !== "pcm") return;
    const view = buffers[0];
    // Copy out of the message's buffer: Int16Array needs an even, aligned offset.
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
    player.add(new Int16Array(bytes.buffer));
  });
  model.on("change:done", () => player.checkEnded());
  return () => {
    player.close();
    players.delete(key);
  };
}

// Icons as inline SVG paths (24×24): emoji and symbol glyphs are missing from many fonts.
const ICONS = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zm8 0h4v14h-4z",
  sound: "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4z",
  muted: "M3 9v6h4l5 5V4L7 9H3zm13.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4z",
  replay: "M12 5V1L7 6l5 5V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z",
  download: "M5 20h14v-2H5v2zM19 9h-4V3H9v6H5l7 7 7-7z",
};

function icon(name) {
  return `<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="${ICONS[name]}"/></svg>`;
}

function button(name, title, onClick) {
  const b = document.createElement("button");
  b.className = "omni-player-button";
  b.innerHTML = icon(name);
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick);
  return b;
}

function setIcon(b, name, title) {
  b.innerHTML = icon(name);
  b.title = title;
  b.setAttribute("aria-label", title);
}

function render({ model, el }) {
  const player = players.get(model.get("key"));
  if (player === undefined) return;
  el.classList.add("omni-player");
  const play = button("pause", "Pause", () => player.toggle());
  const mute = button("sound", "Mute", () => player.mute());
  const again = button("replay", "Play again from the start", () => player.replay());
  const save = button("download", "Download as WAV", () => player.download());
  const label = document.createElement("span");
  label.className = "omni-player-label";
  el.append(play, mute, again, save, label);

  const draw = () => {
    const seconds = player.scheduledFrames / player.rate;
    const state = player.ctx === null ? "waiting" : player.paused ? "paused"
      : player.sources.size ? "playing" : model.get("done") ? "ended" : "buffering";
    if (play.dataset.icon !== state) {  // redraw the icons only when they change
      play.dataset.icon = state;
      setIcon(play, state === "paused" ? "play" : "pause", state === "paused" ? "Play" : "Pause");
    }
    const muted = model.get("muted");
    if (mute.dataset.icon !== String(muted)) {
      mute.dataset.icon = String(muted);
      setIcon(mute, muted ? "muted" : "sound", muted ? "Unmute" : "Mute");
    }
    label.textContent = `Live speech · ${seconds.toFixed(1)} s${model.get("done") ? "" : " so far"} · ${state}`;
    el.dataset.scheduled = String(player.scheduled);
    el.dataset.scheduledSeconds = seconds.toFixed(4);
    el.dataset.firstScheduledAt = player.firstScheduledAt === null ? "" : String(player.firstScheduledAt);
    el.dataset.state = state;
    el.dataset.firstLead = player.firstLead === null ? "" : player.firstLead.toFixed(4);
    el.dataset.gaps = String(player.gaps);
  };
  player.views.add(draw);
  model.on("change:done", draw);
  model.on("change:muted", draw);
  draw();  // a context an autoplay policy holds shows as paused: the play button starts it
  return () => player.views.delete(draw);
}

export default { initialize, render };
