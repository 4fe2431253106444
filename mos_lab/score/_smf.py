"""A small, lenient Standard MIDI File reader and a writer, in plain Python.

The fast path for reading is symusic (C++); this module checks a file's chunk structure
before that (so truncated or hostile files are caught quickly and explained), repairs what
can be repaired, and parses files symusic rejects (out-of-range data bytes) best-effort.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass, field

from mos_lab.score._types import MAX_FILE_BYTES
from mos_lab.score.errors import ScoreError

MAX_TRACK_CHUNKS = 65_535


@dataclass
class SmfLayout:
    """What the chunk scan found: header fields, track byte ranges and warnings.

    ``damaged`` holds the indices of track chunks that are cut short (also in ``truncated``)
    or lack their end-of-track event; only those are read by the Python parser before
    symusic sees the file.
    """

    fmt: int
    ntracks: int
    division: int
    tracks: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    warnings: list[str] = field(default_factory=list)
    damaged: set[int] = field(default_factory=set)
    truncated: set[int] = field(default_factory=set)
    end: int = 0  # byte offset where the scan stopped

    @property
    def repaired(self) -> bool:
        """True when some track chunk needs repair before symusic can read it."""
        return bool(self.damaged)


def scan(data: bytes) -> SmfLayout:
    """Check the chunk structure; raise ScoreError when this is not a MIDI file at all."""
    if len(data) > MAX_FILE_BYTES:
        raise ScoreError(f"file: {len(data)} bytes is more than the limit of {MAX_FILE_BYTES}")
    if len(data) < 14 or data[:4] != b"MThd":
        raise ScoreError("header: not a Standard MIDI File (no MThd chunk)")
    hlen, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    problems = []
    if hlen < 6 or hlen > len(data) - 8:
        problems.append(f"header.length: {hlen} is not a valid header length")
    if fmt > 2:
        problems.append(f"header.format: {fmt} is not 0, 1 or 2")
    if division & 0x8000:
        problems.append("header.division: SMPTE time division is not supported")
    elif division == 0:
        problems.append("header.division: 0 ticks per quarter note")
    if problems:
        raise ScoreError(problems)
    lay = SmfLayout(fmt, ntracks, division)
    pos = 8 + hlen
    while pos + 8 <= len(data) and len(lay.tracks) < MAX_TRACK_CHUNKS:
        kind, length = data[pos : pos + 4], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if kind != b"MTrk":
            if not kind.isalnum():
                lay.warnings.append(f"file: byte {pos}: garbage after the last track ignored")
                break
            pos = body + length  # unknown chunk types are skipped, as the standard says
            continue
        i = len(lay.tracks)
        if length > len(data) - body:
            lay.warnings.append(
                f"tracks[{i}]: byte {pos}: chunk claims {length} bytes but only "
                f"{len(data) - body} remain (file truncated); read what is there"
            )
            length = len(data) - body
            lay.damaged.add(i)
            lay.truncated.add(i)
        elif data[body + length - 3 : body + length] != b"\xff\x2f\x00":
            lay.warnings.append(f"tracks[{i}]: byte {pos}: no end-of-track event (damaged track)")
            lay.damaged.add(i)
        lay.tracks.append((body, length))
        pos = body + length
    lay.end = min(pos, len(data))
    if len(lay.tracks) != ntracks:
        lay.warnings.append(
            f"header.ntracks: says {ntracks} tracks but {len(lay.tracks)} were found before "
            f"byte {lay.end}" + (" (the end of the file)" if lay.end == len(data) else "")
        )
    if fmt == 0 and len(lay.tracks) > 1:
        lay.warnings.append(f"header.format: type 0 file with {len(lay.tracks)} tracks")
    return lay


def rebuild(data: bytes, lay: SmfLayout, reads: dict[int, TrackRead]) -> bytes:
    """A well-formed copy: damaged tracks cut after their last complete event and closed."""
    out = [struct.pack(">4sIHHH", b"MThd", 6, 1 if len(lay.tracks) > 1 else lay.fmt,
                       len(lay.tracks), lay.division)]
    for i, (off, length) in enumerate(lay.tracks):
        body = data[off : reads[i].end if i in reads else off + length]
        if not body.endswith(b"\xff\x2f\x00"):
            body += b"\x00\xff\x2f\x00"
        out.append(struct.pack(">4sI", b"MTrk", len(body)) + body)
    return b"".join(out)


# One raw event: (tick, status, data1, data2, meta_type, meta_bytes)
RawEvent = tuple[int, int, int, int, int, bytes]
_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
#: Events within which a second anomaly means the reader has lost the event boundaries.
SYNC_WINDOW = 16
#: A delta time longer than this many quarter notes (an hour at 120 BPM) is not music.
MAX_DELTA_QUARTERS = 7_200


class _Stop(Exception):
    """The track cannot be read past this point: ``args[0]`` says where and why, or is empty
    when sync was lost, with ``args[1]`` naming the anomaly that showed it."""


@dataclass
class TrackRead:
    """One track as the lenient parser read it.

    ``end`` is the byte offset just past the last event kept; ``problem`` says where and why
    reading stopped early (empty when nothing was lost); ``clipped`` counts data bytes above
    127 that were clipped.
    """

    events: list[RawEvent]
    end: int
    problem: str = ""
    clipped: int = 0
    complete: bool = False  # its end-of-track event was reached
    offsets: list[int] = field(default_factory=list)  # byte offset of each event

    @property
    def usable(self) -> bool:
        """True when the track was read to its end-of-track event without losing anything."""
        return self.complete and not self.problem


def parse_track(data: bytes, off: int, length: int, index: int, division: int,
                warnings: list[str]) -> TrackRead:
    """Events of one track, tolerant of isolated damage, never of lost sync.

    An isolated data byte above 127 is clipped; a second anomaly (such a byte, a status byte
    no file may hold, a delta time over an hour at 120 BPM) within ``SYNC_WINDOW`` events of
    the first means the reader no longer knows where events start: the track ends before the
    first one, and what was dropped is said in ``warnings``. A varlen number over 4 bytes,
    a data byte with no status before it and truncation end the track where they occur.
    """
    end = off + length
    pos = off
    tick = 0
    status = 0
    events: list[RawEvent] = []
    offsets: list[int] = []
    clipped = 0
    max_delta = MAX_DELTA_QUARTERS * division
    # the first unresolved anomaly: (event index, byte offset of its event, tick, what,
    # data bytes clipped before it)
    pending: tuple[int, int, int, str, int] | None = None
    ev_start = off

    def varlen() -> int:
        nonlocal pos
        value = 0
        for _ in range(4):
            if pos >= end:
                raise EOFError
            b = data[pos]
            pos += 1
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value
        raise _Stop(f"byte {pos - 4}: a variable-length number runs past 4 bytes; "
                    "the rest of the track was dropped")

    def anomaly(what: str) -> None:
        nonlocal pending
        if pending is not None:
            raise _Stop("", what)
        pending = (len(events), ev_start, tick, what, clipped)

    problem = ""
    good_end = off
    complete = False
    try:
        while pos < end:
            if pending is not None and len(events) - pending[0] >= SYNC_WINDOW:
                pending = None  # an isolated anomaly: the events after it read cleanly
            ev_start = pos
            delta = varlen()
            if delta > max_delta:
                raise _Stop(f"byte {ev_start}: a delta time of {delta} ticks (over an hour at "
                            "120 BPM) is not plausible; the rest of the track was dropped")
            tick += delta
            if pos >= end:
                raise EOFError
            b = data[pos]
            if b & 0x80:
                pos += 1
                if b < 0xF0:
                    status = b
            elif not status:
                raise _Stop(f"byte {pos}: data byte 0x{b:02X} with no status byte before it; "
                            "the rest of the track was dropped")
            else:
                b = status
            if b == 0xFF:
                if pos >= end:
                    raise EOFError
                mtype = data[pos]
                pos += 1
                n = varlen()
                if pos + n > end:
                    raise EOFError
                events.append((tick, 0xFF, 0, 0, mtype, data[pos : pos + n]))
                offsets.append(ev_start)
                pos += n
                good_end = pos
                if mtype == 0x2F:
                    complete = True
                    break
            elif b in (0xF0, 0xF7):
                n = varlen()
                if pos + n > end:
                    raise EOFError
                pos += n
                good_end = pos
            elif b >= 0xF0:
                anomaly(f"status byte 0x{b:02X}, which no MIDI file may hold")
            else:
                need = _DATA_LEN[b & 0xF0]
                if pos + need > end:
                    raise EOFError
                d = list(data[pos : pos + need])
                pos += need
                for k, v in enumerate(d):
                    if v > 127:
                        anomaly(f"data byte 0x{v:02X} above 127")
                        d[k] = 127
                        clipped += 1
                events.append((tick, b, d[0], d[1] if need == 2 else 0, 0, b""))
                offsets.append(ev_start)
                good_end = pos
    except EOFError:
        problem = f"byte {ev_start}: ends in the middle of an event (truncated)"
    except _Stop as stop:
        if stop.args[0]:
            problem = stop.args[0]
        else:  # lost sync: drop everything from the first anomaly of the run
            assert pending is not None
            first, at, at_tick, what, clipped = pending
            dropped = len(events) - first
            del events[first:], offsets[first:]
            good_end = at
            problem = (f"byte {at}: lost sync at tick {at_tick}: {what}, then {stop.args[1]} "
                       f"within {SYNC_WINDOW} events; the rest of the track ({end - at} bytes, "
                       f"{dropped} event{'' if dropped == 1 else 's'} read) was dropped")
    if problem:
        warnings.append(f"tracks[{index}]: {problem}")
    if clipped:
        warnings.append(f"tracks[{index}]: {clipped} data bytes above 127 were clipped to 127")
    return TrackRead(events, good_end, problem, clipped, complete, offsets)


#: A silence longer than this many quarter notes (10 minutes at 120 BPM) that is also
#: longer than all the music before it is a misread delta time, not music.
MAX_GAP_QUARTERS = 1_200


def drop_after_silence(reads: list[TrackRead], division: int, warnings: list[str]) -> None:
    """Cut every track where the file's events resume after an implausible silence.

    For files the lenient reader had to read: a misread delta time (a damaged byte that
    turned a one-byte delta into a three-byte one, a status byte read as data) shifts the
    rest of a track minutes or hours later while each event on its own looks valid. Over
    the events of all tracks, the first silence longer than ``MAX_GAP_QUARTERS`` (at 120
    BPM) and longer than all the music before it marks where plausible time ends; and a
    damaged track (clipped bytes, cut short) may not run more than that past the end of the
    undamaged tracks that hold notes. Events from there on are dropped, each track's drop
    named in ``warnings`` with its byte offset.
    """
    ticks = sorted({e[0] for r in reads for e in r.events})
    if len(ticks) < 2:
        return
    gap = MAX_GAP_QUARTERS * division
    minutes = MAX_GAP_QUARTERS // 120
    cut, why = None, ""
    for a, b in itertools.pairwise(ticks):
        if b - a > max(gap, a - ticks[0]):
            cut, why = b, (f"they follow a silence of {b - a} ticks (over {minutes} min at 120 "
                           "BPM) longer than all the music before it")
            break
    # the undamaged tracks that hold notes say how long the music is
    clean = [r.events[-1][0] for r in reads if r.usable and not r.clipped
             and any(e[1] & 0xF0 == 0x90 for e in r.events)]
    for i, r in enumerate(reads):
        limit, reason = cut, why
        damaged = not (r.usable and not r.clipped)
        if clean and damaged and (limit is None or max(clean) + gap < limit):
            limit = max(clean) + gap
            reason = (f"they lie over {minutes} min at 120 BPM after the end of every "
                      f"undamaged track (tick {max(clean)})")
        if limit is None:
            continue
        k = next((j for j, e in enumerate(r.events) if e[0] >= limit), None)
        if k is None:
            continue
        warnings.append(
            f"tracks[{i}]: byte {r.offsets[k]}: {len(r.events) - k} events from tick "
            f"{r.events[k][0]} on dropped: {reason} (a misread delta time)")
        del r.events[k:], r.offsets[k:]


def sequence_name(data: bytes, lay: SmfLayout) -> str:
    """The sequence name (the piece's title): the track-name event of the first track chunk
    when that track is a conductor track (no note in it) or the file is type 0. "" if none."""
    if not lay.tracks or (lay.fmt == 1 and len(lay.tracks) > 1 and lay.tracks[0][1] > 65_536):
        return ""  # a first track that large holds music, not a conductor's metadata
    off, length = lay.tracks[0]
    read = parse_track(data, off, length, 0, lay.division, [])
    if lay.fmt != 0 and len(lay.tracks) > 1 and any(e[1] & 0xF0 == 0x90 for e in read.events):
        return ""  # a first track with notes: its name names that part, not the piece
    raw = next((e[5] for e in read.events if e[1] == 0xFF and e[4] == 0x03), b"")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def write_smf(division: int, tracks: list[list[tuple[int, bytes]]]) -> bytes:
    """A type-1 file from tracks of (absolute tick, message bytes), already sorted."""
    chunks = [struct.pack(">4sIHHH", b"MThd", 6, 1, len(tracks), division)]
    for events in tracks:
        body = bytearray()
        last = 0
        for tick, msg in events:
            body += _varlen(tick - last)
            body += msg
            last = tick
        body += b"\x00\xff\x2f\x00"
        chunks.append(struct.pack(">4sI", b"MTrk", len(body)) + bytes(body))
    return b"".join(chunks)
