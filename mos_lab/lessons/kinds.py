"""The other drill kinds: note reading, key signatures, scales and modes, Roman-numeral
analysis, melodic dictation and rhythm tapping (generator and grader each).

Every generator is seeded and makes its candidates once per parameter set (``lru_cache``),
so a drill draws an exercise in microseconds. Graders read untrusted text and answer
with a Feedback whose message says what was wrong, never an exception.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache
from itertools import repeat
from math import isnan
from operator import itemgetter
from typing import NamedTuple

from mos_lab.lessons._reading import check_level, plain
from mos_lab.lessons._rng import Rng, pick
from mos_lab.lessons.exercise import TPQ, Exercise, Feedback
from mos_lab.lessons.intervals import NoteFacts, grade_note_facts, note_facts, parse_note
from mos_lab.theory.analysis.numeral import NumeralError, parse_numeral
from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch, PitchError
from mos_lab.theory.scale import SCALES, Scale, scale_kind

Events = tuple[tuple[Pitch, int, int], ...]


# -- note reading --------------------------------------------------------------------
#: Staff range (no ledger lines) and the range with two ledger lines, per clef.
STAFF = {"treble": ("E4", "F5", "A3", "D6"), "bass": ("G2", "A3", "C2", "F4")}


@lru_cache(maxsize=64)
def _notes(level: int, clef: str) -> tuple[tuple[NoteFacts, str], ...]:
    """Every note a level shows in a clef, with its facts and the question (made once)."""
    check_level(level, (1, 2, 3))
    if clef not in STAFF:
        raise ValueError(f"clef {clef!r} is not one of {sorted(STAFF)}")
    lo_s, hi_s, lo_l, hi_l = (Pitch.parse(n) for n in STAFF[clef])
    lo, hi = (lo_s, hi_s) if level == 1 else (lo_l, hi_l)
    alters = (0,) if level == 1 else (-1, 0, 1) if level == 2 else (-2, -1, 0, 1, 2)
    question = f"Name the note ({clef} clef), with its octave: C4 is middle C"
    return tuple((note_facts(Pitch(step, alter, octave)), question)
                 for octave in range(0, 9) for step in range(7)
                 for alter in alters
                 if lo.diatonic <= Pitch(step, 0, octave).diatonic <= hi.diatonic)


def note_reading(seed: int = 0, level: int = 1, *, clef: str = "treble") -> Exercise:
    """Name a written note with its octave (``F#4``): level 1 on the staff, naturals;
    2 with two ledger lines and sharps or flats; 3 with double sharps and flats."""
    facts, question = pick(seed, _notes(level, clef))
    answer = facts.text
    return Exercise(
        kind="note_reading", seed=seed, level=level,
        question=question, answer=answer, events=((facts.pitch, 0, 2 * TPQ),),
        grader=lambda r: grade_note_facts(facts, r, "the note", answer),
        params={"clef": clef}, skill=f"read {clef} clef")


# -- key signatures ------------------------------------------------------------------
EXPECTED_KEY = "a key such as D major, Bb major, F# minor (or D, f#)"


@lru_cache(maxsize=4096)
def _read_key(response: str) -> Key | str:
    text = plain(response.strip())
    m = re.match(r"^([A-Ga-g][#b]*)\s*(m|maj|min|major|minor)?$", text)
    try:
        if m and m.group(2):
            mode = "minor" if m.group(2) in ("m", "min", "minor") else "major"
            return Key(Pitch.parse(m.group(1).capitalize()), mode)
        return Key.parse(text)
    except (ValueError, PitchError):
        return f"expected {EXPECTED_KEY}; could not read {text!r}"


class _KeyFacts(NamedTuple):
    """What the key grader compares and says of a key, worked out once per key."""

    key: Key
    name: str
    sharps: int
    signature: str  # "2 sharps", "no sharps or flats"


@lru_cache(maxsize=1024)
def _key_facts(key: Key) -> _KeyFacts:
    """A key's facts; one object per key while cached, so ``is`` compares."""
    n = key.sharps
    sig = f"{abs(n)} {'sharp' if n > 0 else 'flat'}{'s' if abs(n) != 1 else ''}" if n else \
        "no sharps or flats"
    return _KeyFacts(key, key.name, n, sig)


@lru_cache(maxsize=4096)
def _read_key_facts(response: str) -> _KeyFacts | str:
    got = _read_key(response)
    return got if isinstance(got, str) else _key_facts(got)


def grade_key(answer: Key, response: object, name: str | None = None) -> Feedback:
    """Grade a key name: tonic (spelled) and mode (``name``: the answer's, if known)."""
    facts = _key_facts(answer)
    return _grade_key(facts, response, name or facts.name)


def _grade_key(answer: _KeyFacts, response: object, name: str) -> Feedback:
    """``grade_key`` with the answer's facts worked out (once per key)."""
    if not isinstance(response, str) or len(response) > 24:
        return Feedback(False, 0.0, f"expected {EXPECTED_KEY}")
    got = _read_key_facts(response)
    if isinstance(got, str):
        return Feedback(False, 0.0, got)
    if got is answer or got.key == answer.key:
        return Feedback(True, 1.0, f"right: {name}")
    if got.sharps == answer.sharps:
        return Feedback(False, 0.5, f"{got.name} has this signature too, but the question "
                                    f"asks for the {answer.key.mode} key: {answer.name}")
    return Feedback(False, 0.0, f"{answer.signature} is {answer.name}, not {got.name}")


@lru_cache(maxsize=64)
def _signature_key(sharps: int, mode: str) -> tuple[_KeyFacts, Pitch, str, str]:
    """The key's facts, a neutral note (B4) spelled by its signature, the key's name and
    the question."""
    key = Key.from_signature(sharps, mode)
    return (_key_facts(key), Pitch(6, key.alter_of("B"), 4), key.name,
            f"Name the {mode} key with this key signature")


_MOST = {1: 3, 2: 5, 3: 7}


def key_signature(seed: int = 0, level: int = 1, *, mode: str = "major") -> Exercise:
    """Name the key (in ``mode``: major, minor, or either) of a written key signature:
    level 1 up to three sharps or flats, 2 up to five, 3 all seven."""
    check_level(level, _MOST)
    if mode not in ("major", "minor", "either"):
        raise ValueError(f"mode {mode!r} is not major, minor or either")
    rng = Rng(seed)
    most = _MOST[level]
    sharps = rng.randint(-most, most)
    m = mode if mode != "either" else rng.choice(("major", "minor"))
    facts, b4, name, question = _signature_key(sharps, m)
    return Exercise(
        kind="key_signature", seed=seed, level=level, question=question,
        answer=name, events=((b4, 0, 4 * TPQ),),
        grader=lambda r: _grade_key(facts, r, name), params={"mode": mode},
        skill=f"key signature {m}", key_signature=sharps)


# -- scales and modes ----------------------------------------------------------------
LEVEL_SCALES = {
    1: ("major", "natural minor", "harmonic minor", "melodic minor"),
    2: ("major", "dorian", "phrygian", "lydian", "mixolydian", "natural minor", "locrian"),
    3: ("major pentatonic", "minor pentatonic", "blues", "whole-tone", "octatonic",
        "harmonic minor", "melodic minor"),
}
EXPECTED_SCALE = "a tonic and a scale, such as D dorian, F# harmonic minor, Bb major"


class _ScaleFacts(NamedTuple):
    """What the scale grader compares and says of a scale, worked out once per scale."""

    scale: Scale
    tonic: tuple[int, int]  # (step, alter): the spelled tonic
    tonic_name: str
    kind: str
    steps: tuple[str, ...]  # the kind's intervals, as SCALES lists them
    names: frozenset[str]  # its spelled pitch classes


@lru_cache(maxsize=1024)
def _scale_facts(sc: Scale) -> _ScaleFacts:
    """A scale's facts; one object per scale while cached, so ``is`` compares."""
    return _ScaleFacts(sc, (sc.tonic.step, sc.tonic.alter), sc.tonic.name, sc.kind,
                       tuple(SCALES[sc.kind]), _names(sc))


@lru_cache(maxsize=4096)
def _read_scale_facts(response: str) -> _ScaleFacts | str:
    got = _read_scale(response)
    return got if isinstance(got, str) else _scale_facts(got)


def grade_scale(answer: Scale, response: object, right: str | None = None) -> Feedback:
    """Grade a scale name: tonic (spelled) and kind; modes of the same notes are told apart
    (``right``: the answer's name, when the caller has it)."""
    facts = _scale_facts(answer)
    return _grade_scale(facts, response, right or f"{facts.tonic_name} {facts.kind}")


def _grade_scale(answer: _ScaleFacts, response: object, right: str) -> Feedback:
    """``grade_scale`` with the answer's facts worked out (once per scale): the same scale
    by another name is right; else the right tonic, or the same notes from another."""
    if not isinstance(response, str) or len(response) > 40:
        return Feedback(False, 0.0, f"expected {EXPECTED_SCALE}")
    got = _read_scale_facts(response)
    if isinstance(got, str):
        return Feedback(False, 0.0, got)
    if got is answer or got.scale == answer.scale:
        return Feedback(True, 1.0, f"right: {right}")
    if got.tonic == answer.tonic:
        if got.steps == answer.steps:
            return Feedback(True, 1.0, f"right: {right}")
        return Feedback(False, 0.5, f"right tonic, wrong scale: it is {right}, "
                                    f"not {got.kind}")
    if got.names == answer.names:
        return Feedback(False, 0.5, f"the same notes as {got.tonic_name} {got.kind}, but "
                                    f"the scale starts on {answer.tonic_name}: {right}")
    return Feedback(False, 0.0, f"it is {right}, not {got.tonic_name} {got.kind}")


@lru_cache(maxsize=4096)
def _read_scale(response: str) -> Scale | str:
    text = " ".join(plain(response).split())
    m = re.match(r"^([A-Ga-g][#b]*)\s+(.+)$", text)
    try:
        if m:
            return Scale(Pitch.parse(m.group(1).capitalize()), scale_kind(m.group(2)))
    except (ValueError, PitchError):
        pass
    return f"expected {EXPECTED_SCALE}; could not read {response.strip()!r}"


@lru_cache(maxsize=4096)
def _names(sc: Scale) -> frozenset[str]:
    return frozenset(p.name for p in sc.pitches())


@lru_cache(maxsize=64)
def _scales(level: int, kinds: tuple[str, ...] | None
            ) -> tuple[tuple[_ScaleFacts, Events, str, str], ...]:
    """Every scale a level shows: its facts, prompt events, name and skill (made once)."""
    check_level(level, (1, 2, 3))
    names = [scale_kind(k) for k in (kinds or LEVEL_SCALES[level])]
    out = []
    for kind in names:
        for f in range(-5, 6):
            sc = Scale(Pitch.from_fifths(f), kind)
            ps = sc.pitches(4 if Pitch.from_fifths(f).step < 3 else 3)
            if any(abs(p.alter) > 1 for p in ps):
                continue
            top = ps[0].with_octave(ps[0].octave + 1)  # type: ignore[operator]
            out.append((_scale_facts(sc),
                        tuple((p, i * TPQ, TPQ) for i, p in enumerate([*ps, top])),
                        f"{sc.tonic.name} {sc.kind}", f"scale {sc.kind}"))
    return tuple(out)


def scale_id(seed: int = 0, level: int = 1, *, kinds: Sequence[str] | None = None) -> Exercise:
    """Name a written scale (tonic and kind): level 1 major and the minors, 2 the church
    modes, 3 pentatonics, blues, whole-tone and octatonic; ``kinds`` overrides."""
    facts, events, name, skill = pick(seed, _scales(level, tuple(kinds) if kinds else None))
    return Exercise(
        kind="scale_id", seed=seed, level=level, question="Name the scale (tonic and kind)",
        answer=name, events=events,
        grader=lambda r: _grade_scale(facts, r, name), params={"kinds": kinds},
        skill=skill)


# -- Roman-numeral analysis ----------------------------------------------------------
PROGRESSIONS = {
    1: ("I IV V I", "I V I", "I ii V I", "I vi IV V", "I IV I V I", "i iv V i", "i V i",
        "i VI iv V"),
    2: ("I vi ii6 V I", "I IV6/4 I V6 I", "I V6 vi IV6 V", "i iio6 V i", "i iv6 V i",
        "I ii6 I6/4 V I", "i VI iio6 V i"),
    3: ("I vi ii6/5 V7 I", "I IV V4/3 I6", "i iv6 V6/5 i", "I V4/2 I6 ii6/5 V7 I",
        "I V7/V V7 I", "i viio7 i6 ii/o6/5 V7 i", "I vi V6/5/V V I"),
}
EXPECTED_RN = ("Roman numerals separated by spaces, one per chord, with figures: "
               "I V6 ii6/5 V7 (or V65)")


@lru_cache(maxsize=8192)
def _numeral(text: str, minor: bool) -> tuple[frozenset[int], int] | None:
    """(members, bass) as fifths above the tonic of a numeral (None if unreadable)."""
    try:
        n = parse_numeral(text, minor)
    except NumeralError:
        return None
    return frozenset(n.members), n.bass


def _numeral_chord(key: Key, text: str) -> tuple[frozenset[int], int]:
    """(members as line-of-fifths positions, bass) of a numeral in a key."""
    n = parse_numeral(text, key.mode == "minor")
    t = key.tonic.fifths
    return frozenset(t + f for f in n.members), t + n.bass


def _voice(key: Key, text: str) -> tuple[Pitch, ...]:
    """Bass in the bass clef, the other members in close position from G3 up."""
    members, bass = _numeral_chord(key, text)
    b = Pitch.from_fifths(bass, 3)
    if b.midi > 55:
        b = b.with_octave(2)
    upper = sorted((Pitch.from_fifths(f, 4) for f in members), key=lambda p: p.midi)
    upper = [p if p.midi >= 60 else p.with_octave(5) for p in upper]
    return (b, *sorted(upper, key=lambda p: p.midi))


def grade_numerals(key: Key, answer: Sequence[str], response: object) -> Feedback:
    """Grade Roman numerals chord by chord by the chords they name (so V65 = V6/5)."""
    return _grade_numerals(_rn_answer(key, tuple(answer)), response)


class _RnAnswer(NamedTuple):
    """A numeral line in a key as its grader needs it, worked out once per (key, line):
    the numerals, the chord each names (None if unreadable) and the right message."""

    numerals: tuple[str, ...]
    minor: bool
    chords: tuple[tuple[frozenset[int], int] | None, ...]
    right: str


@lru_cache(maxsize=1024)
def _rn_answer(key: Key, numerals: tuple[str, ...]) -> _RnAnswer:
    minor = key.mode == "minor"
    return _RnAnswer(numerals, minor, tuple(_numeral(n, minor) for n in numerals),
                     f"right: {' '.join(numerals)} in {key.name}")


def _grade_numerals(answer: _RnAnswer, response: object) -> Feedback:
    """``grade_numerals`` with the answer's chords worked out (once per line)."""
    if not isinstance(response, str) or len(response) > 200:
        return Feedback(False, 0.0, f"expected {EXPECTED_RN}")
    tokens, chords = _read_numerals(response, answer.minor)
    if not tokens:
        return Feedback(False, 0.0, f"expected {EXPECTED_RN}")
    numerals = answer.numerals
    n_tokens, n_answer = len(tokens), len(numerals)
    wrong: list[str] = []
    right = 0
    for i, want in enumerate(numerals):
        if i >= n_tokens:
            wrong.append(f"chord {i + 1}: missing ({want})")
            continue
        got = chords[i]
        if got is None:
            return Feedback(False, 0.0, f"expected {EXPECTED_RN}; could not read "
                                        f"{tokens[i][:20]!r} (chord {i + 1})")
        w = answer.chords[i]
        if got == w:
            right += 1
        elif w is not None and got[0] == w[0]:
            wrong.append(f"chord {i + 1}: right chord, wrong inversion: {want}, "
                         f"not {tokens[i]}")
        else:
            wrong.append(f"chord {i + 1}: {want}, not {tokens[i]}")
    if n_tokens > n_answer:
        wrong.append(f"{n_tokens - n_answer} numeral(s) more than the {n_answer} chords")
    if not wrong:
        return Feedback(True, 1.0, answer.right)
    return Feedback(False, round(right / max(n_answer, n_tokens), 3), "; ".join(wrong))


@lru_cache(maxsize=4096)
def _read_numerals(response: str, minor: bool
                   ) -> tuple[tuple[str, ...], tuple[tuple[frozenset[int], int] | None, ...]]:
    """A response's numerals (split on spaces, commas and bars) and the chord each names
    in a major or minor key (None where it names none), read once per text (callers
    bound its length)."""
    tokens = tuple(response.replace(",", " ").replace("|", " ").split())
    return tokens, tuple(_numeral(t, minor) for t in tokens)


class _RnPassage(NamedTuple):
    """A numeral line in a key, made once per level: its answer, prompt and question."""

    answer: _RnAnswer
    text: str
    events: Events
    question: str
    sharps: int


@lru_cache(maxsize=64)
def _passages(level: int) -> tuple[_RnPassage, ...]:
    check_level(level, (1, 2, 3))
    out = []
    for prog in PROGRESSIONS[level]:
        numerals = tuple(prog.split())
        minor = numerals[0][0] == "i"
        for f in range(-3, 4):
            key = Key(Pitch.from_fifths(f + 3 if minor else f), "minor" if minor else "major")
            events = tuple((p, i * 2 * TPQ, 2 * TPQ) for i, n in enumerate(numerals)
                           for p in _voice(key, n))
            out.append(_RnPassage(_rn_answer(key, numerals), " ".join(numerals), events,
                                  f"Write a Roman numeral for each chord (key: {key.name})",
                                  key.sharps))
    return tuple(out)


def roman_analysis(seed: int = 0, level: int = 1) -> Exercise:
    """Write the Roman numeral of each chord of a short passage (key given): level 1
    triads in root position, 2 inversions, 3 seventh chords and applied dominants.
    Graded by the chords the numerals name, so equivalent labels (V65, V6/5) count."""
    answer, text, events, question, sharps = pick(seed, _passages(level))
    return Exercise(
        kind="roman_analysis", seed=seed, level=level, question=question,
        answer=text, events=events,
        grader=lambda r: _grade_numerals(answer, r), params={},
        skill=f"roman numerals level {level}", key_signature=sharps)


# -- melodic dictation ---------------------------------------------------------------
EXPECTED_NOTES = "note names with octaves separated by spaces, such as C4 D4 E4 G4"


_RIGHT = Feedback(True, 1.0, "right")


class _Melody(NamedTuple):
    """A written melody read once: its tokens, and their pitches and MIDI numbers (or the
    message for the first token that is not a note)."""

    tokens: tuple[str, ...]
    pitches: tuple[Pitch, ...]
    midis: tuple[int, ...]
    error: str


def _read_melody_uncached(response: str) -> _Melody:
    """A melody written as text: notes separated by spaces or commas."""
    return _read_tokens(tuple(response.replace(",", " ").split()))


def _read_tokens(tokens: tuple[str, ...]) -> _Melody:
    """A melody given token by token (a name with octave or a MIDI number each)."""
    pitches: list[Pitch] = []
    midis: list[int] = []
    for i, t in enumerate(tokens):
        note = _note(t) if len(t) < 12 else parse_note(t)
        if isinstance(note, str):
            return _Melody(tokens, (), (), f"note {i + 1}: {note}")
        if isinstance(note, Pitch):  # a long token, read by parse_note
            note = (note, note.midi)
        pitches.append(note[0])
        midis.append(note[1])
    return _Melody(tokens, tuple(pitches), tuple(midis), "")


_read_melody = lru_cache(maxsize=4096)(_read_melody_uncached)


def grade_melody(answer: Sequence[Pitch], response: object,
                 names: Sequence[str] | None = None, *,
                 midis: Sequence[int] | None = None) -> Feedback:
    """Grade a written melody by note alignment (edit distance on MIDI numbers); ``names``
    and ``midis`` are the answer's note names and numbers when the caller has them."""
    if isinstance(response, str):
        tokens = tuple(response.replace(",", " ").split())
    elif isinstance(response, list | tuple) and all(isinstance(t, str | int) for t in response):
        tokens = tuple([str(t) for t in response])
    else:
        return Feedback(False, 0.0, f"expected {EXPECTED_NOTES}")
    if not tokens or len(tokens) > 4 * len(answer) + 8:
        return Feedback(False, 0.0, f"expected {EXPECTED_NOTES}")
    want = tuple(names) if names is not None else tuple(p.name_with_octave for p in answer)
    if tokens == want:  # written exactly as the answer: nothing to read or align
        return _RIGHT
    # other texts are read once each (a class sends the same few wrong ones)
    read = _read_melody(response) if isinstance(response, str) and len(response) <= 1024 \
        else _read_tokens(tokens)
    if read.error:
        return Feedback(False, 0.0, read.error)
    got, b = read.pitches, read.midis
    if len(got) == len(answer) and all(x is y or x == y for x, y in zip(got, answer,
                                                                         strict=True)):
        return _RIGHT
    a = tuple(midis) if midis is not None else tuple(p.midi for p in answer)
    if a == b:
        if all(x.step == y.step and x.alter == y.alter
               for x, y in zip(answer, got, strict=True)):
            return _RIGHT
        return Feedback(True, 1.0, "right (spelled " + " ".join(want) + ")")
    d = _edit_table(a, b)
    # a traceback through the table: which notes were wrong, missing or extra
    n, m = len(a), len(b)
    notes: list[str] = []
    i, j = n, m
    while i or j:
        here = d[i][j]
        if i and j:
            ai, bj = a[i - 1], b[j - 1]
            if here == d[i - 1][j - 1] + (ai != bj):
                if ai != bj:
                    notes.append(f"note {i}: {want[i - 1]}, not {tokens[j - 1]}")
                i, j = i - 1, j - 1
                continue
        if i and here == d[i - 1][j] + 1:
            notes.append(f"note {i} ({want[i - 1]}) is missing")
            i -= 1
        else:
            notes.append(f"{tokens[j - 1]} (after note {i}) is extra")
            j -= 1
    score = max(0.0, 1 - d[n][m] / max(n, m))
    return Feedback(False, round(score, 3), "; ".join(reversed(notes)))


def _edit_table(a: Sequence[int], b: Sequence[int]) -> list[list[int]]:
    """Levenshtein table of two MIDI lines (d[i][j]: a[:i] against b[:j]); comparisons
    inline rather than min(), which is most of a wrong answer's grading time. A match
    takes the diagonal as it is: neighbouring cells differ by at most one, so neither
    other move can beat it."""
    m = len(b)
    prev = list(range(m + 1))
    d = [prev]
    cols = range(m)
    for i, ai in enumerate(a, 1):
        row = [i] * (m + 1)
        left = i
        for j in cols:
            diag = prev[j]
            if ai == b[j]:
                left = diag
            else:
                up = prev[j + 1]
                if up < diag:
                    diag = up
                if left < diag:
                    diag = left
                left = diag + 1
            row[j + 1] = left
        d.append(row)
        prev = row
    return d


class _KeyTable(NamedTuple):
    """A dictation key's pitches and names by scale degree (index = degree + 3, degrees
    -3 .. 9 with 0 the tonic in octave 4), and the key's name, made once per key."""

    key: Key
    pitches: tuple[Pitch, ...]
    names: tuple[str, ...]
    name: str
    midis: tuple[int, ...]


@lru_cache(maxsize=64)
def _degrees(key: Key) -> _KeyTable:
    """Scale degree (0 = the tonic in octave 4, -3 .. 9) -> its pitch and name."""
    scale = key.scale.pitches(4)
    pitches = []
    for degree in range(-3, 10):
        octave, idx = divmod(degree, 7)
        pitches.append(scale[idx].with_octave(scale[idx].octave + octave))  # type: ignore[operator]
    return _KeyTable(key, tuple(pitches), tuple(p.name_with_octave for p in pitches), key.name,
                     tuple(p.midi for p in pitches))


@lru_cache(maxsize=64)
def _key_table(sharps: int, mode: str) -> _KeyTable:
    return _degrees(Key.from_signature(sharps, mode))


@lru_cache(maxsize=4096)
def _note(token: str) -> tuple[Pitch, int] | str:
    """A dictation token (a name with octave, or a MIDI number) as its pitch and MIDI
    number, or the message saying why it is not one."""
    p = Pitch.from_midi(int(token)) if token.isdigit() and int(token) < 128 \
        else parse_note(token)
    return p if isinstance(p, str) else (p, p.midi)


#: Melodic steps (in scale degrees) each level draws from.
_STEPS = {1: (-1, 1, -1, 1, 0), 2: (-1, 1, -2, 2, 1, -1), 3: tuple(range(-5, 6))}
_COUNT = {1: 5, 2: 8, 3: 10}
#: Per level, the table index each step leads to from each index (kept in 0 .. 12).
_NEXT = {level: tuple(tuple(min(12, max(0, d + step)) for step in steps) for d in range(13))
         for level, steps in _STEPS.items()}


def dictation(seed: int = 0, level: int = 1, *, length: int | None = None,
              key: str | None = None) -> Exercise:
    """Hear a melody, write its notes: level 1 five notes by step in a major key, 2 eight
    notes with leaps within the tonic triad, 3 ten notes with any leap up to a sixth."""
    check_level(level, (1, 2, 3))
    rng = Rng(seed)
    table = _degrees(Key.parse(key)) if key else _key_table(
        rng.randint(-3, 3), "major" if level < 3 or rng.random() < 0.5 else "minor")
    count = length or _COUNT[level]
    if not 1 <= count <= 64:
        raise ValueError(f"length {count} is not in 1..64")
    degree = 3 if rng.random() < 0.7 else 3 + 2 * rng.randint(0, 2)  # start on 1, 3 or 5
    after = _NEXT[level]
    n = len(_STEPS[level])
    bits = rng.next64() | rng.next64() << 64  # 128 random bits: ~35 steps of 3.5 bits
    at: list[int] = []  # table indices (degree + 3, kept in 0 .. 12)
    for i in range(count):
        if i == 30 or i == 60:  # count <= 64
            bits = rng.next64() | rng.next64() << 64
        at.append(degree)
        bits, r = divmod(bits, n)
        degree = after[degree][r]
    get = itemgetter(*at) if count > 1 else lambda seq: (seq[at[0]],)
    melody: tuple[Pitch, ...] = get(table.pitches)
    names: tuple[str, ...] = get(table.names)
    midis: tuple[int, ...] = get(table.midis)
    return Exercise(
        kind="dictation", seed=seed, level=level,
        question=f"Write the melody you hear ({count} notes, key {table.name}, first note "
                 f"{names[0]})",
        answer=" ".join(names),
        events=tuple(zip(melody, _STARTS, repeat(TPQ))),
        grader=lambda r: grade_melody(melody, r, names, midis=midis),
        params={"length": length, "key": key}, skill=_DICTATION_SKILL[level], bpm=80.0)


#: Note starts in ticks (one a quarter) and each level's skill, for dictation prompts.
_STARTS = range(0, 64 * TPQ, TPQ)
_DICTATION_SKILL = {level: f"dictation level {level}" for level in _COUNT}


# -- rhythm tapping -------------------------------------------------------------------
RHYTHMS = {
    1: ((1, 1, 1, 1), (2, 1, 1), (1, 1, 2), (2, 2), (1, 2, 1)),
    2: ((0.5, 0.5, 1, 1, 1), (1, 0.5, 0.5, 2), (1.5, 0.5, 1, 1), (0.5, 0.5, 0.5, 0.5, 2)),
    3: ((0.75, 0.25, 1, 1, 1), (0.5, 1, 0.5, 2), (0.25, 0.25, 0.5, 1, 2),
        (1 / 3, 1 / 3, 1 / 3, 1, 2)),
}
EXPECTED_TAPS = "tap times in milliseconds on the audio clock, first beat at 0: 0 500 1000"


def grade_taps(onsets_ms: Sequence[float], response: object, tolerance_ms: float
               ) -> Feedback:
    """Grade taps against the rhythm's onsets: each onset matched to the nearest free tap
    within ``tolerance_ms``; late or early taps named with their offset."""
    if isinstance(response, str):
        read = _read_taps(response) if len(response) <= 1024 else _read_taps.__wrapped__(response)
        if read is None:
            return Feedback(False, 0.0, f"expected {EXPECTED_TAPS}")
        taps = list(read)
    elif isinstance(response, list | tuple) and all(
            isinstance(t, int | float) and not isinstance(t, bool) for t in response):
        taps = sorted(map(float, response))
    else:
        return Feedback(False, 0.0, f"expected {EXPECTED_TAPS}")
    if not taps or len(taps) > 4 * len(onsets_ms) + 8 or any(map(isnan, taps)):
        return Feedback(False, 0.0, f"expected {EXPECTED_TAPS}")
    # no NaN is left, so list equality is the tap-by-tap test
    if tolerance_ms >= 0 and len(taps) == len(onsets_ms) and taps == list(onsets_ms):
        return Feedback(True, 1.0, f"right: every tap within {tolerance_ms:g} ms")
    n_taps = len(taps)
    free = taps  # sorted: the nearest free tap is one of the two around an onset
    problems: list[str] = []
    hit = 0
    for i, on in enumerate(onsets_ms):
        if not free:
            problems.append(f"beat {i + 1} was not tapped")
            continue
        k = bisect_left(free, on)
        if k == len(free) or (k and on - free[k - 1] <= free[k] - on):
            k -= 1  # the earlier of two equally near taps, as min() over the list gave
        off = free[k] - on
        dist = abs(off)
        if dist <= tolerance_ms:
            hit += 1
            del free[k]
        elif dist <= 3 * tolerance_ms:
            del free[k]
            problems.append(f"tap {i + 1} was {dist:.0f} ms {'late' if off > 0 else 'early'}")
        else:
            problems.append(f"note {i + 1} (at {on:.0f} ms) was not tapped")
    if free:
        problems.append(f"{len(free)} extra tap(s)")
    score = hit / max(len(onsets_ms), n_taps)
    if not problems:
        return Feedback(True, 1.0, f"right: every tap within {tolerance_ms:g} ms")
    return Feedback(False, round(score, 3), "; ".join(problems))


@lru_cache(maxsize=4096)
def _read_taps(response: str) -> tuple[float, ...] | None:
    """Tap times read from text, in time order (None when a token is not a number)."""
    try:
        return tuple(sorted(float(t) for t in response.replace(",", " ").split()))
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _rhythms(level: int, bpm: float) -> tuple[tuple[tuple[float, ...], str, Events], ...]:
    """Each rhythm of a level: onsets in ms, the answer text and the prompt's events."""
    check_level(level, (1, 2, 3))
    if not 20 <= bpm <= 300:
        raise ValueError(f"bpm {bpm} is not in 20..300")
    beat_ms = 60_000.0 / bpm
    c5 = Pitch(0, 0, 5)
    out = []
    for beats in RHYTHMS[level]:
        starts = [sum(beats[:i]) for i in range(len(beats))]
        onsets = tuple(round(t * beat_ms, 3) for t in starts)
        events = tuple((c5, round(t * TPQ), round(b * TPQ))
                       for t, b in zip(starts, beats, strict=True))
        out.append((onsets, " ".join(f"{o:g}" for o in onsets), events))
    return tuple(out)


def rhythm_tap(seed: int = 0, level: int = 1, *, bpm: float = 100.0,
               tolerance_ms: float = 60.0) -> Exercise:
    """Tap a heard rhythm; graded by onset time in ms on the audio clock (first note at 0)."""
    onsets, answer, events = pick(seed, _rhythms(level, bpm))
    return Exercise(
        kind="rhythm_tap", seed=seed, level=level,
        question=f"Tap the rhythm ({len(events)} notes at {bpm:g} BPM)",
        answer=answer, events=events,
        grader=lambda r: grade_taps(onsets, r, tolerance_ms),
        params={"bpm": bpm, "tolerance_ms": tolerance_ms}, skill=f"rhythm level {level}",
        bpm=bpm)
