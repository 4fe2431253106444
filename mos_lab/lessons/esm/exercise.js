// Exercise: question, engraved (or text) prompt, play button, answer box, feedback.
// Typed answers go with Enter or the Check button; notes played on the kernel's Keyboard
// arrive in `entered` and fill the box.
// Rhythm: Play sounds a count-in and the rhythm on this page's AudioContext; each tap
// (button, space bar) is placed on that audio clock (its event time stamp mapped through
// getOutputTimestamp: the audio being heard at that moment), in ms after the first note
// is heard, and the answer goes when every note has a tap. Without Play, taps are timed
// from the first tap. `card.mosExercise` exposes the clock and the last taps to tests.
// Note answers: "MIDI" asks for Web MIDI (navigator.requestMIDIAccess) and sends each
// note-on of every input (and inputs plugged in later) to the kernel, which spells it.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

let sharedContext = null;
function audioContext() {
  // one context per page for every exercise (a browser allows only a few)
  if (!sharedContext || sharedContext.state === "closed") sharedContext = new AudioContext();
  return sharedContext;
}

// The audio clock against performance.now(): samples of getOutputTimestamp (the audio
// heard at a moment), of which the median is used. One sample can be a callback late
// on a busy machine (~10 ms off); the median of the last few dozen is steady to 0.5 ms.
class AudioClock {
  constructor(ctx) { this.ctx = ctx; this.offsets = []; }
  sample() {
    const ts = this.ctx.getOutputTimestamp ? this.ctx.getOutputTimestamp() : null;
    if (!ts || !(ts.performanceTime > 0)) return;
    this.offsets.push(ts.contextTime * 1000 - ts.performanceTime);
    if (this.offsets.length > 48) this.offsets.shift();
  }
  // the audio-clock time (s) of an event time stamp (ms, performance.now's clock)
  timeOf(stamp) {
    this.sample();
    if (this.offsets.length) {
      const s = [...this.offsets].sort((a, b) => a - b);
      return (stamp + s[s.length >> 1]) / 1000;
    }
    // no output timestamp yet: the context's clock now, less what is still to be heard
    const lag = (this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0);
    return this.ctx.currentTime - lag + (stamp - performance.now()) / 1000;
  }
}

function click(ctx, when, accent, high) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = high ? 1320 : accent ? 990 : 660;
  gain.gain.setValueAtTime(0.0001, when);
  gain.gain.exponentialRampToValueAtTime(0.5, when + 0.003);
  gain.gain.exponentialRampToValueAtTime(0.0001, when + 0.08);
  osc.connect(gain).connect(ctx.destination);
  osc.start(when);
  osc.stop(when + 0.1);
}

export default {
  render({ model, el: root }) {
    // messages carry [view, n]: the kernel may run a burst out of order (ipykernel 7)
    const order = { id: Math.random().toString(36).slice(2, 12), n: 0 };
    const send = (msg) => model.send({ ...msg, order: [order.id, order.n++] });
    const card = el("div", "mos-exercise");
    card.tabIndex = 0;
    card.style.cssText = "font-family: sans-serif; border: 1px solid #ccc; border-radius: 6px; padding: 10px; max-width: 720px";
    const question = el("div", "mos-question");
    question.style.fontWeight = "bold";
    const prompt = el("div", "mos-prompt");
    prompt.style.cssText = "margin: 8px 0; overflow-x: auto";
    const row = el("div", "mos-row");
    const play = el("button", "mos-play", "▶ Play");
    const input = el("input", "mos-answer");
    input.type = "text";
    input.style.cssText = "margin: 0 6px; width: 22em";
    const check = el("button", "mos-check", "Check");
    const tap = el("button", "mos-tap", "Tap");
    const midiButton = el("button", "mos-midi", "MIDI");
    midiButton.title = "Enter notes from a MIDI keyboard plugged into this computer";
    const feedback = el("div", "mos-feedback");
    feedback.style.marginTop = "8px";
    row.append(play, input, check, tap, midiButton);
    card.append(question, prompt, row, feedback);
    root.appendChild(card);
    let taps = [];       // tap times: ms after the first note (audio clock), or raw stamps
    let start = null;    // audio-clock time (s) at which the rhythm's first note is heard
    let ctx = null;
    let clock = null;
    let sampler = null;
    const state = { sent: [], submittedAt: null, feedbackAt: null };
    card.mosExercise = {
      state,
      clock: () => (ctx && start !== null ? { start, now: ctx.currentTime } : null),
      audioTimeOf: (stamp) => (clock ? clock.timeOf(stamp) : null),
      outputTimestamp: () => (ctx && ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null),
    };

    const isRhythm = () => model.get("kind") === "rhythm_tap";
    const rhythm = () => model.get("rhythm") || {};
    function draw() {
      question.textContent = model.get("question");
      const svg = model.get("svg");
      if (svg) prompt.innerHTML = svg; else prompt.textContent = model.get("text_prompt");
      input.placeholder = model.get("placeholder");
      tap.style.display = isRhythm() ? "" : "none";
      midiButton.style.display = model.get("midi") && navigator.requestMIDIAccess ? "" : "none";
    }
    function showFeedback() {
      const fb = model.get("feedback") || {};
      if (fb.message === undefined) { feedback.textContent = ""; return; }
      state.feedbackAt = performance.now();
      feedback.textContent = (fb.correct ? "✔ " : "✘ ") + fb.message;
      feedback.style.color = fb.correct ? "#176117" : "#9b1c1c";
      feedback.dataset.correct = String(!!fb.correct);
    }
    function submit() {
      let text = input.value;
      if (isRhythm() && taps.length) {
        const ms = start !== null ? taps : taps.map((t) => t - taps[0]);
        state.sent = ms;
        text = ms.map((t) => t.toFixed(1)).join(" ");
      }
      state.submittedAt = performance.now();
      send({ type: "answer", text: String(text).slice(0, 2000) });
      taps = [];
      start = null;
    }
    async function playRhythm() {
      start = null;
      taps = [];
      ctx = audioContext();
      if (ctx.state !== "running") await ctx.resume();
      // a context just started runs its clock before its output does: wait for the
      // output's time stamps, then sample them afresh while the rhythm plays and is tapped
      for (let i = 0; i < 50; i++) {
        const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
        if (!ts || ts.performanceTime > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      clock = new AudioClock(ctx);
      clock.sample();
      clearInterval(sampler);
      let n = 0;
      sampler = setInterval(() => { clock.sample(); if (++n > 400) clearInterval(sampler); }, 20);
      const r = rhythm();
      const beat = (r.beat_ms || 600) / 1000;
      const count = r.count_in ?? 4;
      const t0 = ctx.currentTime + 0.15;
      for (let i = 0; i < count; i++) click(ctx, t0 + i * beat, i === 0, false);
      start = t0 + count * beat;
      for (const ms of r.onsets_ms || []) click(ctx, start + ms / 1000, false, true);
      input.value = "";
    }
    function onTap(e) {
      if (start !== null && ctx) {
        taps.push((clock.timeOf(e.timeStamp) - start) * 1000);
        input.value = `${taps.length} tap(s)`;
        if (taps.length >= (rhythm().onsets_ms || []).length) submit();
      } else {
        taps.push(e.timeStamp);
        input.value = `${taps.length} tap(s)`;
      }
    }
    const onKey = (e) => { if (e.key === "Enter") submit(); };
    const onSpace = (e) => {
      if (e.key === " " && isRhythm() && !e.repeat) { e.preventDefault(); onTap(e); }
    };
    input.addEventListener("keydown", onKey);
    card.addEventListener("keydown", onSpace);
    check.addEventListener("click", submit);
    tap.addEventListener("pointerdown", onTap);
    play.addEventListener("click", () => {
      if (isRhythm()) { playRhythm(); card.focus(); } else send({ type: "play" });
    });
    let midiAccess = null;
    const onMidi = (e) => {
      const [status, note, velocity] = e.data || [];
      if ((status & 0xf0) === 0x90 && velocity > 0) send({ type: "note", pitch: note });
    };
    const listen = () => {
      let n = 0;
      for (const inp of midiAccess.inputs.values()) { inp.onmidimessage = onMidi; n++; }
      midiButton.textContent = `MIDI: ${n} input${n === 1 ? "" : "s"}`;
      midiButton.dataset.inputs = String(n);
    };
    midiButton.addEventListener("click", async () => {
      try {
        midiAccess = midiAccess || await navigator.requestMIDIAccess();
        midiAccess.onstatechange = listen;
        listen();
      } catch (err) {
        midiButton.textContent = "MIDI: not allowed";
        midiButton.title = String(err);
      }
    });
    const onEntered = () => { input.value = model.get("entered").join(" "); };
    model.on("change:entered", onEntered);
    model.on("change:feedback", showFeedback);
    model.on("change:svg", draw);
    model.on("change:question", draw);
    draw(); showFeedback();
    model.on("change:midi", draw);
    return () => {
      clearInterval(sampler);
      model.off("change:midi", draw);
      if (midiAccess) {
        midiAccess.onstatechange = null;
        for (const inp of midiAccess.inputs.values()) if (inp.onmidimessage === onMidi) inp.onmidimessage = null;
      }
      model.off("change:entered", onEntered);
      model.off("change:feedback", showFeedback);
      model.off("change:svg", draw);
      model.off("change:question", draw);
      card.remove();
    };
  },
};
