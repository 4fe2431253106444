"""Notation formats: MusicXML through music21 (lazy, optional) and ABC through abcMIDI.

ABC goes through the abc2midi/midi2abc tools that symusic bundles (music21 reads ABC but
cannot write it); their messages about the input become ``Score.warnings``. MusicXML needs
the ``notation`` extra (music21); without it the error says how to install it.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import dataclasses
import itertools
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mos_lab.score.errors import MissingDependencyError, ScoreError
from mos_lab.score.midi import lyric_track, read_midi
from mos_lab.score.model import MODES, KeySignature, Lyric, Score

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
    failed = ""
    with _captured_stdout() as out:
        try:
            sc = symusic.Score.from_abc(text)
        except RuntimeError as exc:
            failed = str(exc).splitlines()[0] if str(exc) else "abc2midi failed"
    warnings = [_abc_message(ln) for ln in out if ln.strip().startswith(("Error", "Warning"))]
    if failed:  # abcMIDI's own messages say where (line and column) the text went wrong
        errors = [w for w in warnings if w.startswith("Error")] or warnings
        raise ScoreError([f"abc: {w}" for w in errors] or [f"abc: {failed}"], source)
    data = sc.dumps_midi()  # type: ignore[attr-defined]
    score = _abc_on_time(read_midi(bytes(data), source))
    title = next(iter(re.findall(r"^T:\s*(.+)$", text, flags=re.M)), "")
    composer = next(iter(re.findall(r"^C:\s*(.+)$", text, flags=re.M)), "")
    keys = score.key_signatures
    mode = abc_mode(next(iter(re.findall(r"^K:\s*(.*)$", text, flags=re.M)), ""))
    if mode and keys:  # abc2midi's key signature holds major or minor only
        first = min(range(len(keys)), key=lambda i: keys[i].tick)
        named = "" if mode in ("major", "minor") else mode  # plain keys: ``minor`` says
        keys = tuple(dataclasses.replace(k, mode=named, minor=mode in ("minor", "aeolian"))
                     if i == first else k for i, k in enumerate(keys))
    spelling, measures, ties = _abc_music21(text, score)
    return score.replace(title=title.strip(), warnings=(*score.warnings, *warnings),
                         spelling=spelling, composer=composer.strip(), key_signatures=keys,
                         lyrics=abc_lyrics(text, score), measures=measures, ties=ties)


_ABC_MODES = {"m": "minor", "min": "minor", "maj": "major", "ion": "ionian", "dor": "dorian",
              "phr": "phrygian", "lyd": "lydian", "mix": "mixolydian", "aeo": "aeolian",
              "loc": "locrian"}


def abc_mode(field: str) -> str:
    """The mode an ABC ``K:`` field names ("D dor" -> "dorian", "Am" -> "minor"), "" when
    it names a plain major key (or none: "none", "HP", clefs only)."""
    m = re.match(r"\s*[A-Ga-g][#b]?\s*([A-Za-z]*)", field)
    if not m or field.strip().lower().startswith(("none", "hp")):
        return ""
    word = m.group(1).lower()
    return next((mode for abbr, mode in _ABC_MODES.items()
                 if word == abbr or (len(word) >= 3 and word[:3] == abbr)), "")


_ABC_NOTE = re.compile(r"""\[[^\]|:]*\]|[_=^]*[A-Ga-g][,']*[0-9/]*(-?)|[zZxy][0-9/]*""")


def _abc_notes_of(line: str) -> list[bool]:
    """For each note or chord of an ABC music line, in order, whether a syllable goes to it
    (not to the note a tie continues); rests, strings, decorations, grace notes and inline
    fields are skipped."""
    line = re.sub(r'"[^"]*"|![^!]*!|\+[^+]*\+|\{[^}]*\}|%.*$', "", line)
    line = re.sub(r"\[[A-Za-z]:[^\]]*\]", "", line)  # inline fields
    out: list[bool] = []
    tied = False
    for m in _ABC_NOTE.finditer(line):
        tok = m.group(0)
        if tok[0] in "zZxy":
            continue
        out.append(not tied)
        tied = tok.endswith("-") or (tok.startswith("[") and m.end() < len(line)
                                      and line[m.end()] == "-")
    return out


def abc_lyrics(text: str, score: Score) -> tuple[Lyric, ...]:
    """The lyrics of the first tune's ``w:`` lines on the first track's note onsets: each
    line's syllables go, in order, to the notes of the music lines since the last one
    (``-`` ends a syllable whose word goes on, ``_`` holds it over a note, ``*`` skips a
    note, ``~`` joins words, ``|`` is ignored); consecutive ``w:`` lines are verses."""
    if not re.search(r"^w:", text, flags=re.M) or not score.n_notes:
        return ()
    onsets = np.unique(score.notes["start"][score.notes["track"] == 0]).tolist()
    start, block, verse, body = 0, 0, 0, False
    first: str | None = None  # the first voice (track 0); others' lines are skipped
    voice: str | None = None
    out: list[Lyric] = []
    for raw in text.splitlines():
        if body and raw.startswith("X:"):
            break  # the next tune
        if raw.startswith("K:"):
            body = True
            continue
        named = re.match(r"^(?:V:\s*|\[V:\s*)([^\]\s]+)[^\]]*\]?", raw)
        if named:
            voice = named.group(1)
            first = voice if first is None else first
            raw = raw[named.end():] if raw.startswith("[") else ""
        if not body or not raw.strip() or raw.startswith("%") or \
                re.match(r"^[A-Za-vx-z]:", raw) or voice != first:
            continue
        if raw.startswith("w:"):
            verse += 1
            words = raw[2:].replace("\\-", "\x00")
            syllables = re.findall(r"[^\s\-_*|]+-?|[_*]", words)
            for k, syl in enumerate(syllables[:block]):
                at = start + k
                if syl not in ("_", "*") and at < len(onsets):
                    shown = syl.replace("\x00", "-").replace("~", " ")
                    out.append(Lyric(int(onsets[at]), shown, 0, verse))
            continue
        if verse:  # music after lyrics: the next block of notes starts
            start, block, verse = start + block, 0, 0
        block += sum(_abc_notes_of(raw))
    return tuple(out)


def _abc_message(line: str) -> str:
    """An abcMIDI message with its place spelled out: ``Error in line-char 4-2 : Bad``
    becomes ``Error at line 4, column 3: Bad`` (abcMIDI counts columns from 0)."""
    m = re.match(r"\s*(Error|Warning) in line-char (\d+)-(\d+)\s*:\s*(.*)", line)
    if not m:
        return line.strip()
    kind, ln, col, what = m.groups()
    return f"{kind} at line {ln}, column {int(col) + 1}: {what.strip()}"


def _abc_on_time(score: Score) -> Score:
    """abc2midi sounds every note one tick after its written time (so that the previous
    note's off comes first); the written time is one tick earlier, the written end the same."""
    notes = score.notes.copy()
    late = notes["start"] >= 1
    notes["start"][late] -= 1
    notes["duration"][late] += 1
    return score.replace(notes=notes)


def _abc_music21(text: str, score: Score
                 ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The ABC text's own spelling of each note, bar lines and tied heads, read by music21
    when it is installed (abcMIDI's MIDI has none); Nones without music21 or when music21
    cannot read the tune. The bar lines and ties only where music21's reading holds the same
    onsets as abcMIDI's and ends where it does (they then describe the same music)."""
    try:
        m21 = music21()
        stream = m21.converter.parseData(text, format="abc")
        if not hasattr(stream, "parts"):  # several tunes (an Opus): one after another
            return None, None, None
        with contextlib.suppress(Exception):
            stream = stream.expandRepeats()
        rows = _spelled_rows(stream, score.tpq)
        spelling = align_spelling(score, rows)
    except Exception:  # spelling is a bonus on ABC: never fail the load over it
        return None, None, None
    try:
        lines = m21_bar_lines(stream)
        chains = _merge_ties(stream)
        onsets = np.unique(score.notes["start"])
        same = np.array_equal(np.unique(rows[:, 0]), onsets) and lines is not None \
            and abs(round(lines[-1] * score.tpq) - score.end_tick) <= score.tpq // 8
        if not same or lines is None:
            return spelling, None, None
        measures = np.unique(np.round(np.array(lines) * score.tpq).astype(np.int64))
        if len(measures) < 2:
            return spelling, None, None
        return spelling, measures, align_ties(score, chains)
    except Exception:  # bar lines too are a bonus
        return spelling, None, None


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
    if score.composer:
        composer = score.composer.replace("\n", " ")
        text = re.sub(r"^(T:.*)$", lambda m: f"{m.group(1)}\nC:{composer}", text, count=1,
                      flags=re.M)
    if score.key_signatures:  # midi2abc writes every key as major
        first = min(score.key_signatures, key=lambda k: k.tick)
        key = abc_key(first.key, first.minor, first.mode)
        text = re.sub(r"^K:.*$", f"K:{key}", text, count=1, flags=re.M)
    return text


def abc_key(sharps: int, minor: bool, mode: str = "") -> str:
    """The ABC name of a key signature: ``abc_key(0, True)`` is ``"Am"``, ``abc_key(0,
    False, "dorian")`` is ``"D dor"``."""
    mode = mode or ("minor" if minor else "major")
    shift = {"major": 0, "ionian": 0, "minor": 3, "aeolian": 3, "dorian": 2, "phrygian": 4,
             "lydian": -1, "mixolydian": 1, "locrian": 5}[mode]
    pos = sharps + shift  # the tonic on the line of fifths (C = 0)
    alter = (pos + 1) // 7
    tonic = _FIFTHS_LETTERS[(pos + 1) % 7] + ("#" * alter if alter > 0 else "b" * -alter)
    if mode in ("major", "ionian"):
        return tonic
    return tonic + ("m" if mode == "minor" else " " + mode[:3])


def _syllabic(text: str, before: str | None) -> tuple[str, str]:
    """(MusicXML syllabic, text without the joining hyphen) of a syllable, given the one
    sung before it in the same verse (None at the start)."""
    more = text.endswith("-") and len(text) > 1
    after = before is not None and before.endswith("-") and len(before) > 1
    kind = ("middle" if more else "end") if after else ("begin" if more else "single")
    return kind, text[:-1] if more else text


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
    """A Score from a music21 Stream (through its own MIDI translation: tempo, meter, keys),
    with the stream's spelling of every note kept in ``Score.spelling``."""
    m21 = music21()
    title = _m21_title(getattr(stream, "metadata", None))
    try:  # as the MIDI writer would (and a copy: the caller's stream is left alone)
        stream = stream.expandRepeats()
    except Exception:  # repeats music21 cannot expand are played once
        stream = copy.deepcopy(stream)
    lines = m21_bar_lines(stream)  # before the ties are joined (a joined note overfills)
    chains: list[tuple[int, float, int, list[float]]] | None = None
    with contextlib.suppress(Exception):  # a tied note is one note (its written length)
        chains = _merge_ties(stream)
    graces = _drop_graces(stream)
    mf = m21.midi.translate.streamToMidiFile(stream)
    score = read_midi(mf.writestr(), source)
    written: list[tuple[int, int, int, int, int]] = []
    with contextlib.suppress(Exception):
        written = _written_rows(stream, score.tpq)
    score = _written_lengths(score, written)
    if graces:
        score = score.replace(notes=score.notes, warnings=(
            *score.warnings, f"{graces} grace notes left out (they take no time)"))
    spelling = align_spelling(score, _spelled_rows(stream, score.tpq))
    composer = ""
    with contextlib.suppress(Exception):
        composer = str(stream.metadata.composer or "").strip()
    score = score.replace(title=title or score.title, spelling=spelling,
                          composer=composer or score.composer,
                          key_signatures=_m21_modes(stream, score),
                          lyrics=_m21_lyrics(stream, score) or score.lyrics)
    measures = None
    if lines is not None:
        measures = np.unique(np.round(np.array(lines) * score.tpq).astype(np.int64))
        measures = measures if len(measures) >= 2 else None
    ties = None if chains is None or measures is None else align_ties(score, chains)
    voices = None
    if chains is not None:  # the voices of joined notes: a tied-on head is no note
        voices = align_voices(score, written)
    return dataclasses.replace(score, measures=measures, ties=ties, voices=voices)


def _drop_graces(stream: Any) -> int:
    """Remove grace notes from a music21 stream, in place, and count them: music21's MIDI
    gives them no length, so their note-offs end a later note of their pitch instead (a
    quarter became four beats). The Score has no grace notes."""
    graces = [n for n in stream.recurse().notes if n.duration.isGrace]
    for n in graces:
        n.activeSite.remove(n)
    return len(graces)


def _written_rows(stream: Any, tpq: int) -> list[tuple[int, int, int, int, int]]:
    """(part, onset tick, MIDI, voice number, length in ticks) of each note of a music21
    stream: the voice is the id of the Voice holding it (its place among its measure's
    voices where the id is no number), 1 for a note directly in its measure."""
    rows = []
    for pi, part in enumerate(list(getattr(stream, "parts", [])) or [stream]):
        for n in part.recurse().notes:
            if n.duration.isGrace:
                continue
            site = n.activeSite
            voice = 1
            if site is not None and "Voice" in site.classes:
                vid = str(site.id)
                voice = int(vid) if vid.isdigit() and 0 < int(vid) < 256 else 1 + next(
                    (k for k, v in enumerate(site.activeSite.voices) if v is site), 0)
            tick = round(float(n.getOffsetInHierarchy(part)) * tpq)
            length = round(float(n.quarterLength) * tpq)
            rows += [(pi, tick, int(p.midi), voice, length) for p in n.pitches]
    return rows


def _matches(score: Score, rows: list[tuple[int, int, int, int, int]]
             ) -> tuple[list[tuple[int, tuple[int, int, int, int, int]]],
                        list[tuple[int, int, int, int, int]]]:
    """(note row, written row) pairs matched by onset and pitch (and part, where the parts
    are the tracks), in order, and the written rows no note matched."""
    by_part = len({r[0] for r in rows}) == len(score.tracks)
    free: dict[tuple[int, int, int], list[tuple[int, int, int, int, int]]] = {}
    for r in rows:
        free.setdefault((r[0] if by_part else 0, r[1], r[2]), []).append(r)
    notes = score.notes
    out = []
    for i, (tr, on, midi) in enumerate(zip(notes["track"].tolist(), notes["start"].tolist(),
                                           notes["pitch"].tolist(), strict=True)):
        got = free.get((tr if by_part else 0, on, midi))
        if got:
            out.append((i, got.pop(0)))
    left = [r for rs in free.values() for r in rs] if by_part else []
    return out, left


def _written_lengths(score: Score, rows: list[tuple[int, int, int, int, int]]) -> Score:
    """The score with each note as long as the stream wrote it: MIDI pairs a note-off with
    the earliest open note of its pitch, so two overlapping notes of one pitch in a part (a
    unison of two voices) came back with each other's lengths, and a note starting where
    one of its pitch ends could merge into it (then put back, at the part's velocity)."""
    pairs, left = _matches(score, rows)
    matched = [(i, r[4]) for i, r in pairs if r[4] > 0]
    left = [r for r in left if r[4] > 0]
    if not matched and not left:
        return score
    notes = score.notes.copy()
    if matched:
        at, length = np.array(matched, dtype=np.int64).T
        notes["duration"][at] = length
    if left:
        extra = np.zeros(len(left), dtype=notes.dtype)
        for k, (part, tick, midi, _, length) in enumerate(left):
            same = notes["velocity"][notes["track"] == part]
            extra[k] = (tick, length, midi, int(np.median(same)) if len(same) else 90, part,
                        score.tracks[part].channel)
        notes = np.concatenate([notes, extra])
        notes = notes[np.argsort(notes["start"], kind="stable")]
    if np.array_equal(notes, score.notes):
        return score
    return score.replace(notes=notes)


def align_voices(score: Score, rows: list[tuple[int, int, int, int, int]]
                 ) -> np.ndarray | None:
    """Each note's voice from (part, onset tick, MIDI, voice, length) rows of the same
    music (``_written_rows``); notes with no row are in voice 1. None when every part has
    one voice: nothing to keep."""
    if not rows or all(r[3] == 1 for r in rows):
        return None
    out = np.ones(score.n_notes, dtype=np.uint8)
    for i, r in _matches(score, rows)[0]:
        out[i] = r[3]
    return out


def m21_bar_lines(stream: Any) -> list[float] | None:
    """The bar lines of a music21 stream in quarters (each measure's start, then the last
    one's end); None when it has no measures (a flat stream). Where parts are barred
    differently (a part's bar of one beat shifts its lines), the lines of the part under
    which the fewest written notes cross a bar line (the fewest ties to add) are kept, the
    first part's on a draw: a score has one set of bar lines."""
    parts = list(getattr(stream, "parts", [])) or [stream]
    try:
        starts: list[list[float]] = []
        ends: list[float] = []
        for part in parts:
            ms = list(part.getElementsByClass("Measure"))
            if not ms:
                if part is parts[0]:
                    return None
                continue
            starts.append([float(m.getOffsetInHierarchy(part)) for m in ms])
            ends.append(starts[-1][-1] + float(ms[-1].duration.quarterLength))
        best = starts[0]
        if any(s != best for s in starts[1:]):
            notes = [(float(n.getOffsetInHierarchy(part)), float(n.quarterLength))
                     for part in parts for n in part.recurse().notes]
            on = np.array([a for a, _ in notes])
            off = on + np.array([d for _, d in notes])
            def crossing(lines: tuple[float, ...]) -> int:
                at = np.searchsorted(np.array(lines), on + 1e-9)  # first line after the onset
                nxt = np.array([*lines, np.inf])[at]
                return int((nxt < off - 1e-9).sum())
            candidates: list[tuple[float, ...]] = list(dict.fromkeys(tuple(s) for s in starts))
            chosen: tuple[float, ...] = min(candidates, key=crossing)
            best = list(chosen)
        lines = [*best, max(ends)]
    except Exception:  # measures music21 cannot place: the engraver bars the piece
        return None
    return lines


def align_ties(score: Score, chains: list[tuple[int, float, int, list[float]]]) -> np.ndarray:
    """(row, tick) of each written tie point of ``chains`` ((part, onset in quarters, MIDI,
    onsets of the tied-on heads)), each chain matched to the note of its pitch starting at
    its onset that lasts past its last head's onset (the first such track where several
    parts sound it: a unison of a tied and an untied note)."""
    notes, tpq = score.notes, score.tpq
    free: dict[tuple[int, int], list[int]] = {}
    for i in np.lexsort((notes["track"], notes["pitch"], notes["start"])).tolist():
        free.setdefault((int(notes["start"][i]), int(notes["pitch"][i])), []).append(i)
    out: list[tuple[int, int]] = []
    for _, on, midi, splits in sorted(chains, key=lambda c: (c[1], c[2], c[0])):
        rows = free.get((round(on * tpq), midi), [])
        ticks = [round(x * tpq) for x in splits]
        ends = [int(notes["start"][r] + notes["duration"][r]) for r in rows]
        k = next((k for k, e in enumerate(ends) if e > max(ticks)), None)
        if k is None:
            continue
        row = rows.pop(k)
        out += [(row, t) for t in ticks if notes["start"][row] < t < ends[k]]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _m21_modes(stream: Any, score: Score) -> tuple[KeySignature, ...]:
    """The score's key signatures with the modes the stream's keys name (MIDI keeps only
    major or minor): each key's mode goes to the key signature at its tick."""
    modes: dict[int, str] = {}
    with contextlib.suppress(Exception):
        parts = list(getattr(stream, "parts", [])) or [stream]
        for k in parts[0].recurse().getElementsByClass("Key"):
            mode = str(getattr(k, "mode", "") or "")
            if mode in MODES and mode not in ("major", "minor", ""):
                modes[round(float(k.getOffsetInHierarchy(parts[0])) * score.tpq)] = mode
    if not modes:
        return score.key_signatures
    return tuple(dataclasses.replace(k, mode=modes.get(k.tick, k.mode))
                 for k in score.key_signatures)


def _m21_lyrics(stream: Any, score: Score) -> tuple[Lyric, ...]:
    """Each part's lyrics (a syllable that a word goes on from ends in "-"), in the track
    whose notes start where they do."""
    out: list[Lyric] = []
    with contextlib.suppress(Exception):
        for part in list(getattr(stream, "parts", [])) or [stream]:
            sung: list[tuple[int, str, int]] = []
            for n in part.recurse().notes:
                for ly in n.lyrics:
                    text = str(ly.text or "").strip()
                    if not text:
                        continue
                    more = ly.syllabic in ("begin", "middle")
                    tick = round(float(n.getOffsetInHierarchy(part)) * score.tpq)
                    sung.append((tick, text + ("-" if more else ""), int(ly.number or 1)))
            if sung:
                track = lyric_track(score, [t for t, _, _ in sung])
                out += [Lyric(t, x, track, v) for t, x, v in sung]
    return tuple(sorted(out, key=lambda ly: (ly.track, ly.verse, ly.tick)))


def _m21_title(md: Any) -> str:
    """A piece's title from music21 metadata: the work title, else the movement title."""
    if md is None:
        return ""
    for attr in ("title", "movementName"):
        with contextlib.suppress(Exception):
            value = getattr(md, attr)
            if value:
                return str(value).strip()
    return ""


def _merge_ties(stream: Any) -> list[tuple[int, float, int, list[float]]]:
    """Join every chain of tied notes into its first note, in place (music21's own
    ``stripTies`` leaves chains of three or more split); returns each joined note as
    (part, onset in quarters, MIDI, onsets of the heads tied on to it), the written split."""
    parts = list(getattr(stream, "parts", [])) or [stream]
    chains: dict[int, tuple[int, float, int, list[float]]] = {}
    for pi, part in enumerate(parts):
        # (MIDI, voice) -> (head note, where it ends): overlapping notes of one pitch in
        # two voices each keep their own chain
        open_: dict[tuple[int, str], tuple[Any, float]] = {}
        notes = sorted(part.recurse().getElementsByClass("Note"),
                       key=lambda n: float(n.getOffsetInHierarchy(part)))
        for n in notes:
            at = float(n.getOffsetInHierarchy(part))
            kind = n.tie.type if n.tie is not None else None
            site = n.activeSite
            key = (n.pitch.midi, str(site.id) if "Voice" in site.classes else "")
            head = open_.get(key)
            if head is not None and kind in ("continue", "stop") and abs(head[1] - at) < 1e-6:
                first = head[0]
                first.quarterLength = first.quarterLength + n.quarterLength
                site.remove(n)
                chain = chains.setdefault(id(first), (pi, float(first.getOffsetInHierarchy(
                    part)), int(first.pitch.midi), []))
                chain[3].append(at)
                if kind == "stop":
                    first.tie = None
                    del open_[key]
                else:
                    open_[key] = (first, at + float(n.quarterLength))
            elif kind == "start":
                open_[key] = (n, at + float(n.quarterLength))
    return list(chains.values())


# -- spelling: line-of-fifths positions (C = 0, G = 1, F = -1); theory.pitch explains them
_FIFTHS_LETTERS = "FCGDAEB"
_LETTER_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _spelled_rows(stream: Any, tpq: int) -> np.ndarray:
    """(onset tick, MIDI number, line-of-fifths position) of each note of a music21 stream."""
    rows = []
    for n in stream.flatten().stripTies().notes:
        if n.duration.isGrace:
            continue
        tick = round(float(n.offset) * tpq)
        for p in n.pitches:
            alter = round(p.accidental.alter) if p.accidental is not None else 0
            rows.append((tick, int(p.midi), _FIFTHS_LETTERS.index(p.step) - 1 + 7 * alter))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def align_spelling(score: Score, rows: np.ndarray) -> np.ndarray | None:
    """Per-note spelling from (tick, MIDI, fifths) rows of the same music, matched by pitch
    and nearest onset (within a 32nd note: abcMIDI starts notes a tick late); a note with no
    row takes the spelling last given to its pitch class, else the one nearest its key
    signature. None when nothing matched (another piece)."""
    notes = score.notes
    if not len(notes) or not len(rows):
        return None
    big = np.int64(1) << 40
    keys = rows[:, 1] * big + rows[:, 0]
    order = np.argsort(keys, kind="stable")
    keys, spelled = keys[order], rows[order, 2]
    want = notes["pitch"].astype(np.int64) * big + notes["start"]
    pos = np.searchsorted(keys, want)
    left = np.clip(pos - 1, 0, len(keys) - 1)
    right = np.clip(pos, 0, len(keys) - 1)
    pick = np.where(np.abs(keys[left] - want) <= np.abs(keys[right] - want), left, right)
    found = np.abs(keys[pick] - want) <= max(score.tpq // 8, 1)
    if not found.any():
        return None
    out = np.where(found, spelled[pick], 0)
    last: dict[int, int] = {}
    key_sigs = sorted(score.key_signatures, key=lambda k: k.tick)
    for i in range(len(notes)):
        pc = int(notes["pitch"][i]) % 12
        if found[i]:
            last[pc] = int(out[i])
            continue
        if pc in last:
            out[i] = last[pc]
            continue
        sharps = next((k.key for k in reversed(key_sigs) if k.tick <= notes["start"][i]), 0)
        centre = sharps + 2  # middle of the key's seven letters on the line of fifths
        base = (pc * 7) % 12  # the position in 0..11 with this pitch class
        out[i] = base + 12 * round((centre - base) / 12)
    return out


def _m21_pitch(m21: Any, midi: int, fifths: int | None) -> Any:
    """A music21 Pitch for a MIDI number, spelled by a line-of-fifths position if given."""
    if fifths is None:
        return m21.pitch.Pitch(midi=midi)
    letter = _FIFTHS_LETTERS[(fifths + 1) % 7]
    alter = (fifths + 1) // 7
    octave = (midi - alter - _LETTER_SEMITONES[letter]) // 12 - 1
    p = m21.pitch.Pitch(letter + str(octave))
    if alter:
        p.accidental = m21.pitch.Accidental(alter)
    return p


#: Fractions of a quarter that notation writes exactly: down to 128th notes (1/32), in
#: plain, triplet, quintuplet, sextuplet and septuplet divisions.
_DENOMINATORS = tuple(2**k * t for t in (1, 3, 5, 7) for k in range(6) if 2**k * t <= 32 * t)


def _grid(quarters: float | Fraction, minimum: Fraction = Fraction(0)) -> Fraction:
    """The time in quarters as notation writes it: exact where the value is a multiple of
    one of ``_DENOMINATORS`` (32nds, 64ths, tuplets keep their length), else the nearest
    multiple of a 1/32 or 1/24 of a quarter (128ths, 64th-note triplets)."""
    q = Fraction(quarters)
    exact = q.limit_denominator(32 * 7 * 5 * 3)
    if exact == q and any(d % exact.denominator == 0 for d in _DENOMINATORS):
        return max(exact, minimum)
    a = Fraction(round(q * 32), 32)
    b = Fraction(round(q * 24), 24)
    return max(a if abs(a - q) <= abs(b - q) else b, minimum)


def to_music21(score: Score) -> Any:
    """A music21 Score: one part per track, notes at their onsets and durations (exact
    where notation can write them, else to the nearest 128th or 64th-note triplet),
    spelled as ``Score.spelling`` says (music21's default spelling without one), with
    meters, keys and tempos."""
    m21 = music21()
    out = m21.stream.Score()
    notes, tpq = score.notes, score.tpq
    spelling = score.spelling
    bars = _written_bars(score)
    tied: dict[int, list[Fraction]] = {}
    for row, tick in ([] if score.ties is None else score.ties.tolist()):
        tied.setdefault(row, []).append(_grid(Fraction(tick, tpq)))
    for ti, track in enumerate(score.tracks):
        idx = np.flatnonzero(notes["track"] == ti)
        part = m21.stream.Part()
        part.partName = track.name or f"Track {ti + 1}"
        measured = bars is not None
        placed: list[tuple[Fraction, Any]] = []  # measured: (offset, element), no flat part
        put = (lambda at, el, placed=placed: placed.append((Fraction(at), el))) if measured \
            else part.insert
        with contextlib.suppress(Exception):
            inst = m21.instrument.instrumentFromMidiProgram(track.program)
            inst.midiChannel = track.channel
            put(0, inst)
        sung = _sung(score)
        groups: dict[tuple[Fraction, Fraction, int], list[int]] = {}
        given = score.voices if measured else None  # the source's voices, by measure
        for i in idx.tolist():
            on = _grid(Fraction(int(notes["start"][i]), tpq))
            dur = _grid(Fraction(int(notes["duration"][i]), tpq), Fraction(1, 32))
            groups.setdefault((on, dur, 1 if given is None else int(given[i])), []).append(i)
        for (on, dur, voice), members in groups.items():
            ps = [_m21_pitch(m21, int(notes["pitch"][i]),
                             None if spelling is None else int(spelling[i])) for i in members]
            heads = [(on, on + dur)] if bars is None else \
                _heads_of(on, on + dur, members, bars, tied)
            for k, (a, b) in enumerate(heads):
                el = m21.note.Note(ps[0]) if len(ps) == 1 else m21.chord.Chord(ps)
                el.quarterLength = b - a
                el.volume.velocity = int(notes["velocity"][members[0]])
                if len(heads) > 1:
                    el.tie = m21.tie.Tie("start" if k == 0 else "stop" if k + 1 == len(heads)
                                         else "continue")
                if k == 0:
                    for verse, kind, text in sung.pop((ti, int(notes["start"][members[0]])),
                                                      []):
                        el.addLyric(text, lyricNumber=verse)
                        el.lyrics[-1].syllabic = kind
                if voice != 1:
                    el.editorial.sourceVoice = voice
                put(a, el)
        if measured:
            for ts in score.time_signatures:
                put(_grid(ts.tick / tpq), m21.meter.TimeSignature(
                    f"{ts.numerator}/{ts.denominator}"))
            for ks in score.key_signatures:
                sig = m21.key.KeySignature(ks.key)
                mode = ks.mode or ("minor" if ks.minor else "")
                put(_grid(ks.tick / tpq), sig.asKey(mode) if mode else sig)
            if ti == 0:
                for tc in score.tempo.changes:
                    put(_grid(tc.tick / tpq), m21.tempo.MetronomeMark(
                        number=round(tc.bpm, 3)))
            assert bars is not None
            _into_measures(m21, part, placed, bars, score)
        elif ti == 0:
            for ts in score.time_signatures:
                part.insert(_grid(ts.tick / tpq), m21.meter.TimeSignature(
                    f"{ts.numerator}/{ts.denominator}"))
            for ks in score.key_signatures:
                sig = m21.key.KeySignature(ks.key)
                mode = ks.mode or ("minor" if ks.minor else "")
                part.insert(_grid(ks.tick / tpq), sig.asKey(mode) if mode else sig)
            for tc in score.tempo.changes:
                part.insert(_grid(tc.tick / tpq), m21.tempo.MetronomeMark(
                    number=round(tc.bpm, 3)))
        out.insert(0, part)
    return out


def _written_bars(score: Score) -> list[Fraction] | None:
    """The bar lines to write, in quarters: the score's measures, then (for notes past
    them) bars of the meter in force at the last; None when the score has no measures."""
    if score.measures is None:
        return None
    tpq = score.tpq
    lines = sorted({Fraction(0)} | {_grid(Fraction(int(t), tpq))
                                     for t in score.measures.tolist()})  # a bar from 0 on
    end = Fraction(score.end_tick, tpq)
    sigs = [t for t in score.time_signatures if Fraction(t.tick, tpq) <= lines[-1]]
    ts = max(sigs, key=lambda t: t.tick) if sigs else score.time_signatures[0]
    full = Fraction(4 * ts.numerator, ts.denominator)
    while lines[-1] < end:
        lines.append(lines[-1] + full)
    return lines


def _heads_of(on: Fraction, off: Fraction, rows: list[int], bars: list[Fraction],
              tied: dict[int, list[Fraction]]) -> list[tuple[Fraction, Fraction]]:
    """(start, end) of each written head of a note or chord: cut at the bar lines and
    where the source tied its heads."""
    cuts = set(bars[bisect.bisect_right(bars, on):bisect.bisect_left(bars, off)])
    cuts |= {t for r in rows for t in tied.get(r, ()) if on < t < off}
    edges = [on, *sorted(cuts), off]
    return list(itertools.pairwise(edges))


def _into_measures(m21: Any, part: Any, placed: list[tuple[Fraction, Any]],
                   bars: list[Fraction], score: Score) -> None:
    """Fill ``part`` with one Measure per bar (``bars``: its lines in quarters; a short
    first bar is a pickup) holding the ``placed`` (offset, element) pairs, whose heads were
    already cut at the bar lines; overlapping notes go to voices and gaps to rests."""
    placed = sorted(placed, key=lambda p: (p[0], p[1].classSortOrder))
    elements = [e for _, e in placed]
    offsets = [o for o, _ in placed]
    sigs = sorted(score.time_signatures, key=lambda t: t.tick)

    def full(t: Fraction) -> Fraction:
        """The length of a bar of the meter in force at ``t`` (quarters)."""
        ts = next((x for x in reversed(sigs) if Fraction(x.tick, score.tpq) <= t), sigs[0])
        return Fraction(4 * ts.numerator, ts.denominator)

    pickup = bars[1] - bars[0] < full(bars[0]) and len(bars) > 2
    k = 0
    for n, (b0, b1) in enumerate(itertools.pairwise(bars)):
        m = m21.stream.Measure(number=n + (0 if pickup else 1))
        short = float(max(full(b0) - (b1 - b0), Fraction(0)))
        if n == 0 and pickup:
            m.paddingLeft = short  # a pickup: the bar's rest is before it
        else:
            m.paddingRight = short  # a short bar: music21 would fill it up with a rest
        last = n + 2 == len(bars)
        while k < len(offsets) and (offsets[k] < b1 or last):
            m.insert(offsets[k] - b0, elements[k])
            k += 1
        notes = sorted(m.notes, key=lambda e: float(e.offset))
        lines: dict[int, list[Any]] = {}  # the source's voices (1 where it named none)
        for e in notes:
            lines.setdefault(int(e.editorial.get("sourceVoice", 1)), []).append(e)
        if len(lines) > 1 and not any(_overlap(v) for v in lines.values()):
            for number, members in sorted(lines.items()):
                voice = m21.stream.Voice(id=str(number))
                for e in members:
                    at = e.offset
                    m.remove(e)
                    voice.insert(at, e)
                _fill_rests(m21, voice, members, b1 - b0)
                m.insert(0, voice)
        elif _overlap(notes):
            m.makeVoices(inPlace=True, fillGaps=True)
        else:
            _fill_rests(m21, m, notes, b1 - b0)
        part.insert(b0, m)


def _overlap(notes: list[Any]) -> bool:
    """Whether notes (in onset order) overlap: they need more than one voice."""
    return any(float(a.offset + a.quarterLength) > float(b.offset) + 1e-9
               for a, b in itertools.pairwise(notes))


def _fill_rests(m21: Any, into: Any, notes: list[Any], length: Fraction) -> None:
    """Rests in the gaps between ``notes`` (in onset order, in ``into``) up to ``length``,
    by hand: music21's makeRests costs ~5 ms a bar."""
    cursor = Fraction(0)
    for n in [*notes, None]:
        at = Fraction(length) if n is None else Fraction(n.offset)
        if at > cursor:  # a gap no one value writes: rests of the values it splits into
            rest = m21.note.Rest(quarterLength=at - cursor)
            for r in rest.splitAtDurations() if rest.duration.type == "complex" else [rest]:
                into.insert(cursor, r)
                cursor += Fraction(r.quarterLength)
        if n is not None:
            cursor = max(cursor, at + Fraction(n.quarterLength))


def write_musicxml(score: Score, path: Path) -> None:
    """Write MusicXML (``.mxl`` compressed), spelled as ``Score.spelling``: through music21
    when every time is one notation can write, else exactly (``exact_musicxml``)."""
    fmt = "mxl" if path.suffix.lower() == ".mxl" else "musicxml"
    if not _notatable(score):
        data = exact_musicxml(score)
        if fmt == "mxl":  # compressed MusicXML: a zip with a container naming the score
            import zipfile

            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.recordare.musicxml")
                z.writestr("META-INF/container.xml", _CONTAINER)
                z.writestr("score.musicxml", data)
        else:
            path.write_bytes(data)
        return
    stream = to_music21(score)
    md = music21().metadata.Metadata()
    md.title = md.movementName = score.title or None  # work and movement title
    md.composer = score.composer  # "": none (music21 would make up "Music21")
    stream.insert(0, md)
    if score.measures is None:
        stream.write(fmt, fp=str(path))
        return
    # Stored measures are complete bars already (gaps filled, voices made): music21's
    # export would copy the whole score to fill them with rests again (~1/3 of the save);
    # its accidentals, beams and tuplet brackets are made here in place instead.
    for part in stream.parts:
        part.makeNotation(inPlace=True)
    stream.write(fmt, fp=str(path), makeNotation=False)


_CONTAINER = ('<?xml version="1.0" encoding="UTF-8"?><container><rootfiles>'
              '<rootfile full-path="score.musicxml" '
              'media-type="application/vnd.recordare.musicxml+xml"/></rootfiles></container>')


def _sung(score: Score) -> dict[tuple[int, int], list[tuple[int, str, str]]]:
    """(track, tick) -> (verse, MusicXML syllabic, text) of the syllables sung there, each
    syllabic from the hyphens of it and of the syllable before it in its verse."""
    out: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
    before: dict[tuple[int, int], str] = {}
    for ly in sorted(score.lyrics, key=lambda x: (x.track, x.verse, x.tick)):
        kind, text = _syllabic(ly.text, before.get((ly.track, ly.verse)))
        before[(ly.track, ly.verse)] = ly.text
        out.setdefault((ly.track, ly.tick), []).append((ly.verse, kind, text))
    return out


def _notatable(score: Score) -> bool:
    """True when every onset and duration is a length notation writes (``_grid`` exact)."""
    n, tpq = score.notes, score.tpq
    ticks = np.unique(np.concatenate([n["start"], n["duration"], n["start"] + n["duration"],
                                      [c.tick for c in score.tempo.changes]]).astype(np.int64))
    return all(_grid(Fraction(int(t), tpq)) == Fraction(int(t), tpq) for t in ticks)


_STEPS = ["C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B"]


def _pitch_xml(midi: int, fifths: int | None) -> str:
    if fifths is None:
        step, alter = _STEPS[midi % 12], int(midi % 12 in (1, 3, 6, 8, 10))
    else:
        step, alter = _FIFTHS_LETTERS[(fifths + 1) % 7], (fifths + 1) // 7
    octave = (midi - alter - _LETTER_SEMITONES[step]) // 12 - 1
    alt = f"<alter>{alter}</alter>" if alter else ""
    return f"<pitch><step>{step}</step>{alt}<octave>{octave}</octave></pitch>"


def _gap(ticks: int, voice: int) -> str:
    """Time with no note in a voice: an unprinted rest (music21 drops a bar's trailing
    ``<forward>``, which would shorten the bar)."""
    return (f'<note print-object="no"><rest/><duration>{ticks}</duration>'
            f"<voice>{voice + 1}</voice></note>")


def exact_musicxml(score: Score) -> bytes:
    """MusicXML that keeps every note at its tick: ``divisions`` is the score's ticks per
    quarter, every duration is written in ticks (no note type where notation has none),
    a note over a bar line is tied across it, overlapping notes go to further voices, gaps
    are unprinted rests. For performed MIDI, whose times no note value writes; quantising for
    the page is ``mos_lab.notation``'s view, not this file."""
    from xml.sax.saxutils import escape

    notes, tpq = score.notes, score.tpq
    end = max(score.end_tick, 1)
    bars: list[tuple[int, int, Any]] = []  # (start tick, length, time signature or None)
    sigs = sorted(score.time_signatures, key=lambda t: t.tick)
    lines = [] if score.measures is None else score.measures.tolist()  # the source's bars
    t, si, prev, li = 0, 0, None, 0
    while t < end or li + 1 < len(lines):
        while si + 1 < len(sigs) and sigs[si + 1].tick <= t:
            si += 1
        ts = sigs[si]
        length = max(ts.numerator * tpq * 4 // ts.denominator, 1)
        while li < len(lines) and lines[li] <= t:
            li += 1
        if li < len(lines):  # up to the next stored bar line
            length = lines[li] - t
        bars.append((t, length, ts if ts is not prev else None))
        prev, t = ts, t + length
    spelling = score.spelling
    keys = sorted(score.key_signatures, key=lambda k: k.tick)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<score-partwise version="4.0">']
    if score.title:
        title = escape(score.title)
        out.append(f"<work><work-title>{title}</work-title></work>"
                   f"<movement-title>{title}</movement-title>")
    if score.composer:
        out.append(f'<identification><creator type="composer">{escape(score.composer)}'
                   "</creator></identification>")
    out.append("<part-list>")
    for ti, tr in enumerate(score.tracks):
        name = escape(tr.name or f"Track {ti + 1}")
        out.append(f'<score-part id="P{ti + 1}"><part-name>{name}</part-name>'
                   f'<midi-instrument id="P{ti + 1}-I1"><midi-channel>{tr.channel + 1}'
                   f"</midi-channel><midi-program>{tr.program + 1}</midi-program>"
                   "</midi-instrument></score-part>")
    out.append("</part-list>")
    lyrics = _sung(score)
    for ti in range(len(score.tracks)):
        idx = np.flatnonzero(notes["track"] == ti)
        sung = {tick: [f'<lyric number="{v}"><syllabic>{k}</syllabic><text>{escape(x)}'
                       "</text></lyric>" for v, k, x in syl]
                for (tr, tick), syl in lyrics.items() if tr == ti}
        chords: dict[tuple[int, int], list[int]] = {}
        for i in idx.tolist():
            chords.setdefault((int(notes["start"][i]), max(int(notes["duration"][i]), 1)),
                              []).append(i)
        voices: list[list[tuple[int, int, list[int]]]] = []
        for (on, dur), members in sorted(chords.items()):
            v = next((v for v in voices if v[-1][0] + v[-1][1] <= on), None)
            if v is None:
                voices.append(v := [])
            v.append((on, dur, members))
        first = [0] * len(voices)  # per voice, its first note not yet over
        out.append(f'<part id="P{ti + 1}">')
        for bi, (b0, blen, ts) in enumerate(bars):
            b1 = b0 + blen
            out.append(f'<measure number="{bi + 1}">')
            if bi == 0 or ts is not None:
                attrs = [f"<divisions>{tpq}</divisions>"] if bi == 0 else []
                if bi == 0:
                    k = keys[0] if keys else None
                    mode = "major" if k is None else k.mode or ("minor" if k.minor
                                                                 else "major")
                    attrs.append(f"<key><fifths>{k.key if k else 0}</fifths>"
                                 f"<mode>{mode}</mode></key>")
                sig = ts or sigs[0]
                attrs.append(f"<time><beats>{sig.numerator}</beats>"
                             f"<beat-type>{sig.denominator}</beat-type></time>")
                out.append("<attributes>" + "".join(attrs) + "</attributes>")
            if ti == 0:
                for tc in score.tempo.changes:
                    if b0 <= tc.tick < b1 or (bi == 0 and tc.tick < b0):
                        off = max(tc.tick - b0, 0)
                        out.append(f'<direction placement="above"><direction-type><words/>'
                                   f"</direction-type><offset>{off}</offset>"
                                   f'<sound tempo="{tc.bpm:.6f}"/></direction>')
            for vi, voice in enumerate(voices or [[]]):
                cursor = b0
                nxt = first[vi] if voices else 0
                while nxt < len(voice) and voice[nxt][0] + voice[nxt][1] <= b0:
                    nxt += 1  # a voice's notes do not overlap: their ends only grow
                if voices:
                    first[vi] = nxt
                for on, dur, members in voice[nxt:]:
                    if on >= b1:
                        break
                    lo, hi = max(on, b0), min(on + dur, b1)
                    if hi <= lo:
                        continue
                    if lo > cursor:
                        out.append(_gap(lo - cursor, vi))
                    for j, i in enumerate(members):
                        tie = []
                        if on < lo:
                            tie.append("stop")
                        if on + dur > hi:
                            tie.append("start")
                        ties = "".join(f'<tie type="{x}"/>' for x in tie)
                        tied = "".join(f'<tied type="{x}"/>' for x in tie)
                        sp = None if spelling is None else int(spelling[i])
                        vel = int(notes["velocity"][i])
                        out.append(f'<note dynamics="{vel / 0.9:.2f}">' + ("<chord/>" if j else "")
                                   + _pitch_xml(int(notes["pitch"][i]), sp)
                                   + f"<duration>{hi - lo}</duration>{ties}"
                                   f"<voice>{vi + 1}</voice>"
                                   + (f"<notations>{tied}</notations>" if tied else "")
                                   + ("".join(sung.pop(on, [])) if not j and on == lo else "")
                                   + "</note>")
                    cursor = hi
                if cursor < b1:  # every voice fills its bar (an empty bar keeps its length)
                    out.append(_gap(b1 - cursor, vi))
                if vi + 1 < len(voices):
                    out.append(f"<backup><duration>{blen}</duration></backup>")
            out.append("</measure>")
        out.append("</part>")
    out.append("</score-partwise>")
    return "\n".join(out).encode("utf-8")
