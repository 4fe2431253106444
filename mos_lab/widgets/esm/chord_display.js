// ChordDisplay: the harmony lane. Key bands and Roman numerals laid on the piano roll's
// time axis (same gutter, window and lead), the label under the playhead lit and read out
// above it (numeral, symbol, key, cadence). The playhead is the roll's clock
// (kernelClock(model).shown(): the audio host's heard position), chosen at display rate;
// clicking a label seeks to its onset, clicking elsewhere on the lane seeks to that time.
// Live chords (keyboard, MIDI) show in the read-out when not playing.
const GUTTER = 34;  // as the piano roll, so the lane's times line up with the roll's
const LOG = 4096;   // label changes kept for tests (MOS.lanes[session id])

export default {
  render({ model, el }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-chords");
    const head = h("div", "mos-chord-head");
    const rn = h("span", "mos-chord-roman", "–");
    const sym = h("span", "mos-chord-symbol", "");
    const key = h("span", "mos-chord-key", "");
    const cad = h("span", "mos-chord-cadence", "");
    const status = h("span", "mos-chord-status", "");
    head.append(h("span", "mos-label", "harmony"), rn, sym, key, cad, status);
    const lane = h("div", "mos-lane");
    const bandBox = h("div", "mos-lane-bands"), labelBox = h("div", "mos-lane-labels");
    const playhead = h("div", "mos-lane-playhead");
    lane.append(bandBox, labelBox, h("div", "mos-lane-gutter"), playhead);
    lane.title = "click a numeral: play from there";
    card.append(head, lane);
    el.appendChild(card);
    sc.add(() => card.remove());
    errorToasts(sc, model, card);

    let rows = model.get("segments") || [], bands = model.get("bands") || [];
    let W = 600, liveAt = 0;
    const shownEls = new Map();  // segment index -> label element
    const bandEls = new Map();
    const clear = () => {
      for (const e of shownEls.values()) e.remove();
      for (const e of bandEls.values()) e.remove();
      shownEls.clear(); bandEls.clear(); cur = -2;
    };
    sc.add(clear);
    const handlers = {
      "change:segments": () => { rows = model.get("segments") || []; clear(); },
      "change:bands": () => { bands = model.get("bands") || []; clear(); },
      "change:clock": () => clock.update(),
      "change:live": () => { liveAt = performance.now(); cur = -2; },
      "change:status": () => { status.textContent = model.get("status") || ""; },
    };
    for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);
    sc.add(() => { for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn); });
    status.textContent = model.get("status") || "";
    const ro = new ResizeObserver(() => { W = Math.max(200, lane.clientWidth || 600); });
    ro.observe(lane);
    sc.add(() => ro.disconnect());

    const span = () => model.get("window") || 12;
    const t0Of = (pos) => pos - span() * (model.get("lead") ?? 0.25);
    const xOf = (t, t0) => GUTTER + (t - t0) / span() * (W - GUTTER);
    // last row whose onset is <= t (binary search), -1 when before the first
    const before = (list, t) => {
      let a = 0, b = list.length;
      while (a < b) { const m = (a + b) >> 1; if (list[m][0] <= t) a = m + 1; else b = m; }
      return a - 1;
    };
    const find = (t) => { const i = before(rows, t); return i >= 0 && rows[i][1] > t ? i : -1; };

    // click: a label seeks to its onset; the lane elsewhere to the time under the pointer
    sc.on(lane, "pointerdown", (e) => {
      if (e.button !== 0) return;
      const label = e.target.closest && e.target.closest(".mos-lane-label");
      let t;
      if (label && rows[+label.dataset.i]) t = rows[+label.dataset.i][0];
      else {
        const r = lane.getBoundingClientRect(), x = e.clientX - r.left;
        if (x < GUTTER) return;
        t = t0Of(clock.shown()) + (x - GUTTER) / (W - GUTTER) * span();
      }
      t = Math.max(0, t);
      clock.hold = { pos: t, dragging: false, until: performance.now() + 400 };
      sendInOrder(model, { type: "seek", seconds: t });
    });

    // One element per visible band and label, placed once on a strip at `scale` px per
    // second; a frame only slides the two strips (two style writes, whatever the count).
    let scale = 0;
    function place(list, els, t0, t1, make, box) {
      const lo = Math.max(0, before(list, t0)), hi = before(list, t1);
      for (const [i, e] of els) if (i < lo || i > hi) { e.remove(); els.delete(i); }
      for (let i = lo; i <= hi && i < list.length; i++) {
        if (els.has(i)) continue;
        const e = make(i);
        e.style.left = (list[i][0] * scale).toFixed(1) + "px";
        e.style.width = Math.max(1, (list[i][1] - list[i][0]) * scale - 1).toFixed(1) + "px";
        els.set(i, e); box.appendChild(e);
      }
      box.style.transform = `translateX(${(GUTTER - t0 * scale).toFixed(1)}px)`;
    }
    const makeBand = (i) => {
      const [, , k, name, colour] = bands[i];
      const e = h("div", "mos-lane-band", k + ":");
      e.style.background = colour; e.title = name; e.dataset.key = k;
      return e;
    };
    const makeLabel = (i) => {
      const [, , numeral, symbol, k, cadence, m, b] = rows[i];
      const e = h("div", "mos-lane-label");
      e.dataset.i = i; e.dataset.numeral = numeral;
      e.style.borderLeftColor = (bands[Math.max(0, before(bands, rows[i][0]))] || [])[4] || "#666";
      e.title = `m${m} b${b}: ${numeral} (${symbol}) in ${k}${cadence ? " · " + cadence : ""} — click to play from here`;
      e.append(h("div", "mos-lane-numeral", numeral), h("div", "mos-lane-symbol", symbol));
      if (cadence) e.append(h("div", "mos-lane-cadence", cadence));
      return e;
    };

    const sid = model.get("session_id");
    const log = ((MOS.lanes ??= {})[sid] ??= []);
    let cur = -2;
    const vis = observeVisible(sc, card, model);
    frameLoop(sc, () => {
      const pos = clock.shown(), t0 = t0Of(pos), t1 = t0 + span();
      const k = (W - GUTTER) / span();
      if (k !== scale) { clear(); scale = k; }  // zoom or resize: lay the strips out again
      place(bands, bandEls, t0, t1, makeBand, bandBox);
      place(rows, shownEls, t0, t1, makeLabel, labelBox);
      const ph = `translateX(${xOf(pos, t0).toFixed(1)}px)`;
      if (ph !== playhead.style.transform) playhead.style.transform = ph;
      const live = model.get("live") || {};
      const showLive = live.symbol && clock.k.state !== "playing" && performance.now() - liveAt < 5000;
      const i = showLive ? -3 : find(pos);
      card.dataset.pos = pos.toFixed(3);
      if (i === cur) return;
      const old = shownEls.get(cur);
      if (old) old.classList.remove("mos-now");
      cur = i;
      if (showLive) {
        rn.textContent = live.roman || ""; sym.textContent = live.symbol; key.textContent = "live";
        cad.textContent = "";
      } else if (i >= 0) {
        const [, , numeral, symbol, k, cadence] = rows[i];
        rn.textContent = numeral; sym.textContent = symbol;
        key.textContent = "in " + ((bands[Math.max(0, before(bands, rows[i][0]))] || [])[3] || k);
        cad.textContent = cadence || "";
        const e = shownEls.get(i);
        if (e) e.classList.add("mos-now");
      } else {
        rn.textContent = "–"; sym.textContent = ""; key.textContent = ""; cad.textContent = "";
      }
      card.dataset.index = String(i);
      card.dataset.numeral = i >= 0 ? rows[i][2] : "";
      card.dataset.chord = i >= 0 ? rows[i][3] : (showLive ? live.symbol : "");
      log.push({ i, numeral: i >= 0 ? rows[i][2] : "", t: performance.now(), pos });
      if (log.length > LOG) log.splice(0, log.length - LOG);
    }, () => vis.visible);
    return () => sc.dispose();
  },
};
