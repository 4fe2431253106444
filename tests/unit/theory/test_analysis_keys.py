"""Local keys on ordinary music the analyser was not tuned on: constructed progressions in
several idioms and keys, with a chord a bar (the harmonic rhythm of songs) and a chord a
half note. A diatonic loop stays in its key; a real modulation with a cadence in the new
key is found; an applied dominant (V7/V) is a tonicisation, not a modulation."""

from __future__ import annotations

import pytest

from mos_lab.score import Score
from mos_lab.theory import Analysis, analyze
from mos_lab.theory.keyfinding import key_index, key_name

#: Pitch classes above the tonic of the numerals used here (root first).
CHORDS = {
    "I": (0, 4, 7), "ii": (2, 5, 9), "ii7": (2, 5, 9, 0), "iii": (4, 7, 11), "IV": (5, 9, 0),
    "V": (7, 11, 2), "V7": (7, 11, 2, 5), "vi": (9, 0, 4), "V7/V": (2, 6, 9, 0),
    "i": (0, 3, 7), "iio7": (2, 5, 8, 0), "iv": (5, 8, 0), "VI": (8, 0, 3),
    "III": (3, 7, 10), "VII": (10, 2, 5),
}


def song(chords: list[tuple[int, str]], tonic: int, dur: int, melody: bool = True,
         walking: bool = False) -> Score:
    """Chords given as (tonic offset, numeral): bass on the root (``walking``: root,
    fifth, root, third in quarters), close position above middle C, and (``melody``) a
    quarter-note line of chord tones on top."""
    rows = []
    for i, (shift, numeral) in enumerate(chords):
        pcs = [(tonic + shift + q) % 12 for q in CHORDS[numeral]]
        t = i * dur
        if walking:
            rows += [(t + b, 480, 36 + pcs[0] + (pcs[m] - pcs[0]) % 12, 80)
                     for b, m in zip(range(0, dur, 480), [0, 2, 0, 1] * 2, strict=False)]
        else:
            rows.append((t, dur, 36 + pcs[0], 80))
        rows += [(t, dur, 60 + pc, 70) for pc in pcs[:4]]
        if melody:
            tones = sorted(72 + pc for pc in pcs)
            rows += [(t + b, 480, tones[(b // 480) % len(tones)], 90)
                     for b in range(0, dur, 480)]
    return Score.from_notes(rows)


def keys_of(a: Analysis, dur: int, n: int) -> list[str]:
    """The key at the middle of each of ``n`` chords of length ``dur``."""
    out = []
    for i in range(n):
        t = i * dur + dur // 2
        out.append(next(s.key for s in a if s.tick <= t < s.end))
    return out


def numerals_of(a: Analysis, dur: int, n: int) -> list[str]:
    out = []
    for i in range(n):
        t = i * dur + dur // 2
        out.append(next(s.numeral for s in a if s.tick <= t < s.end))
    return out


def name(tonic: int, minor: bool) -> str:
    return key_name(tonic + 12 * minor)


LOOPS = {
    "I-vi-IV-V": ["I", "vi", "IV", "V", "I", "vi", "IV", "V", "I"],
    "I-V-vi-IV": ["I", "V", "vi", "IV", "I", "V", "vi", "IV", "I"],
    "ii-V-I": ["I", "ii7", "V7", "I", "vi", "ii7", "V7", "I"],
    "I-IV-V": ["I", "IV", "I", "V", "I", "IV", "V", "I"],
}
MINOR_LOOPS = {
    "iio7-V7-i": ["i", "iio7", "V7", "i", "iv", "iio7", "V7", "i"],
    "i-VI-III-VII": ["i", "VI", "III", "VII", "i", "iv", "V7", "i"],
}
#: The aeolian loop (Am F C G) is the relative major's vi-IV-I-V: the decoder still calls
#: it the relative major until the V7-i cadence; a cadence-confirmed key change would fix it.
AEOLIAN = pytest.mark.xfail(reason="aeolian loop read in the relative major until the "
                            "cadence (no cadence-confirmation of key changes yet)")


@pytest.mark.parametrize("dur", [1920, 960])
@pytest.mark.parametrize("tonic", [0, 7, 2, 10])
@pytest.mark.parametrize("idiom", sorted(LOOPS))
def test_major_loops_stay_in_their_key(idiom: str, tonic: int, dur: int) -> None:
    chords = [(0, n) for n in LOOPS[idiom]]
    a = analyze(song(chords, tonic, dur))
    home = name(tonic, False)
    assert keys_of(a, dur, len(chords)) == [home] * len(chords), a.to_romantext()
    assert numerals_of(a, dur, len(chords))[:4] == LOOPS[idiom][:4], a.to_romantext()
    assert a.key == home


@pytest.mark.parametrize("dur", [1920, 960])
@pytest.mark.parametrize("tonic", [0, 7, 2, 10])
@pytest.mark.parametrize("idiom", sorted(LOOPS))
def test_major_loops_over_a_walking_bass_stay_in_their_key(idiom: str, tonic: int,
                                                            dur: int) -> None:
    """The bass moves every beat, so the harmonic rhythm cannot be read from it: each
    held chord must still weigh as one harmony, not as four beats of evidence."""
    chords = [(0, n) for n in LOOPS[idiom]]
    a = analyze(song(chords, tonic, dur, walking=True))
    assert keys_of(a, dur, len(chords)) == [name(tonic, False)] * len(chords), \
        a.to_romantext()


@pytest.mark.parametrize("dur", [1920, 960])
@pytest.mark.parametrize("tonic", [9, 0, 4])
@pytest.mark.parametrize("idiom", [pytest.param(i, marks=AEOLIAN) if "VII" in i else i
                                   for i in sorted(MINOR_LOOPS)])
def test_minor_loops_stay_in_their_key(idiom: str, tonic: int, dur: int) -> None:
    chords = [(0, n) for n in MINOR_LOOPS[idiom]]
    a = analyze(song(chords, tonic, dur))
    home = name(tonic, True)
    assert keys_of(a, dur, len(chords)) == [home] * len(chords), a.to_romantext()
    assert a.key == home


def test_the_example_song_is_one_key() -> None:
    """examples/song.mid: I-vi-IV-V-I in C with a tune, a chord a bar."""
    from pathlib import Path

    import mos_lab

    path = Path(__file__).resolve().parents[3] / "examples" / "song.mid"
    a = analyze(mos_lab.load(path))
    assert {s.key for s in a} == {"C"}, a.to_romantext()
    assert [s.numeral for s in a][:5] == ["I", "vi", "IV", "V", "I"], a.to_romantext()


@pytest.mark.parametrize("dur", [1920, 960])
@pytest.mark.parametrize("tonic", [0, 5, 9])
def test_applied_dominant_is_a_tonicisation(tonic: int, dur: int) -> None:
    chords = [(0, n) for n in ["I", "IV", "V7/V", "V", "V7", "I", "vi", "ii7", "V7", "I"]]
    a = analyze(song(chords, tonic, dur))
    home = name(tonic, False)
    assert keys_of(a, dur, len(chords)) == [home] * len(chords), a.to_romantext()
    assert numerals_of(a, dur, len(chords))[2] in ("V7/V", "V/V"), a.to_romantext()


@pytest.mark.parametrize("dur", [1920, 960])
@pytest.mark.parametrize("tonic", [0, 2, 10])
def test_modulation_to_the_dominant_with_a_cadence_is_found(tonic: int, dur: int) -> None:
    """Home key established, a pivot (vi = ii of V), then a cadence confirmed in V."""
    home = [(0, n) for n in ["I", "IV", "V7", "I", "vi"]]
    new = [(7, n) for n in ["ii", "V7", "I", "IV", "V7", "I", "IV", "V7", "I"]]
    chords = home + new
    a = analyze(song(chords, tonic, dur))
    keys = keys_of(a, dur, len(chords))
    assert keys[:4] == [name(tonic, False)] * 4, a.to_romantext()
    dominant = name((tonic + 7) % 12, False)
    assert keys[-6:] == [dominant] * 6, a.to_romantext()
    assert numerals_of(a, dur, len(chords))[-3:] == ["IV", "V7", "I"], a.to_romantext()
    assert key_index(dominant) % 12 == (tonic + 7) % 12
