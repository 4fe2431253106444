"""NotaGen's interleaved ABC of a Score, and its patches (NotaGen's own patchilizer).

The Score is written as ABC (``mos_lab.score``'s writer, midi2abc), then each voice's bars
are interleaved: one line per bar, every voice that plays in it (``[V:1]…|[V:2]…|``), as
NotaGen's training data is laid out. The patches come from
``mos_lab.ai.models.notagen.patchilizer`` (not re-implemented here) and read back through
``notagen.abc.to_score``. What ABC cannot hold (drums, controllers, exact performed
timing) is lost as in any ABC export; ``write_abc`` says so.
"""

from __future__ import annotations

import re

from mos_lab.ai.models.notagen import abc as notagen_abc
from mos_lab.ai.models.notagen import patchilizer
from mos_lab.score import Score
from mos_lab.score.notation import write_abc

__all__ = ["abc_patches", "interleave", "interleaved_abc", "score_from_patches"]

_HEAD_FIELDS = ("X:", "T:", "M:", "L:", "Q:", "K:")


def _bars(lines: list[str]) -> list[str]:
    """A voice's body lines as bars, each ending with its barline."""
    text = "".join(ln.rstrip().rstrip("\\").strip() + " " for ln in lines)
    text = re.sub(r"\s+", " ", text).strip()
    bars, cur = [], ""
    i = 0
    while i < len(text):
        delim = next((d for d in patchilizer.DELIMITERS if text.startswith(d, i)), None)
        if delim is not None:
            cur += delim
            i += len(delim)
            if cur.strip(" |:[]"):
                bars.append(cur.strip())
                cur = ""
            continue
        cur += text[i]
        i += 1
    if cur.strip():
        bars.append(cur.strip() + "|")
    return bars


def interleave(abc: str) -> str:
    """Multi-voice ABC (``V:`` sections) as NotaGen's interleaved ABC, one line per bar."""
    head: list[str] = []
    voices: dict[str, list[str]] = {}
    current: str | None = None
    for raw in abc.splitlines():
        line = raw.split("%", 1)[0].rstrip() if not raw.startswith("%%") else ""
        if not line:
            continue
        if line.startswith("V:"):
            current = line[2:].split()[0]
            voices.setdefault(current, [])
        elif current is None:
            if line.startswith(_HEAD_FIELDS):
                head.append(line.replace(": ", ":", 1))
        elif re.match(r"^[A-Za-z]:", line) and not line.startswith("|"):
            continue  # an inline field of a voice (W:, w:): not music
        else:
            voices[current].append(line)
    if not voices:  # one voice without a V: field
        body = [ln for ln in (r.split("%", 1)[0] for r in abc.splitlines())
                if ln.strip() and not re.match(r"^[A-Za-z]:", ln)]
        voices = {"1": body}
    key = next((h for h in head if h.startswith("K:")), "K:C")
    head = [h for h in head if not h.startswith(("K:", "X:"))]
    names = list(voices)
    bars = {v: _bars(voices[v]) for v in names}
    n = max((len(b) for b in bars.values()), default=0)
    out = ["%%score { " + " | ".join(names) + " }", *head, *[f"V:{v}" for v in names], key]
    for i in range(n):
        out.append("".join(f"[V:{v}]{bars[v][i]}" for v in names if i < len(bars[v])))
    return "\n".join(out) + "\n"


def interleaved_abc(score: Score) -> str:
    """NotaGen's interleaved ABC of a score."""
    return interleave(write_abc(score))


def abc_patches(score: Score, patch_size: int = patchilizer.PATCH_SIZE) -> list[list[int]]:
    """NotaGen's patches of a score (its patchilizer, generate mode), BOS patch first."""
    return patchilizer.encode(interleaved_abc(score), patch_size)


def score_from_patches(patches: list[list[int]]) -> Score:
    """The Score of NotaGen patches (decoded text read as ABC)."""
    return notagen_abc.to_score(patchilizer.decode(patches))
