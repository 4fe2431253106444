// TheaterView: the theater's full view, rendered in the kernel one page of music at a time
// (keyboard strip, grid, bar numbers, legend); the playhead and the sounding notes are
// drawn here at display rate from the audio clock, over the page.
// Pages: the kernel's paging (mos_lab.theater.roll.page_window): page k starts at
// k * turn * span - lead * span, so the playhead enters it `lead` of the span in.

export default {
  render({ model, el }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-roll mos-theater");
    const canvas = h("canvas", "mos-canvas");
    card.append(canvas);
    el.appendChild(card);
    sc.add(() => card.remove());
    errorToasts(sc, model, card);
    const g = canvas.getContext("2d");
    let notes = notesOf(model), W = 640, H = 360, dpr = 1, disposed = false, received = 0;
    let pages = [];
    const asked = new Map();

    function resize() {
      dpr = window.devicePixelRatio || 1;
      const avail = Math.max(160, card.clientWidth || 640);
      H = model.get("height");
      W = avail;  // portrait too: pitch runs across the cell's whole width (no 9:16 strip)
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      canvas.style.width = W + "px"; canvas.style.height = H + "px";
    }
    const ro = new ResizeObserver(resize);
    ro.observe(card);
    sc.add(() => ro.disconnect());
    resize();

    const keyOf = (t0, t1, w, hh, rev) => `${t0}|${t1}|${w}x${hh}|${rev}`;
    function dropPages() { for (const p of pages) p.img.close(); pages = []; asked.clear(); }
    sc.add(() => { disposed = true; dropPages(); });
    async function loadFrame() {
      const frame = frameBlob(model);
      if (!frame) return;
      const { info, win } = frame;
      try {
        const img = await createImageBitmap(frame.blob);
        if (disposed || info.rev !== model.get("layer_rev")) { img.close(); return; }
        const key = keyOf(win[0], win[1], info.width, info.height, info.rev);
        pages = pages.filter((p) => { if (p.key === key) p.img.close(); return p.key !== key; });
        pages.push({ img, key, t0: win[0], t1: win[1], ...info });
        while (pages.length > 3) pages.shift().img.close();
        received++;
        card.dataset.frames = String(received);
        card.dataset.renderer = info.renderer || "";
      } finally {
        if (info.seq !== undefined) sendInOrder(model, { type: "frame_ack", seq: info.seq });
      }
    }
    const handlers = {
      "change:notes": () => { notes = notesOf(model); },
      "change:height": resize,
      "change:orientation": () => { resize(); dropPages(); },
      "change:layer_rev": dropPages,
      "change:clock": () => clock.update(),
      "change:frame_info": () => { loadFrame(); },
    };
    for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);
    sc.add(() => { for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn); });
    loadFrame();

    const paging = () => model.get("paging") || { lead: 0.1, turn: 0.8 };
    const pageOf = (k) => {
      const s = model.get("span"), { lead, turn } = paging(), t0 = k * s * turn - lead * s;
      return { t0, t1: t0 + s };
    };
    function ask(k) {
      const p = pageOf(k), w = Math.round(W * dpr), hh = Math.round(H * dpr);
      const key = keyOf(p.t0, p.t1, w, hh, model.get("layer_rev")), now = performance.now();
      if (pages.some((o) => o.key === key)) return;
      if (asked.has(key) && now - asked.get(key) < 3000) return;
      asked.set(key, now);
      while (asked.size > 8) asked.delete(asked.keys().next().value);
      sendInOrder(model, { type: "view", t0: p.t0, t1: p.t1, width: w, height: hh });
    }
    // Page pixels <-> music: time along x (landscape) or up the y axis (portrait).
    function mapping(p) {
      const sx = W / p.width, sy = H / p.height;
      const [X0, Y0, X1, Y1] = [p.plot[0] * sx, p.plot[1] * sy, p.plot[2] * sx, p.plot[3] * sy];
      const f = (t) => (t - p.t0) / (p.t1 - p.t0), q = (n) => (n - p.lo) / (p.hi + 1 - p.lo);
      return p.portrait
        ? { X0, Y0, X1, Y1, a: (t) => Y1 - f(t) * (Y1 - Y0), b: (n) => X0 + q(n) * (X1 - X0),
            time: (x, y) => p.t0 + (Y1 - y) / (Y1 - Y0) * (p.t1 - p.t0) }
        : { X0, Y0, X1, Y1, a: (t) => X0 + f(t) * (X1 - X0), b: (n) => Y1 - q(n) * (Y1 - Y0),
            time: (x) => p.t0 + (x - X0) / (X1 - X0) * (p.t1 - p.t0) };
    }
    let shownPage = null;
    // Click: seek there. Drag: scrub, playing or not (the page moves as the paper would,
    // seeks go to the kernel at most every SCRUB_MS and once more on release).
    scrubber(sc, canvas, clock, model, () => {
      if (!shownPage) return null;
      const m = mapping(shownPage), r = canvas.getBoundingClientRect();
      return (e) => m.time(e.clientX - r.left, e.clientY - r.top);
    });

    function draw() {
      const pos = clock.shown(), s = model.get("span"), rev = model.get("layer_rev");
      const turn = paging().turn, k = Math.floor(pos / (s * turn));
      ask(k);
      if ((clock.k.rate || 0) > 0 && pos > (k + 0.6) * s * turn) ask(k + 1);  // prefetch
      const cur = pageOf(k);
      const p = pages.find((o) => o.rev === rev && o.t0 === cur.t0)
        || pages.find((o) => o.rev === rev && o.t0 <= pos && pos < o.t1);
      shownPage = p || null;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = "#15171c"; g.fillRect(0, 0, W, H);
      card.dataset.pos = pos.toFixed(3);
      if (!p) {
        g.fillStyle = "#6c7086"; g.font = "12px sans-serif"; g.fillText("rendering…", 12, 20);
        card.dataset.drawn = "none";
        return;
      }
      g.drawImage(p.img, 0, 0, W, H);
      const m = mapping(p);
      g.save();
      g.beginPath(); g.rect(m.X0, m.Y0, m.X1 - m.X0, m.Y1 - m.Y0); g.clip();
      g.fillStyle = "rgba(255,255,255,0.45)";
      for (const i of soundingAt(notes, pos)) {
        const r = notes.rows, a0 = m.a(r[4 * i]), a1 = m.a(r[4 * i + 1]);
        const b0 = m.b(r[4 * i + 2]), b1 = m.b(r[4 * i + 2] + 1);
        const [x0, x1, y0, y1] = p.portrait ? [b0, b1, a0, a1] : [a0, a1, b0, b1];
        g.fillRect(Math.min(x0, x1), Math.min(y0, y1), Math.max(2, Math.abs(x1 - x0)), Math.max(2, Math.abs(y1 - y0)));
      }
      const a = m.a(pos);
      g.fillStyle = "rgb(255,80,60)";
      if (p.portrait) g.fillRect(m.X0, a - 1.5, m.X1 - m.X0, 3);
      else g.fillRect(a - 1.5, m.Y0, 3, m.Y1 - m.Y0);
      g.restore();
      card.dataset.drawn = "kernel";
    }
    const vis = observeVisible(sc, card, model);
    frameLoop(sc, draw, () => vis.visible);
    return () => sc.dispose();
  },
};
