"""NotaGen's interleaved ABC into ABC that mos_lab's reader plays, and into a Score.

NotaGen writes one line per bar, every voice in it (``[r:i/j][V:1]…|[V:2]…|``), and
leaves out voices that rest the whole bar. Reading it back: the ``[r:]`` prefixes go,
a left-out voice gets a whole-bar rest (``Z``), and ``X:1`` starts the tune.
"""

from __future__ import annotations

import re

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
    declared voice in every bar (a whole-bar rest where NotaGen left one out)."""
    lines = [ln for ln in text.split("\n") if ln]
    head = [ln for ln in lines if not is_body_line(ln)]
    body = [ln for ln in lines if is_body_line(ln)]
    declared = voices("\n".join(head))
    out = ["X:1"] + [ln for ln in head if not ln.startswith("X:")]
    for ln in body:
        ln = _R.sub("", ln)
        present = set(_SEG.findall(ln))
        missing = [v for v in declared if v not in present]
        out.append(ln + "".join(f"[V:{v}]Z|" for v in missing))
    return "\n".join(out) + "\n"


def to_score(text: str) -> Score:
    """The Score of NotaGen's ABC ``text`` (through mos_lab's ABC reader)."""
    return load(playable(text).encode(), format="abc")
