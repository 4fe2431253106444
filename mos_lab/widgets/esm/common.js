// mos_lab widgets: the shared prelude, joined in front of each widget's module by the
// kernel (no bundler). Page-wide state lives on globalThis.__mosLab so that separate
// widget modules share the audio clock, and so tests can count what is alive.
const MOS = (globalThis.__mosLab ??= {
  audio: {},   // session id -> {pos, rate, t, running}: the audio host's clock
  stats: {},   // session id -> {blocks, frames, played, under}: for tests and the doctor
  live: { views: 0, frames: 0, contexts: 0, observers: 0 },
});

// Page -> kernel messages carry `order: [view, n]`: the kernel may run a burst of comm
// messages out of order (ipykernel 7), and its InOrder puts them back in this order.
const ORDERS = new WeakMap();
function sendInOrder(model, msg) {
  let o = ORDERS.get(model);
  if (!o) { o = { id: Math.random().toString(36).slice(2, 12), n: 0 }; ORDERS.set(model, o); }
  model.send({ ...msg, order: [o.id, o.n++] });
}

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Disposers for one view: everything a render makes is released by its cleanup.
function scope() {
  const fns = [];
  MOS.live.views++;
  return {
    add(fn) { fns.push(fn); return fn; },
    on(target, type, fn, opts) {
      target.addEventListener(type, fn, opts);
      fns.push(() => target.removeEventListener(type, fn, opts));
    },
    dispose() {
      while (fns.length) { try { fns.pop()(); } catch (e) { console.warn("mos_lab cleanup", e); } }
      MOS.live.views--;
    },
  };
}

// A requestAnimationFrame loop that draws only while `active()`; released by the scope.
function frameLoop(sc, draw, active) {
  let id = 0, alive = true;
  MOS.live.frames++;
  const tick = () => {
    if (!alive) return;
    if (!active || active()) { try { draw(); } catch (e) { console.error("mos_lab draw", e); } }
    id = requestAnimationFrame(tick);
  };
  id = requestAnimationFrame(tick);
  sc.add(() => { alive = false; cancelAnimationFrame(id); MOS.live.frames--; });
}

// IntersectionObserver -> the model's `visible` trait (the kernel sends data only to
// visible widgets) and a local flag (draw only what is on screen).
function observeVisible(sc, el, model) {
  const state = { visible: false };
  const io = new IntersectionObserver((entries) => {
    const v = entries.some((e) => e.isIntersecting);
    state.visible = v;
    if (model.get("visible") !== v) { model.set("visible", v); model.save_changes(); }
  });
  io.observe(el);
  MOS.live.observers++;
  sc.add(() => { io.disconnect(); MOS.live.observers--; });
  return state;
}

// The kernel's transport state, received on change only; the position between changes
// is extrapolated here, or read from the audio host when the browser plays the audio.
function kernelClock(model) {
  const c = { k: model.get("clock") || {}, t: performance.now(), hold: null };
  c.update = () => { c.k = model.get("clock") || {}; c.t = performance.now(); c.last = -1; };
  // What a view draws: the scrubbed time while the user drags (and briefly after, until
  // the kernel's seek has reached the audio), else the clock.
  c.shown = () => {
    const h = c.hold;
    if (h && (h.dragging || performance.now() < h.until)) return h.pos;
    c.hold = null;
    return c.now();
  };
  // The heard position: while this page hosts the audio, the audio host's played position,
  // extrapolated from when the worklet played it (its audio-clock time put on the page's
  // clock, so a report a busy page receives late is not taken as new), and never the kernel's
  // extrapolation, which runs on from the play click ahead of audio that starts late or
  // stalls. Only as far past the last report as the audio then queued in the worklet
  // (it plays on at least that long; +20 ms): audio that stalls holds there. While
  // playing it never steps back a little (a stall after an overshoot holds, no flicker);
  // a jump (seek, loop, a new kernel clock) moves it anywhere. With the worklet's buffer
  // empty while the engine plays, it holds: at what was last heard, or where playback
  // will start.
  c.last = -1;
  c.now = () => {
    const k = c.k, sid = model.get("session_id"), a = MOS.audio[sid];
    const t = performance.now();
    const host = k.engine && k.output === "browser" && a && !a.gone;
    let pos;
    if (host && a.running) {
      const ahead = Math.min(Math.max(t - a.t, 0) / 1000, (a.buffered || 0) + 0.02);
      pos = a.pos + a.rate * ahead;
      if (k.state === "playing" && pos < c.last && c.last - pos < 0.15) pos = c.last;
    } else if (host && k.state === "playing") {
      pos = (a.ranAt || 0) > c.t ? a.pos : (k.pos || 0);
      if (pos < c.last && c.last - pos < 0.15) pos = c.last;
    } else {
      pos = (k.pos || 0) + (k.rate || 0) * (t - c.t) / 1000;
    }
    c.last = pos;
    if (k.loop && (k.rate || 0) > 0 && pos >= k.loop[1] && k.loop[1] > k.loop[0]) {
      pos = k.loop[0] + ((pos - k.loop[0]) % (k.loop[1] - k.loop[0]));
    }
    return Math.max(0, k.duration ? Math.min(pos, k.duration) : pos);
  };
  return c;
}

function fmtTime(s) {
  s = Math.max(0, s || 0);
  const m = Math.floor(s / 60), r = s - 60 * m;
  return `${m}:${r < 10 ? "0" : ""}${r.toFixed(1)}`;
}

// Error replies from the kernel (a refused message) shown briefly in the widget.
function errorToasts(sc, model, el) {
  const box = h("div", "mos-toast");
  el.appendChild(box);
  let timer = 0;
  const onMsg = (msg) => {
    if (!msg || msg.type !== "error") return;
    box.textContent = msg.message;
    box.classList.add("mos-show");
    clearTimeout(timer);
    timer = setTimeout(() => box.classList.remove("mos-show"), 4000);
  };
  model.on("msg:custom", onMsg);
  sc.add(() => { model.off("msg:custom", onMsg); clearTimeout(timer); box.remove(); });
}

// Notes packed by the kernel: float32 rows [start, end, pitch, track], sorted by start.
function notesOf(model) {
  const v = model.get("notes");
  if (!v || !v.byteLength) return { rows: new Float32Array(0), n: 0, maxDur: 0 };
  const rows = new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const n = rows.length / 4;
  let maxDur = 0;
  for (let i = 0; i < n; i++) maxDur = Math.max(maxDur, rows[4 * i + 1] - rows[4 * i]);
  return { rows, n, maxDur };
}

// First note index whose start is >= t (binary search).
function firstAtOrAfter(rows, n, t) {
  let a = 0, b = n;
  while (a < b) { const m = (a + b) >> 1; if (rows[4 * m] < t) a = m + 1; else b = m; }
  return a;
}

// Indices of the notes sounding at time t.
function soundingAt(notes, t) {
  const out = [];
  const { rows, n, maxDur } = notes;
  for (let i = firstAtOrAfter(rows, n, t - maxDur); i < n && rows[4 * i] <= t; i++) {
    if (rows[4 * i + 1] > t) out.push(i);
  }
  return out;
}

// The kernel's latest frame (encoded image bytes), its info and the time window it shows;
// null when there is none yet. Shared by the frame-mode PianoRoll and the TheaterView.
function frameBlob(model) {
  const v = model.get("frame"), info = model.get("frame_info") || {};
  const win = model.get("frame_window") || [];
  if (!v || !v.byteLength || win.length < 2) return null;
  return { blob: new Blob([v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)]), info, win };
}

// Click to seek, drag to scrub (playing or not) on a view of the music. `freeze()` returns
// the view's pointer -> seconds mapping as drawn now (or null when nothing is drawn); it
// is kept for the whole drag, so the time grabbed stays under the pointer as the music
// moves with the hand. Seeks go to the kernel at most every SCRUB_MS, and on release.
const SCRUB_MS = 80;
function scrubber(sc, el, clock, model, freeze) {
  let d = null;
  const seek = (t) => { d.sent = performance.now(); sendInOrder(model, { type: "seek", seconds: t }); };
  sc.on(el, "pointerdown", (e) => {
    if (e.button !== 0) return;
    const timeAt = freeze();
    if (!timeAt) return;
    d = { timeAt, x: e.clientX, y: e.clientY, t: timeAt(e), pos: clock.shown(), moved: false, sent: 0 };
    try { el.setPointerCapture(e.pointerId); } catch (err) { /* synthetic event */ }
  });
  sc.on(el, "pointermove", (e) => {
    if (!d) return;
    if (!d.moved && Math.hypot(e.clientX - d.x, e.clientY - d.y) < 4) return;
    d.moved = true;
    const dur = clock.k.duration || Infinity;
    const pos = Math.min(dur, Math.max(0, d.pos - (d.timeAt(e) - d.t)));
    clock.hold = { pos, dragging: true, until: 0 };
    el.dataset.scrub = pos.toFixed(3);
    if (performance.now() - d.sent >= SCRUB_MS) seek(pos);
  });
  const end = (e, cancel) => {
    if (!d) return;
    if (!d.moved) { if (!cancel && d.t >= 0) seek(d.t); }
    else {
      const pos = clock.hold ? clock.hold.pos : d.pos;
      seek(pos);
      clock.hold = { pos, dragging: false, until: performance.now() + 400 };
    }
    d = null;
  };
  sc.on(el, "pointerup", (e) => end(e, false));
  sc.on(el, "pointercancel", (e) => end(e, true));
}
