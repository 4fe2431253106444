// PianoRoll: notes on a canvas (or kernel frames) with a playhead moved at display rate.
const GUTTER = 34;

export default {
  render({ model, el }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-roll");
    const canvas = h("canvas", "mos-canvas");
    const legend = h("div", "mos-legend");
    const hint = h("div", "mos-hint", "click: seek · wheel: scroll · ctrl+wheel: zoom");
    card.append(canvas, legend, hint);
    el.appendChild(card);
    sc.add(() => card.remove());
    errorToasts(sc, model, card);
    const g = canvas.getContext("2d");
    let notes = notesOf(model);
    let W = 600, H = model.get("height"), dpr = 1;
    let manualT0 = null, manualUntil = 0;
    let frameImg = null, inflight = false, lastView = "";

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
    async function loadFrame() {
      const v = model.get("frame");
      inflight = false;
      if (!v || !v.byteLength) { frameImg = null; return; }
      const blob = new Blob([v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)]);
      const img = await createImageBitmap(blob);
      if (frameImg && frameImg.img) frameImg.img.close();
      frameImg = { img, win: model.get("frame_window") };
    }
    sc.add(() => { if (frameImg && frameImg.img) frameImg.img.close(); });
    const handlers = {
      "change:notes": () => { notes = notesOf(model); },
      "change:tracks": legendUpdate,
      "change:height": resize,
      "change:clock": () => clock.update(),
      "change:frame": () => { loadFrame(); },
    };
    for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);
    sc.add(() => { for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn); });
    legendUpdate();
    if (model.get("mode") === "frames") loadFrame();

    const span = () => model.get("window");
    const viewStart = (pos) => (manualT0 !== null && performance.now() < manualUntil) ? manualT0
      : (manualT0 = null, pos - span() * 0.25);
    const xOf = (t, t0) => GUTTER + (t - t0) / span() * (W - GUTTER);

    sc.on(canvas, "click", (e) => {
      const r = canvas.getBoundingClientRect();
      const t0 = viewStart(clock.now());
      const t = t0 + (e.clientX - r.left - GUTTER) / (W - GUTTER) * span();
      if (t >= 0) model.send({ type: "seek", seconds: t });
    });
    sc.on(canvas, "wheel", (e) => {
      e.preventDefault();
      if (e.ctrlKey) {
        const w = Math.min(600, Math.max(1, span() * Math.pow(1.0015, e.deltaY)));
        model.set("window", w); model.save_changes();
      } else {
        const t0 = viewStart(clock.now());
        manualT0 = t0 + (e.deltaX + e.deltaY) / (W - GUTTER) * span();
        manualUntil = performance.now() + 4000;
      }
    }, { passive: false });

    function draw() {
      const pos = clock.now();
      const t0 = viewStart(pos), t1 = t0 + span();
      const lo = Math.min(notes.lo, 60) - 2, hi = Math.max(notes.hi, lo + 24) + 2;
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
      for (let s = Math.max(0, Math.ceil(t0 / step) * step); s < t1; s += step) {
        const x = xOf(s, t0);
        g.fillStyle = "#262833"; g.fillRect(x, 0, 1, H);
        g.fillStyle = "#6c7086"; g.fillText(fmtTime(s).replace(/\.\d$/, ""), x + 3, 11);
      }
      const colors = model.get("colors") || ["#4fc3f7"];
      if (model.get("mode") === "frames") {
        if (frameImg) {
          const [a, b] = frameImg.win;
          g.drawImage(frameImg.img, xOf(a, t0), 0, xOf(b, t0) - xOf(a, t0), H);
        }
        const key = `${Math.floor(t0 / span())}:${W}x${H}`;
        if (!inflight && key !== lastView && (!frameImg || t0 < frameImg.win[0] || t1 > frameImg.win[1])) {
          inflight = true; lastView = key;
          model.send({ type: "view", t0: Math.floor(t0 / span()) * span(), t1: (Math.floor(t0 / span()) + 2) * span(), width: Math.round(2 * (W - GUTTER)), height: Math.round(H) });
        }
      } else {
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
