// Keyboard: plays notes on click / computer keys; lights the notes at the playhead.
const BLACK = new Set([1, 3, 6, 8, 10]);
const NAMES = ["C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B"];
const COMPUTER = "awsedftgyhujkolp;'";  // from C: a=C w=C# s=D ... (two rows, like a DAW)

export default {
  render({ model, el }) {
    const sc = scope();
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-keyboard");
    card.tabIndex = 0;
    card.title = "Click the keys, or focus and play A W S E D F T G Y H U J K (Z/X: octave)";
    el.appendChild(card);
    sc.add(() => card.remove());
    errorToasts(sc, model, card);
    const keys = new Map();
    let notes = notesOf(model);
    let octave = 60;
    const down = new Set();

    function build() {
      for (const k of keys.values()) k.remove();
      keys.clear();
      const lo = model.get("low"), hi = model.get("high");
      let whites = 0;
      for (let p = lo; p <= hi; p++) if (!BLACK.has(p % 12)) whites++;
      const w = 100 / whites;
      let x = 0;
      for (let p = lo; p <= hi; p++) {
        const black = BLACK.has(p % 12);
        const k = h("div", black ? "mos-key mos-black" : "mos-key mos-white");
        k.dataset.pitch = String(p);
        if (black) { k.style.left = `calc(${x * w}% - ${w * 0.3}%)`; k.style.width = `${w * 0.6}%`; }
        else {
          k.style.left = `${x * w}%`; k.style.width = `${w}%`; x++;
          if (p % 12 === 0) k.appendChild(h("span", "mos-keylabel", `C${p / 12 - 1}`));
        }
        keys.set(p, k);
        card.appendChild(k);
      }
    }
    const on = (p) => {
      if (down.has(p) || p < 0 || p > 127) return;
      down.add(p); keys.get(p)?.classList.add("mos-down");
      sendInOrder(model, { type: "note_on", pitch: p, velocity: 96 });
    };
    const off = (p) => {
      if (!down.has(p)) return;
      down.delete(p); keys.get(p)?.classList.remove("mos-down");
      sendInOrder(model, { type: "note_off", pitch: p });
    };
    const pitchOf = (e) => { const k = e.target.closest?.(".mos-key"); return k ? +k.dataset.pitch : null; };
    sc.on(card, "pointerdown", (e) => { const p = pitchOf(e); if (p !== null) { e.preventDefault(); card.focus(); on(p); } });
    sc.on(card, "pointerover", (e) => { if (e.buttons & 1) { const p = pitchOf(e); if (p !== null) on(p); } });
    sc.on(card, "pointerout", (e) => { const p = pitchOf(e); if (p !== null) off(p); });
    sc.on(window, "pointerup", () => { for (const p of [...down]) off(p); });
    sc.on(card, "keydown", (e) => {
      if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
      const i = COMPUTER.indexOf(e.key.toLowerCase());
      if (i >= 0) { e.preventDefault(); on(octave + i); }
      else if (e.key === "z") octave = Math.max(12, octave - 12);
      else if (e.key === "x") octave = Math.min(108, octave + 12);
    });
    sc.on(card, "keyup", (e) => { const i = COMPUTER.indexOf(e.key.toLowerCase()); if (i >= 0) off(octave + i); });
    sc.on(card, "blur", () => { for (const p of [...down]) off(p); });
    sc.add(() => { for (const p of [...down]) off(p); });

    const onRange = () => build();
    const onNotes = () => { notes = notesOf(model); };
    const onClock = () => clock.update();
    model.on("change:low", onRange); model.on("change:high", onRange);
    model.on("change:notes", onNotes); model.on("change:clock", onClock);
    sc.add(() => { model.off("change:low", onRange); model.off("change:high", onRange);
                   model.off("change:notes", onNotes); model.off("change:clock", onClock); });
    build();

    const vis = observeVisible(sc, card, model);
    let lastSig = "";
    frameLoop(sc, () => {
      const colors = model.get("colors") || ["#4fc3f7"];
      const lit = new Map();
      const k = clock.k;
      if (k.state === "playing" || k.state === "paused" || clock.now() > 0) {
        const t = clock.now();
        for (const i of soundingAt(notes, t)) lit.set(notes.rows[4 * i + 2], colors[notes.rows[4 * i + 3] % colors.length]);
      }
      for (const p of model.get("live") || []) if (!lit.has(p)) lit.set(p, "live");
      const sig = [...lit.entries()].map((e) => e.join(":")).join(",");
      if (sig === lastSig) return;
      lastSig = sig;
      for (const [p, key] of keys) {
        const c = lit.get(p);
        key.classList.toggle("mos-lit", !!c);
        key.style.setProperty("--lit", c && c !== "live" ? c : "var(--mos-accent)");
      }
    }, () => vis.visible);
    return () => sc.dispose();
  },
};
