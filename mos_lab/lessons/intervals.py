"""Interval identification and construction: seeded generators and their graders.

Answers are music21's interval names (``M3``, ``P5``, ``A4``, ``m10``) measured from the
lower note to the upper. A wrong answer is told what was right about it: the size, the
sound (an enharmonic name such as ``d5`` for ``A4``), or the simple form of a compound.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from mos_lab.lessons._reading import check_level, plain, read
from mos_lab.lessons._rng import Rng
from mos_lab.lessons.exercise import TPQ, Exercise, Feedback
from mos_lab.theory.interval import Interval, IntervalError
from mos_lab.theory.pitch import Pitch, PitchError

_ORD = {1: "unison", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth",
        7: "seventh", 8: "octave"}
_QUALITY = {"P": "perfect", "M": "major", "m": "minor", "A": "augmented", "d": "diminished",
            "AA": "doubly augmented", "dd": "doubly diminished"}

#: Interval names each level draws from (lower levels are subsets).
LEVEL_QUALITIES: dict[int, tuple[str, ...]] = {
    1: ("m2", "M2", "m3", "M3", "P4", "P5", "m6", "M6", "m7", "M7", "P8"),
    2: ("m2", "M2", "m3", "M3", "P4", "A4", "d5", "P5", "m6", "M6", "m7", "M7", "P8",
        "A2", "d7", "A5", "d4", "A6", "d3"),
}
LEVEL_QUALITIES[3] = LEVEL_QUALITIES[2] + (
    "P1", "A1", "m9", "M9", "m10", "M10", "P11", "A11", "d12", "P12", "m13", "M13", "m14",
    "M14", "P15")
#: Largest accidental (in semitones) either note may carry, per level.
LEVEL_ALTER = {1: 1, 2: 1, 3: 2}
#: Default lower/upper note of the range for each clef.
CLEF_RANGE = {"treble": ("C4", "A5"), "bass": ("E2", "C4"), "grand": ("C2", "C6"),
              None: ("C3", "C6")}

EXPECTED = ("an interval name: quality P, M, m, A or d, then the size, "
            "as in M3, P5, A4, m10")


def size_name(number: int) -> str:
    """``3 -> 'third'``, ``10 -> 'tenth'`` (compounds as 'ninth', 'tenth', ...)."""
    extra = {9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth",
             14: "fourteenth", 15: "fifteenth"}
    return _ORD.get(number) or extra.get(number) or f"{number}th"


def article(text: str) -> str:
    """``'augmented fifth' -> 'an augmented fifth'``."""
    return ("an " if text[:1] in "aeiou" else "a ") + text


def _words(iv: Interval) -> str:
    """``Interval('M3') -> 'major third'``."""
    return f"{_QUALITY.get(iv.quality, iv.quality)} {size_name(iv.number)}"


@lru_cache(maxsize=512)
def describe(iv: Interval) -> str:
    """``Interval('M3') -> 'major third (M3, 4 semitones)'``."""
    return f"{_words(iv)} ({iv.name}, {abs(iv.semitones)} semitones)"


def parse_interval(response: object) -> Interval | str:
    """A response read as an ascending Interval, or the message saying why it is not one."""
    if not isinstance(response, str):
        return f"expected {EXPECTED}; got {type(response).__name__}"
    return _parse_interval(response)


class _IvFacts(NamedTuple):
    """What graders compare and say of an interval, worked out once per interval."""

    iv: Interval
    name: str
    number: int
    semitones: int
    simple: tuple[int, int]  # (steps, semitones) of the simple form
    spoken: str  # "a major third (M3, 4 semitones)"
    right: str  # "right: major third (M3, 4 semitones)"
    size: str  # "third"


@lru_cache(maxsize=1024)
def _facts(iv: Interval) -> _IvFacts:
    """An interval's facts; one object per interval while cached, so ``is`` compares."""
    simple = iv.simple
    return _IvFacts(iv, iv.name, iv.number, iv.semitones, (simple.steps, simple.semitones),
                    article(describe(iv)), f"right: {describe(iv)}", size_name(iv.number))


@lru_cache(maxsize=4096)
def _read_interval(response: str) -> _IvFacts | str:
    """A response's interval facts, or the message saying why it is not an interval."""
    got = _parse_interval(response)
    return got if isinstance(got, str) else _facts(got)


@lru_cache(maxsize=4096)
def _parse_interval(response: str) -> Interval | str:
    text = response.strip()
    if len(text) > 16:
        return f"expected {EXPECTED}; got {text[:16]!r}..."
    try:
        iv = Interval.parse(text)
    except (IntervalError, ValueError):
        return f"expected {EXPECTED}; could not read {text!r}"
    return iv if iv.steps >= 0 else iv.reverse()


def grade_interval(answer: Interval, response: object) -> Feedback:
    """Grade a named interval against the right one (lower to upper)."""
    return _grade_interval(_facts(answer), response)


def _grade_interval(answer: _IvFacts, response: object) -> Feedback:
    """``grade_interval`` with the answer's facts worked out (once per interval)."""
    if not isinstance(response, str):
        return Feedback(False, 0.0, f"expected {EXPECTED}; got {type(response).__name__}")
    # long text is read without the caches (a hostile megabyte is not kept as a key)
    got = _read_interval(response) if len(response) <= 64 else \
        _parse_interval.__wrapped__(response)
    if isinstance(got, Interval):
        got = _facts(got)
    if isinstance(got, str):
        return Feedback(False, 0.0, got)
    if got is answer or got.iv == answer.iv:
        return Feedback(True, 1.0, answer.right)
    return _interval_miss(answer, got)


def _interval_miss(answer: _IvFacts, got: _IvFacts) -> Feedback:
    """What is right about a wrong interval: its size, its sound or its simple form."""
    if got.number == answer.number:
        return Feedback(False, 0.5, f"right size, wrong quality: it is "
                                    f"{answer.spoken}, not {got.name}")
    if got.semitones == answer.semitones:
        return Feedback(False, 0.5, f"right sound, wrong spelling: the letters make it a "
                                    f"{answer.size}, so {answer.name}, not {got.name}")
    if got.simple == answer.simple:
        return Feedback(False, 0.5, f"right interval, wrong octave: it is "
                                    f"{answer.spoken}, not {got.name}")
    return Feedback(False, 0.0, f"it is {answer.spoken}, not {got.name}")


@lru_cache(maxsize=256)
def _range(clef: str | None, low: str | None, high: str | None) -> tuple[int, int]:
    if clef not in CLEF_RANGE:
        raise ValueError(f"clef {clef!r} is not one of {sorted(c for c in CLEF_RANGE if c)}")
    dlow, dhigh = CLEF_RANGE[clef]
    return Pitch.parse(low or dlow).midi, Pitch.parse(high or dhigh).midi


class NoteFacts(NamedTuple):
    """What graders compare and say of a spelled note, worked out once per pitch."""

    pitch: Pitch
    text: str  # "F#4"
    name: str  # "F#"
    midi: int


@lru_cache(maxsize=4096)
def note_facts(p: Pitch) -> NoteFacts:
    """A pitch's facts; one object per pitch while cached, so ``is`` compares."""
    return NoteFacts(p, p.name_with_octave, p.name, p.midi)


Pair = tuple[NoteFacts, NoteFacts]


class _Group(NamedTuple):
    """One interval of a plan: its (lower, upper) pairs with the lower note natural and
    altered, its facts, and the words and skills its exercises show."""

    natural: tuple[Pair, ...]
    altered: tuple[Pair, ...]
    facts: _IvFacts
    spoken: str  # "a major third (M3)"
    id_skill: str
    build_skill: str


@lru_cache(maxsize=512)
def _plan(level: int, qualities: tuple[str, ...] | None, clef: str | None, low: str | None,
          high: str | None) -> tuple[_Group, ...]:
    """Per interval, every (lower, upper) pair in range: lower note natural, or altered.

    Made once per parameter set, so a drill of thousands draws from it in microseconds.
    """
    check_level(level, LEVEL_QUALITIES)
    lo, hi = _range(clef, low, high)
    ivs = _intervals_of(qualities if qualities is not None else LEVEL_QUALITIES[level])
    max_alter = LEVEL_ALTER[level]
    lowers = [(note_facts(p), p.midi, alter)
              for octave in range(-1, 10) for step in range(7)
              for alter in range(-max_alter, max_alter + 1)
              for p in (Pitch(step, alter, octave),)]
    out = []
    for iv in ivs:
        natural: list[Pair] = []
        altered: list[Pair] = []
        semis = iv.semitones
        for lower, midi, alter in lowers:
            if midi < lo or midi + semis > hi:
                continue
            upper = lower.pitch.transpose(iv)
            if abs(upper.alter) <= max_alter:
                (altered if alter else natural).append((lower, note_facts(upper)))
        if natural or altered:
            f = _facts(iv)
            out.append(_Group(tuple(natural), tuple(altered), f, _spoken(iv),
                              f"interval {f.name}", f"build {f.name}"))
    if not out:
        raise ValueError("no interval of those qualities fits the range; widen low/high")
    return tuple(out)


def _pick_pair(seed: int, level: int, qualities: Sequence[str] | None, clef: str | None,
               low: str | None, high: str | None) -> tuple[NoteFacts, NoteFacts, _Group]:
    """An interval of the level's or the given qualities (each equally likely), then a lower
    note for it in range (a natural one half the time), accidentals as the level allows."""
    rng = Rng(seed)
    group = rng.choice(_plan(level, tuple(qualities) if qualities else None,
                             clef, low, high))
    natural, altered = group.natural, group.altered
    if not altered or (natural and rng.random() < 0.5):
        lower, upper = rng.choice(natural)
    else:
        lower, upper = rng.choice(altered)
    return lower, upper, group


@lru_cache(maxsize=256)
def _intervals_of(names: tuple[str, ...]) -> tuple[Interval, ...]:
    if not names:
        raise ValueError("qualities is empty")
    out = []
    for n in names:
        iv = Interval.parse(n)
        if iv.steps < 0:
            raise ValueError(f"{n!r}: give ascending interval names")
        out.append(iv)
    return tuple(out)


def interval_id(seed: int = 0, level: int = 1, *, qualities: Sequence[str] | None = None,
                clef: str | None = None, low: str | None = None, high: str | None = None,
                harmonic: bool = False) -> Exercise:
    """Name the interval between two written notes (melodic, or ``harmonic=True``).

    ``level`` 1: common intervals, at most one accidental; 2: augmented and diminished
    too; 3: compounds to two octaves and double accidentals. ``qualities`` (names such as
    ``["M3", "m3", "P5"]``) overrides the level's set; ``clef`` or ``low``/``high`` set
    the range.
    """
    lower, upper, group = _pick_pair(seed, level, qualities, clef, low, high)
    a, b, facts = lower.pitch, upper.pitch, group.facts
    events = ((a, 0, TPQ), (b, 0, TPQ)) if harmonic else ((a, 0, TPQ), (b, TPQ, TPQ))
    return Exercise(
        kind="interval_id", seed=seed, level=level,
        question="Name the interval, from the lower note to the upper",
        answer=facts.name, events=events,
        grader=lambda r: _grade_interval(facts, r),
        params={"qualities": qualities, "clef": clef, "low": low, "high": high,
                "harmonic": harmonic},
        skill=group.id_skill)


EXPECTED_NOTE = "a note name with octave, such as F#4, Bb3 or C5"


def parse_note(response: object) -> Pitch | str:
    """A response read as a Pitch with an octave, or the message saying why not."""
    return read(response, 12, _parse_note, EXPECTED_NOTE)


@lru_cache(maxsize=4096)
def _parse_note(response: str) -> Pitch | str:
    try:
        p = Pitch.parse(plain(response))
    except (PitchError, ValueError):
        return f"expected {EXPECTED_NOTE}; could not read {response.strip()!r}"
    if p.octave is None:
        return f"expected {EXPECTED_NOTE}; {response.strip()!r} has no octave"
    return p


@lru_cache(maxsize=4096)
def _read_note(response: str) -> NoteFacts | str:
    """A response's note facts, or the message saying why it is not a note with octave."""
    got = _parse_note(response)
    return got if isinstance(got, str) else note_facts(got)


def grade_note(answer: Pitch, response: object, what: str = "the note",
               right: str | None = None) -> Feedback:
    """Grade a spelled note with octave: the spelling must match, not only the key
    (``right``: the answer's name, when the caller has it)."""
    facts = note_facts(answer)
    return grade_note_facts(facts, response, what, right or facts.text)


def grade_note_facts(answer: NoteFacts, response: object, what: str, right: str
                     ) -> Feedback:
    """``grade_note`` with the answer's facts worked out (once per pitch)."""
    if not isinstance(response, str) or len(response) > 12:
        return Feedback(False, 0.0, f"expected {EXPECTED_NOTE}")
    got = _read_note(response)
    if isinstance(got, str):
        return Feedback(False, 0.0, got)
    if got is answer or got.pitch == answer.pitch:
        return Feedback(True, 1.0, f"right: {right}")
    if got.midi == answer.midi:
        return Feedback(False, 0.5, f"right key, wrong spelling: {what} is {right}, "
                                    f"not {got.text}")
    if got.name == answer.name:
        return Feedback(False, 0.5, f"right letter, wrong octave: {what} is {right}, "
                                    f"not {got.text}")
    return Feedback(False, 0.0, f"{what} is {right}, not {got.text}")


@lru_cache(maxsize=256)
def _spoken(iv: Interval) -> str:
    """``'a major third (M3)'``."""
    return f"{article(_words(iv))} ({iv.name})"


def interval_build(seed: int = 0, level: int = 1, *, qualities: Sequence[str] | None = None,
                   below: bool = False, clef: str | None = None, low: str | None = None,
                   high: str | None = None) -> Exercise:
    """Write the note an interval above (or ``below=True``: below) a given note."""
    lower, upper, group = _pick_pair(seed, level, qualities, clef, low, high)
    given, target = (upper, lower) if below else (lower, upper)
    where = "below" if below else "above"
    given_name, answer = given.text, target.text
    what = f"a {group.facts.name} {where} {given_name}"
    return Exercise(
        kind="interval_build", seed=seed, level=level,
        question=f"Write the note {group.spoken} {where} {given_name}",
        answer=answer, events=((given.pitch, 0, 2 * TPQ),),
        grader=lambda r: grade_note_facts(target, r, what, answer),
        params={"qualities": qualities, "below": below,
                "clef": clef, "low": low, "high": high},
        skill=group.build_skill)
