// Transport: buttons, seek bar, tempo, loop, state and output; hosts browser audio.
const WORKLET = /*INLINE:worklet.js*/;
const ICON = {
  play: '<svg viewBox="0 0 24 24"><path d="M7 4.5v15l13-7.5z"/></svg>',
  pause: '<svg viewBox="0 0 24 24"><path d="M6 4h4.5v16H6zM13.5 4H18v16h-4.5z"/></svg>',
  stop: '<svg viewBox="0 0 24 24"><path d="M6 6h12v12H6z"/></svg>',
  loop: '<svg viewBox="0 0 24 24"><path d="M7 7h10v3l4-4-4-4v3H5v6h2zm10 10H7v-3l-4 4 4 4v-3h12v-6h-2z"/></svg>',
  sound: '<svg viewBox="0 0 24 24"><path d="M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z"/></svg>',
};
const STATE_TEXT = {
  idle: "no score", loading: "loading…", ready: "ready", playing: "playing",
  paused: "paused", waiting_for_audio: "waiting for audio", error: "error",
};
const OUTPUT_TEXT = { browser: "browser audio", local: "local speakers", null: "silent (null)" };

// The page time (performance.now) at which audio-clock second `time` is output: the
// audio clock plus the smallest arrival delay among the last 256 reports (~6 s), so a
// report delivered late by a busy main thread is still placed when it was played.
function audioTime(lat, time, now) {
  if (typeof time !== "number") return now;
  const off = now - time * 1000;
  if (lat.offs.length < 256) lat.offs.push(off); else lat.offs[lat.i++ % 256] = off;
  return time * 1000 + Math.min(...lat.offs);
}

function iconButton(cls, icon, title) {
  const b = h("button", "mos-btn " + cls);
  b.innerHTML = icon; b.title = title; b.type = "button";
  return b;
}

export default {
  render({ model, el }) {
    const sc = scope();
    const viewId = Math.random().toString(36).slice(2, 10);
    const clock = kernelClock(model);
    el.classList.add("mos-root");
    const card = h("div", "mos-card mos-transport");
    card.dataset.view = viewId;
    el.appendChild(card);
    sc.add(() => card.remove());

    const title = h("div", "mos-title");
    const row = h("div", "mos-row");
    const play = iconButton("mos-play", ICON.play, "Play / pause");
    const stop = iconButton("mos-stop", ICON.stop, "Stop (back to the start)");
    const time = h("span", "mos-time", "0:00.0");
    const bar = h("div", "mos-seek");
    const fill = h("div", "mos-seek-fill"), loopBox = h("div", "mos-loop"), knob = h("div", "mos-knob");
    bar.append(loopBox, fill, knob);
    bar.title = "Click to seek; shift-drag to choose a loop";
    const dur = h("span", "mos-time mos-dur", "0:00.0");
    const loopBtn = iconButton("mos-loopbtn", ICON.loop, "Loop the piece (shift-drag on the bar for a region)");
    const tempoBox = h("label", "mos-tempo");
    const tempo = h("input"); tempo.type = "range"; tempo.min = "-2"; tempo.max = "2"; tempo.step = "0.05";
    const tempoText = h("span", "mos-tempo-text", "1.00×");
    tempoBox.append(h("span", "mos-label", "tempo"), tempo, tempoText);
    const chip = h("span", "mos-chip");
    const outSel = h("select", "mos-output");
    for (const k of ["browser", "local", "null"]) { const o = h("option", "", OUTPUT_TEXT[k]); o.value = k; outSel.appendChild(o); }
    outSel.title = "Where the sound goes";
    row.append(play, stop, time, bar, dur, loopBtn, tempoBox, chip, outSel);
    const enable = h("button", "mos-enable");
    enable.type = "button";
    enable.innerHTML = ICON.sound + "<span>Click to enable audio</span>";
    card.append(title, row, enable);
    errorToasts(sc, model, card);

    const send = (m) => sendInOrder(model, m);
    const dispatch = (m) => { try { send(m); } catch (e) { console.warn("mos_lab send", e); } };

    // ---- browser audio (this view hosts it after a click) ----
    let audio = null, wasHost = false;
    const sid = () => model.get("session_id");
    const stats = () => (MOS.stats[sid()] ??= { blocks: 0, frames: 0, played: 0, under: 0, view: "" });
    const needsAudio = () => clock.k.output === "browser" && !(audio && audio.ctx.state === "running")
      && !(clock.k.audio === "on" && model.get("audio_view") && model.get("audio_view") !== viewId);

    async function startAudio() {
      if (audio) {
        if (audio.ctx.state !== "running") await audio.ctx.resume();
        if (audio.node) dispatch({ type: "unlocked", view: viewId, sample_rate: Math.round(audio.ctx.sampleRate) });
        return;
      }
      const sr = model.get("sample_rate");
      let ctx;
      try { ctx = new AudioContext({ sampleRate: sr, latencyHint: "interactive" }); }
      catch (e) { ctx = new AudioContext({ latencyHint: "interactive" }); }
      MOS.live.contexts++;
      const a = (audio = { ctx, node: null, url: null });
      const resumed = ctx.resume();   // inside the click: allowed by the autoplay policy
      a.url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
      await ctx.audioWorklet.addModule(a.url);
      await resumed;
      if (audio !== a) return;  // stopped meanwhile
      const lat = { offs: [], i: 0 };  // recent (arrival - audio clock) offsets, ms
      const node = new AudioWorkletNode(ctx, "mos-lab-pcm", {
        numberOfInputs: 0, outputChannelCount: [2],
        processorOptions: { ratio: sr / ctx.sampleRate, prebuffer: Math.round(0.06 * sr),
                            report: 1024, sampleRate: sr },
      });
      node.connect(ctx.destination);
      a.node = node;
      node.port.onmessage = (e) => {
        const d = e.data, st = stats();
        const now = performance.now(), was = MOS.audio[sid()];
        // When the report's position is heard, on the page's clock: the audio clock plus
        // the least message delay seen lately (a busy page delivers reports late; their
        // arrival time is not when the music was heard).
        const at = audioTime(lat, d.time, now);
        MOS.audio[sid()] = { pos: d.pos, rate: d.rate, t: at, running: d.running,
                             ranAt: d.running ? at : (was && was.ranAt) || 0,
                             buffered: (d.queued || 0) / sr };
        st.played = d.played; st.under = d.under; st.view = viewId;
        // the engine's timestamps as heard: [ring frame played, its score time, arrival
        // time, audio-clock seconds] (for tests: heard instants from the audio clock)
        const rep = (st.reports ??= []);
        rep.push([d.played, d.pos, now, d.time]);
        if (rep.length > 8192) rep.splice(0, rep.length - 8192);
        // acknowledge what changed; an idle page (nothing played, no new underrun) once a
        // second, so a stopped kernel is not woken ~47 times a second for nothing
        if (d.played !== a.ackPlayed || d.under !== a.ackUnder || now - (a.ackAt || 0) >= 1000) {
          a.ackPlayed = d.played; a.ackUnder = d.under; a.ackAt = now;
          dispatch({ type: "ack", view: viewId, played: d.played, underruns: d.under });
        }
      };
      ctx.onstatechange = () => {
        if (audio === a && ctx.state !== "running") dispatch({ type: "audio_lost", view: viewId });
        refresh();
      };
      wasHost = true;
      dispatch({ type: "unlocked", view: viewId, sample_rate: Math.round(ctx.sampleRate) });
      refresh();
    }

    function stopAudio(tellKernel) {
      const a = audio;
      if (!a) return;
      audio = null;
      if (tellKernel && wasHost) dispatch({ type: "audio_lost", view: viewId });
      wasHost = false;
      try { if (a.node) { a.node.port.postMessage({ type: "close" }); a.node.port.onmessage = null; a.node.disconnect(); } } catch (e) { /* closed */ }
      a.ctx.onstatechange = null;
      a.ctx.close().catch(() => {});
      if (a.url) URL.revokeObjectURL(a.url);
      MOS.live.contexts--;
      if (MOS.audio[sid()]) { MOS.audio[sid()].running = false; MOS.audio[sid()].gone = true; }
      refresh();
    }
    sc.add(() => stopAudio(true));

    const onMsg = (msg, buffers) => {
      if (!msg || msg.view !== viewId || !audio || !audio.node) return;
      if (msg.type === "pcm" && buffers && buffers.length) {
        const b = buffers[0];
        const data = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
        audio.node.port.postMessage({ type: "pcm", start: msg.start, frames: msg.frames, enc: msg.encoding,
                                      pos: msg.pos, rate: msg.rate, data }, [data]);
        const st = stats(); st.blocks++; st.frames += msg.frames;
      } else if (msg.type === "flush") {
        audio.node.port.postMessage({ type: "flush", before: msg.before });
      }
    };
    model.on("msg:custom", onMsg);
    sc.add(() => model.off("msg:custom", onMsg));
    const onHost = () => {
      const v = model.get("audio_view");
      if (audio && wasHost && v !== viewId && (v !== "" || audio.node)) stopAudio(false);
    };
    model.on("change:audio_view", onHost);
    sc.add(() => model.off("change:audio_view", onHost));

    // ---- controls ----
    sc.on(play, "click", async () => {
      if (clock.k.state === "playing") return dispatch({ type: "pause" });
      if (needsAudio()) { try { await startAudio(); } catch (e) { console.warn("mos_lab audio", e); } }
      dispatch({ type: "play" });
    });
    sc.on(stop, "click", () => dispatch({ type: "stop" }));
    sc.on(enable, "click", () => startAudio().catch((e) => console.warn("mos_lab audio", e)));
    sc.on(loopBtn, "click", () => {
      const k = clock.k;
      if (k.loop) dispatch({ type: "loop" });
      else if (k.duration > 0) dispatch({ type: "loop", start: 0, end: k.duration });
    });
    sc.on(tempo, "input", () => { tempoText.textContent = Math.pow(2, +tempo.value).toFixed(2) + "×"; });
    sc.on(tempo, "change", () => dispatch({ type: "tempo", factor: +Math.pow(2, +tempo.value).toFixed(3) }));
    sc.on(outSel, "change", () => dispatch({ type: "output", kind: outSel.value }));
    let drag = null;
    const timeAt = (e) => {
      const r = bar.getBoundingClientRect();
      return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)) * (clock.k.duration || 0);
    };
    sc.on(bar, "pointerdown", (e) => {
      drag = { shift: e.shiftKey, a: timeAt(e), b: timeAt(e) };
      bar.setPointerCapture(e.pointerId);
    });
    sc.on(bar, "pointermove", (e) => { if (drag) drag.b = timeAt(e); });
    sc.on(bar, "pointerup", (e) => {
      if (!drag) return;
      const d = drag; drag = null; d.b = timeAt(e);
      if (d.shift && Math.abs(d.b - d.a) > 0.05) dispatch({ type: "loop", start: Math.min(d.a, d.b), end: Math.max(d.a, d.b) });
      else dispatch({ type: "seek", seconds: d.b });
    });

    // ---- state from the kernel ----
    function refresh() {
      const k = clock.k;
      const st = k.state || "idle";
      play.innerHTML = st === "playing" || st === "waiting_for_audio" ? ICON.pause : ICON.play;
      chip.textContent = STATE_TEXT[st] || st;
      chip.dataset.state = st;
      card.dataset.state = st;
      outSel.value = k.output || "null";
      dur.textContent = fmtTime(k.duration);
      loopBtn.classList.toggle("mos-on", !!k.loop);
      if (k.loop && k.duration) {
        loopBox.style.display = "block";
        loopBox.style.left = (100 * k.loop[0] / k.duration) + "%";
        loopBox.style.width = (100 * (k.loop[1] - k.loop[0]) / k.duration) + "%";
      } else loopBox.style.display = "none";
      if (document.activeElement !== tempo) {
        tempo.value = String(Math.log2(k.tempo || 1));
        tempoText.textContent = (k.tempo || 1).toFixed(2) + "×";
      }
      title.textContent = model.get("title") || "";
      const locked = needsAudio();
      enable.style.display = locked ? "flex" : "none";
      enable.classList.toggle("mos-urgent", locked && st === "waiting_for_audio");
      card.dataset.audio = locked ? "locked" : (audio ? "on" : "none");
    }
    const onClock = () => { clock.update(); refresh(); };
    model.on("change:clock", onClock);
    model.on("change:title", refresh);
    sc.add(() => { model.off("change:clock", onClock); model.off("change:title", refresh); });
    refresh();

    const vis = observeVisible(sc, card, model);
    frameLoop(sc, () => {
      const pos = clock.now(), d = clock.k.duration || 0;
      const frac = d ? Math.min(1, pos / d) : 0;
      time.textContent = fmtTime(pos);
      fill.style.width = (100 * frac) + "%";
      knob.style.left = (100 * frac) + "%";
      card.dataset.pos = pos.toFixed(3);
    }, () => vis.visible);
    return () => sc.dispose();
  },
};
