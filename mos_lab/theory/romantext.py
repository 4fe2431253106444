"""RomanText, the plain-text format of Roman-numeral analyses (music21's ``.rntxt``).

A file is header lines (``Composer: ...``, ``Time Signature: 3/4``, ``Note: ...``) and
measure lines such as ``m3 G: I b2 V6 b3 I``: a measure number (a pickup is ``m0``), then
beats (``b2``, ``b2.5``), keys (``G:``, ``f#:``) and numerals. ``read_romantext`` turns one
into an ``Analysis`` (variants such as ``m11var1`` are skipped; phrase marks ``||`` are
ignored; ``m5-6 = m1-2`` repeats the labels of bars 1-2 in bars 5-6); ``write_romantext``
writes an ``Analysis`` back. A token that cannot be read raises ``RomanTextError`` naming
its line and the token.

Examples
--------
>>> a = read_romantext("Time Signature: 3/4\\nm0 b3 G: I\\nm1 b2 IV6 b3 V6/5/V")
>>> [(s.measure, s.beat, s.numeral, s.chord) for s in a][-1]
(1, 3.0, 'V6/5/V', 'D7/F#')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from mos_lab.score import Score
from mos_lab.theory.analysis.meter import Meter, beat_ticks, infer_pickup
from mos_lab.theory.analysis.model import Analysis, Segment, chord_symbol
from mos_lab.theory.analysis.numeral import Numeral, NumeralError, parse_numeral
from mos_lab.theory.key import Key, KeyError_
from mos_lab.theory.pitch import fifths_name

_COPY = re.compile(r"^m(\d+)(?:-(\d+))?\s*=\s*m(\d+)(?:-(\d+))?\s*$")
_MEASURE = re.compile(r"^m(\d+)(\s*var\w*)?(?:-\d+)?:?(?=\s|$)\s*(.*)$")
_HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$|^(Pedal|Note)\s+(.*)$")
_BEAT = re.compile(r"^b(\d+(?:\.\d+)?)$")
# "G:", and an optional key area "?(Bb:" ... "?)Bb:" (read here as a key change)
_KEY = re.compile(r"^(?:\?\()?([A-Ga-g][#b-]*):$|^\?\)([A-Ga-g][#b-]*):?$")
_TS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*\??\s*$")
_PHRASE = {"||", ":||", "||:", ":||:", "|", "(", ")"}  # phrase marks; ( ) around an
# implied chord, whose numeral still counts


class RomanTextError(ValueError):
    """RomanText that cannot be read: the message names the line and the token."""


@dataclass(frozen=True, slots=True)
class _Label:
    line: int
    measure: int
    beat: float
    key: str
    numeral: str


@lru_cache(maxsize=4096)
def _numeral(text: str, minor: bool) -> Numeral:
    """``parse_numeral``, remembered: analyses repeat a few dozen numerals thousands of times."""
    return parse_numeral(text, minor)


@lru_cache(maxsize=256)
def _tonic_fifths(key: str) -> int:
    """Line-of-fifths position of a key symbol's tonic (raises KeyError_ when unreadable)."""
    return Key.parse(key).tonic.fifths


def _key_symbol(text: str) -> str:
    """``"b-"`` -> ``"bb"``, ``"F#"`` stays."""
    return text[0] + text[1:].replace("-", "b")


def _parse(text: str) -> tuple[list[_Label], dict[str, str], dict[int, tuple[int, int]]]:
    """Labels, header fields and time signatures (measure -> meter) of a RomanText text."""
    labels: list[_Label] = []
    meta: dict[str, str] = {}
    meters: dict[int, tuple[int, int]] = {}
    pending: tuple[int, int] | None = None
    key: str | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.replace("\u00a0", " ").strip()
        if not any(c.isalnum() for c in line):
            continue  # blank, or stray bytes such as a mis-decoded no-break space
        cp = _COPY.match(line)
        if cp is not None:  # "m5-6 = m1-2": the same labels again
            t0, s0 = int(cp.group(1)), int(cp.group(3))
            t1 = int(cp.group(2) or t0)
            s1 = int(cp.group(4) or s0)
            if t1 - t0 != s1 - s0 or t1 < t0:
                raise RomanTextError(f"line {no}: token {line!r}: ranges of different lengths")
            src = [lb for lb in labels if s0 <= lb.measure <= s1]
            labels += [_Label(no, lb.measure - s0 + t0, lb.beat, lb.key, lb.numeral)
                       for lb in src]
            if src:
                key = src[-1].key
            continue
        m = _MEASURE.match(line)
        if m is None:
            h = _HEADER.match(line)
            if h is None:
                tok = line.split()[0]
                raise RomanTextError(f"line {no}: token {tok!r}: not a measure or header line")
            named = h.group(1) is not None
            name = (h.group(1) if named else h.group(3)).strip()
            value = (h.group(2) if named else h.group(4)).strip()
            if name.lower() == "time signature":
                ts = _TS.match(value)
                if ts is None:
                    raise RomanTextError(f"line {no}: token {value!r}: not a time signature")
                pending = (int(ts.group(1)), int(ts.group(2)))
            elif name in meta and name.lower() in ("note", "pedal"):
                meta[name] += "\n" + value
            else:
                meta[name] = value
            continue
        measure, variant, body = int(m.group(1)), m.group(2), m.group(3)
        if variant:
            continue  # an alternative reading; the main line holds the labels
        if pending is not None:
            meters[measure] = pending
            pending = None
        beat = 1.0
        for tok in body.split():
            if tok in _PHRASE:
                continue
            if b := _BEAT.match(tok):
                beat = float(b.group(1))
                continue
            if k := _KEY.match(tok):
                key = _key_symbol(k.group(1) or k.group(2))
                try:
                    _tonic_fifths(key)
                except KeyError_:
                    raise RomanTextError(f"line {no}: token {tok!r}: not a key") from None
                continue
            if key is None:
                raise RomanTextError(f"line {no}: token {tok!r}: numeral before any key")
            try:
                _numeral(tok, key[0].islower())
            except NumeralError as exc:
                raise RomanTextError(f"line {no}: token {tok!r}: {exc}") from None
            labels.append(_Label(no, measure, beat, key, tok))
    return labels, meta, meters


def _measure_ticks(labels: list[_Label], meters: dict[int, tuple[int, int]],
                   tpq: int) -> tuple[dict[int, int], list[tuple[int, int, int]]]:
    """Measure -> tick, and time signatures in ticks, when no score says where bars are."""
    if not labels:
        return {}, [(0, *meters.get(min(meters, default=1), (4, 4)))]
    first, last = min(lb.measure for lb in labels), max(lb.measure for lb in labels)
    meter = meters.get(min(meters), (4, 4)) if meters else (4, 4)
    out: dict[int, int] = {}
    ts: list[tuple[int, int, int]] = []
    t = 0
    for num in range(first, last + 2):
        if num in meters:
            meter = meters[num]
        bar = tpq * 4 * meter[0] // meter[1]
        if num == first and num == 0:  # a pickup: it starts at its first label
            beat = beat_ticks(*meter, tpq)
            b0 = min(lb.beat for lb in labels if lb.measure == 0)
            t = -round((b0 - 1) * beat)
            ts.append((0, *meter))
        elif not ts or ts[-1][1:] != meter:
            ts.append((max(t, 0), *meter))
        out[num] = t
        t += bar
    return out, ts


def read_romantext(text: str, score: Score | None = None, *,
                   measures: Mapping[int, int] | None = None, strict: bool = True) -> Analysis:
    """An Analysis from RomanText; bars are placed by ``measures`` (number -> tick), the
    score's meter, or else the file's own time signatures (480 ticks per quarter).

    A label in a measure the score does not have raises RomanTextError, or with
    ``strict=False`` is left out (and counted in ``Analysis.message``).
    """
    labels, meta, meters = _parse(text)
    tpq = score.tpq if score is not None else 480
    if measures is not None:
        mt = dict(measures)
        ts = [(max(mt.get(m, 0), 0), *v) for m, v in sorted(meters.items())] or [(0, 4, 4)]
        if 0 in mt and 1 in mt:  # a pickup bar counts its beats as the tail of a full bar
            num, den = ts[0][1:]
            mt[0] = mt[1] - tpq * 4 * num // den
    elif score is not None:
        meter = Meter.of(score, infer_pickup(score))
        mt = {int(n): int(s) for n, s in zip(meter.numbers, meter.starts, strict=True)}
        if meter.pickup:
            mt[0] = meter.tick(0, 1.0)
        ts = [(t.tick, t.numerator, t.denominator) for t in score.time_signatures]
    else:
        mt, ts = _measure_ticks(labels, meters, tpq)
    meter_obj = Meter(ts, tpq)
    dropped = [lb for lb in labels if lb.measure not in mt]
    if dropped and strict:
        lb = dropped[0]
        raise RomanTextError(f"line {lb.line}: token 'm{lb.measure}': no such measure")
    labels = [lb for lb in labels if lb.measure in mt]
    segs: list[Segment] = []
    ticks: list[int] = []
    for lb in labels:
        bl = meter_obj.beat_length(max(mt[lb.measure], 0))
        ticks.append(mt[lb.measure] + round((lb.beat - 1) * bl))
    last_bar = max(mt.values(), default=0)
    end_all = max([*ticks, last_bar + (meter_obj.beat_length(last_bar) * 4 if mt else 0)]) + 1
    if score is not None:
        end_all = max(end_all, score.end_tick)
    for i, lb in enumerate(labels):
        minor = lb.key[0].islower()
        n = _numeral(lb.numeral, minor)
        tonic = _tonic_fifths(lb.key)
        root, bass = tonic + n.root, tonic + n.bass
        nxt = next((t for t in ticks[i + 1:] if t > ticks[i]), end_all)
        seconds = float(score.tempo.ticks_to_seconds(ticks[i])) if score is not None else (
            ticks[i] / tpq * 0.5)
        segs.append(Segment(
            tick=ticks[i], end=nxt, onset=seconds, measure=lb.measure, beat=lb.beat,
            key=lb.key, numeral=lb.numeral, chord=chord_symbol(root, n.quality, bass),
            root=fifths_name(root), quality=n.quality, inversion=n.inversion,
            pcs=tuple(sorted({(7 * (tonic + f)) % 12 for f in n.members})),
            bass=(7 * bass) % 12,
        ))
    key = segs[0].key if segs else None
    msg = "no labels" if not segs else ""
    if dropped:
        msg = f"{len(dropped)} labels in measures the score lacks were left out"
    return Analysis(segs, key, 1.0 if segs else 0.0, tpq, ts, mt, meta, msg)


def write_romantext(analysis: Analysis) -> str:
    """RomanText of an analysis (``Analysis.to_romantext``, which holds the writer so that
    the model needs no import of this reader)."""
    return analysis.to_romantext()


__all__ = ["RomanTextError", "read_romantext", "write_romantext"]
