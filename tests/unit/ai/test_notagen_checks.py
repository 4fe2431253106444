"""The checks a sampled NotaGen bar passes: ABC bar lengths, voices left out (the shipped
model's training data writes every voice in every bar), voices of different lengths."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from mos_lab.ai.models.notagen.abc import bar_length
from mos_lab.ai.models.notagen.sampling import check_line

HEAD = "L:1/8\nM:4/4\nV:1\nV:2\nV:3\nK:C\n"


@pytest.mark.parametrize(("music", "units"), [
    ("G2 B2 A2 F2|", 8),
    ("GF2 A2 F2 GF|", 9),
    ("A2 G2 FG E/2|", Fraction(13, 2)),
    ("d2 d4 z2|", 8),
    ("G4<E2 DE|", 8),  # broken rhythm keeps the pair's sum
    ("(3ABc d2 B2 c2|", 8),  # a triplet of eighths is one quarter
    ("(3:2:4A/B/c/d/ e6|", Fraction(22, 3)),  # (p:q:r: r notes at q/p
    ("[CEG]2 [CE]4 z2|", 8),
    ("[C2E2G2]3 x2|", 8),  # a chord's length: its first note's times the one after it
    ('"Am"!fermata!A8|]', 8),
    ("{g}A2 TB6|", 8),  # grace notes and the trill letter take no time
    ("^c2 _B,2 =F2 c'//c'//c'/|", 7),
    ("B,2 A,F, A,C A,2-|", 8),
    ("|:B2 G2 E2|", 6),
    ("c4 B2::", 6),
    ("[1 c8 :|", 8),
    ("Z|", None),  # a multi-bar rest: its length is the meter's, not read here
    ("[L:1/4] c2 c2|", None),
    ("c2 @3|", None),
])
def test_bar_length_in_units_of_l(music: str, units: Fraction | int | None) -> None:
    assert bar_length(music) == units


def test_a_voice_left_out_is_a_problem_only_when_every_voice_is_asked_for() -> None:
    line = "[r:0/3][V:1]G2 B2 A2 F2|[V:3]G,4 D,4|\n"
    assert check_line(HEAD, line) == []  # NotaGen's data leaves whole-bar rests out
    assert check_line(HEAD, line, every_voice=True) == ["voice 2 left out"]
    full = "[V:1]G8|[V:2]z8|[V:3]G,8|\n"
    assert check_line(HEAD, full, every_voice=True) == []


def test_voices_of_different_lengths_only_with_same_length() -> None:
    line = "[V:1]G2 B2 A2 F2|[V:2]E2 E2 D2|[V:3]G,8|\n"
    assert check_line(HEAD, line) == []
    assert check_line(HEAD, line, same_length=True) == [
        "voices of different lengths (1: 8, 2: 6, 3: 8 units of L)"]
    unread = "[V:1]G8|[V:2]Z|[V:3]G,8|\n"  # a voice whose length is not read is not judged
    assert check_line(HEAD, unread, same_length=True) == []


def test_the_shipped_model_writes_every_voice_in_every_bar() -> None:
    torch = pytest.importorskip("torch")
    from mos_lab.ai.models import notagen
    from mos_lab.ai.models.notagen.model import NotaGenConfig

    torch.set_num_threads(1)
    m = notagen.shipped()
    assert m.every_voice and notagen.load(notagen.SHIPPED).every_voice
    assert not notagen.random(NotaGenConfig(hidden=64, patch_layers=1, char_layers=1,
                                            patch_length=16)).every_voice
    g = m.generate(period="Baroque", composer="Bach, Johann Sebastian",
                   instrumentation="Choral", bars=6, seed=3)
    declared = set(re.findall(r"^V:(\S+)", g.text, re.M))
    assert len(g.bars) == 6 and len(declared) >= 2
    for line in g.bars:
        assert set(re.findall(r"\[V:([^\]]+)\]", line)) == declared, line


@pytest.mark.parametrize(("music", "fitted"), [
    ("G2 B2 A2 F2|", "G2 B2 A2 F2|"),
    ("GF2 A2 F2 GF|", "GF2 A2 F2 G|"),  # one eighth too long: the last note goes
    ("A2 G2 FG E/2|", "A2 G2 FG E/2 z3/2|"),  # short: a rest before the barline
    ("(3ABc d2 B2 c2 d2|", "(3ABc d2 B2 c2|"),
    ("A2 B2 c3 (3def|", "A2 B2 c3 z1|"),  # not cut inside a tuplet
    ("A2 B2 c3 d>e|", "A2 B2 c3 z1|"),  # nor inside a broken-rhythm pair
    ("B,2 A,F, A,C A,2-|", "B,2 A,F, A,C A,2-|"),
    ("|:B2 G2 E2|", "|:B2 G2 E2 z2|"),
    ("c4 B2::", "c4 B2 z2::"),
    ("c4 B2-|", "c4 B2 z2|"),  # the tie goes with the padding
    ("Z|", "Z|"),  # not read: unchanged
])
def test_fit_bar(music: str, fitted: str) -> None:
    from mos_lab.ai.models.notagen.abc import fit_bar

    assert fit_bar(music, Fraction(8)) == fitted
    if bar_length(fitted) is not None:
        assert bar_length(fitted) == 8


def test_playable_keeps_the_voices_of_a_line_together() -> None:
    from mos_lab.ai.models.notagen.abc import playable, to_score

    text = (HEAD + "[r:0/2][V:1]G2 B2 A2 F2|[V:2]E2 E2 D2|[V:3]G,8|\n"
            "[r:1/1][V:1]c8|[V:2]G10|\n[r:2/0][V:1]B8|][V:2]G8|][V:3]G,8|]\n")
    body = playable(text).split("K:C\n")[1].splitlines()
    assert body == ["[V:1]G2 B2 A2 F2|[V:2]E2 E2 D2 z2|[V:3]G,8|",
                    "[V:1]c8|[V:2]z8|[V:3]z8|",  # G10 over-fills: cut, and 3 rests
                    "[V:1]B8|][V:2]G8|][V:3]G,8|]"]
    sc = to_score(text)
    ends = [int((sc.notes["start"] + sc.notes["duration"])[sc.notes["track"] == t].max())
            for t in range(3)]
    assert ends == [3 * 1920] * 3  # every voice ends with the last bar
