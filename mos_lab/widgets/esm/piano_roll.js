// PianoRoll: notes on a canvas, or a kernel-rendered strip (theater / frames mode), with a
// playhead and sounding-note highlights drawn here at display rate from the audio clock.
const GUTTER = 34;
// A slow link: three strips in a row whose round trip, less the kernel's render time, is
// above SLOW_MS (the first two, which may wait for the renderer to open, do not count).
// The page then draws on its canvas for RETRY_MS and tries strips again.
const SLOW_MS = 1500, RETRY_MS = 30000;

export default {
  render({ model, el }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-roll");
    const canvas = h("canvas", "mos-canvas");
    const legend = h("div", "mos-legend");
    const hint = h("div", "mos-hint", "click: seek · drag: scrub · wheel: scroll · ctrl+wheel: zoom");
    card.append(canvas, legend, hint);
    el.appendChild(card);
    sc.add(() => card.remove());
    errorToasts(sc, model, card);
    const g = canvas.getContext("2d");
    let notes = notesOf(model);
    let W = 600, H = model.get("height"), dpr = 1;
    let manualT0 = null, manualUntil = 0, disposed = false;
    // kernel strips: decoded images by window key; what was asked and when; link speed
    let strips = [];
    const asked = new Map();
    let slow = 0, judged = 0, canvasUntil = 0;

    function resize() {
      dpr = window.devicePixelRatio || 1;
      W = Math.max(200, card.clientWidth || 600);
      H = model.get("height");
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      canvas.style.width = W + "px"; canvas.style.height = H + "px";
    }
    const ro = new ResizeObserver(resize);
    ro.observe(card);
    sc.add(() => ro.disconnect());
    resize();

    function legendUpdate() {
      legend.innerHTML = "";
      const colors = model.get("colors") || [];
      (model.get("tracks") || []).forEach((name, i) => {
        const chip = h("span", "mos-legend-item", name);
        chip.style.setProperty("--c", colors[i % colors.length]);
        legend.appendChild(chip);
      });
    }
    const keyOf = (t0, t1, w, hh) => `${t0}|${t1}|${w}x${hh}`;
    function dropStrips() { for (const s of strips) s.img.close(); strips = []; asked.clear(); }
    sc.add(() => { disposed = true; dropStrips(); });
    async function loadFrame() {
      const frame = frameBlob(model);
      if (!frame) return;
      const { info, win } = frame;
      try {
        const img = await createImageBitmap(frame.blob);
        if (disposed) { img.close(); return; }
        const key = keyOf(win[0], win[1], info.width, info.height);
        const at = asked.get(key);
        if (at !== undefined && ++judged > 2) {
          slow = performance.now() - at - (info.ms || 0) > SLOW_MS ? slow + 1 : 0;
          if (slow >= 3) { canvasUntil = performance.now() + RETRY_MS; slow = 0; }
        }
        strips = strips.filter((s) => { if (s.key === key) s.img.close(); return s.key !== key; });
        strips.push({ img, key, t0: win[0], t1: win[1], lo: info.lo, hi: info.hi, n: info.n });
        while (strips.length > 3) strips.shift().img.close();
      } finally {
        if (info.seq !== undefined) sendInOrder(model, { type: "frame_ack", seq: info.seq });
      }
    }
    const handlers = {
      "change:notes": () => { notes = notesOf(model); dropStrips(); },
      "change:geometry": dropStrips,
      "change:tracks": legendUpdate,
      "change:colors": legendUpdate,
      "change:height": resize,
      "change:clock": () => clock.update(),
      "change:frame_info": () => { loadFrame(); },
      "change:mode": () => { dropStrips(); canvasUntil = 0; slow = 0; },
    };
    for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);
    sc.add(() => { for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn); });
    legendUpdate();
    if (model.get("mode") !== "canvas") loadFrame();

    const span = () => model.get("window");
    // rows and the playhead's place come from the kernel (mos_lab.theater.roll)
    const geo = () => model.get("geometry") || { lo: 48, hi: 71, lead: 0.25 };
    const viewStart = (pos) => (manualT0 !== null && performance.now() < manualUntil) ? manualT0
      : (manualT0 = null, pos - span() * geo().lead);
    const xOf = (t, t0) => GUTTER + (t - t0) / span() * (W - GUTTER);

    // click: seek; drag: scrub (the view as drawn when the drag starts maps the pointer)
    scrubber(sc, canvas, clock, model, () => {
      const t0 = viewStart(clock.shown()), s = span(), r = canvas.getBoundingClientRect();
      manualT0 = null;
      return (e) => t0 + (e.clientX - r.left - GUTTER) / (W - GUTTER) * s;
    });
    sc.on(canvas, "wheel", (e) => {
      e.preventDefault();
      if (e.ctrlKey) {
        const w = Math.min(600, Math.max(1, span() * Math.pow(1.0015, e.deltaY)));
        model.set("window", w); model.save_changes();
      } else {
        const t0 = viewStart(clock.shown());
        manualT0 = t0 + (e.deltaX + e.deltaY) / (W - GUTTER) * span();
        manualUntil = performance.now() + 4000;
      }
    }, { passive: false });

    // Ask for strip k (windows k..k+2) unless we have it or asked for it recently.
    function askStrip(k) {
      const r = { t0: k * span(), t1: (k + 2) * span(), width: Math.round(2 * (W - GUTTER)), height: Math.round(H) };
      const key = keyOf(r.t0, r.t1, r.width, r.height), now = performance.now();
      if (strips.some((s) => s.key === key)) return;
      if (asked.has(key) && now - asked.get(key) < 3000) return;
      asked.set(key, now);
      while (asked.size > 8) asked.delete(asked.keys().next().value);
      sendInOrder(model, { type: "view", ...r });
    }

    function drawNotes(t0, t1, pos, yOf, rh, colors) {
      const { rows: r, n, maxDur } = notes;
      for (let i = firstAtOrAfter(r, n, t0 - maxDur); i < n && r[4 * i] < t1; i++) {
        const s = r[4 * i], e = r[4 * i + 1];
        if (e < t0) continue;
        const x = xOf(s, t0), w = Math.max(2, xOf(e, t0) - x - 1), y = yOf(r[4 * i + 2]);
        const on = s <= pos && pos < e;
        g.fillStyle = colors[r[4 * i + 3] % colors.length];
        g.globalAlpha = on ? 1 : 0.78;
        if (on) { g.shadowColor = g.fillStyle; g.shadowBlur = 10; }
        g.beginPath(); g.roundRect(x, y + 0.5, w, Math.max(2, rh - 1), Math.min(3, rh / 2)); g.fill();
        g.shadowBlur = 0; g.globalAlpha = 1;
        if (on) { g.fillStyle = "rgba(255,255,255,0.35)"; g.fillRect(x, y + 0.5, w, Math.max(1, rh * 0.3)); }
      }
    }

    function draw() {
      const pos = clock.shown();
      const t0 = viewStart(pos), t1 = t0 + span();
      const mode = model.get("mode");
      const { lo, hi } = geo();
      const rows = hi - lo + 1, rh = H / rows;
      const yOf = (p) => H - (p - lo + 1) * rh;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = "#1e1f26"; g.fillRect(0, 0, W, H);
      for (let p = lo; p <= hi; p++) {
        const pc = p % 12;
        if (pc === 1 || pc === 3 || pc === 6 || pc === 8 || pc === 10) { g.fillStyle = "#191a20"; g.fillRect(GUTTER, yOf(p), W, rh); }
        if (pc === 0) { g.fillStyle = "#2c2e39"; g.fillRect(GUTTER, yOf(p) + rh - 1, W, 1); }
      }
      if (t0 < 0) { g.fillStyle = "#17181d"; g.fillRect(GUTTER, 0, xOf(0, t0) - GUTTER, H); }
      const step = span() > 60 ? 10 : span() > 20 ? 5 : 1;
      g.font = "10px sans-serif";
      const marks = [];
      for (let s = Math.max(0, Math.ceil(t0 / step) * step); s < t1; s += step) marks.push(s);
      for (const s of marks) { g.fillStyle = "#262833"; g.fillRect(xOf(s, t0), 0, 1, H); }
      const colors = model.get("colors") || ["#4fc3f7"];
      const kernel = mode === "frames" || (mode === "theater" && performance.now() >= canvasUntil);
      let shown = false;
      if (kernel) {
        const k = Math.floor(t0 / span());
        askStrip(k);
        if ((clock.k.rate || 0) > 0 && t0 - k * span() > 0.5 * span()) askStrip(k + 1);  // prefetch
        const fits = (s) => mode === "frames" || (s.lo === lo && s.hi === hi && s.n === notes.n);
        const s = strips.find((o) => o.t0 <= t0 && o.t1 >= t1 && fits(o))
          || (mode === "frames" ? strips[strips.length - 1] : undefined);
        if (s) {
          g.drawImage(s.img, xOf(s.t0, t0), 0, xOf(s.t1, t0) - xOf(s.t0, t0), H);
          shown = true;
          for (const i of soundingAt(notes, pos)) {  // highlights: cheap, here, per frame
            const r = notes.rows, x = xOf(r[4 * i], t0), x1 = xOf(r[4 * i + 1], t0);
            g.fillStyle = "rgba(255,255,255,0.45)";
            g.fillRect(x, yOf(r[4 * i + 2]), Math.max(2, x1 - x), rh);
          }
        }
      }
      if (!shown && mode !== "frames") drawNotes(t0, t1, pos, yOf, rh, colors);
      card.dataset.drawn = shown ? "kernel" : "canvas";
      g.fillStyle = "#6c7086";  // time labels over notes and strips
      for (const s of marks) g.fillText(fmtTime(s).replace(/\.\d$/, ""), xOf(s, t0) + 3, 11);
      g.fillStyle = "#16171c"; g.fillRect(0, 0, GUTTER, H);
      g.font = "10px sans-serif";
      for (let p = lo; p <= hi; p++) {
        if (p % 12 === 0 && rh * 12 > 24) { g.fillStyle = "#8b8fa3"; g.fillText(`C${p / 12 - 1}`, 5, yOf(p) + rh - 1); }
      }
      const px = xOf(pos, t0);
      g.fillStyle = "#ff5c8a"; g.fillRect(px - 1, 0, 2, H);
      g.beginPath(); g.moveTo(px - 6, 0); g.lineTo(px + 6, 0); g.lineTo(px, 8); g.fill();
      card.dataset.pos = pos.toFixed(3);
    }
    const vis = observeVisible(sc, card, model);
    frameLoop(sc, draw, () => vis.visible);
    return () => sc.dispose();
  },
};
