"""Four-part harmonisation of a Roman-numeral line or a figured bass: generator, model
answer and grader.

The student writes one chord per bar, four notes each (soprano to bass, ``|`` between
chords): ``E5 C5 G4 C3 | F5 C5 A4 F3 | ...``. The grader checks each chord against the
numeral, or against the figures over the given bass as theory's ``figured_bass.realize``
reads them (all of its notes, the fifth may be left out, and the bass the numeral's or
the given one), and runs theory's ``check_voice_leading`` on the whole, naming each
broken rule with its bar.

The model answer is found by a small dynamic programme over close and open voicings
(least total motion, no parallels, no doubled leading tone, sevenths falling by step) and
kept only if ``check_voice_leading`` finds nothing in it: every right answer the generator
gives is one its grader accepts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from mos_lab.lessons._reading import check_level
from mos_lab.lessons._rng import pick
from mos_lab.lessons.exercise import TPQ, Exercise, Feedback, _prompt_score
from mos_lab.lessons.intervals import parse_note
from mos_lab.theory.analysis.numeral import parse_numeral
from mos_lab.theory.figured_bass import figures_for, realize, root_position
from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch
from mos_lab.theory.voice_leading import SATB_RANGES, Finding, check_voice_leading

BAR = 4 * TPQ
PROGRESSIONS = {
    1: ("I IV V I", "I V vi IV I", "I ii V I", "i iv V i", "I vi IV V I", "i VI iv V i"),
    2: ("I IV6 V I", "I ii6 V I", "I V6 I IV V I", "i iv6 V i", "I vi ii6 V I"),
    3: ("I IV V7 I", "I ii6/5 V7 I", "I vi ii6 V7 I", "i iv V7 i", "I V6/5 I IV V7 I"),
}
EXPECTED = ("four notes per chord, soprano to bass, chords separated by |: "
            "E5 C5 G4 C3 | F5 C5 A4 F3")
Voicing = tuple[Pitch, Pitch, Pitch, Pitch]  # soprano, alto, tenor, bass


class _Target(NamedTuple):
    """What one bar's chord must be: members as fifths (root, third, fifth, seventh), the
    bass as fifths, how messages name the chord, and (made once, compared per answer) the
    pitch classes it allows, those it needs (all but the fifth) and the bass's."""

    members: tuple[int, ...]
    bass: int
    label: str
    want: frozenset[int]
    need: frozenset[int]
    bass_pc: int
    bass_name: str


def _target(members: tuple[int, ...], bass: int, label: str) -> _Target:
    want = frozenset((7 * f) % 12 for f in members)
    return _Target(members, bass, label, want, want - {(7 * members[2]) % 12}, (7 * bass) % 12,
                   Pitch.from_fifths(bass).name)


@lru_cache(maxsize=1024)
def _figured(key: Key, bass: Pitch, figures: str) -> _Target:
    """The chord figures ask for over a bass, by theory's figured-bass realisation."""
    members = root_position(realize(bass, figures, key))
    label = f"{figures or '5/3'} over {bass.name}"
    return _target(tuple(p.fifths for p in members), bass.fifths, label)


@lru_cache(maxsize=1024)
def _numeral_targets(key: Key, numerals: tuple[str, ...]) -> tuple[_Target, ...]:
    """The chord each numeral of a line asks for in a key."""
    out = []
    for n in numerals:
        members, bass, _ = _chord(key, n)
        out.append(_target(members, bass, n))
    return tuple(out)


def _figure_line(key: Key, path: Sequence[Voicing], numerals: Sequence[str]
                 ) -> tuple[str, ...]:
    """The figure under each bass note of a realised numeral line."""
    out = []
    for ch, n in zip(path, numerals, strict=True):
        members = [Pitch.from_fifths(f) for f in _chord(key, n)[0]]
        out.append(figures_for(ch[3], members, key))
    return tuple(out)


@lru_cache(maxsize=1024)
def _chord(key: Key, numeral: str) -> tuple[tuple[int, ...], int, int | None]:
    """(member fifths, bass fifths, seventh's fifths or None) of a numeral in a key."""
    n = parse_numeral(numeral, key.mode == "minor")
    t = key.tonic.fifths
    members = tuple(t + f for f in n.members)
    return members, t + n.bass, members[3] if len(members) == 4 else None


@lru_cache(maxsize=4096)
def _findings(key: Key, text: str, strictness: str = "textbook") -> tuple[Finding, ...]:
    """What theory's check_voice_leading finds in a realisation written as ``_text`` writes
    it (one chord a bar, top voice first).

    Kept per (key, text, strictness): the checker costs ~2 ms, and a class answering one
    exercise sends the same few realisations (the model answer, checked when the passage
    was made, is always here already). Keyed by the text, whose hash Python keeps, not by
    the pitches, whose hash costs more than the rest of a grade."""
    real = _read_realisation(text)
    if real.error:
        raise ValueError(f"not a realisation: {text!r} ({real.error})")
    report = check_voice_leading(_prompt_score(_events(real.chords), 60.0, ""), key=key,
                                 strictness=strictness)
    return tuple(report.findings)


def _voicings(key: Key, numeral: str) -> list[Voicing]:
    """Every voicing in SATB ranges with spacing kept, complete or without its fifth (root
    doubled), leading tone never doubled (bass, then tenor, alto, soprano upward)."""
    members, bass_f, seventh = _chord(key, numeral)
    lt_pc = (key.tonic.pc + 11) % 12
    (s_lo, s_hi), (a_lo, a_hi), (t_lo, t_hi), (b_lo, b_hi) = (
        SATB_RANGES[v] for v in ("soprano", "alto", "tenor", "bass"))

    def options(f: int, lo: int, hi: int) -> list[Pitch]:
        out = []
        for octave in range(1, 7):
            p = Pitch.from_fifths(f, octave)
            if lo <= p.midi <= hi:
                out.append(p)
        return out

    basses = options(bass_f, b_lo, b_hi)
    out: list[Voicing] = []
    uppers = [options(f, t_lo, s_hi) for f in members]
    pool = sorted({p for ps in uppers for p in ps}, key=lambda p: p.midi)
    # (pitch, midi, fifths, is the leading tone) once, not per combination
    info = [(p, p.midi, p.fifths, p.pc == lt_pc) for p in pool]
    need = set(members) - ({members[2]} if len(members) >= 3 else set())
    size, root = len(members), members[0]
    # the pool rises strictly, so nested loops visit itertools.combinations' order
    for b in basses:
        bm, bf, b_lt = b.midi, b.fifths, b.pc == lt_pc
        for i, (t, tm, tf, t_lt) in enumerate(info):
            if not (bm < tm and t_lo <= tm <= t_hi):
                continue
            for j in range(i + 1, len(info)):
                a, am, af, a_lt = info[j]
                if am - tm > 12:
                    break
                if not (tm < am and a_lo <= am <= a_hi):
                    continue
                for k in range(j + 1, len(info)):
                    s, sm, sf, s_lt = info[k]
                    if sm - am > 12:
                        break
                    if not (am < sm and s_lo <= sm <= s_hi):
                        continue
                    fs = [sf, af, tf, bf]
                    distinct = set(fs)
                    if not need <= distinct:
                        continue
                    if s_lt + a_lt + t_lt + b_lt > 1:
                        continue
                    if seventh is not None and fs.count(seventh) > 1:
                        continue
                    if len(distinct) < size - 1 or \
                            (len(distinct) < size and fs.count(root) < 2):
                        continue
                    out.append((s, a, t, b))
    return out


_PAIRS = tuple(itertools.combinations(range(4), 2))
_LOW = np.array([i for i, _ in _PAIRS])  # the upper voice of each pair (soprano = 0)
_HIGH = np.array([j for _, j in _PAIRS])
_OUTER = _PAIRS.index((0, 3))


def _allowed(x: np.ndarray, y: np.ndarray, seventh: int | None, x_fifths: np.ndarray
             ) -> np.ndarray:
    """Which moves from voicings ``x`` (n x 4 MIDI, soprano first; ``x_fifths`` spells
    them) to voicings ``y`` (m x 4) keep the rules (m x n): no parallel or direct
    fifths/octaves, no leap over a fifth (an octave in the bass), no overlap, the seventh
    falling by step. Every voice pair is checked at once (axis 2)."""
    xs, ys = x[None, :, :], y[:, None, :]
    d = ys - xs
    ad = np.abs(d)
    ok = (ad[..., :3] <= 7).all(axis=2) & (ad[..., 3] <= 12)
    # overlap: a voice past where its neighbour just was
    ok &= ((ys[..., :3] > xs[..., 1:]) & (ys[..., 1:] < xs[..., :3])).all(axis=2)
    moved = d != 0
    iv0 = ((x[:, _LOW] - x[:, _HIGH]) % 12)[None, :, :]  # (1, n, pairs)
    iv1 = ((y[:, _LOW] - y[:, _HIGH]) % 12)[:, None, :]  # (m, 1, pairs)
    ok &= ~(moved[..., _LOW] & moved[..., _HIGH] & (iv0 == iv1)
            & ((iv0 == 0) | (iv0 == 7))).any(axis=2)
    outer = iv1[..., _OUTER]
    ok &= ~(((outer == 0) | (outer == 7)) & (d[..., 0] * d[..., 3] > 0) & (ad[..., 0] > 2))
    if seventh is not None:
        fall = -d
        ok &= ~((x_fifths == seventh)[None, :, :] & moved
                & ~((fall >= 1) & (fall <= 2))).any(axis=2)
    return ok


class _Layer(NamedTuple):
    """A numeral's voicings in a key, as Pitches and as MIDI and fifths arrays (n x 4)."""

    voicings: tuple[Voicing, ...]
    midis: np.ndarray
    fifths: np.ndarray


@lru_cache(maxsize=1024)
def _layer(key: Key, numeral: str) -> _Layer:
    """A numeral's voicings, made once per (key, numeral): passages share their chords."""
    vs = tuple(_voicings(key, numeral))
    midis = np.array([[p.midi for p in v] for v in vs], dtype=np.int64).reshape(-1, 4)
    fifths = np.array([[p.fifths for p in v] for v in vs], dtype=np.int64).reshape(-1, 4)
    midis.flags.writeable = fifths.flags.writeable = False
    return _Layer(vs, midis, fifths)


@lru_cache(maxsize=2048)
def _moves(key: Key, before: str, after: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From each voicing of ``before`` to each of ``after`` (rows ``after``): whether the
    rules allow it, the upper voices' motion in semitones and 0.3 x the bass's; made once
    per (key, pair of numerals), as passages share their progressions."""
    x, y = _layer(key, before), _layer(key, after)
    ad = np.abs(y.midis[:, None, :] - x.midis[None, :, :])
    out = (_allowed(x.midis, y.midis, _chord(key, before)[2], x.fifths),
           ad[..., 0] + ad[..., 1] + ad[..., 2], 0.3 * ad[..., 3])
    for a in out:
        a.flags.writeable = False
    return out


def model_answer(key: Key, numerals: Sequence[str]) -> list[Voicing] | None:
    """The voicing path with the least motion that the part-writing rules allow (None
    when there is none); each step's moves are weighed as one numpy array, and of equal
    costs the first voicing wins."""
    layers = [_layer(key, n) for n in numerals]
    if not all(layer.voicings for layer in layers):
        return None
    cost = np.abs(layers[0].midis[:, 0] - 72) * 0.2
    back: list[np.ndarray] = []
    for k in range(1, len(layers)):
        allowed, upper, bass = _moves(key, numerals[k - 1], numerals[k])
        step = np.where(allowed, cost[None, :] + upper + bass, np.inf)
        back.append(step.argmin(axis=1))
        cost = step.min(axis=1)
    end = int(cost.argmin())
    if cost[end] == np.inf:
        return None
    path = [end]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    path.reverse()
    return [layers[k].voicings[i] for k, i in enumerate(path)]


def _events(chords: Sequence[Sequence[Pitch]]) -> tuple[tuple[Pitch, int, int], ...]:
    return tuple((p, k * BAR, BAR) for k, ch in enumerate(chords) for p in ch)


def _text(chords: Sequence[Voicing]) -> str:
    return " | ".join(" ".join(p.name_with_octave for p in ch) for ch in chords)


def grade_harmonisation(key: Key, numerals: Sequence[str], response: object,
                        strictness: str = "textbook") -> Feedback:
    """Grade a four-part realisation: chords against the numerals, then the part-writing
    rules by theory's check_voice_leading (each finding named with its bar)."""
    return _grade_chords(key, _numeral_targets(key, tuple(numerals)), response, strictness,
                         figured=False)


def grade_figured_bass(key: Key, basses: Sequence[Pitch], figures: Sequence[str],
                       response: object, strictness: str = "textbook") -> Feedback:
    """Grade a four-part realisation of a figured bass: each chord against the figures
    over its bass (theory's realisation in the key), then the part-writing rules by
    check_voice_leading (each finding named with its rule and bar)."""
    if len(basses) != len(figures):
        raise ValueError(f"{len(basses)} bass notes but {len(figures)} figures")
    targets = [_figured(key, b.with_octave(None), f) for b, f in zip(basses, figures,
                                                                     strict=True)]
    return _grade_chords(key, targets, response, strictness, figured=True)


class _Realisation(NamedTuple):
    """A response read as chords: how many bars it has, the first bar that does not read
    (its message; "" when all do), each chord's pitches (top first), their pitch classes
    and names, and the chords written as ``_text`` writes them (the checker's cache key)."""

    bars: int
    error: str
    chords: tuple[tuple[Pitch, ...], ...]
    pcs: tuple[frozenset[int], ...]
    notes: tuple[tuple[tuple[int, str], ...], ...]
    text: str


@lru_cache(maxsize=4096)
def _read_realisation(response: str) -> _Realisation:
    """Read chords of four notes each, ``|`` (or ``,``) between them; a class sends the same
    few texts, so each is read once (callers bound the text's length)."""
    groups = [g.split() for g in response.replace(",", "|").split("|") if g.strip()]
    chords: list[tuple[Pitch, ...]] = []
    error = ""
    for k, g in enumerate(groups):
        if len(g) != 4:
            error = f"expected {EXPECTED}; bar {k + 1} has {len(g)} note(s)"
            break
        ps = [parse_note(t) for t in g]
        bad = next((p for p in ps if isinstance(p, str)), None)
        if bad is not None:
            error = f"bar {k + 1}: {bad}"
            break
        chords.append(tuple(sorted(ps, key=lambda p: -p.midi)))  # type: ignore[arg-type]
    if error:
        return _Realisation(len(groups), error, (), (), (), "")
    notes = tuple(tuple((p.pc, p.name) for p in ch) for ch in chords)
    return _Realisation(len(groups), "", tuple(chords),
                        tuple(frozenset(pc for pc, _ in ch) for ch in notes), notes,
                        _text(chords))  # type: ignore[arg-type]


def _grade_chords(key: Key, targets: Sequence[_Target], response: object, strictness: str,
                  figured: bool) -> Feedback:
    """The grade of a realisation, one chord per target: chord tones, then the rules."""
    if not isinstance(response, str) or len(response) > 40 * len(targets) + 40:
        return Feedback(False, 0.0, f"expected {EXPECTED}")
    real = _read_realisation(response)
    if real.bars != len(targets):
        return Feedback(False, 0.0, f"expected {EXPECTED}; got {real.bars} chord(s) for "
                                    f"{len(targets)} {'bass notes' if figured else 'numerals'}")
    if real.error:
        return Feedback(False, 0.0, real.error)
    problems: list[str] = []
    right = 0
    for k, t in enumerate(targets):
        pcs = real.pcs[k]
        if not pcs <= t.want:
            extra = sorted({name for pc, name in real.notes[k] if pc not in t.want})
            problems.append(f"bar {k + 1}: {', '.join(extra)} is not in {t.label}")
        elif not t.need <= pcs:
            problems.append(f"bar {k + 1}: {t.label} needs its root, third"
                            f"{' and seventh' if len(t.members) == 4 else ''}")
        elif real.notes[k][-1][0] != t.bass_pc:
            problems.append(f"bar {k + 1}: the "
                            f"{'given bass' if figured else 'bass of ' + t.label} is "
                            f"{t.bass_name}, not {real.notes[k][-1][1]}")
        else:
            right += 1
    findings = _findings(key, real.text, strictness)
    for f in findings:
        bar = f.tick // BAR + 1
        where = " and ".join(f.voices)
        problems.append(f"bar {bar}: {f.rule} ({where})" + (f": {f.detail}" if f.detail
                                                            else ""))
    if not problems:
        return Feedback(True, 1.0, f"right: every chord fits its "
                                   f"{'figures' if figured else 'numeral'} and no part-writing "
                                   "rule is broken")
    rules_ok = max(0.0, 1 - len(findings) / len(targets))
    score = 0.5 * right / len(targets) + 0.5 * rules_ok
    return Feedback(False, round(score, 3), "; ".join(problems))


class _Passage(NamedTuple):
    """A numeral line in a key with its model realisation, made once per level: the
    answer text, the bass events, the questions and the chords each bar must be (for the
    numerals and for the figures) are what every exercise of it shows and grades."""

    key: Key
    numerals: tuple[str, ...]
    path: tuple[Voicing, ...]
    answer: str
    bass: tuple[tuple[Pitch, int, int], ...]
    question: str
    figures: tuple[str, ...]
    targets: tuple[_Target, ...]
    figured_question: str
    figured_targets: tuple[_Target, ...]
    sharps: int


@lru_cache(maxsize=16)
def _passages(level: int) -> tuple[_Passage, ...]:
    check_level(level, PROGRESSIONS)
    out = []
    for prog in PROGRESSIONS[level]:
        numerals = tuple(prog.split())
        minor = numerals[0][0] == "i"
        for f in (-2, -1, 0, 1, 2):
            key = Key(Pitch.from_fifths(f + 3 if minor else f), "minor" if minor else "major")
            path = model_answer(key, numerals)
            if path is None:
                continue
            if _findings(key, _text(path), "textbook"):  # the key graders look up
                continue
            bass = tuple((ch[3], k * BAR, BAR) for k, ch in enumerate(path))
            question = f"Write four parts over this bass, in {key.name}: {' '.join(numerals)}"
            figures = _figure_line(key, path, numerals)
            basses = tuple(ch[3] for ch in path)
            line = " | ".join(f"{b.name_with_octave} {f}".strip()
                              for b, f in zip(basses, figures, strict=True))
            out.append(_Passage(
                key, numerals, tuple(path), _text(path), bass, question, figures,
                _numeral_targets(key, numerals),
                f"Write four parts over this figured bass, in {key.name}: {line}",
                tuple(_figured(key, b.with_octave(None), f)
                      for b, f in zip(basses, figures, strict=True)), key.sharps))
    return tuple(out)


def harmonisation(seed: int = 0, level: int = 1, *, figured: bool = False) -> Exercise:
    """Write four parts (SATB) for a Roman-numeral line, one chord per bar; the prompt
    is the bass line. Level 1 root-position triads, 2 inversions, 3 seventh chords.

    ``figured=True``: the same passage as a figured bass (``A2 6 | G2 7/#``, figures as
    theory's ``figured_bass`` reads them) instead of numerals; graded against the figures.
    """
    ps = pick(seed, _passages(level))
    key = ps.key
    if not figured:
        targets = ps.targets
        return Exercise(
            kind="harmonisation", seed=seed, level=level, question=ps.question,
            answer=ps.answer, events=ps.bass,
            grader=lambda r: _grade_chords(key, targets, r, "textbook", figured=False),
            params={}, skill=f"four-part writing level {level}", key_signature=ps.sharps,
            bpm=60.0)
    figured_targets = ps.figured_targets
    return Exercise(
        kind="harmonisation", seed=seed, level=level, question=ps.figured_question,
        answer=ps.answer, events=ps.bass,
        grader=lambda r: _grade_chords(key, figured_targets, r, "textbook", figured=True),
        params={"figured": True}, skill=f"figured bass level {level}",
        key_signature=ps.sharps, bpm=60.0)
