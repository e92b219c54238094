// The live speech: the engine of player.js, plus the handover to the static audio element
// and the stop.
//
// Buffers are placed on whole sample frames of a context running at the speech's own rate, so
// consecutive chunks join with no gap and no overlap: the waveform is continuous across the
// join, and there is nothing to click. The engine lives with the model, not a view: the view
// is removed when the stream ends, while the speech plays on until it hands over.

const LEAD = 0.08; // seconds between a first (or late) chunk's arrival and its start
const FADE = 0.03; // seconds of the gain ramp that silences the live speech without a click
const HANDOVER_POLL = 100; // ms between looks for the static audio element
const HANDOVER_GIVE_UP = 10000; // ms after which the live speech just plays on
const READY_WAIT = 3000; // ms to wait for the audio element to be able to play
const DRIFT = 0.3; // seconds the element may start off the live position before it seeks again

export class Speech {
  constructor(model, probe) {
    this.model = model;
    this.probe = probe; // window.__omniLive[key]: {handedOver, stopped}
    this.rate = model.get("sample_rate");
    this.chunks = []; // Int16Array per chunk, kept for replay and download
    this.ctx = null;
    this.gain = null;
    this.nextFrame = 0; // where the next buffer starts, in sample frames of the context
    this.queued = 0; // sample frames of speech queued so far (the next buffer's offset in it)
    this.sources = new Set(); // scheduled and not ended, in the order they play
    this.scheduled = 0;
    this.scheduledFrames = 0;
    this.firstScheduledAt = null;
    this.firstLead = null; // seconds from the first chunk's arrival to its start
    this.gaps = 0; // buffers that could not start where the previous one ended (underruns)
    this.stopped = false;
    this.handing = null; // the handover's poll timer
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
    if (this.chunks.length === 0) quietOthers(this.model.get("key"));
    this.chunks.push(samples);
    if (!this.stopped) this.schedule(samples); // after a stop, kept for the download only
    this.render();
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
    source.startFrame = this.nextFrame;
    source.offset = this.queued; // where in the speech this buffer begins
    this.nextFrame += samples.length;
    this.queued += samples.length;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      this.checkEnded();
    };
    this.scheduled += 1;
    this.scheduledFrames += samples.length;
    if (this.firstScheduledAt === null) this.firstScheduledAt = performance.now();
  }

  /** Seconds of the speech heard so far (a gap between buffers counts as not yet heard). */
  position() {
    const first = this.sources.values().next().value;
    if (first === undefined || this.ctx === null) return this.queued / this.rate;
    const into = Math.max(0, this.ctx.currentTime * this.rate - first.startFrame);
    return (first.offset + Math.min(into, first.buffer.length)) / this.rate;
  }

  /** Seconds of the speech the listener has heard: the position less the output's latency. */
  heard() {
    const latency = this.ctx === null ? 0 : this.ctx.outputLatency || 0;
    return Math.max(0, this.position() - latency);
  }

  get paused() {
    return this.ctx !== null && this.ctx.state === "suspended";
  }

  get state() {
    if (this.stopped) return "stopped";
    if (this.probe.handedOver) return "handed over";
    if (this.ctx === null) return "waiting";
    if (this.paused) return "paused";
    if (this.sources.size) return "playing";
    return this.model.get("done") ? "ended" : "buffering";
  }

  setEnded() {
    if (!this.model.get("ended")) {
      this.model.set("ended", true);
      this.model.save_changes();
    }
    this.render();
  }

  checkEnded() {
    // Played to the end after the stream ended (a handover in progress has nothing left to do).
    if (this.sources.size === 0 && this.model.get("done")) this.setEnded();
    else this.render();
  }

  // The stream ended: no speech, speech already played out, or speech still playing (hand over).
  onDone() {
    if (this.stopped || this.model.get("ended")) return;
    if (this.chunks.length === 0 || this.sources.size === 0) {
      this.setEnded();
      return;
    }
    this.render();
    const key = this.model.get("key");
    const since = performance.now();
    const look = () => {
      this.handing = null;
      if (this.stopped || this.model.get("ended") || this.sources.size === 0) return;
      const audio = document.querySelector(`audio[data-omni-speech="${key.replace(/["\\]/g, "\\$&")}"]`);
      if (audio !== null) this.handover(audio);
      else if (performance.now() - since < HANDOVER_GIVE_UP) this.handing = setTimeout(look, HANDOVER_POLL);
      else this.yieldTo(document.querySelector(`audio[data-omni-speech="${key}"]`));
    };
    look();
  }

  // The handover could not be made (the element came late, or the autoplay policy refused it):
  // the live speech plays on, and the element, if any, silences it the moment it is played.
  yieldTo(audio) {
    if (audio === null || audio === undefined) return;
    audio.addEventListener("play", () => {
      if (this.stopped || this.model.get("ended")) return;
      this.silence(FADE);
      this.probe.handedOver = true;
      this.setEnded();
    }, { once: true });
  }

  async handover(audio) {
    if (audio.readyState < 3) {
      // Seek once the element can play, so the seek lands at once and p is fresh.
      await new Promise((resolve) => {
        audio.addEventListener("canplay", resolve, { once: true });
        setTimeout(resolve, READY_WAIT);
      });
    }
    if (this.stopped || this.model.get("ended") || this.sources.size === 0) return;
    audio.currentTime = this.heard();
    if (this.model.get("muted")) audio.muted = true;
    if (this.paused) {
      // Paused by the user (or never allowed to start): the element takes over, paused too.
      this.silence(0);
      this.probe.handedOver = true;
      this.setEnded();
      return;
    }
    try {
      await audio.play();
    } catch {
      this.yieldTo(audio); // the autoplay policy said no: the live speech plays on
      return;
    }
    if (this.stopped || this.model.get("ended")) {
      audio.pause(); // stopped (or ended) while the element was starting: one voice only
      return;
    }
    // Starting took long (a slow decode): catch up rather than say a phrase twice.
    const heard = this.heard();
    if (Math.abs(audio.currentTime - heard) > DRIFT) audio.currentTime = heard;
    this.silence(FADE);
    this.probe.handedOver = true;
    this.setEnded();
  }

  // Every scheduled buffer stops after a ramp of `seconds` to silence; the chunks stay.
  silence(seconds) {
    if (this.ctx === null) return;
    const t = this.ctx.currentTime;
    const level = this.gain.gain;
    level.cancelScheduledValues(t);
    level.setValueAtTime(level.value, t);
    level.linearRampToValueAtTime(0, t + seconds);
    for (const source of this.sources) {
      source.onended = null;
      source.stop(t + seconds);
    }
    this.sources.clear();
  }

  stop() {
    if (this.handing !== null) clearTimeout(this.handing);
    this.handing = null;
    this.stopped = true;
    this.probe.stopped = true;
    this.silence(0.005); // a few ms: at once to the ear, without the click of a cut
    this.setEnded();
  }

  toggle() {
    const ctx = this.context();
    (ctx.state === "running" ? ctx.suspend() : ctx.resume()).then(() => this.render());
  }

  mute() {
    this.model.set("muted", !this.model.get("muted"));
    this.model.save_changes();
  }

  applyMuted() {
    if (this.gain !== null && !this.stopped) {
      // A short ramp rather than a jump: a jump in level is itself a click.
      this.gain.gain.setTargetAtTime(this.model.get("muted") ? 0 : 1, this.ctx.currentTime, 0.01);
    }
    this.render();
  }

  replay() {
    if (this.stopped) return;
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
    }
    this.sources.clear();
    this.nextFrame = 0;
    this.queued = 0;
    const all = new Int16Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    this.schedule(all);
    if (this.paused) this.toggle();
    this.render();
  }

  wav() {
    return wavBlob(this.chunks, this.rate);
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
    if (this.handing !== null) clearTimeout(this.handing);
    for (const source of this.sources) source.onended = null;
    if (this.ctx !== null) this.ctx.close();
  }
}

/** A WAV file (PCM16 mono at `rate`) of the chunks, as a Blob. */
export function wavBlob(chunks, rate) {
  const frames = chunks.reduce((n, c) => n + c.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((ch, i) => header.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + frames * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, frames * 2, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

// A new answer starts speaking: an earlier answer's audio element that took its speech over
// (and still plays) is paused, so two answers never talk at once.
function quietOthers(key) {
  for (const audio of document.querySelectorAll("audio[data-omni-speech]")) {
    if (audio.dataset.omniSpeech !== key && !audio.paused) audio.pause();
  }
}
