"""Notation formats: MusicXML through music21 (lazy, optional) and ABC through abcMIDI.

ABC goes through the abc2midi/midi2abc tools that symusic bundles (music21 reads ABC but
cannot write it); their messages about the input become ``Score.warnings``. MusicXML needs
the ``notation`` extra (music21); without it the error says how to install it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mos_lab.score.errors import MissingDependencyError, ScoreError
from mos_lab.score.midi import read_midi
from mos_lab.score.model import Score

_FD_LOCK = threading.Lock()


@contextlib.contextmanager
def _captured_stdout() -> Iterator[list[str]]:
    """Capture what native code prints on fd 1 (abcMIDI reports problems there)."""
    lines: list[str] = []
    with _FD_LOCK, tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(1)
        os.dup2(tmp.fileno(), 1)
        try:
            yield lines
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            lines += tmp.read(1_000_000).decode("utf-8", "replace").splitlines()


def music21() -> Any:
    """The music21 module, or a clear MissingDependencyError."""
    try:
        import music21 as m21
    except ImportError:
        raise MissingDependencyError("music21", "notation", "MusicXML import/export") from None
    return m21


def read_abc(text: str, source: str | None = None) -> Score:
    """Parse ABC notation (all tunes of the file become one score, tune after tune)."""
    import symusic

    if not re.search(r"^K:", text, flags=re.M):
        raise ScoreError("abc: no K: (key) field, so no tune body was found", source)
    with _captured_stdout() as out:
        try:
            sc = symusic.Score.from_abc(text)
        except RuntimeError as exc:
            raise ScoreError(f"abc: {exc}", source) from None
    warnings = [ln.strip() for ln in out if ln.strip().startswith(("Error", "Warning"))]
    data = sc.dumps_midi()  # type: ignore[attr-defined]
    score = read_midi(bytes(data), source)
    title = next(iter(re.findall(r"^T:\s*(.+)$", text, flags=re.M)), "")
    return score.replace(title=title.strip(), warnings=(*score.warnings, *warnings))


def write_abc(score: Score) -> str:
    """ABC text of a score (via midi2abc); drums and controls are not representable."""
    import symusic

    if not score.n_notes:  # midi2abc fails on an empty file; a bar of rest says the same
        return f"X:1\nT:{score.title or 'untitled'}\nM:4/4\nL:1/4\nK:C\nz4|]\n"
    sc = symusic.Score.from_midi(score.to_midi_bytes())
    with _captured_stdout():
        try:
            text = str(sc.dumps_abc())  # type: ignore[attr-defined]
        except RuntimeError as exc:
            raise ScoreError(f"abc: midi2abc failed: {str(exc).splitlines()[0]}") from None
    text = re.sub(r"^T:.*$", f"T:{score.title or 'untitled'}", text, count=1, flags=re.M)
    return text


def read_musicxml(path_or_data: str | Path | bytes, source: str | None = None) -> Score:
    """Parse MusicXML (.musicxml, .xml or compressed .mxl) with music21."""
    m21 = music21()
    try:
        if isinstance(path_or_data, bytes):
            stream = m21.converter.parseData(path_or_data, format="musicxml")
        else:
            stream = m21.converter.parse(str(path_or_data), format="musicxml")
    except Exception as exc:  # music21 raises many kinds; all mean "bad input" here
        raise ScoreError(f"musicxml: {type(exc).__name__}: {exc}", source) from None
    return from_music21(stream, source)


def from_music21(stream: Any, source: str | None = None) -> Score:
    """A Score from a music21 Stream (through its own MIDI translation: tempo, meter, keys)."""
    m21 = music21()
    mf = m21.midi.translate.streamToMidiFile(stream)
    score = read_midi(mf.writestr(), source)
    title = ""
    md = getattr(stream, "metadata", None)
    if md is not None and md.title:
        title = str(md.title)
    return score.replace(title=title) if title else score


def to_music21(score: Score) -> Any:
    """A music21 Score (parts, notes, tempo and meter) from a Score."""
    m21 = music21()
    return m21.converter.parseData(score.to_midi_bytes(), format="midi")


def write_musicxml(score: Score, path: Path) -> None:
    """Write MusicXML (``.mxl`` compressed) through music21."""
    stream = to_music21(score)
    if score.title:
        stream.insert(0, music21().metadata.Metadata(title=score.title))
    fmt = "mxl" if path.suffix.lower() == ".mxl" else "musicxml"
    stream.write(fmt, fp=str(path))
