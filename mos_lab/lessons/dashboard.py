"""Progress views: accuracy per skill, weakest skills, accuracy over time, practice mode
(the next exercise from the weakest skill) and a dashboard widget that draws them."""

from __future__ import annotations

import html
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from mos_lab.lessons.authoring import make
from mos_lab.lessons.exercise import Exercise
from mos_lab.lessons.progress import Attempt, Progress


@dataclass(frozen=True)
class SkillStats:
    """One skill's record: attempts, right answers, and accuracy smoothed toward 1/2."""

    skill: str
    attempts: int
    correct: int
    last: float

    @property
    def accuracy(self) -> float:
        """Right answers over attempts (0 for none)."""
        return self.correct / self.attempts if self.attempts else 0.0

    @property
    def smoothed(self) -> float:
        """(right + 1) / (attempts + 2): one lucky answer does not make a skill strong."""
        return (self.correct + 1) / (self.attempts + 2)


def skills(progress: Progress, student: str) -> list[SkillStats]:
    """Every skill the student tried, weakest first (smoothed accuracy, then fewer tries)."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for a in progress.attempts(student):
        s = acc[a.skill]
        s[0] += 1
        s[1] += a.correct
        s[2] = max(s[2], a.timestamp)
    out = [SkillStats(k, int(v[0]), int(v[1]), v[2]) for k, v in acc.items()]
    return sorted(out, key=lambda s: (s.smoothed, s.attempts, s.skill))


def weakest(progress: Progress, student: str, n: int = 3) -> list[SkillStats]:
    """The ``n`` weakest skills."""
    return skills(progress, student)[:n]


def over_time(progress: Progress, student: str, *, bucket_s: float = 86_400.0
              ) -> dict[str, list[tuple[float, float, int]]]:
    """Per skill, (bucket start, accuracy, attempts) for each time bucket (default a day)."""
    out: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for a in progress.attempts(student):
        b = a.timestamp - a.timestamp % bucket_s
        cell = out[a.skill][b]
        cell[0] += 1
        cell[1] += a.correct
    return {k: [(b, c / n, n) for b, (n, c) in sorted(v.items())] for k, v in out.items()}


def _exercise_for(a: Attempt, seed: int) -> Exercise:
    """A new exercise of an attempt's skill: its kind and parameters, narrowed to the skill
    for intervals and chords (one interval, one quality and inversion)."""
    params: dict[str, Any] = {k: v for k, v in json.loads(a.params).items() if v is not None}
    params["level"] = a.level
    if a.kind in ("interval_id", "interval_build") and a.skill.split()[-1]:
        params["qualities"] = [a.skill.split()[-1]]
    elif a.kind == "chord_id" and a.skill.startswith("chord "):
        from mos_lab.lessons.chords import INVERSION_NAMES

        rest = a.skill[len("chord "):]
        for i, inv in enumerate(INVERSION_NAMES):
            if rest.endswith(" " + inv):
                params["qualities"] = [rest[: -len(inv) - 1]]
                params["inversions"] = [i]
    try:
        return make(a.kind, seed, **params)
    except ValueError:  # a narrowed set that no longer fits: the attempt's own parameters
        params = {k: v for k, v in json.loads(a.params).items() if v is not None}
        return make(a.kind, seed, level=a.level, **params)


def practice(progress: Progress, student: str, *, seed: int | None = None,
             among: int = 3) -> Exercise | None:
    """The next exercise for practice: from one of the ``among`` weakest skills (the
    weakest most often), made fresh; None when the student has no attempts yet."""
    weak = weakest(progress, student, among)
    if not weak:
        return None
    s = seed if seed is not None else int(time.time() * 1000) & 0x7FFFFFFF
    from mos_lab.lessons._rng import Rng

    rng = Rng(s)
    weights = [len(weak) - i for i in range(len(weak))]
    r = rng.randrange(sum(weights))
    pick = next(w for w, c in zip(weak, _cumsum(weights), strict=True) if r < c)
    last = next(a for a in reversed(progress.attempts(student)) if a.skill == pick.skill)
    return _exercise_for(last, s)


def _cumsum(xs: list[int]) -> list[int]:
    out, t = [], 0
    for x in xs:
        t += x
        out.append(t)
    return out


def dashboard_html(progress: Progress, student: str, n_weak: int = 3) -> str:
    """The dashboard as HTML: a table of skills (accuracy bar, tries) and a small SVG line
    of accuracy per day for each skill, the weakest marked."""
    stats = skills(progress, student)
    if not stats:
        return f"<p>No attempts yet for {html.escape(student)}.</p>"
    series = over_time(progress, student)
    weak = {s.skill for s in stats[:n_weak]}
    rows = []
    for s in sorted(stats, key=lambda s: s.skill):
        pts = series.get(s.skill, [])
        w, h = 120, 24
        if len(pts) > 1:
            t0, t1 = pts[0][0], pts[-1][0]
            xy = " ".join(f"{(b - t0) / (t1 - t0) * w:.1f},{h - acc * h:.1f}"
                          for b, acc, _ in pts)
            line = (f'<svg width="{w}" height="{h}"><polyline fill="none" stroke="#2563eb" '
                    f'stroke-width="2" points="{xy}"/></svg>')
        else:
            line = ""
        bar = (f'<div style="background:#e5e7eb;width:100px;height:10px"><div style="'
               f'background:{"#dc2626" if s.skill in weak else "#16a34a"};width:'
               f'{s.accuracy * 100:.0f}px;height:10px"></div></div>')
        mark = " ⚑ weakest" if s.skill in weak else ""
        rows.append(f"<tr><td>{html.escape(s.skill)}{mark}</td><td>{bar}</td>"
                    f"<td>{s.accuracy:.0%}</td><td>{s.correct}/{s.attempts}</td>"
                    f"<td>{line}</td></tr>")
    return ("<table class='mos-dashboard'><tr><th>skill</th><th></th><th>accuracy</th>"
            "<th>right/tries</th><th>per day</th></tr>" + "".join(rows) + "</table>")


_DASH_ESM = """
export default {
  render({ model, el }) {
    const box = document.createElement("div");
    box.style.fontFamily = "sans-serif";
    const draw = () => { box.innerHTML = model.get("html"); };
    model.on("change:html", draw);
    draw();
    el.appendChild(box);
    return () => { model.off("change:html", draw); box.remove(); };
  },
};
"""


def Dashboard(progress: Progress, student: str, *, n_weak: int = 3) -> Any:
    """A widget showing a student's accuracy per skill, over time, and the weakest skills;
    ``.refresh()`` re-reads the progress file."""
    import anywidget
    import traitlets as t

    class _Dashboard(anywidget.AnyWidget):
        _esm = _DASH_ESM
        html = t.Unicode("").tag(sync=True)

        def refresh(self) -> None:
            """Read the attempts again and redraw."""
            self.html = dashboard_html(progress, student, n_weak)

    w = _Dashboard()
    w.refresh()
    return w
