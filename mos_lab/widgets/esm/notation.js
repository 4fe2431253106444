// Notation: engraved pages (SVG made by verovio in the kernel) that follow the heard
// position. The kernel sends every note id with its onset and offset (Score seconds), a
// long score's a chunk at a time (each batch only the new notes; a view that missed some
// asks for them all once), and each page's first onset; every animation frame the page reads the one page clock
// (kernelClock(model).shown(): the audio host's heard position, as the roll), lights the
// noteheads sounding there by id and turns to the page that holds them. Pages come one at
// a time on request (custom "svg" messages, the text in a binary buffer), a few kept.
// Click a note: seek to it; shift-click or drag from note to note: loop that passage.
const KEEP = 5;        // pages kept here
const LOG = 8192;      // highlight changes and page turns kept for tests (MOS.notation[sid])
const HOLD_MS = 5000;  // a page turned by hand while playing stays this long

export default {
  render({ model, el, host }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-notation");
    const slot = h("div", "mos-slot mos-notation-player");
    const bar = h("div", "mos-row mos-notation-bar");
    const btn = (label, title) => { const b = h("button", "mos-btn mos-notation-btn", label); b.title = title; return b; };
    const zoomOut = btn("−", "smaller staff"), zoomIn = btn("+", "larger staff");
    const prev = btn("‹", "previous page"), next = btn("›", "next page");
    const pageLabel = h("span", "mos-notation-pageno", "");
    const loopBtn = btn("⟲", "loop off (Esc)");
    const hint = h("span", "mos-hint mos-notation-hint", "click a note: play from there · shift-click or drag: loop");
    bar.append(h("span", "mos-label", "score"), zoomOut, zoomIn, prev, pageLabel, next, loopBtn, hint);
    const msg = h("div", "mos-notation-message", "");
    const view = h("div", "mos-notation-view");
    view.tabIndex = 0;
    card.append(slot, bar, msg, view);
    el.appendChild(card);
    sc.add(() => card.remove());
    errorToasts(sc, model, card);

    const sid = model.get("session_id");
    const log = ((MOS.notation ??= {})[sid] = { lit: [], turns: [], pages: [] });
    let ids = [], times = new Float64Array(0), index = new Map(), maxDur = 0;
    let starts = [], layout = model.get("layout_id"), shown = 0, shownEl = null, lastMusicPage = 0;
    let manualUntil = 0, anchor = null, lit = new Set(), disposed = false;
    const pages = new Map();   // page -> {layout, svg, els: Map id -> element}
    const asked = new Map();   // "page|layout" -> when asked
    sc.add(() => { disposed = true; pages.clear(); });

    const f64 = (v) => v && v.byteLength ? new Float64Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) : new Float64Array(0);
    function setNotes(newIds, newTimes) {  // ids in onset order (as the kernel sorts them)
      let order = null;
      for (let i = 1; i < newIds.length && !order; i++) if (newTimes[2 * i] < newTimes[2 * i - 2]) order = true;
      if (order) {  // a batch whose notes start before the last held: merge as the kernel does
        const k = newIds.map((_, i) => i).sort((a, b) => newTimes[2 * a] - newTimes[2 * b] || (newIds[a] < newIds[b] ? -1 : newIds[a] > newIds[b] ? 1 : 0));
        const t = new Float64Array(2 * k.length);
        k.forEach((j, i) => { t[2 * i] = newTimes[2 * j]; t[2 * i + 1] = newTimes[2 * j + 1]; });
        newIds = k.map((j) => newIds[j]); newTimes = t;
      }
      ids = newIds; times = newTimes;
      index = new Map(ids.map((id, i) => [id, i]));
      maxDur = 0;
      for (let i = 0; i < ids.length; i++) maxDur = Math.max(maxDur, times[2 * i + 1] - times[2 * i]);
    }
    function batch() {
      const text = model.get("note_batch_ids") || "";
      return [text ? text.split(" ") : [], f64(model.get("note_batch_times"))];
    }
    function onNotes() {  // a batch of notes: a new layout's first, or a further chunk's
      if (model.get("layout_id") !== layout) { onLayout(); return; }
      const [bIds, bTimes] = batch(), count = model.get("note_count") || 0;
      const from = count - bIds.length;
      if (from === ids.length) {
        if (!bIds.length) return;
        const t = new Float64Array(times.length + bTimes.length);
        t.set(times); t.set(bTimes, times.length);
        setNotes(ids.concat(bIds), t);
      } else if (count > ids.length) {
        sendInOrder(model, { type: "notes", layout });  // missed some: ask for them all
      }
      starts = model.get("pages") || [];
    }
    function readNotes() {
      ids = []; times = new Float64Array(0); index = new Map(); maxDur = 0;
      onNotes();
    }
    function onLayout() {
      layout = model.get("layout_id");
      readNotes();
      for (const [p, e] of pages) if (e.layout !== layout) pages.delete(p);
      asked.clear(); lit = new Set(); lastMusicPage = 0;
      const s = model.get("status") || "";
      msg.textContent = s; msg.style.display = s ? "" : "none";
      card.dataset.status = s;
      if (!model.get("page_count")) { view.replaceChildren(); shownEl = null; shown = 0; }
      else if (shown) ask(Math.min(shown, model.get("page_count")));
      card.dataset.layout = String(layout);
    }
    function ask(p) {
      const key = p + "|" + layout, now = performance.now();
      if (p < 1 || p > model.get("page_count") || pages.has(p)) return;
      if (asked.has(key) && now - asked.get(key) < 3000) return;
      asked.set(key, now);
      sendInOrder(model, { type: "page", page: p, layout });
    }
    const decoder = new TextDecoder();
    const onMsg = (m, buffers) => {
      if (m && m.type === "notes" && m.layout === layout && !disposed && buffers && buffers.length === 2
          && m.count > ids.length) {  // the whole list, asked for by a view that missed some
        const b = buffers[0], text = decoder.decode(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
        setNotes(text ? text.split(" ") : [], f64(buffers[1] instanceof ArrayBuffer ? new DataView(buffers[1]) : buffers[1]));
        return;
      }
      if (!m || m.type !== "svg" || m.layout !== layout || disposed || !buffers || !buffers.length) return;
      const b = buffers[0], bytes = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      const box = document.createElement("div");
      box.innerHTML = decoder.decode(bytes);
      const svg = box.querySelector("svg");
      if (!svg) return;
      const els = new Map();
      for (const g of svg.querySelectorAll("g.note")) els.set(g.id, g);
      pages.set(m.page, { layout: m.layout, svg, els });
      log.pages.push({ page: m.page, t: performance.now() });
      while (pages.size > KEEP) {
        const far = [...pages.keys()].filter((p) => p !== shown).sort((a, c) => Math.abs(c - shown) - Math.abs(a - shown))[0];
        pages.delete(far);
      }
      if (m.page === wantPage) show(m.page, "load");
    };
    model.on("msg:custom", onMsg);
    sc.add(() => model.off("msg:custom", onMsg));

    let wantPage = 1;
    function show(p, why) {
      wantPage = p;
      const e = pages.get(p);
      if (!e) { ask(p); return false; }
      if (shownEl !== e.svg) {
        for (const id of lit) { const g = (pages.get(shown) || {}).els?.get(id); if (g) g.classList.remove("mos-hl"); }
        lit = new Set();
        view.replaceChildren(e.svg);
        shownEl = e.svg;
        const turned = shown !== p;
        shown = p;
        markLoop();
        if (turned) {
          log.turns.push({ page: p, t: performance.now(), pos: clock.shown(), why });
          if (log.turns.length > LOG) log.turns.splice(0, log.turns.length - LOG);
        }
      }
      pageLabel.textContent = `${p} / ${model.get("page_count")}${model.get("complete") === false ? "+" : ""}`;
      card.dataset.page = String(p);
      return true;
    }
    const pageAt = (t) => {  // last page whose music starts at or before t
      let a = 0, b = starts.length;
      while (a < b) { const m = (a + b) >> 1; if (starts[m] <= t) a = m + 1; else b = m; }
      return Math.max(1, a);
    };
    const firstAtOrAfter = (t) => {
      let a = 0, b = ids.length;
      while (a < b) { const m = (a + b) >> 1; if (times[2 * m] < t) a = m + 1; else b = m; }
      return a;
    };
    function markLoop() {
      const e = pages.get(shown);
      if (!e) return;
      const lp = clock.k.loop;
      for (const [id, g] of e.els) {
        const i = index.get(id);
        const on = lp && i !== undefined && times[2 * i] >= lp[0] - 1e-6 && times[2 * i] < lp[1] - 1e-6;
        g.classList.toggle("mos-sel", !!on);
      }
      loopBtn.style.visibility = lp ? "visible" : "hidden";
    }

    const handlers = {
      "change:note_count": onNotes, "change:note_batch_ids": onNotes, "change:pages": onNotes,
      "change:layout_id": onLayout, "change:status": onLayout,
      "change:clock": () => { clock.update(); markLoop(); },
      "change:page_count": onLayout,
    };
    for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);
    sc.add(() => { for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn); });
    onLayout();

    // the cell's width -> the kernel lays the pages out again (debounced)
    let widthTimer = 0;
    const ro = new ResizeObserver(() => {
      clearTimeout(widthTimer);
      widthTimer = setTimeout(() => {
        const w = Math.round((view.clientWidth || card.clientWidth || 600) - 4);
        if (w >= 200 && Math.abs(w - model.get("width")) > 8) sendInOrder(model, { type: "width", width: w });
      }, 300);
    });
    ro.observe(card);
    MOS.live.observers++;
    sc.add(() => { ro.disconnect(); clearTimeout(widthTimer); MOS.live.observers--; });

    const setZoom = (f) => {
      const z = Math.min(3, Math.max(0.3, Math.round(model.get("zoom") * f * 100) / 100));
      model.set("zoom", z); model.save_changes();
    };
    sc.on(zoomIn, "click", () => setZoom(1.2));
    sc.on(zoomOut, "click", () => setZoom(1 / 1.2));
    const turnBy = (d) => {
      const p = Math.min(Math.max(1, (wantPage || 1) + d), model.get("page_count") || 1);
      manualUntil = performance.now() + HOLD_MS;
      show(p, "hand");
    };
    sc.on(prev, "click", () => turnBy(-1));
    sc.on(next, "click", () => turnBy(1));
    const loopOff = () => sendInOrder(model, { type: "loop", start: null, end: null });
    sc.on(loopBtn, "click", loopOff);
    sc.on(view, "keydown", (e) => { if (e.key === "Escape") loopOff(); });

    // click a note: seek to its onset; shift-click / drag note to note: loop the passage
    const noteAt = (e) => {
      const t = document.elementFromPoint(e.clientX, e.clientY) || e.target;
      const g = t && t.closest ? t.closest("g.note") : null;
      return g && index.has(g.id) ? g.id : null;
    };
    let down = null;
    sc.on(view, "pointerdown", (e) => { if (e.button === 0) down = { id: noteAt(e), shift: e.shiftKey }; });
    sc.on(view, "pointerup", (e) => {
      const d = down; down = null;
      if (!d || !d.id) return;
      const up = noteAt(e) || d.id;
      const from = d.shift && anchor && index.has(anchor) ? anchor : d.id, to = d.shift ? d.id : up;
      if (from !== to) {
        const a = index.get(from), b = index.get(to);
        const start = Math.min(times[2 * a], times[2 * b]);
        const end = Math.max(times[2 * a + 1], times[2 * b + 1]);
        sendInOrder(model, { type: "loop", start, end });
        return;
      }
      anchor = d.id;
      const t = times[2 * index.get(d.id)];
      clock.hold = { pos: t, dragging: false, until: performance.now() + 400 };
      card.dataset.clicked = d.id;
      sendInOrder(model, { type: "seek", seconds: t });
    });

    function draw() {
      const pos = clock.shown(), now = performance.now();
      const count = model.get("page_count") || 0;
      if (!count) return;
      const music = pageAt(pos);
      const playing = clock.k.state === "playing";
      if (!shown) show(music, "first");
      else if (model.get("follow") && now >= manualUntil && (playing || music !== lastMusicPage)
               && music !== wantPage) show(music, "music");
      else if (wantPage !== shown) show(wantPage, "load");
      lastMusicPage = music;
      if (shown && shown < count) ask(shown + 1);  // the next page, before the turn
      if (!model.get("follow")) return;
      const e = pages.get(shown);
      const now_ = new Set();
      for (let i = firstAtOrAfter(pos - maxDur); i < ids.length && times[2 * i] <= pos; i++) {
        if (times[2 * i + 1] > pos) now_.add(ids[i]);
      }
      let changed = now_.size !== lit.size;
      if (!changed) for (const id of now_) if (!lit.has(id)) { changed = true; break; }
      if (!changed) return;
      const on = [];
      for (const id of lit) if (!now_.has(id)) { const g = e && e.els.get(id); if (g) g.classList.remove("mos-hl"); }
      for (const id of now_) if (!lit.has(id)) { on.push(id); const g = e && e.els.get(id); if (g) g.classList.add("mos-hl"); }
      lit = now_;
      card.dataset.lit = [...now_].join(" ");
      card.dataset.pos = pos.toFixed(3);
      log.lit.push({ t: now, pos, on, ids: [...now_], page: shown });
      if (log.lit.length > LOG) log.lit.splice(0, log.lit.length - LOG);
    }
    const vis = observeVisible(sc, card, model);
    frameLoop(sc, draw, () => vis.visible);

    const ref = model.get("player");
    if (ref) {
      const ctl = new AbortController();
      sc.add(() => ctl.abort());
      (async () => {
        try {
          const child = await host.getWidget(ref);
          await child.render({ el: slot, signal: ctl.signal });
        } catch (err) { slot.textContent = `mos_lab: could not show the player: ${err}`; }
      })();
    } else slot.remove();
    return () => sc.dispose();
  },
};
