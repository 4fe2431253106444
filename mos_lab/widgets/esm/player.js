// Player: composes its child widgets in one card: transport, roll, the harmony lane under
// the roll (same time axis), keyboard; then the generate panel (unless compact): model,
// the fields that model reads, bars, seed, replace/append, Generate, progress, Cancel.
// The kernel runs the generation on its service's worker and reports in `gen_status`.
const FIELD_HINTS = {
  period: "Baroque", composer: "Bach, Johann Sebastian", instrumentation: "Choral",
  key: "D minor", prompt: "",
};

function generatePanel(sc, model) {
  const box = h("details", "mos-card mos-gen");
  box.append(h("summary", "mos-label", "Generate"));
  const form = h("div", "mos-gen-form");
  form.style.cssText = "display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-top:6px;font-size:12px";
  const labelled = (name, input) => {
    const l = h("label", "mos-gen-f mos-gen-f-" + name);
    l.style.cssText = "display:inline-flex;gap:4px;align-items:center";
    l.append(h("span", "mos-label", name), input);
    return l;
  };
  const choose = h("select", "mos-gen-model");
  const inputs = {};
  for (const f of Object.keys(FIELD_HINTS)) {
    const i = h("input");
    i.type = "text"; i.placeholder = FIELD_HINTS[f]; i.dataset.field = f; i.size = 14;
    inputs[f] = labelled(f, i);
  }
  const bars = h("input", "mos-gen-bars"); bars.type = "number"; bars.min = 1; bars.max = 64; bars.value = 8;
  const seed = h("input", "mos-gen-seed"); seed.type = "number"; seed.min = 0; seed.placeholder = "random";
  seed.style.width = "80px"; bars.style.width = "52px";
  const mode = h("select", "mos-gen-mode");
  for (const m of ["replace", "append"]) { const o = h("option", "", m); o.value = m; mode.append(o); }
  const go = h("button", "mos-gen-go", "Generate");
  const stop = h("button", "mos-gen-cancel", "Cancel");
  const bar = h("progress", "mos-gen-progress"); bar.max = 1; bar.value = 0;
  const status = h("span", "mos-gen-status");
  status.style.color = "var(--mos-dim)";
  form.append(labelled("model", choose), ...Object.values(inputs), labelled("bars", bars),
    labelled("seed", seed), labelled("mode", mode), go, stop, bar, status);
  box.append(form);

  const models = () => model.get("gen_models") || [];
  const showFields = () => {
    const m = models().find((x) => x.name === choose.value);
    const wanted = new Set(m ? m.fields : []);
    for (const [f, el] of Object.entries(inputs)) el.style.display = wanted.has(f) ? "" : "none";
  };
  const fillModels = () => {
    const keep = choose.value;
    choose.replaceChildren(...models().map((m) => { const o = h("option", "", m.label); o.value = m.name; return o; }));
    if (models().some((m) => m.name === keep)) choose.value = keep;
    showFields();
  };
  const showStatus = () => {
    const s = model.get("gen_status") || { state: "idle" };
    const busy = s.state === "queued" || s.state === "running";
    box.dataset.state = s.state;
    go.disabled = busy; stop.disabled = !busy;
    bar.max = Math.max(1, s.total || 1); bar.value = Math.min(s.done || 0, bar.max);
    status.textContent = s.message || "";
  };
  sc.on(choose, "change", showFields);
  sc.on(go, "click", () => {
    const m = models().find((x) => x.name === choose.value);
    if (!m) return;
    const msg = { type: "generate", model: m.name, mode: mode.value };
    const n = parseInt(bars.value, 10);
    if (Number.isFinite(n)) msg.bars = n;
    if (seed.value !== "") { const s = parseInt(seed.value, 10); if (Number.isFinite(s)) msg.seed = s; }
    for (const f of m.fields) {
      const v = inputs[f] && inputs[f].querySelector("input").value.trim();
      if (v) msg[f] = v;
    }
    sendInOrder(model, msg);
  });
  sc.on(stop, "click", () => sendInOrder(model, { type: "cancel_generate" }));
  model.on("change:gen_models", fillModels);
  model.on("change:gen_status", showStatus);
  sc.add(() => { model.off("change:gen_models", fillModels); model.off("change:gen_status", showStatus); });
  fillModels();
  showStatus();
  return box;
}

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
    if ((model.get("gen_models") || []).length) card.append(generatePanel(sc, model));
    el.appendChild(card);
    errorToasts(sc, model, el);
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
