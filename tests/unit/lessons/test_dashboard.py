"""Progress views: skills weakest first, accuracy over time, practice, dashboard, CSV."""

from __future__ import annotations

from mos_lab import lessons
from mos_lab.lessons.dashboard import (
    Dashboard,
    dashboard_html,
    over_time,
    practice,
    skills,
    weakest,
)


def _fill(p: lessons.Progress) -> None:
    for seed in range(60):
        ex = lessons.interval_id(seed=seed, level=1, qualities=["M3", "P5"])
        # right on every fifth, wrong on every third
        r = ex.answer if ex.answer == "P5" else "m3"
        p.record("ada", ex, r, ex.check(r))
    for seed in range(10):
        ex = lessons.chord_id(seed=seed, level=1)
        p.record("ada", ex, ex.answer, ex.check(ex.answer))


def test_the_weakest_skill_comes_first_and_practice_draws_from_it(tmp_path):
    p = lessons.Progress(tmp_path / "p.sqlite")
    assert practice(p, "ada", seed=1) is None
    _fill(p)
    stats = skills(p, "ada")
    assert stats[0].skill == "interval M3" and stats[0].accuracy == 0
    assert weakest(p, "ada", 1)[0].skill == "interval M3"
    assert {s.skill for s in stats if s.accuracy == 1} >= {"interval P5"}
    drawn = [practice(p, "ada", seed=s, among=1) for s in range(20)]
    assert all(ex is not None and ex.kind == "interval_id" and ex.answer == "M3"
               for ex in drawn)
    series = over_time(p, "ada")
    assert series["interval M3"][0][1] == 0.0 and series["interval P5"][0][1] == 1.0


def test_practice_narrows_chords_to_the_quality_and_inversion(tmp_path):
    p = lessons.Progress(tmp_path / "p.sqlite")
    for seed in range(30):
        ex = lessons.chord_id(seed=seed, level=2)
        r = "C" if "first inversion" in ex.skill else ex.answer
        p.record("bob", ex, r, ex.check(r))
    ex = practice(p, "bob", seed=3, among=1)
    assert ex is not None and "first inversion" in ex.skill


def test_dashboard_html_widget_and_csv(tmp_path):
    p = lessons.Progress(tmp_path / "p.sqlite")
    _fill(p)
    page = dashboard_html(p, "ada")
    assert "interval M3 ⚑ weakest" in page and "<table" in page
    assert "No attempts" in dashboard_html(p, "nobody")
    w = Dashboard(p, "ada")
    assert "interval M3" in w.html
    ex = lessons.interval_id(seed=1)
    p.record("ada", ex, "x", ex.check("x"))
    w.refresh()
    w.close()
    csv = p.to_csv(tmp_path / "all.csv")
    assert csv.count("\n") == 72 and (tmp_path / "all.csv").exists()
