// ChordDisplay: the chord at the playhead (symbol, Roman numeral, key), chosen at display
// rate from the analysed spans; live chords (keyboard, MIDI) when not playing.
export default {
  render({ model, el }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-chords");
    const sym = h("div", "mos-chord-symbol", "–");
    const rn = h("div", "mos-chord-roman", "");
    const key = h("div", "mos-chord-key", "");
    const next = h("div", "mos-chord-next", "");
    card.append(h("div", "mos-label", "chord"), sym, rn, key, next);
    el.appendChild(card);
    sc.add(() => card.remove());
    let spans = model.get("chords") || [];
    let liveSeq = -1, liveAt = 0;
    const handlers = {
      "change:chords": () => { spans = model.get("chords") || []; },
      "change:clock": () => clock.update(),
      "change:live": () => { liveAt = performance.now(); },
    };
    for (const [ev, fn] of Object.entries(handlers)) model.on(ev, fn);
    sc.add(() => { for (const [ev, fn] of Object.entries(handlers)) model.off(ev, fn); });
    const find = (t) => {
      let a = 0, b = spans.length;
      while (a < b) { const m = (a + b) >> 1; if (spans[m][0] <= t) a = m + 1; else b = m; }
      const i = a - 1;
      return i >= 0 && spans[i][1] > t ? i : -1;
    };
    let last = "";
    const vis = observeVisible(sc, card, model);
    frameLoop(sc, () => {
      const live = model.get("live") || {};
      const playing = clock.k.state === "playing";
      let s = "–", r = "", k = "", nx = "";
      if (live.symbol && !playing && performance.now() - liveAt < 5000) {
        s = live.symbol; r = live.roman || ""; k = "live";
        liveSeq = live.seq;
      } else {
        const i = find(clock.now());
        if (i >= 0) {
          [, , s, r, k] = spans[i];
          k = "in " + k;
          if (spans[i + 1]) nx = "next " + spans[i + 1][2];
        }
      }
      const sig = s + r + k + nx;
      if (sig === last) return;
      last = sig;
      sym.textContent = s; rn.textContent = r; key.textContent = k; next.textContent = nx;
      card.dataset.chord = s;
    }, () => vis.visible);
    return () => sc.dispose();
  },
};
