"""NVX1: mos_lab's versioned JSON score format, validated against its shipped JSON Schema.

The validator walks the schema file itself (the subset it uses: type, required, properties,
additionalProperties, items, minimum/maximum, const, enum, maxLength, maxItems, $ref), so
the schema and the checks can never disagree; every problem is collected with its field path
(``tracks[0].notes[3].pitch: 200 is above 127``). Note lists take a vectorised fast path.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from mos_lab.score._types import CONTROL_DTYPE, MAX_FILE_BYTES, NOTE_DTYPE, PITCH_BEND, PROGRAM
from mos_lab.score.errors import ScoreError
from mos_lab.score.midi import sort_rows, text_problems, unencodable
from mos_lab.score.model import Chord, KeySignature, Lyric, Marker, Score, TimeSignature, Track
from mos_lab.score.tempo import TempoChange, TempoMap

FORMAT, VERSION = "nvx1", 1
MAX_PROBLEMS = 100
_NOTE_KEYS = {"start", "duration", "pitch", "velocity"}
_SPELLED_KEYS = _NOTE_KEYS | {"spelling"}


@cache
def schema() -> dict[str, Any]:
    """The NVX1 JSON Schema shipped in the package."""
    text = resources.files("mos_lab.score").joinpath("nvx1.schema.json").read_text("utf-8")
    return dict(json.loads(text))


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,),
    "boolean": (bool,), "number": (int, float),
}


class _Walker:
    """Checks an instance against the schema subset, collecting path-named problems."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.problems: list[str] = []

    def add(self, path: str, msg: str) -> None:
        path = path.encode("utf-8", "backslashreplace").decode("utf-8")  # printable keys
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{path or '(document)'}: {msg}")

    def full(self) -> bool:
        return len(self.problems) >= MAX_PROBLEMS

    def resolve(self, sch: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in sch:
            node: Any = self.root
            for part in sch["$ref"].lstrip("#/").split("/"):
                node = node[part]
            sch = node
        return sch

    def check(self, value: Any, sch: dict[str, Any], path: str) -> None:
        if self.full():
            return
        sch = self.resolve(sch)
        if "const" in sch and value != sch["const"]:
            self.add(path, f"{value!r} must be {sch['const']!r}")
            return
        if "enum" in sch and (isinstance(value, bool) or value not in sch["enum"]):
            self.add(path, f"{value!r} is not one of {sch['enum']}")
            return
        t = sch.get("type")
        if t is not None:
            ok = isinstance(value, _TYPES[t]) and not (
                t in ("integer", "number") and isinstance(value, bool)
            )
            if not ok:
                self.add(path, f"{value!r:.40} is not of type {t}")
                return
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in sch and value < sch["minimum"]:
                self.add(path, f"{value} is below {sch['minimum']}")
            elif "maximum" in sch and value > sch["maximum"]:
                self.add(path, f"{value} is above {sch['maximum']}")
        elif isinstance(value, str):
            if len(value) > sch.get("maxLength", len(value)):
                self.add(path, f"text of {len(value)} characters is longer than {sch['maxLength']}")
            elif why := unencodable(value):  # I-JSON: no lone surrogates (schema description)
                self.add(path, why)
        elif isinstance(value, list):
            if len(value) > sch.get("maxItems", len(value)):
                self.add(path, f"{len(value)} items is more than {sch['maxItems']}")
                return
            items = sch.get("items")
            if items is not None:
                if path.endswith("notes") and _notes_fast_ok(value):
                    return
                for i, v in enumerate(value):
                    self.check(v, items, f"{path}[{i}]")
                    if self.full():
                        return
        elif isinstance(value, dict):
            props = sch.get("properties", {})
            for key in sch.get("required", ()):
                if key not in value:
                    self.add(f"{path}.{key}".lstrip("."), "is required")
            for key, v in value.items():
                sub = f"{path}.{key}".lstrip(".")
                if key in props:
                    self.check(v, props[key], sub)
                elif sch.get("additionalProperties") is False:
                    self.add(sub, "is not a known field")


def _notes_fast_ok(notes: list[Any]) -> bool:
    """True when every note is a dict of exactly the four int fields, all in range."""
    try:
        if notes and type(notes[0]) is dict and "spelling" in notes[0]:
            if not all(type(n) is dict and n.keys() == _SPELLED_KEYS for n in notes):
                return False
            f = [n["spelling"] for n in notes]
            if not all(type(x) is int for x in f) or max(map(abs, f)) > 35:
                return False
            notes = [{k: n[k] for k in _NOTE_KEYS} for n in notes]
        if not all(type(n) is dict and n.keys() == _NOTE_KEYS for n in notes):
            return False
        cols = [[n[k] for n in notes] for k in ("start", "duration", "pitch", "velocity")]
        if not all(type(x) is int for col in cols for x in col):
            return False
        s, d, p, v = (np.asarray(c, dtype=np.int64) for c in cols)
    except (OverflowError, TypeError, ValueError):
        return False
    tick_max = 2**36
    return bool(
        ((s >= 0) & (s <= tick_max) & (d >= 0) & (d <= tick_max)).all()
        and ((p >= 0) & (p <= 127) & (v >= 1) & (v <= 127)).all()
    )


def validate(doc: Any) -> list[str]:
    """Every problem in an NVX1 document, as ``path: problem`` lines (empty when valid)."""
    w = _Walker(schema())
    w.check(doc, schema(), "")
    if not w.problems and isinstance(doc, dict):
        tracks = doc.get("tracks", [])
        for i, tr in enumerate(tracks):
            if len(w.problems) >= MAX_PROBLEMS:
                break
            notes = tr.get("notes", [])
            if notes and any(notes[j]["start"] > notes[j + 1]["start"]
                             for j in range(len(notes) - 1)):
                w.add(f"tracks[{i}].notes", "are not sorted by start")
    return w.problems


def parse_json(data: bytes | str, source: str | None = None) -> Any:
    """``json.loads`` with limits: size, nesting depth, no NaN/Infinity, no giant numbers."""
    if len(data) > MAX_FILE_BYTES:
        raise ScoreError(f"file: {len(data)} bytes is more than the limit of {MAX_FILE_BYTES}",
                         source)

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not a valid JSON number")

    try:
        return json.loads(data, parse_constant=no_constants)
    except RecursionError:
        raise ScoreError("document: nested too deeply", source) from None
    except UnicodeDecodeError as exc:
        raise ScoreError(f"document: not UTF-8 text ({exc.reason} at byte {exc.start})",
                         source) from None
    except json.JSONDecodeError as exc:
        raise ScoreError(f"document: invalid JSON at line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}", source) from None
    except ValueError as exc:
        raise ScoreError(f"document: {exc}", source) from None


def from_nvx1(doc: Any, source: str | None = None) -> Score:
    """A Score from an NVX1 document; ScoreError listing every problem if it is invalid."""
    problems = validate(doc)
    if problems:
        raise ScoreError(problems, source)
    spelled = _spelling_problems(doc)
    if isinstance(spelled, list):
        raise ScoreError(spelled, source)
    tracks: list[Track] = []
    note_parts, ctrl_rows, spell_parts = [], [], []
    for i, tr in enumerate(doc["tracks"]):
        drums = bool(tr.get("drums", False))
        ch = int(tr.get("channel", 9 if drums else 0))
        tracks.append(Track(tr.get("name", ""), int(tr.get("program", 0)), ch, drums))
        ns = tr["notes"]
        a = np.empty(len(ns), dtype=NOTE_DTYPE)
        if ns:
            a["start"] = [n["start"] for n in ns]
            a["duration"] = [n["duration"] for n in ns]
            a["pitch"] = [n["pitch"] for n in ns]
            a["velocity"] = [n["velocity"] for n in ns]
        a["track"], a["channel"] = i, ch
        note_parts.append(a)
        if spelled:
            spell_parts.append(np.array([n["spelling"] for n in ns], dtype=np.int64))
        ctrl_rows += [(c["tick"], c["number"], c["value"], i, ch) for c in tr.get("controls", [])]
        ctrl_rows += [(c["tick"], PROGRAM, c["program"], i, ch) for c in tr.get("programs", [])]
        ctrl_rows += [(c["tick"], PITCH_BEND, c["value"], i, ch)
                      for c in tr.get("pitch_bends", [])]
    notes = np.concatenate(note_parts) if note_parts else np.zeros(0, NOTE_DTYPE)
    spelling = None
    # the spelling and ties follow their notes through the sort (stable, by start)
    order = np.argsort(notes["start"], kind="stable")
    if spelled:
        spelling = np.concatenate(spell_parts)[order]
    notes = notes[order]
    ties = _ties_of(doc, note_parts, order)
    if isinstance(ties, list):
        raise ScoreError(ties, source)
    voices = _voices_of(doc, note_parts, order)
    if isinstance(voices, list):
        raise ScoreError(voices, source)
    measures = np.array(doc["measures"], dtype=np.int64) if "measures" in doc else None
    controls = np.array(ctrl_rows, dtype=CONTROL_DTYPE) if ctrl_rows else np.zeros(0, CONTROL_DTYPE)
    controls = sort_rows(controls, "time")
    tempo = TempoMap(doc["ticks_per_quarter"],
                     [TempoChange(t["tick"], t["us_per_quarter"]) for t in doc.get("tempos", [])])
    try:
        return Score(
            notes, tuple(tracks), tempo, controls,
            tuple(TimeSignature(t["tick"], t["numerator"], t["denominator"])
                  for t in doc.get("time_signatures", [])) or (TimeSignature(0),),
            tuple(KeySignature(k["tick"], k["key"], k.get("minor", False), k.get("mode", ""))
                  for k in doc.get("key_signatures", [])),
            tuple(Marker(m["tick"], m["text"]) for m in doc.get("markers", [])),
            tuple(Chord(c["tick"], c["duration"], c["symbol"], c.get("roman", ""))
                  for c in doc.get("chords", [])),
            title=doc.get("title", ""),
            spelling=spelling,
            composer=doc.get("composer", ""),
            lyrics=tuple(Lyric(ly["tick"], ly["text"], ly.get("track", 0), ly.get("verse", 1))
                         for ly in doc.get("lyrics", [])),
            measures=measures,
            ties=ties,
            voices=voices,
        )
    except ScoreError as exc:
        raise ScoreError(exc.problems, source) from None


def _ties_of(doc: dict[str, Any], note_parts: list[np.ndarray], order: np.ndarray
             ) -> np.ndarray | list[str] | None:
    """The written ties as (row, tick) pairs of the sorted notes (``order`` sorted the
    tracks' notes, concatenated), None when the document has none, or its problems."""
    if "ties" not in doc:
        return None
    offsets = np.cumsum([0] + [len(a) for a in note_parts])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    out, problems = [], []
    for k, t in enumerate(doc["ties"]):
        tr, j = t["track"], t["note"]
        if tr >= len(note_parts) or j >= len(note_parts[tr]):
            problems.append(f"ties[{k}]: tracks[{tr}].notes[{j}] does not exist")
            continue
        out.append((int(rank[offsets[tr] + j]), t["tick"]))
    return problems[:MAX_PROBLEMS] or np.array(out, dtype=np.int64).reshape(-1, 2)


def _voices_of(doc: dict[str, Any], note_parts: list[np.ndarray], order: np.ndarray
               ) -> np.ndarray | list[str] | None:
    """Each sorted note's source voice (1 where the document names none), None when the
    document gives no voices, or its problems."""
    if "voices" not in doc:
        return None
    offsets = np.cumsum([0] + [len(a) for a in note_parts])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    out = np.ones(len(order), dtype=np.uint8)
    problems = []
    for k, v in enumerate(doc["voices"]):
        tr, j = v["track"], v["note"]
        if tr >= len(note_parts) or j >= len(note_parts[tr]):
            problems.append(f"voices[{k}]: tracks[{tr}].notes[{j}] does not exist")
            continue
        out[rank[offsets[tr] + j]] = v["voice"]
    return problems[:MAX_PROBLEMS] or out


def _spelling_problems(doc: dict[str, Any]) -> list[str] | bool:
    """Whether the notes carry a spelling (all or none), or the problems with it."""
    notes = [(f"tracks[{i}].notes[{j}]", n) for i, tr in enumerate(doc["tracks"])
             for j, n in enumerate(tr["notes"])]
    have = [path for path, n in notes if "spelling" in n]
    if not have:
        return False
    problems = [f"{path}.spelling: is missing while other notes have one"
                for path, n in notes if "spelling" not in n][:1]
    problems += [f"{path}.spelling: {n['spelling']} is not a spelling of pitch {n['pitch']}"
                 for path, n in notes
                 if "spelling" in n and (n["spelling"] * 7) % 12 != n["pitch"] % 12][:MAX_PROBLEMS]
    return problems or True


def to_nvx1(score: Score) -> dict[str, Any]:
    """The NVX1 document of a score (a plain dict, ready for ``json.dump``)."""
    tracks = []
    n, c = score.notes, score.controls
    for i, tr in enumerate(score.tracks):
        ns = n[n["track"] == i]
        if score.spelling is not None:
            spelled = score.spelling[n["track"] == i].tolist()
        cs = c[c["track"] == i]
        num = cs["number"]
        cc, pc, pb = cs[num < 128], cs[num == PROGRAM], cs[num == PITCH_BEND]
        track: dict[str, Any] = {
            "name": tr.name[:1000], "program": tr.program, "channel": tr.channel, "drums": tr.drums,
            "notes": [
                {"start": s, "duration": d, "pitch": p, "velocity": v}
                for s, d, p, v in zip(ns["start"].tolist(), ns["duration"].tolist(),
                                      ns["pitch"].tolist(), ns["velocity"].tolist(), strict=True)
            ],
            "controls": [{"tick": t, "number": k, "value": v} for t, k, v in zip(
                cc["time"].tolist(), cc["number"].tolist(), cc["value"].tolist(), strict=True)],
            "programs": [{"tick": t, "program": v} for t, v in zip(
                pc["time"].tolist(), pc["value"].tolist(), strict=True)],
            "pitch_bends": [{"tick": t, "value": v} for t, v in zip(
                pb["time"].tolist(), pb["value"].tolist(), strict=True)],
        }
        if score.spelling is not None:
            for note, f in zip(track["notes"], spelled, strict=True):
                note["spelling"] = f
        tracks.append(track)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "title": score.title,
        "ticks_per_quarter": score.tpq,
        "tempos": [{"tick": t.tick, "us_per_quarter": t.us_per_quarter}
                   for t in score.tempo.changes],
        "time_signatures": [{"tick": t.tick, "numerator": t.numerator,
                             "denominator": t.denominator} for t in score.time_signatures],
        "key_signatures": [{"tick": k.tick, "key": k.key, "minor": k.minor}
                           | ({"mode": k.mode} if k.mode else {})
                           for k in score.key_signatures],
        "markers": [{"tick": m.tick, "text": m.text[:1000]} for m in score.markers],
        "chords": [{"tick": ch.tick, "duration": ch.duration, "symbol": ch.symbol,
                    "roman": ch.roman} for ch in score.chords],
        "tracks": tracks,
    }
    if score.measures is not None:
        doc["measures"] = score.measures.tolist()
    if score.ties is not None:
        of_track, index = _track_index(score)
        doc["ties"] = [{"track": int(of_track[r]), "note": int(index[r]), "tick": t}
                       for r, t in score.ties.tolist()]
    if score.voices is not None:
        of_track, index = _track_index(score)
        doc["voices"] = [{"track": int(of_track[r]), "note": int(index[r]), "voice": int(v)}
                         for r, v in enumerate(score.voices.tolist()) if v != 1]
    if score.composer:  # optional fields only where there is something to say
        doc["composer"] = score.composer[:1000]
    if score.lyrics:
        doc["lyrics"] = [{"tick": ly.tick, "text": ly.text[:1000], "track": ly.track,
                          "verse": ly.verse} for ly in score.lyrics]
    return doc


def _track_index(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """Each note's track and its index among that track's notes (NVX1 names notes so)."""
    track = score.notes["track"].astype(np.int64)
    index = np.zeros(len(track), dtype=np.int64)
    for i in np.unique(track).tolist():
        sel = np.flatnonzero(track == i)
        index[sel] = np.arange(len(sel))
    return track, index


def dumps(score: Score) -> str:
    """NVX1 JSON text of a score; ScoreError if a text field could not be read back."""
    problems = text_problems(score)
    if problems:
        raise ScoreError(problems)
    return json.dumps(to_nvx1(score), separators=(",", ":"))
