"""``load`` and ``save``: one entry point for every format, chosen by extension or content."""

from __future__ import annotations

import os
from pathlib import Path

from mos_lab.score import nvx1
from mos_lab.score._types import MAX_FILE_BYTES
from mos_lab.score.errors import ScoreError
from mos_lab.score.midi import read_midi, write_midi
from mos_lab.score.model import Score
from mos_lab.score.notation import read_abc, read_musicxml, write_abc, write_musicxml

MIDI_EXT = {".mid", ".midi", ".smf", ".kar"}
JSON_EXT = {".json", ".nvx1"}
XML_EXT = {".musicxml", ".mxl", ".xml"}
ABC_EXT = {".abc"}
SUPPORTED = sorted(MIDI_EXT | JSON_EXT | XML_EXT | ABC_EXT)


def _sniff(data: bytes) -> str:
    head = data[:512].lstrip()
    if data[:4] == b"MThd":
        return "midi"
    if data[:2] == b"PK" or head.startswith(b"<?xml") or b"<score-partwise" in head:
        return "musicxml"
    if head.startswith((b"{", b"[")):
        return "json"
    if b"\nK:" in data or head.startswith((b"X:", b"%abc")):
        return "abc"
    raise ScoreError("document: unknown format (not MIDI, NVX1 JSON, MusicXML or ABC)")


def _kind_of(path: Path) -> str | None:
    ext = path.suffix.lower()
    for kind, exts in (("midi", MIDI_EXT), ("json", JSON_EXT), ("musicxml", XML_EXT),
                       ("abc", ABC_EXT)):
        if ext in exts:
            return kind
    return None


def load(source: str | os.PathLike[str] | bytes, *, format: str | None = None) -> Score:
    """Load a score from a path or from bytes; ``format`` overrides the guess.

    Raises ScoreError (a ValueError) naming every problem found; never returns a half-read
    score. Damaged files that could be read best-effort carry their repairs in ``warnings``.
    """
    name: str | None = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        kind = format or _sniff(data)
    else:
        path = Path(source)
        name = str(path)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise ScoreError(f"file: {size} bytes is more than the limit of {MAX_FILE_BYTES}",
                                 name)
            data = path.read_bytes()
        except FileNotFoundError:
            raise ScoreError("file: not found", name) from None
        except IsADirectoryError:
            raise ScoreError("file: is a directory", name) from None
        except PermissionError:
            raise ScoreError("file: permission denied", name) from None
        kind = format or _kind_of(path) or _sniff(data)
    try:
        if kind == "midi":
            return read_midi(data, name)
        if kind == "json":
            return nvx1.from_nvx1(nvx1.parse_json(data, name), name)
        if kind == "musicxml":
            return read_musicxml(data if name is None else Path(name), name)
        if kind == "abc":
            return read_abc(data.decode("utf-8", "replace"), name)
    except ScoreError as exc:
        if exc.source is None and name:
            raise ScoreError(exc.problems, name) from None
        raise
    raise ScoreError(f"format: {kind!r} is not one of midi, json, musicxml, abc", name)


def save(score: Score, path: str | os.PathLike[str]) -> Path:
    """Write ``score`` in the format its extension names; the file appears whole or not at all."""
    p = Path(path)
    kind = _kind_of(p)
    if kind is None:
        raise ScoreError(f"file: cannot write '{p.suffix}' (supported: {', '.join(SUPPORTED)})",
                         str(p))
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        if kind == "midi":
            tmp.write_bytes(write_midi(score))
        elif kind == "json":
            tmp.write_text(nvx1.dumps(score), encoding="utf-8")
        elif kind == "abc":
            tmp.write_text(write_abc(score), encoding="utf-8")
        else:
            write_musicxml(score, tmp.with_suffix(p.suffix))
            tmp.with_suffix(p.suffix).replace(tmp)
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
    return p
