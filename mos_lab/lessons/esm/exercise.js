// Exercise: question, engraved (or text) prompt, play button, answer box, feedback.
// Typed answers go with Enter or the Check button; notes played on the kernel's Keyboard
// arrive in `entered` and fill the box; rhythm taps (button or space bar) are timed with
// performance.now() and sent in ms from the first tap.
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export default {
  render({ model, el: root }) {
    const card = el("div", "mos-exercise");
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
    const feedback = el("div", "mos-feedback");
    feedback.style.marginTop = "8px";
    row.append(play, input, check, tap);
    card.append(question, prompt, row, feedback);
    root.appendChild(card);
    let taps = [];

    function draw() {
      question.textContent = model.get("question");
      const svg = model.get("svg");
      if (svg) prompt.innerHTML = svg; else prompt.textContent = model.get("text_prompt");
      input.placeholder = model.get("placeholder");
      tap.style.display = model.get("kind") === "rhythm_tap" ? "" : "none";
    }
    function showFeedback() {
      const fb = model.get("feedback") || {};
      if (fb.message === undefined) { feedback.textContent = ""; return; }
      feedback.textContent = (fb.correct ? "✔ " : "✘ ") + fb.message;
      feedback.style.color = fb.correct ? "#176117" : "#9b1c1c";
      feedback.dataset.correct = String(!!fb.correct);
    }
    function submit() {
      const text = model.get("kind") === "rhythm_tap" && taps.length
        ? taps.map((t) => Math.round(t - taps[0])).join(" ") : input.value;
      model.send({ type: "answer", text: String(text).slice(0, 2000) });
      taps = [];
    }
    const onKey = (e) => { if (e.key === "Enter") submit(); };
    const onTap = () => { taps.push(performance.now()); input.value = `${taps.length} tap(s)`; };
    const onSpace = (e) => { if (e.key === " " && model.get("kind") === "rhythm_tap") { e.preventDefault(); onTap(); } };
    input.addEventListener("keydown", onKey);
    card.addEventListener("keydown", onSpace);
    check.addEventListener("click", submit);
    tap.addEventListener("click", onTap);
    play.addEventListener("click", () => model.send({ type: "play" }));
    const onEntered = () => { input.value = model.get("entered").join(" "); };
    model.on("change:entered", onEntered);
    model.on("change:feedback", showFeedback);
    model.on("change:svg", draw);
    model.on("change:question", draw);
    draw(); showFeedback();
    return () => {
      model.off("change:entered", onEntered);
      model.off("change:feedback", showFeedback);
      model.off("change:svg", draw);
      model.off("change:question", draw);
      card.remove();
    };
  },
};
