"""What a shared session holds, as two pycrdt documents.

``control`` (written only by the room's owner and whoever they grant, enforced by the
server): ``transport`` (state, position, the server time it holds at, rate, seq, by) and
``grants`` (user -> True). ``content`` (written by every member): the score's ``notes``
(note id -> "onset,duration,pitch,velocity" in ticks, so concurrent edits of different
notes merge and edits of one note resolve to one winner everywhere), ``score`` (tpq, bpm,
title), analysis ``labels`` (tick -> text) and ``annotations`` (a list of {by, tick, text}).
A late joiner gets all of it from the documents' state, never from a replay of
messages. Peers' selections and cursors are presence (pycrdt awareness, see
:mod:`mos_lab.share.client`), not document content: they are not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTROL_ROOTS = ("transport", "grants")
CONTENT_ROOTS = ("notes", "score", "labels", "annotations")


def _pycrdt() -> Any:
    try:
        import pycrdt
    except ImportError:
        raise ImportError("shared sessions need pycrdt: pip install 'mos_lab[share]'"
                          ) from None
    return pycrdt


def control_doc() -> Any:
    """A new control document with its root maps made (transport, grants)."""
    p = _pycrdt()
    doc = p.Doc()
    for name in CONTROL_ROOTS:
        doc.get(name, type=p.Map)
    return doc


def content_doc() -> Any:
    """A new content document with its roots made (notes, score, labels, annotations)."""
    p = _pycrdt()
    doc = p.Doc()
    for name in CONTENT_ROOTS:
        doc.get(name, type=p.Array if name == "annotations" else p.Map)
    return doc


@dataclass(frozen=True)
class Transport:
    """The shared transport: ``position`` seconds hold at server time ``at``; while
    playing, position advances at ``rate`` from there (``at`` may lie ahead: a start)."""

    state: str = "stopped"
    position: float = 0.0
    at: float = 0.0
    rate: float = 1.0
    seq: int = 0
    by: str = ""

    def position_at(self, server_time: float) -> float:
        """The position (seconds) at ``server_time``; before a scheduled start, the start."""
        if self.state != "playing" or server_time <= self.at:
            return self.position
        return self.position + (server_time - self.at) * self.rate

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "position": self.position, "at": self.at,
                "rate": self.rate, "seq": self.seq, "by": self.by}


def read_transport(control: Any) -> Transport:
    """The transport a control document holds now (stopped at 0 when never set)."""
    d = dict(control["transport"])  # the root exists: control_doc() made it
    if not d:
        return Transport()
    return Transport(state=str(d.get("state", "stopped")), position=float(d.get("position", 0)),
                     at=float(d.get("at", 0)), rate=float(d.get("rate", 1.0)),
                     seq=int(d.get("seq", 0)), by=str(d.get("by", "")))


def write_transport(control: Any, t: Transport) -> None:
    """Write every field of ``t`` in one transaction (peers never see half a change)."""
    m = control.get("transport", type=_pycrdt().Map)
    with control.transaction():
        for k, v in t.as_dict().items():
            m[k] = v


def note_text(onset: int, duration: int, pitch: int, velocity: int) -> str:
    """One note as the content document stores it, checked (ticks, MIDI pitch/velocity)."""
    if onset < 0 or duration <= 0:
        raise ValueError(f"note: onset {onset} must be >= 0 and duration {duration} > 0")
    if not 0 <= pitch <= 127 or not 0 <= velocity <= 127:
        raise ValueError(f"note: pitch {pitch} and velocity {velocity} must be in 0..127")
    return f"{onset},{duration},{pitch},{velocity}"


def load_score(content: Any, score: Any) -> int:
    """Put a mos_lab Score's notes (ids n0, n1, ...) and timing into ``content``; returns
    the note count. One transaction, so peers get it as one update."""
    p = _pycrdt()
    notes, meta = content.get("notes", type=p.Map), content.get("score", type=p.Map)
    n = score.notes
    with content.transaction():
        meta["tpq"] = int(score.tpq)
        meta["bpm"] = round(60_000_000 / score.tempo.changes[0].us_per_quarter, 6)
        meta["title"] = str(getattr(score, "title", "") or "")
        for i in range(len(n)):
            notes[f"n{i}"] = note_text(int(n["start"][i]), int(n["duration"][i]),
                                       int(n["pitch"][i]), int(n["velocity"][i]))
    return len(n)


def score_rows(content: Any) -> list[tuple[int, int, int, int]]:
    """The shared notes as (onset, duration, pitch, velocity) rows sorted by onset, pitch."""
    notes = content.get("notes", type=_pycrdt().Map)
    rows = []
    for key, text in notes.items():
        try:
            a, b, c, d = (int(x) for x in str(text).split(","))
        except ValueError:
            raise ValueError(f"notes[{key!r}]: {text!r} is not onset,duration,pitch,velocity"
                             ) from None
        rows.append((a, b, c, d))
    return sorted(rows, key=lambda r: (r[0], r[2]))
