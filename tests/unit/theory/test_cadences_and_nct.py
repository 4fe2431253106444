"""Cadences (IAC, plagal) and non-chord tones (neighbour, appoggiatura, pedal) that
``theory.analyze`` labels, each on a short four-voice passage written voice by voice, with a
near miss beside it that must get another label (a PAC is no IAC, a passing tone no
neighbour, ...)."""

from __future__ import annotations

import numpy as np

from mos_lab.score import NOTE_DTYPE, Score, Track
from mos_lab.score.tempo import TempoChange, TempoMap
from mos_lab.theory import Analysis, Pitch, analyze

Q = 480


def voices(*lines: str) -> Score:
    """A score with one track per voice, top first: "E5:2 D5 C5:4" (name:quarters, 1 if
    omitted; "-" rests), in 4/4 at 480 ticks per quarter."""
    rows = []
    for v, line in enumerate(lines):
        t = 0
        for token in line.split():
            name, _, beats = token.partition(":")
            d = round(float(beats or 1) * Q)
            if name != "-":
                rows.append((t, d, Pitch.parse(name).midi, v))
            t += d
    notes = np.zeros(len(rows), NOTE_DTYPE)
    a = np.array(rows)
    notes["start"], notes["duration"], notes["pitch"], notes["track"] = a.T
    notes["velocity"], notes["channel"] = 80, notes["track"]
    notes = notes[np.argsort(notes["start"], kind="stable")]
    return Score(notes, tuple(Track(str(i), 0, i) for i in range(len(lines))),
                 TempoMap(Q, [TempoChange(0, 500_000)]))


def cadences(a: Analysis) -> list[tuple[str, str | None]]:
    return [(s.numeral, s.cadence) for s in a]


def ncts(a: Analysis) -> list[tuple[str, str, str]]:
    """(numeral, spelled-free pitch name, kind) of every non-chord tone."""
    return [(s.numeral, Pitch.from_midi(n.pitch).name, n.kind)
            for s in a for n in s.non_chord_tones]


#: I - IV - V - I in C, half notes, the last I a whole note; the soprano ends on ``top``.
def _authentic(top: str) -> Score:
    return voices(f"E5:2 F5:2 D5:2 {top}:4", "C5:2 C5:2 B4:2 G4:4", "G4:2 A4:2 G4:2 E4:4",
                  "C3:2 F3:2 G3:2 C3:4")


def test_iac_with_the_third_on_top_and_pac_with_the_tonic() -> None:
    iac, pac = cadences(analyze(_authentic("E5"))), cadences(analyze(_authentic("C5")))
    assert [n for n, _ in iac] == [n for n, _ in pac] == ["I", "IV", "V", "I"]
    assert iac[-1] == ("I", "IAC") and pac[-1] == ("I", "PAC")


def test_iac_from_an_inverted_dominant() -> None:
    v6 = voices("E5:2 F5:2 D5:2 C5:4", "G4:2 A4:2 G4:2 G4:4", "C4:2 C4:2 D4:2 E4:4",
                "C3:2 A2:2 B2:2 C3:4")
    assert cadences(analyze(v6))[-2:] == [("V6", None), ("I", "IAC")]
    v43 = voices("E5:2 F5:2 D5:2 C5:4", "G4:2 A4:2 G4:2 G4:4", "C4:2 C4:2 F4:2 E4:4",
                 "C3:2 A2:2 D3:2 C3:4")
    assert cadences(analyze(v43))[-2:] == [("V4/3", None), ("I", "IAC")]


def test_inverted_dominant_in_passing_is_no_cadence() -> None:
    # I - V6 - I - IV in quarters (the second I on beat 3), then V - I: only the end is
    # an authentic cadence; the tonic after V6 is not held, so it is no arrival
    a = analyze(voices("C5 D5 E5 F5 D5:4 C5:4", "G4 G4 G4 A4 B4:4 G4:4",
                       "E4 D4 C4 C4 G4:4 E4:4", "C3 B2 C3 F3 G3:4 C3:4"))
    got = cadences(a)
    assert [n for n, _ in got] == ["I", "V6", "I", "IV", "V", "I"]
    assert [c for _, c in got[:-1] if c in ("IAC", "PAC")] == []
    assert got[-1] == ("I", "PAC")


def test_pac_with_an_appoggiatura_on_the_tonic_stays_perfect() -> None:
    # V7 - I with D5 leaping in over the final I and resolving to C5: the soprano arrives
    # on the tonic, so a PAC (read from the first top note, it was called an IAC)
    a = analyze(voices("F5:2 D5:1 C5:1 C5:4", "B4:2 G4:2 G4:4", "G4:2 E4:2 E4:4",
                       "G3:2 C3:2 C3:4"))
    assert cadences(a) == [("V7", None), ("I", "PAC")]
    assert ("I", "D", "appoggiatura") in ncts(a)


def test_plagal_cadence() -> None:
    a = analyze(voices("E5:2 D5:2 C5:2 C5:4", "C5:2 B4:2 A4:2 G4:4", "G4:2 G4:2 F4:2 E4:4",
                       "C3:2 G2:2 F3:2 C3:4"))
    assert cadences(a)[-2:] == [("IV", None), ("I", "PC")]


def test_iv_i_inside_a_phrase_is_not_plagal() -> None:
    # IV - I with the I a quarter on a weak beat, going on to V6 - I: no arrival
    a = analyze(voices("E5:2 D5:2 C5:2 C5:1 D5:1 E5:4", "C5:2 B4:2 A4:2 G4:1 G4:1 G4:4",
                       "G4:2 G4:2 F4:2 E4:1 D4:1 C4:4", "C3:2 G2:2 F3:2 C3:1 B2:1 C3:4"))
    got = cadences(a)
    i = got.index(("IV", None))
    assert got[i + 1] == ("I", None) and "PC" not in [c for _, c in got]
    # and a PAC is not plagal
    assert "PC" not in [c for _, c in cadences(analyze(_authentic("C5")))]


def test_neighbour_tones_upper_and_lower() -> None:
    upper = analyze(voices("C5 D5 C5:2 B4:2 C5:2", "G4:4 G4:2 G4:2", "E4:4 D4:2 E4:2",
                           "C3:4 G2:2 C3:2"))
    assert ncts(upper) == [("I", "D", "neighbour")]
    lower = analyze(voices("E5 D5 E5:2 D5:2 C5:2", "C5:4 B4:2 C5:2", "G4:4 G4:2 G4:2",
                           "C3:4 G2:2 C3:2"))
    assert ncts(lower) == [("I", "D", "neighbour")]


def test_passing_and_escape_tones_are_not_neighbours() -> None:
    passing = analyze(voices("C5 D5 E5:2 D5:2 C5:2", "G4:4 G4:2 G4:2", "E4:4 D4:2 E4:2",
                             "C3:4 G2:2 C3:2"))
    assert ncts(passing) == [("I", "D", "passing")]
    escape = analyze(voices("C5 D5 B4:2 C5:4", "G4:2 G4:2 G4:4", "E4:2 D4:2 E4:4",
                            "C3:2 G2:2 C3:4"))
    assert ncts(escape) == [("I", "D", "escape")]


def test_appoggiatura() -> None:
    # V7 - I, the soprano leaps D5 -> F5 over the I and steps down to E5
    a = analyze(voices("D5:2 F5:1 E5:1 E5:4", "B4:2 C5:2 C5:4", "F4:2 G4:2 G4:4",
                       "G3:2 C3:2 C3:4"))
    assert ncts(a) == [("I", "F", "appoggiatura")]


def test_step_in_is_no_appoggiatura() -> None:
    # the same F5 reached by step from E5 (and left by step back): a neighbour
    a = analyze(voices("E5:2 F5:1 E5:1 E5:4", "C5:2 C5:2 C5:4", "G4:2 G4:2 G4:4",
                       "C3:2 C3:2 C3:4"))
    kinds = [k for _, _, k in ncts(a)]
    assert kinds == ["neighbour"]


def test_tonic_pedal_under_changing_harmonies() -> None:
    # C3 held through I - IV6/4 - V - I: outside the V, so a pedal
    a = analyze(voices("G5:2 A5:2 G5:2 G5:4", "E5:2 F5:2 D5:2 E5:4", "C5:2 C5:2 B4:2 C5:4",
                       "C3:10"))
    assert [s.numeral for s in a] == ["I", "IV6/4", "V", "I"]
    assert ncts(a) == [("V", "C", "pedal")]


def test_held_chord_tones_and_suspensions_are_not_pedals() -> None:
    # the bass held under I - IV6/4 - I belongs to every chord: no non-chord tone at all
    a = analyze(voices("G5:2 A5:2 G5:4", "E5:2 F5:2 E5:4", "C5:2 C5:2 C5:4", "C3:8"))
    assert [s.numeral for s in a] == ["I", "IV6/4", "I"] and ncts(a) == []
    # a note held over one change of harmony and falling by step is a suspension
    sus = analyze(voices("C5:3 B4:1 C5:4", "G4:2 G4:2 G4:4", "E4:2 D4:2 E4:4",
                         "C3:2 G2:2 C3:4"))
    assert ncts(sus) == [("V", "C", "suspension")]
