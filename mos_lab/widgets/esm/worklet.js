// mos_lab's AudioWorklet: plays PCM blocks streamed from the kernel through a jitter
// buffer and reports the ring index it has played up to (the engine's clock when the
// browser is the output). Blocks: {start, frames, enc "f32"|"s16", data, pos, rate}.
class MosLabPcm extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.ratio = o.ratio || 1;          // source frames per output frame
    this.pre = o.prebuffer || 4096;     // frames queued before (re)starting
    this.every = o.report || 2048;      // report every this many output frames
    this.src = o.sampleRate || sampleRate;
    this.q = []; this.queued = 0; this.idx = 0; this.frac = 0;
    this.started = false; this.under = 0; this.since = 0;
    this.pos = 0; this.rate = 0; this.alive = true;
    this.port.onmessage = (e) => this.onmsg(e.data);
  }
  onmsg(m) {
    if (m.type === "pcm") {
      let data;
      if (m.enc === "s16") {
        const s = new Int16Array(m.data);
        data = new Float32Array(s.length);
        for (let i = 0; i < s.length; i++) data[i] = s[i] / 32768;
      } else data = new Float32Array(m.data);
      this.q.push({ start: m.start, frames: m.frames, off: 0, data, pos: m.pos, rate: m.rate });
      this.queued += m.frames;
    } else if (m.type === "flush") {
      const before = m.before;
      while (this.q.length) {
        const b = this.q[0];
        if (b.start + b.frames <= before) { this.queued -= b.frames - b.off; this.q.shift(); continue; }
        if (b.start + b.off < before) { const d = before - b.start - b.off; b.off += d; this.queued -= d; }
        break;
      }
      if (this.idx < before) this.idx = before;
      this.frac = 0;
    } else if (m.type === "close") {
      this.alive = false;
    }
  }
  advance() {
    const b = this.q[0];
    b.off++; this.queued--; this.idx = b.start + b.off;
    if (b.off >= b.frames) this.q.shift();
  }
  process(inputs, outputs) {
    const out = outputs[0];
    const L = out[0], R = out[1] || out[0], n = L.length;
    if (!this.started && this.queued >= this.pre) this.started = true;
    let i = 0;
    while (this.started && i < n) {
      const b = this.q[0];
      if (!b) { this.started = false; this.under++; break; }
      if (b.start + b.off > this.idx) this.idx = b.start + b.off;  // the kernel skipped
      const f = b.off, d = b.data, nf = f + 1 < b.frames ? f + 1 : f, a = this.frac;
      L[i] = d[2 * f] * (1 - a) + d[2 * nf] * a;
      R[i] = d[2 * f + 1] * (1 - a) + d[2 * nf + 1] * a;
      this.pos = b.pos + f * b.rate; this.rate = b.rate * this.src;
      i++;
      this.frac += this.ratio;
      while (this.frac >= 1 && this.q.length) { this.frac -= 1; this.advance(); }
    }
    for (; i < n; i++) { L[i] = 0; if (R !== L) R[i] = 0; }
    this.since += n;
    if (this.since >= this.every) {
      this.since = 0;
      const playing = this.started && this.q.length > 0;
      // time: the audio clock (context seconds) when this quantum's last frame is output
      this.port.postMessage({ played: this.idx, pos: this.pos, rate: playing ? this.rate : 0,
                              under: this.under, running: playing, queued: this.queued,
                              time: currentTime + n / sampleRate });
    }
    return this.alive;
  }
}
registerProcessor("mos-lab-pcm", MosLabPcm);
