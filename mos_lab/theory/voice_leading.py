"""Part-writing checks for four-part (SATB) and two-voice writing, as the textbooks teach.

``check_voice_leading(score)`` splits the score into voices (one per monophonic track; a
polyphonic track is split by pitch order at each onset), orders them from the top, and
samples every voice at every onset. Rules (Aldwell & Schachter, Kostka & Payne):

================================  ==========================================================
``parallel fifths/octaves``       both voices move and keep a fifth / octave / unison (also
                                  by contrary motion, e.g. P5 to P12, unless lenient)
``direct fifths/octaves``         outer voices move in similar motion into a fifth / octave
                                  with the soprano leaping (strict: in any step)
``voice crossing``                a lower voice above an upper one, or overlap: a voice moves
                                  past where its neighbour just was
``spacing``                       more than an octave between adjacent upper voices
``range``                         a note outside the voice's textbook range
``doubled leading tone``          the local key's leading tone in two voices at once
``unresolved leading tone``       the leading tone of a dominant chord, in an outer voice
                                  (strict: any), not rising to the tonic of a tonic chord
``unresolved seventh``            a chordal seventh not falling by step when the voice moves
``augmented step``                an augmented melodic interval (A2, A4, ...) in a voice
================================  ==========================================================

Local keys come from the spelling model (``spelling.local_keys``) unless a key is given.
Bad input never raises: the report's ``message`` says what could not be checked.

Examples
--------
>>> from mos_lab.score import Score
>>> s = Score.from_notes([(0, 480, 72, 80), (0, 480, 65, 80), (480, 480, 74, 80),
...                       (480, 480, 67, 80)])
>>> [f.rule for f in check_voice_leading(s)]
['parallel fifths']
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from mos_lab.score.model import Score
from mos_lab.theory.interval import Interval
from mos_lab.theory.key import Key
from mos_lab.theory.pitch import Pitch

RULES = (
    "parallel fifths", "parallel octaves", "direct fifths", "direct octaves", "voice crossing",
    "spacing", "range", "doubled leading tone", "unresolved leading tone",
    "unresolved seventh", "augmented step",
)
#: Textbook ranges (MIDI, inclusive), Kostka & Payne: S C4-G5, A G3-D5, T C3-G4, B E2-C4.
SATB_RANGES = {"soprano": (60, 79), "alto": (55, 74), "tenor": (48, 67), "bass": (40, 60)}
STRICTNESS = ("lenient", "textbook", "strict")
_NAMES = {1: ["voice"], 2: ["upper", "lower"], 3: ["soprano", "alto", "bass"],
          4: ["soprano", "alto", "tenor", "bass"]}


@dataclass(frozen=True)
class Finding:
    """One broken rule: which, where (measure, beat, tick, seconds) and in which voices."""

    rule: str
    measure: int
    beat: float
    voices: tuple[str, ...]
    tick: int
    seconds: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``mos-lab analyze --voice-leading --json`` prints)."""
        d = asdict(self)
        d["voices"] = list(self.voices)
        return d


@dataclass
class VoiceLeadingReport:
    """The findings of a check, the voices it saw, and a message when it could not check."""

    findings: list[Finding] = field(default_factory=list)
    voices: tuple[str, ...] = ()
    message: str = ""

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def rules(self) -> list[str]:
        """The rule of each finding, in order."""
        return [f.rule for f in self.findings]

    @property
    def ok(self) -> bool:
        """True when nothing was found (and something was checked)."""
        return not self.findings and not self.message


def _voices(score: Score) -> list[np.ndarray]:
    """Monophonic voices (arrays of note indices in time order), highest voice first."""
    notes = score.notes
    drums = np.array([t.drums for t in score.tracks] or [False], dtype=bool)
    pitched = ~drums[np.minimum(notes["track"], len(drums) - 1)]
    out: list[np.ndarray] = []
    for tr in np.unique(notes["track"][pitched]):
        idx = np.flatnonzero(pitched & (notes["track"] == tr))
        start = notes["start"][idx]
        # rank of each note among the notes starting with it, from the top
        order = np.lexsort((-notes["pitch"][idx].astype(np.int64), start))
        idx, start = idx[order], start[order]
        first = np.ones(len(idx), bool)
        first[1:] = start[1:] != start[:-1]
        group = np.cumsum(first) - 1
        rank = np.arange(len(idx)) - np.flatnonzero(first)[group]
        for r in range(int(rank.max()) + 1):
            out.append(idx[rank == r])
    out.sort(key=lambda v: -float(notes["pitch"][v].mean()))
    return out


def _sample(score: Score, voices: list[np.ndarray], times: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Pitch (-1 for a rest) and note index (-1) of each voice at each time."""
    notes = score.notes
    pitch = np.full((len(times), len(voices)), -1, dtype=np.int64)
    which = np.full((len(times), len(voices)), -1, dtype=np.int64)
    for v, idx in enumerate(voices):
        st = notes["start"][idx]
        en = st + np.maximum(notes["duration"][idx], 1)
        k = np.searchsorted(st, times, side="right") - 1
        ok = (k >= 0) & (en[np.clip(k, 0, None)] > times)
        pitch[ok, v] = notes["pitch"][idx[k[ok]]]
        which[ok, v] = idx[k[ok]]
    return pitch, which


def check_voice_leading(
    score: Score,
    *,
    rules: Iterable[str] | None = None,
    disable: Iterable[str] = (),
    strictness: str = "textbook",
    key: Key | str | None = None,
    ranges: dict[str, tuple[int, int]] | None = None,
) -> VoiceLeadingReport:
    """Check the part-writing of a score; ``rules``/``disable`` choose rules (names in
    RULES), ``strictness`` is lenient, textbook (default) or strict, ``key`` overrides the
    local keys found in the music, ``ranges`` overrides SATB_RANGES by voice name."""
    if strictness not in STRICTNESS:
        raise ValueError(f"strictness {strictness!r} is not one of {', '.join(STRICTNESS)}")
    chosen = set(RULES if rules is None else rules) - set(disable)
    unknown = chosen - set(RULES)
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; known: {', '.join(RULES)}")
    if not score.n_notes:
        return VoiceLeadingReport(message="empty score: no notes to check")
    voices = _voices(score)
    if not voices:
        return VoiceLeadingReport(message="drums only: no pitched notes to check")
    n = len(voices)
    names = tuple(_NAMES.get(n, [f"voice {i + 1}" for i in range(n)]))
    report = VoiceLeadingReport(voices=names)
    if n == 1:
        report.message = "a single line: only range and melodic rules apply"
    elif n > 4:
        report.message = f"{n} voices: rules for two or four parts applied to every pair"
    _Checker(score, voices, names, chosen, strictness, key, ranges or {}, report).run()
    report.findings.sort(key=lambda f: (f.tick, RULES.index(f.rule), f.voices))
    return report


@lru_cache(maxsize=4096)
def _seventh(pcs: frozenset[int]) -> tuple[int, str] | None:
    """Pitch class of the chordal seventh of a sonority (and its symbol), or None."""
    from mos_lab.theory.chord import Chord

    if len(pcs) < 3:
        return None
    chord = Chord.from_midi([60 + pc for pc in sorted(pcs)])
    seventh = chord.member_pitch(7) if chord.root is not None else None
    if seventh is None or chord.quality in ("major sixth", "minor sixth"):
        return None
    return seventh.pc, chord.symbol.split("/")[0]


class _Bars:
    """Measure and beat of a tick from the time signatures and a pickup, by arithmetic
    (one row per meter, not per bar: a silence of hours costs nothing). Numbers follow
    the analysis: a pickup bar is measure 0, its beats counted as a full bar's tail."""

    def __init__(self, score: Score, pickup: int) -> None:
        from mos_lab.theory.analysis.meter import beat_ticks

        tpq = score.tpq
        meters = sorted({(t.tick, t.numerator, t.denominator) for t in score.time_signatures})
        if not meters or meters[0][0] > 0:
            meters.insert(0, (0, *(meters[0][1:] if meters else (4, 4))))
        self.rows: list[tuple[int, int, int, int]] = []  # first bar's tick, number, bar, beat
        t, num = pickup, 1
        for i, (_, n, d) in enumerate(meters):
            nxt = meters[i + 1][0] if i + 1 < len(meters) else None
            if nxt is not None and t >= nxt:
                continue  # no bar starts under this meter
            bar = max(1, tpq * 4 * n // d)
            self.rows.append((t, num, bar, max(1, beat_ticks(n, d, tpq))))
            if nxt is None:
                break
            k = -(-(nxt - t) // bar)
            t, num = t + k * bar, num + k
        self.pickup = pickup

    def position(self, tick: int) -> tuple[int, float]:
        """(measure, beat), both 1-based except a pickup's measure 0."""
        start, num, bar, beat = self.rows[0]
        if tick < start:  # the pickup
            return 0, 1.0 + (tick - (start - bar)) / beat
        for row in self.rows:
            if row[0] <= tick:
                start, num, bar, beat = row
        k, rel = divmod(tick - start, bar)
        return num + k, 1.0 + rel / beat


class _Checker:
    """The state of one check: sampled voices, keys, and where findings go."""

    def __init__(self, score: Score, voices: list[np.ndarray], names: tuple[str, ...],
                 rules: set[str], strictness: str, key: Key | str | None,
                 ranges: dict[str, tuple[int, int]], report: VoiceLeadingReport) -> None:
        from mos_lab.theory.analysis.meter import infer_pickup
        from mos_lab.theory.spelling import local_keys, spell

        self.score, self.voices, self.names, self.rules = score, voices, names, rules
        self.strict, self.lenient = strictness == "strict", strictness == "lenient"
        self.report = report
        self.ranges = {**SATB_RANGES, **ranges}
        notes = score.notes
        self.times = np.unique(notes["start"])
        self.pitch, self.which = _sample(score, voices, self.times)
        self.bars = _Bars(score, infer_pickup(score))
        self.fifths = spell(score)
        if key is not None:
            k = Key.parse(key) if isinstance(key, str) else key
            self.tonic = np.full(len(notes), k.tonic.pc)
            self.minor = np.full(len(notes), k.mode == "minor")
        else:
            tonic_f, minor = local_keys(score)
            self.tonic = (tonic_f * 7) % 12
            self.minor = minor.astype(bool)

    # -- reporting ---------------------------------------------------------------------
    def add(self, rule: str, t: int, voices: Iterable[int], detail: str = "") -> None:
        if rule not in self.rules:
            return
        tick = int(self.times[t])
        m, b = self.bars.position(tick)
        self.report.findings.append(Finding(
            rule, m, round(b, 3), tuple(self.names[v] for v in voices), tick,
            round(float(self.score.tempo.ticks_to_seconds(tick)), 6), detail))

    def key_at(self, t: int) -> tuple[int, bool]:
        """(tonic pitch class, minor) at sample t, from the notes sounding there."""
        idx = self.which[t][self.which[t] >= 0]
        if not len(idx):
            return 0, False
        i = int(idx[0])
        return int(self.tonic[i]), bool(self.minor[i])

    # -- rules -------------------------------------------------------------------------
    def run(self) -> None:
        n = len(self.voices)
        self.melodic()
        if n < 2:
            return
        for t in range(1, len(self.times)):
            self.motion(t)
        for t in range(len(self.times)):
            self.vertical(t)

    def melodic(self) -> None:
        """Range and augmented steps, voice by voice."""
        notes = self.score.notes
        ranges = self.ranges if len(self.voices) in (3, 4) else {}
        t_of = {int(s): i for i, s in enumerate(self.times)}
        for v, idx in enumerate(self.voices):
            lo, hi = ranges.get(self.names[v], (0, 127))
            p = notes["pitch"][idx].astype(np.int64)
            for i in np.flatnonzero((p < lo) | (p > hi)):
                name = Pitch.from_midi(int(p[i]), int(self.fifths[idx[i]])).name_with_octave
                self.add("range", t_of[int(notes["start"][idx[i]])], [v],
                         f"{name} is outside {self.names[v]}'s range "
                         f"{Pitch.from_midi(lo).name_with_octave}-"
                         f"{Pitch.from_midi(hi).name_with_octave}")
            for a, b in itertools.pairwise(idx):
                if notes["start"][b] > notes["start"][a] + notes["duration"][a] + self.score.tpq:
                    continue  # a rest of more than a beat ends the line
                pa = Pitch.from_midi(int(notes["pitch"][a]), int(self.fifths[a]))
                pb = Pitch.from_midi(int(notes["pitch"][b]), int(self.fifths[b]))
                iv = Interval.between(pa, pb)
                if iv.quality.startswith("A") and iv.number > 1:
                    self.add("augmented step", t_of[int(notes["start"][b])], [v],
                             f"{pa.name_with_octave}-{pb.name_with_octave} is an {iv.name}")

    def motion(self, t: int) -> None:
        """Parallels, direct intervals, overlap and resolutions between samples t-1 and t."""
        p0, p1 = self.pitch[t - 1], self.pitch[t]
        w0, w1 = self.which[t - 1], self.which[t]
        n = len(p0)
        moved = (w0 != w1) & (p0 >= 0) & (p1 >= 0) & (p0 != p1)
        for i in range(n):
            for j in range(i + 1, n):
                if min(p0[i], p0[j], p1[i], p1[j]) < 0 or not (moved[i] and moved[j]):
                    continue
                a, b = (p0[i] - p0[j]) % 12, (p1[i] - p1[j]) % 12
                contrary = (p1[i] - p0[i]) * (p1[j] - p0[j]) < 0
                if a == b and a in (0, 7):
                    if contrary and self.lenient:
                        continue
                    rule = "parallel fifths" if a == 7 else "parallel octaves"
                    kind = "unisons" if p1[i] == p1[j] and p0[i] == p0[j] else (
                        "fifths" if a == 7 else "octaves")
                    self.add(rule, t, [i, j], f"{kind}{' by contrary motion' if contrary else ''}")
                    continue
                outer = i == 0 and j == n - 1
                if b in (0, 7) and not contrary and (outer or self.strict):
                    leap = abs(int(p1[i]) - int(p0[i])) > 2
                    if leap or self.strict:
                        rule = "direct fifths" if b == 7 else "direct octaves"
                        self.add(rule, t, [i, j], "similar motion into a perfect interval"
                                 + (", upper voice leaping" if leap else ""))
        for i in range(n - 1):  # overlap: past where the neighbour just was
            j = i + 1
            if min(p0[i], p0[j], p1[i], p1[j]) < 0:
                continue
            both = moved[i] and moved[j]  # a held neighbour makes it a crossing instead
            past = p1[j] > p0[i] or p1[i] < p0[j]
            if both and not self.lenient and past and p1[i] >= p1[j]:  # else: a crossing
                self.add("voice crossing", t, [i, j], "overlap")
        self.resolutions(t)

    def resolutions(self, t: int) -> None:
        """Leading tone and chordal seventh of the chord at t-1, followed into sample t."""
        p0, p1 = self.pitch[t - 1], self.pitch[t]
        w0 = self.which[t - 1]
        n = len(p0)
        tonic, _ = self.key_at(t - 1)
        rel0 = {int(x - tonic) % 12 for x in p0 if x >= 0}
        rel1 = {int(x - tonic) % 12 for x in p1 if x >= 0}
        dominant = 11 in rel0 and rel0 <= {7, 11, 2, 5} and (7 in rel0 or 5 in rel0)
        tonic_next = 0 in rel1 and rel1 <= {0, 3, 4, 7}
        if dominant and tonic_next:
            for v in range(n):
                if p0[v] < 0 or (p0[v] - tonic) % 12 != 11 or p1[v] < 0:
                    continue
                if not (v in (0, n - 1) or self.strict):
                    continue
                if p1[v] != p0[v] + 1 and p1[v] != p0[v]:
                    self.add("unresolved leading tone", t, [v],
                             f"leading tone {Pitch.from_midi(int(p0[v])).name} does not rise "
                             "to the tonic")
        found = _seventh(frozenset(int(x) % 12 for x in p0 if x >= 0))
        if found is None:
            return
        seventh, symbol = found
        next_pcs = {int(x) % 12 for x in p1 if x >= 0}
        if next_pcs == {int(x) % 12 for x in p0 if x >= 0}:
            return  # the same chord goes on
        for v in range(n):
            if p0[v] < 0 or p1[v] < 0 or p0[v] % 12 != seventh or self.which[t][v] == w0[v]:
                continue
            step = int(p1[v]) - int(p0[v])
            if self._passing(v, int(w0[v])) and not self.strict:
                continue  # a passing or neighbour note, not a chordal seventh
            if step not in (-1, -2) and not (step == 0 and self.lenient):
                self.add("unresolved seventh", t, [v],
                         f"seventh of {symbol} moves by {step:+d} semitones")

    def _passing(self, v: int, note: int) -> bool:
        """True when a voice's note is reached by step and left by step (a non-chord tone)."""
        idx = self.voices[v]
        pos = np.flatnonzero(idx == note)
        if not len(pos):
            return False
        k = int(pos[0])
        if k == 0 or k == len(idx) - 1:
            return False
        p = self.score.notes["pitch"].astype(np.int64)
        return 0 < abs(p[idx[k]] - p[idx[k - 1]]) <= 2 and 0 < abs(p[idx[k + 1]] - p[idx[k]]) <= 2

    def vertical(self, t: int) -> None:
        """Crossing, spacing and doubled leading tone at sample t."""
        p = self.pitch[t]
        n = len(p)
        starts = (t == 0) | (self.which[t] != self.which[max(t - 1, 0)])
        if not starts.any():
            return
        for i in range(n - 1):
            j = i + 1
            if p[i] < 0 or p[j] < 0:
                continue
            was = t > 0 and 0 <= self.pitch[t - 1][i] < self.pitch[t - 1][j]
            if p[i] < p[j] and not was:
                self.add("voice crossing", t, [i, j],
                         f"{self.names[j]} above {self.names[i]}")
            upper = n >= 3 and j < n - 1
            if upper and p[i] - p[j] > 12 and (starts[i] or starts[j]):
                self.add("spacing", t, [i, j],
                         f"{p[i] - p[j]} semitones between {self.names[i]} and {self.names[j]}")
        tonic, _ = self.key_at(t)
        rel = {int(x - tonic) % 12 for x in p if x >= 0}
        lt = [v for v in range(n) if p[v] >= 0 and (p[v] - tonic) % 12 == 11]
        dominant = rel <= {7, 11, 2, 5}  # V, V7, vii°, vii°7: where the leading tone leads
        if len(lt) > 1 and dominant and any(starts[v] for v in lt):
            self.add("doubled leading tone", t, lt, f"{Pitch.from_midi(int(p[lt[0]])).name} "
                     "in more than one voice")
