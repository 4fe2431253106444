"""MIDI files in and out.

Reading: the chunk structure is checked first (``_smf.scan``); well-formed files are then
parsed by symusic (C++, ~100x faster than mido), damaged ones are repaired or parsed by the
lenient reader, and every repair is listed in ``Score.warnings``. Notes are split into one
track per (MIDI track, channel), as pretty_midi and symusic do; channels are re-assigned on
write (drums on channel 10, melodic tracks on the others).
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mos_lab.score import _smf
from mos_lab.score._types import CONTROL_DTYPE, MAX_TRACKS, NOTE_DTYPE, PITCH_BEND, PROGRAM
from mos_lab.score.errors import ScoreError
from mos_lab.score.model import KeySignature, Lyric, Marker, Score, TimeSignature, Track
from mos_lab.score.tempo import TempoChange, TempoMap

DRUM_CHANNEL = 9


def assign_channels(tracks: Sequence[tuple[int, bool]]) -> list[int]:
    """MIDI channels for (program, drums) parts: drums on 9, others in turn, skipping 9."""
    melodic = [c for c in range(16) if c != DRUM_CHANNEL]
    out, k = [], 0
    for _program, drums in tracks:
        if drums:
            out.append(DRUM_CHANNEL)
        else:
            out.append(melodic[k % len(melodic)])
            k += 1
    return out


def read_midi(data: bytes, source: str | None = None) -> Score:
    """Parse a Standard MIDI File; raise ScoreError when nothing usable is in it.

    Well-formed files go straight to symusic. Damaged track chunks are read first by the
    lenient parser, and the copy symusic reads is cut after their last complete event;
    files symusic refuses are read whole by the lenient parser. A file that yields no note
    and no track read to its end is an error naming each byte offset that went wrong; a
    partly damaged one loads what is good, with every repair in ``Score.warnings``.
    """
    lay = _smf.scan(data)
    warnings = list(lay.warnings)
    reads = {i: _smf.parse_track(data, *lay.tracks[i], i, lay.division, warnings)
             for i in sorted(lay.damaged)}
    import symusic

    try:
        fixed = _smf.rebuild(data, lay, reads) if reads else data
        parts = _symusic_parts(symusic.Score.from_midi(fixed))  # symusic's copy freed here
        score = _with_noteless_tracks(_from_parts(parts, warnings, source), data, lay, reads,
                                      warnings)
    except RuntimeError as exc:
        warnings.append(f"file: symusic refused it ({exc}); read best-effort by the lenient "
                        "reader")
        for i, (off, n) in enumerate(lay.tracks):
            if i not in reads:
                reads[i] = _smf.parse_track(data, off, n, i, lay.division, warnings)
        ordered = [reads[i] for i in range(len(lay.tracks))]
        _smf.drop_after_silence(ordered, lay.division, warnings)
        score = from_raw_events(lay.division, [r.events for r in ordered], warnings, source)
    usable = [i for i in range(len(lay.tracks))
              if i not in lay.truncated and (i not in reads or reads[i].usable)]
    if not score.n_notes and not usable:
        where = [] if lay.tracks else [f"file: no track chunk before byte {lay.end}"]
        raise ScoreError([*warnings, *where, "file: no note and no complete track could be read"],
                         source)
    title = _smf.sequence_name(data, lay)
    if title:
        score = score.replace(title=title)
    return _with_texts(score, data, lay)


def lyric_track(score: Score, ticks: Sequence[int]) -> int:
    """The track whose notes start at most of ``ticks`` (the first on a tie; 0 if none)."""
    if not score.tracks:
        return 0
    at = np.asarray(ticks, dtype=np.int64)
    starts, track = score.notes["start"], score.notes["track"]
    hits = [int(np.isin(at, starts[track == ti]).sum()) for ti in range(len(score.tracks))]
    return int(np.argmax(hits))


_COMPOSER = re.compile(r"^\s*composer\s*:\s*(.+?)\s*$", re.I | re.S)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


#: Above this many 0xFF bytes a file's are found by numpy rather than by ``bytes.find``.
_FEW_FF = 256


def _ff_offsets(data: bytes) -> np.ndarray:
    """Offsets of every 0xFF byte (meta events start with one; data bytes are below 0x80).

    ``bytes.find`` jumps between them at memchr speed, which is what a music file's handful
    of meta events wants; a file with many falls back to one vectorised pass.
    """
    found: list[int] = []
    at = data.find(0xFF)
    while at >= 0:
        if len(found) == _FEW_FF:
            return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0xFF)
        found.append(at)
        at = data.find(0xFF, at + 1)
    return np.array(found, dtype=np.int64)


def _meta_offsets(data: bytes, ff: np.ndarray, meta_type: int) -> np.ndarray:
    """Offsets where the two bytes ``0xFF, meta_type`` occur, in order; ``ff`` holds the
    offsets of every 0xFF byte."""
    ff = ff[ff < len(data) - 1]
    return ff[np.frombuffer(data, dtype=np.uint8)[ff + 1] == meta_type]


def _within(offsets: np.ndarray, off: int, length: int) -> bool:
    """True when a two-byte pattern at one of the sorted ``offsets`` lies wholly inside the
    ``length`` bytes from ``off``."""
    i = int(np.searchsorted(offsets, off))
    return i < len(offsets) and int(offsets[i]) + 2 <= off + length


def _with_texts(score: Score, data: bytes, lay: _smf.SmfLayout) -> Score:
    """The score with the composer (a text event "Composer: ..." in the first track) and the
    lyric events of every track; a chunk's lyrics go to the Score track whose notes start
    where most of them do (tracks are split by channel, so chunks and tracks differ)."""
    ff = _ff_offsets(data)
    sung_at, text_at = _meta_offsets(data, ff, 0x05), _meta_offsets(data, ff, 0x01)
    if not len(sung_at) and not len(text_at):
        return score
    composer, lyrics = "", []
    for ci, (off, length) in enumerate(lay.tracks):
        if not _within(sung_at, off, length) and not (ci == 0 and _within(text_at, off, length)):
            continue
        events = _smf.parse_track(data, off, length, ci, lay.division, []).events
        if ci == 0:
            found = (_COMPOSER.match(_decode(e[5])) for e in events
                     if e[1] == 0xFF and e[4] == 0x01)
            composer = next((m.group(1) for m in found if m), "")
        sung = [(e[0], _decode(e[5])) for e in events if e[1] == 0xFF and e[4] == 0x05]
        sung = [(t, x.strip()) for t, x in sung if x.strip()]
        if not sung or not score.tracks:
            continue
        track = lyric_track(score, [t for t, _ in sung])
        lyrics += [Lyric(t, x, track) for t, x in sung]
    if not composer and not lyrics:
        return score
    return score.replace(composer=composer or score.composer,
                         lyrics=tuple(sorted(lyrics, key=lambda ly: (ly.track, ly.tick))))


@dataclass
class _Parts:
    """What a symusic Score holds, copied out as numpy columns and plain values.

    ``notes``, ``controls`` and ``bends`` hold each field as one array per kept track that
    has such events (in track order); ``*_lens`` say how many rows each kept track gave.
    """

    tracks: list[Track]
    chans: np.ndarray
    notes: dict[str, list[np.ndarray]]
    note_lens: np.ndarray
    controls: dict[str, list[np.ndarray]]
    control_lens: np.ndarray
    bends: dict[str, list[np.ndarray]]
    bend_lens: np.ndarray
    tempo: TempoMap
    meta: tuple[tuple[TimeSignature, ...], tuple[KeySignature, ...], tuple[Marker, ...]]


def _columns(lists: list[Any], names: tuple[str, ...]
             ) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
    """Fields ``names`` of symusic event lists, one numpy copy per non-empty list (empty
    lists are not converted at all), and the length of each list.

    They are joined only once symusic's score is freed (``_table``), so the joined columns
    take the memory it held instead of new pages.
    """
    lens = np.array([len(x) for x in lists], dtype=np.int64)
    out: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for x, m in zip(lists, lens.tolist(), strict=True):
        if m:
            d = x.numpy()
            for k in names:
                out[k].append(d[k])
    return out, lens


def _symusic_parts(sc: Any) -> _Parts:
    """Copy out of symusic's score everything a Score needs (its numpy views, no note loop).

    Kept apart from building the tables so that symusic's own copy of the notes is freed
    before the tables are made: the load then needs less fresh memory at its peak.
    """
    # tracks with no events at all (a name only) carry nothing to play and are dropped
    kept = [t for t in sc.tracks if len(t.notes) or len(t.controls) or len(t.pitch_bends)]
    chans = np.array(assign_channels([(t.program, t.is_drum) for t in kept]), dtype=np.uint8)
    tracks = [Track(t.name, int(t.program), ch, bool(t.is_drum))
              for t, ch in zip(kept, chans.tolist(), strict=True)]
    tp = sc.tempos.numpy()
    tempo = TempoMap(sc.ticks_per_quarter, [TempoChange(int(t), int(u))
                                           for t, u in zip(tp["time"], tp["mspq"], strict=True)])
    ts = tuple(TimeSignature(int(x.time), int(x.numerator), int(x.denominator))
               for x in sc.time_signatures) or (TimeSignature(0),)
    ks = tuple(KeySignature(int(x.time), int(x.key), bool(x.tonality)) for x in sc.key_signatures)
    mk = tuple(Marker(int(x.time), str(x.text)) for x in sc.markers)
    notes, note_lens = _columns([t.notes for t in kept], ("time", "duration", "pitch", "velocity"))
    ctls, ctl_lens = _columns([t.controls for t in kept], ("time", "number", "value"))
    bends, bend_lens = _columns([t.pitch_bends for t in kept], ("time", "value"))
    return _Parts(tracks, chans, notes, note_lens, ctls, ctl_lens, bends, bend_lens, tempo,
                  (ts, ks, mk))


def _from_parts(p: _Parts, warnings: list[str], source: str | None) -> Score:
    """The Score of symusic's parts: each table built column by column, sorted once."""
    n_parts = len(p.tracks)
    notes = _table(NOTE_DTYPE, "start", p.notes, p.note_lens, np.arange(n_parts), p.chans)
    cs, bs = p.controls, p.bends
    controls = _table(CONTROL_DTYPE, "time", {
        "time": cs["time"] + bs["time"],
        "number": cs["number"] + [np.full(len(t), PITCH_BEND) for t in bs["time"]],
        "value": cs["value"] + bs["value"],
    }, np.concatenate([p.control_lens, p.bend_lens]), np.tile(np.arange(n_parts), 2), p.chans)
    return _make(notes, tuple(p.tracks), p.tempo, controls, *p.meta, warnings, source)


def _has_note_on_byte(data: bytes, off: int, length: int) -> bool:
    """True when a byte 0x90-0x9F (a note-on status) lies in ``length`` bytes from ``off``.

    A track of notes has one within its first events, so a short prefix is looked at first
    and the whole chunk only when that finds none.
    """
    a = np.frombuffer(data, np.uint8, length, off)
    return any(bool(((part & 0xF0) == 0x90).any()) for part in (a[:256], a[256:]))


def _with_noteless_tracks(score: Score, data: bytes, lay: _smf.SmfLayout,
                          reads: dict[int, _smf.TrackRead], warnings: list[str]) -> Score:
    """The score with the track chunks symusic drops (controls or bends, no note) added back.

    symusic keeps no track without notes, so a chunk of controllers alone lost its events
    (and the song's end they mark), while the lenient reader keeps it. A chunk with no
    note-on status byte (0x9n) cannot hold a note: those chunks, cheap to find with one
    vectorised test, are read by the lenient parser and appended as tracks like its own.
    """
    extra: list[list[_smf.RawEvent]] = []
    for i, (off, n) in enumerate(lay.tracks):
        if i in lay.truncated or _has_note_on_byte(data, off, n):
            continue
        read = reads.get(i) or _smf.parse_track(data, off, n, i, lay.division, [])
        events = [e for e in read.events if e[1] != 0xFF or e[4] == 0x03]  # channel, name
        if any(e[1] != 0xFF for e in events):
            extra.append(events)
    room = MAX_TRACKS - len(score.tracks)
    if not extra or room < 1:
        return score
    sub = from_raw_events(lay.division, extra, [], None)
    if len(sub.tracks) > room:
        warnings.append(f"tracks: {len(sub.tracks) - room} tracks of controllers alone dropped "
                        f"(over {MAX_TRACKS} tracks)")
    added = sub.tracks[:room]
    chans = assign_channels([(t.program, t.drums) for t in (*score.tracks, *added)])
    tracks = (*score.tracks, *(Track(t.name, t.program, c, t.drums)
                               for t, c in zip(added, chans[len(score.tracks):], strict=True)))
    ctl = sub.controls[sub.controls["track"] < len(added)].copy()
    ctl["channel"] = np.array(chans, dtype=np.uint8)[ctl["track"] + len(score.tracks)]
    ctl["track"] += len(score.tracks)
    controls = sort_rows(np.concatenate([score.controls, ctl]), "time")
    return score.replace(tracks=tracks, controls=controls, warnings=tuple(warnings))


def _table(dtype: np.dtype, time_field: str, columns: dict[str, list[np.ndarray]],
           lens: np.ndarray, part_track: np.ndarray, chans: np.ndarray) -> np.ndarray:
    """A table sorted by time from per-part columns, ``columns["time"]`` the times; part i
    gave ``lens[i]`` rows (the parts with none hold no array) and belongs to track
    ``part_track[i]``.

    The columns are consumed (each is dropped from the dict once joined, so its memory is
    free for the next): each is joined, put in onset order with one gather (the permutation
    of a stable sort, skipped when the parts already come in order) and written once into
    the table. Reordering whole 24-byte rows afterwards would need a second table's worth
    of fresh memory, and page faults on it cost more than the sort itself.
    """
    n = int(lens.sum())
    if not n:
        return np.empty(0, dtype=dtype)
    times = _joined(columns.pop("time"))
    got = _sort_key(times)
    del times
    table = np.empty(n, dtype=dtype)
    order: np.ndarray | slice
    if isinstance(got, tuple):  # already in order, or sorted by argsort
        table[time_field], order = got
    else:  # the sorted keys become the permutation in place
        bits = (n - 1).bit_length()
        np.right_shift(got, bits, out=table[time_field])
        got &= (1 << bits) - 1
        order = got
    del got
    for name in list(columns):
        table[name] = _joined(columns.pop(name))[order]
    track = np.repeat(part_track.astype(np.uint16), lens)[order]
    table["track"] = track
    table["channel"] = np.take(chans, track)
    return table


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The parts end to end; a single part as it is (no copy)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


#: Rows given their index at a time when sort keys are made (bounds a temporary's size).
_INDEX_STEP = 1 << 15


def _sort_key(t: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray | slice]:
    """``t`` put in stable order: its sorted keys (time above, index below the low
    ``(len(t) - 1).bit_length()`` bits), or (sorted times, permutation) when no key is made.

    The parts come each sorted, so this is a merge. Sorting the times themselves with each
    one's index in the low bits (keys then differ, so any sort yields the stable order, and
    timsort merges the runs) is faster than argsort, which compares through the index; the
    keys give back both the sorted times and the permutation. Already sorted times need
    nothing; times outside the range the keys can hold fall back to a stable argsort.
    """
    n = len(t)
    if n < 2 or (t[1:] >= t[:-1]).all():
        return t, slice(None)
    bits = (n - 1).bit_length()
    if int(t.min()) < 0 or int(t.max()) >= 1 << (62 - bits):
        order = np.argsort(t, kind="stable")
        return t[order], order
    key = np.left_shift(t, bits, dtype=np.int64)
    for at in range(0, n, _INDEX_STEP):  # in steps: no whole-length index array is made
        key[at:at + _INDEX_STEP] |= np.arange(at, min(at + _INDEX_STEP, n))
    key.sort(kind="stable")
    return key


def _in_order(t: np.ndarray) -> tuple[np.ndarray, np.ndarray | slice]:
    """``t`` in stable sorted order, and the permutation that puts it there."""
    got = _sort_key(t)
    if isinstance(got, tuple):
        return got
    bits = (len(t) - 1).bit_length()
    return got >> bits, got & ((1 << bits) - 1)


def sort_rows(table: np.ndarray, time_field: str) -> np.ndarray:
    """Rows stably sorted by ``time_field`` (a no-op copy when already sorted)."""
    t = np.ascontiguousarray(table[time_field])
    if len(t) < 2 or (t[1:] >= t[:-1]).all():
        return table
    return np.take(table, np.argsort(t, kind="stable"))


def _make(notes: np.ndarray, tracks: tuple[Track, ...], tempo: TempoMap, controls: np.ndarray,
          ts: tuple[TimeSignature, ...], ks: tuple[KeySignature, ...], mk: tuple[Marker, ...],
          warnings: list[str], source: str | None) -> Score:
    bad_meter = [t for t in ts if t.denominator < 1 or t.denominator & (t.denominator - 1)]
    if bad_meter:
        warnings.append(f"time_signatures: {len(bad_meter)} invalid meters dropped")
        ts = tuple(t for t in ts if t not in bad_meter) or (TimeSignature(0),)
    bad_key = [k for k in ks if not -7 <= k.key <= 7]
    if bad_key:
        warnings.append(f"key_signatures: {len(bad_key)} invalid keys dropped")
        ks = tuple(k for k in ks if k not in bad_key)
    try:
        return Score(notes, tracks, tempo, controls, ts, ks, mk, warnings=tuple(warnings))
    except ScoreError as exc:
        raise ScoreError(exc.problems, source) from None


def from_raw_events(division: int, raw: list[list[_smf.RawEvent]], warnings: list[str],
                    source: str | None = None) -> Score:
    """Build a Score from parsed events: FIFO note pairing per (part, pitch), like symusic."""
    tempos: list[TempoChange] = []
    ts: list[TimeSignature] = []
    ks: list[KeySignature] = []
    mk: list[Marker] = []
    parts: dict[tuple[int, int], int] = {}
    part_info: list[list] = []  # [name, program, drums]
    notes: list[tuple[int, int, int, int, int]] = []
    ctrls: list[tuple[int, int, int, int]] = []
    dangling = 0
    for ti, events in enumerate(raw):
        name = ""
        first_prog: dict[int, int] = {}
        open_notes: dict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
        last_tick = 0

        def part(ch: int, ti: int = ti, first_prog: dict[int, int] = first_prog) -> int:
            """The output part of (track, channel); its name is filled in after the track."""
            key = (ti, ch)
            if key not in parts:
                parts[key] = len(part_info)
                part_info.append(["", first_prog.get(ch, 0), ch == DRUM_CHANNEL])
            return parts[key]

        for tick, st, d1, d2, mtype, mdata in events:
            last_tick = tick
            if st == 0xFF:
                if mtype == 0x51 and len(mdata) == 3:
                    tempos.append(TempoChange(tick, max(1, int.from_bytes(mdata, "big"))))
                elif mtype == 0x58 and len(mdata) >= 2:
                    ts.append(TimeSignature(tick, mdata[0], 2 ** min(mdata[1], 6)))
                elif mtype == 0x59 and len(mdata) == 2:
                    ks.append(KeySignature(tick, int.from_bytes(mdata[:1], "big", signed=True),
                                           bool(mdata[1])))
                elif mtype == 0x06:
                    mk.append(Marker(tick, mdata.decode("latin-1")))
                elif mtype == 0x03 and not name:
                    name = mdata.decode("latin-1")
                continue
            kind, ch = st & 0xF0, st & 0x0F
            if kind == 0x90 and d2 > 0:
                open_notes[(part(ch), d1)].append((tick, d2))
            elif kind == 0x80 or kind == 0x90:
                q = open_notes.get((part(ch), d1))
                if q:
                    start, vel = q.popleft()
                    notes.append((start, tick - start, d1, vel, parts[(ti, ch)]))
            elif kind == 0xB0:
                ctrls.append((tick, d1, d2, part(ch)))
            elif kind == 0xC0:
                if ch not in first_prog and (ti, ch) not in parts:
                    first_prog[ch] = d1
                else:
                    p = part(ch)
                    if not any(n[4] == p for n in notes[-1:]) and part_info[p][1] == 0:
                        part_info[p][1] = d1
                    ctrls.append((tick, PROGRAM, d1, p))
            elif kind == 0xE0:
                ctrls.append((tick, PITCH_BEND, ((d2 << 7) | d1) - 8192, part(ch)))
        for (p, pitch), q in open_notes.items():
            for start, vel in q:
                notes.append((start, max(last_tick - start, 0), pitch, vel, p))
                dangling += 1
        for (t_i, ch), p in parts.items():
            if t_i == ti:
                part_info[p][0] = name
                if ch in first_prog:
                    part_info[p][1] = first_prog[ch]
    if dangling:
        warnings.append(f"notes: {dangling} notes had no note-off; ended at their track's end")
    used = sorted(set(range(len(part_info))))
    tracks = tuple(Track(str(n), int(p), 0, bool(d)) for n, p, d in (part_info[i] for i in used))
    chans = assign_channels([(t.program, t.drums) for t in tracks])
    tracks = tuple(Track(t.name, t.program, c, t.drums) for t, c in zip(tracks, chans, strict=True))
    na = np.zeros(len(notes), dtype=NOTE_DTYPE)
    if notes:
        arr = np.array(notes, dtype=np.int64)
        na["start"], na["duration"], na["pitch"], na["velocity"], na["track"] = arr.T
        na["channel"] = np.array(chans, dtype=np.uint8)[arr[:, 4]]
    na = sort_rows(na, "start")
    ca = np.zeros(len(ctrls), dtype=CONTROL_DTYPE)
    if ctrls:
        arr = np.array(ctrls, dtype=np.int64)
        ca["time"], ca["number"], ca["value"], ca["track"] = arr.T
        ca["channel"] = np.array(chans, dtype=np.uint8)[arr[:, 3]]
    ca = sort_rows(ca, "time")
    tempo = TempoMap(division, tempos)
    return _make(na, tracks, tempo, ca, tuple(ts) or (TimeSignature(0),), tuple(ks), tuple(mk),
                 warnings, source)


def unencodable(text: str) -> str:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate), or "" when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"character U+{ord(text[exc.start]):04X} at index {exc.start} cannot be "
                "encoded as UTF-8 (a lone surrogate)")
    return ""


def text_problems(score: Score) -> list[str]:
    """The score's text fields that no file can hold, as ``path: problem`` lines (NVX1 paths)."""
    fields = [("title", score.title), ("composer", score.composer)]
    fields += [(f"lyrics[{i}].text", ly.text) for i, ly in enumerate(score.lyrics)]
    fields += [(f"tracks[{i}].name", t.name) for i, t in enumerate(score.tracks)]
    fields += [(f"markers[{i}].text", m.text) for i, m in enumerate(score.markers)]
    for i, c in enumerate(score.chords):
        fields += [(f"chords[{i}].symbol", c.symbol), (f"chords[{i}].roman", c.roman)]
    return [f"{path}: {why}" for path, text in fields if (why := unencodable(text))]


def write_midi(score: Score) -> bytes:
    """A type-1 MIDI file: a conductor track (tempo, meter, key, markers) then one per track."""
    problems = text_problems(score)
    if problems:
        raise ScoreError(problems)
    conductor: list[tuple[int, int, bytes]] = []
    for c in score.tempo.changes:
        conductor.append((c.tick, 0, b"\xff\x51\x03" + c.us_per_quarter.to_bytes(3, "big")))
    for t in score.time_signatures:
        dd = max(t.denominator.bit_length() - 1, 0)
        conductor.append((t.tick, 0, bytes([0xFF, 0x58, 4, t.numerator, dd, 24, 8])))
    for k in score.key_signatures:
        conductor.append((k.tick, 0, bytes([0xFF, 0x59, 2, k.key & 0xFF, int(k.minor)])))
    for m in score.markers:
        text = m.text.encode("utf-8")[:0xFFFF]
        conductor.append((m.tick, 0, b"\xff\x06" + _smf._varlen(len(text)) + text))
    if score.title:
        text = score.title.encode("utf-8")[:0xFFFF]
        conductor.append((0, 0, b"\xff\x03" + _smf._varlen(len(text)) + text))
    if score.composer:  # MIDI has no composer event: a text event says it
        text = f"Composer: {score.composer}".encode()[:0xFFFF]
        conductor.append((0, 0, b"\xff\x01" + _smf._varlen(len(text)) + text))
    out = [[(t, m) for t, _, m in sorted(conductor, key=lambda e: (e[0], e[1]))]]
    notes, ctrls = score.notes, score.controls
    for i, tr in enumerate(score.tracks):
        ch = tr.channel
        ev: list[tuple[int, int, bytes]] = []
        name = tr.name.encode("utf-8")[:0xFFFF]
        ev.append((0, 0, b"\xff\x03" + _smf._varlen(len(name)) + name))
        ev.append((0, 1, bytes([0xC0 | ch, tr.program])))
        cs = ctrls[ctrls["track"] == i]
        for t, num, val in zip(cs["time"].tolist(), cs["number"].tolist(), cs["value"].tolist(),
                               strict=True):
            if num == PROGRAM:
                ev.append((t, 2, bytes([0xC0 | ch, val & 0x7F])))
            elif num == PITCH_BEND:
                v = val + 8192
                ev.append((t, 2, bytes([0xE0 | ch, v & 0x7F, (v >> 7) & 0x7F])))
            else:
                ev.append((t, 2, bytes([0xB0 | ch, num, val & 0x7F])))
        for ly in score.lyrics:  # one lyric line in MIDI: the first verse
            if ly.track == i and ly.verse == 1:
                text = ly.text.encode("utf-8")[:0xFFFF]
                ev.append((ly.tick, 2, b"\xff\x05" + _smf._varlen(len(text)) + text))
        ns = notes[notes["track"] == i]
        # at equal ticks: controls, then note-offs, then note-ons (back-to-back notes survive)
        for s, d, p, v in zip(ns["start"].tolist(), ns["duration"].tolist(),
                              ns["pitch"].tolist(), ns["velocity"].tolist(), strict=True):
            ev.append((s, 4, bytes([0x90 | ch, p, v])))
            ev.append((s + d, 3 if d else 5, bytes([0x80 | ch, p, 0])))
        ev.sort(key=lambda e: (e[0], e[1]))
        out.append([(t, m) for t, _, m in ev])
    return _smf.write_smf(score.tpq, out)
