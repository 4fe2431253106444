"""An Analysis shows itself in a notebook: key bands coloured by key, numerals on them, and
a table of segments (onset, measure, beat, key, numeral, symbol, cadence); plain HTML."""

from __future__ import annotations

import re

from mos_lab.score import Score
from mos_lab.theory import analyze, read_romantext
from mos_lab.theory.display import analysis_html, key_colour


def modulating() -> Score:
    c = [(48, 60, 64, 67), (53, 60, 65, 69), (43, 59, 62, 65, 67), (48, 60, 64, 67)]
    g = [(43, 59, 62, 67), (48, 60, 64, 67), (50, 57, 60, 66), (43, 59, 62, 67)]
    rows = [(i * 480, 480, p, 90) for i, ch in enumerate((c + g) * 2) for p in ch]
    return Score.from_notes(rows, title="C & G <modulating>")


def test_an_analysis_displays_as_a_timeline_and_a_table():
    a = analyze(modulating())
    html = a._repr_html_()
    rows = re.findall(r"<tr><td[^>]*>([\d.]+)</td>", html)
    assert len(rows) == len(a.segments)  # one table row per segment
    assert [float(r) for r in rows] == [round(s.onset, 3) for s in a.segments]
    for head in ("onset (s)", "measure", "beat", "key", "numeral", "symbol", "cadence"):
        assert f">{head}</th>" in html
    bands = re.findall(r'class="mos-key-band" data-key="([^"]+)"', html)
    assert bands[0] == "C" and "G" in bands  # the modulation is a band of its own colour
    assert key_colour("C") in html and key_colour("G") in html
    assert html.count('class="mos-numeral"') == len(a.segments)
    for s in a.segments:
        assert f">{s.numeral}</div>" in html
    assert any(s.cadence and f">{s.cadence}</td>" in html for s in a.segments)
    assert "C &amp; G &lt;modulating&gt;" in html  # the title is escaped
    assert "<script" not in html.lower()


def test_key_colours_follow_the_circle_of_fifths_and_mode():
    assert key_colour("C") != key_colour("G") != key_colour("c")
    assert key_colour("a").split(",")[0] == key_colour("C").split(",")[0]  # relative: one hue
    assert key_colour(None) == key_colour("") and "0%" in key_colour(None)


def test_empty_and_human_analyses_display_too():
    empty = analyze(Score.from_notes([]))
    html = empty._repr_html_()
    assert "0 segments" in html and empty.message in html and "<table" not in html
    human = read_romantext("Time Signature: 4/4\nm1 C: I b3 V7\nm2 I")
    html = analysis_html(human)
    assert html.count('class="mos-numeral"') == 3 and ">V7</div>" in html
