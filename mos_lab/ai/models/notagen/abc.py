"""NotaGen's interleaved ABC into ABC that mos_lab's reader plays, and into a Score.

NotaGen writes one line per bar, every voice in it (``[r:i/j][V:1]…|[V:2]…|``), and
leaves out voices that rest the whole bar. Reading it back: the ``[r:]`` prefixes go,
a left-out voice gets a whole-bar rest (``Z``), and ``X:1`` starts the tune.
"""

from __future__ import annotations

import re
from fractions import Fraction

from mos_lab.ai.models.notagen.patchilizer import is_body_line
from mos_lab.score import Score, load

_R = re.compile(r"^\[r:[^\]]*\]")
_SEG = re.compile(r"\[V:([^\]]+)\]")


def voices(header: str) -> list[str]:
    """The voice names the header declares (``V:1 …`` lines), in order."""
    out = []
    for ln in header.split("\n"):
        if ln.startswith("V:") and ln[2:].split():
            name = ln[2:].split()[0]
            if name not in out:
                out.append(name)
    return out


def playable(text: str) -> str:
    """``text`` as plain multi-voice ABC: ``X:1`` first, no ``[r:]`` prefixes, and every
    declared voice in every bar, all of one length: each line is one bar of every voice
    (NotaGen's format), whose length is the most common of its voices' (as NotaGen's
    ``rest_unreduce`` takes it); a voice left out rests that long, a short voice's bar
    ends with a rest, a long one is cut. Without this the ABC reader, which reads each
    voice on its own, would shift a voice against the others from a wrong bar on."""
    lines = [ln for ln in text.split("\n") if ln]
    head = [ln for ln in lines if not is_body_line(ln)]
    body = [ln for ln in lines if is_body_line(ln)]
    declared = voices("\n".join(head))
    out = ["X:1"] + [ln for ln in head if not ln.startswith("X:")]
    for ln in body:
        ln = _R.sub("", ln)
        first = ln.find("[V:")
        segs = re.findall(r"\[V:([^\]]+)\](.*?)(?=\[V:|$)", ln)
        if first < 0 or not segs:
            out.append(ln)
            continue
        length = line_length([bar_length(music) for _, music in segs])
        fitted = ln[:first] + "".join(
            f"[V:{v}]{music if length is None else fit_bar(music, length)}"
            for v, music in segs)
        present = {v for v, _ in segs}
        rest = "Z" if length is None else _rest(length)
        out.append(fitted + "".join(f"[V:{v}]{rest}|" for v in declared if v not in present))
    return "\n".join(out) + "\n"


def to_score(text: str) -> Score:
    """The Score of NotaGen's ABC ``text`` (through mos_lab's ABC reader)."""
    return load(playable(text).encode(), format="abc")


_LEN = re.compile(r"(\d*)(/*)(\d*)")
_NOTE = re.compile(r"[\^_=]*[A-Ga-gzx][,']*")
#: tuplet (p -> q when q is not written (ABC 2.1, 4.13; 5, 7, 9 taken as simple meter)
_TUPLET_Q = {2: 3, 3: 2, 4: 3, 5: 2, 6: 2, 7: 2, 8: 3, 9: 2}


def _length(text: str, i: int) -> tuple[Fraction, int]:
    """The length multiplier written at ``text[i:]`` (``2``, ``/``, ``3/2``, ``//``) and
    where it ends."""
    m = _LEN.match(text, i)
    assert m is not None
    num, slashes, den = m.groups()
    if not slashes:
        return Fraction(int(num) if num else 1), m.end()
    d = int(den) if den else 2 ** len(slashes)
    return Fraction(int(num) if num else 1, d), m.end()


def _scan(music: str) -> list[tuple[int, Fraction, bool]] | None:
    """After each note, rest or chord of one voice's bar: (offset in ``music`` where it
    ends, length so far in units of ``L:``, whether the bar may be cut there: not inside a
    tuplet or a broken-rhythm pair). None where the text holds something not read here."""
    total = Fraction(0)
    events: list[tuple[int, Fraction, bool]] = []
    tuplet: list[Fraction] = []  # remaining notes' factors of an open tuplet
    i, n = 0, len(music)
    while i < n:
        c = music[i]
        if c in " \t\n-.~)&<>":  # spaces, ties, staccato, rolls, slur ends, broken rhythm
            if c in "<>" and events:
                events[-1] = (*events[-1][:2], False)
            i += 1
        elif c in "|:" or (c == "[" and i + 1 < n and music[i + 1] in "|123456789"):
            i += 1  # barlines and endings (|1, [2) with their numbers
            while i < n and music[i] in "|:]0123456789,":
                i += 1
        elif c in "\"!+{":  # annotation, decoration, grace notes: up to their end
            close = {"\"": "\"", "!": "!", "+": "+", "{": "}"}[c]
            j = music.find(close, i + 1)
            if j < 0:
                return None
            i = j + 1
        elif c == "[" and i + 2 < n and music[i + 1].isalpha() and music[i + 2] == ":":
            j = music.find("]", i)  # an inline field ([K:G], [M:3/4])
            if j < 0 or music[i + 1] in "LM":  # a new unit or meter: not read here
                return None
            i = j + 1
        elif c == "(":
            m = re.match(r"\((\d)(?::(\d*))?(?::(\d*))?", music[i:])
            if m is None:  # a slur
                i += 1
                continue
            p = int(m.group(1))
            q = int(m.group(2)) if m.group(2) else _TUPLET_Q.get(p)
            r = int(m.group(3)) if m.group(3) else p
            if q is None:
                return None
            tuplet = [Fraction(q, p)] * r
            i += m.end()
        else:
            if c == "[":  # a chord: its first note's length, times the length after it
                j = music.find("]", i)
                inner = _NOTE.match(music, i + 1) if j >= 0 else None
                if inner is None:
                    return None
                first, _ = _length(music, inner.end())
                outer, i = _length(music, j + 1)
                length = first * outer
            elif (m := _NOTE.match(music, i)) is not None:
                length, i = _length(music, m.end())
            elif c in "HIJKLMNOPQRSTUVWhijklmnopqrstuvwy":
                i += 1  # decoration letters (T trill, H fermata ...) and the spacer y
                continue
            else:
                return None
            total += length * (tuplet.pop(0) if tuplet else 1)
            events.append((i, total, not tuplet))
    return events


def bar_length(music: str) -> Fraction | None:
    """The length of one voice's bar of ABC music in units of ``L:`` (notes, rests,
    chords and tuplets counted; grace notes, decorations, annotations, inline fields,
    ties, slurs and barlines not; broken rhythm keeps the pair's sum). None where the
    text holds something this does not read (a ``Z`` multi-bar rest, an unknown sign)."""
    events = _scan(music)
    if events is None:
        return None
    return events[-1][1] if events else Fraction(0)


def _rest(length: Fraction) -> str:
    return "z" + (f"{length.numerator}" if length.denominator == 1
                  else f"{length.numerator}/{length.denominator}")


def fit_bar(music: str, length: Fraction) -> str:
    """One voice's bar fitted to ``length`` units: a short bar gets a rest before its
    barline, a long one is cut after the last note that fits (a rest fills the rest);
    ``music`` unchanged where it cannot be read or cut cleanly."""
    events = _scan(music)
    if not events or events[-1][1] == length:
        return music
    end = events[-1][0]
    barline = music[end:].replace("-", "").strip()
    if events[-1][1] < length:
        return f"{music[:end]} {_rest(length - events[-1][1])}{barline}"
    cut = [(pos, so_far) for pos, so_far, safe in events if safe and so_far <= length]
    pos, so_far = cut[-1] if cut else (0, Fraction(0))
    if pos == 0:
        first = events[0][0]  # keep what comes before the first note (a left barline)
        lead = music[:first].rstrip()
        head = lead[:len(lead) - len(lead.lstrip("|:[]0123456789"))] if lead else ""
        return f"{head}{_rest(length)}{barline}"
    rest = f" {_rest(length - so_far)}" if so_far < length else ""
    return f"{music[:pos]}{rest}{barline}"


def line_length(lengths: list[Fraction | None]) -> Fraction | None:
    """A bar's length from its voices' lengths as NotaGen's ``rest_unreduce`` takes it: the
    most common (the first of equals), lengths that were not read left out."""
    counts: dict[Fraction, int] = {}
    for n in lengths:
        if n is not None:
            counts[n] = counts.get(n, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None
