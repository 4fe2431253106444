// Player: composes its child widgets in one card: transport, roll, the harmony lane under
// the roll (same time axis), keyboard.
export default {
  async render({ model, el, host }) {
    const sc = scope();
    el.classList.add("mos-root");
    const card = h("div", "mos-player" + (model.get("compact") ? " mos-compact" : ""));
    const top = h("div", "mos-slot mos-slot-transport");
    const roll = h("div", "mos-slot mos-slot-roll");
    const bottom = h("div", "mos-player-bottom");
    const chords = h("div", "mos-slot mos-slot-chords");
    const keys = h("div", "mos-slot mos-slot-keyboard");
    bottom.append(keys);
    card.append(top, roll, chords, bottom);
    el.appendChild(card);
    sc.add(() => card.remove());
    const ctl = new AbortController();
    sc.add(() => ctl.abort());
    const slots = { transport: top, roll, chords, keyboard: keys };
    for (const [name, slot] of Object.entries(slots)) {
      const ref = model.get(name);
      if (!ref) { slot.remove(); continue; }
      try {
        const child = await host.getWidget(ref);
        await child.render({ el: slot, signal: ctl.signal });
      } catch (e) {
        slot.textContent = `mos_lab: could not show ${name}: ${e}`;
      }
    }
    return () => sc.dispose();
  },
};
