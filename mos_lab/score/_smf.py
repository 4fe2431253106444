"""A small, lenient Standard MIDI File reader and a writer, in plain Python.

The fast path for reading is symusic (C++); this module checks a file's chunk structure
before that (so truncated or hostile files are caught quickly and explained), repairs what
can be repaired, and parses files symusic rejects (out-of-range data bytes) best-effort.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mos_lab.score._types import MAX_FILE_BYTES
from mos_lab.score.errors import ScoreError

MAX_TRACK_CHUNKS = 65_535


@dataclass
class SmfLayout:
    """What the chunk scan found: header fields, track byte ranges and warnings."""

    fmt: int
    ntracks: int
    division: int
    tracks: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    warnings: list[str] = field(default_factory=list)
    repaired: bool = False


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
                lay.warnings.append(f"bytes {pos}..: garbage after the last track ignored")
                break
            pos = body + length  # unknown chunk types are skipped, as the standard says
            continue
        i = len(lay.tracks)
        if length > len(data) - body:
            lay.warnings.append(
                f"tracks[{i}]: claims {length} bytes but only {len(data) - body} remain "
                "(file truncated); loaded what is there"
            )
            length = len(data) - body
            lay.repaired = True
        elif data[body + length - 3 : body + length] != b"\xff\x2f\x00":
            lay.warnings.append(f"tracks[{i}]: no end-of-track event (damaged track)")
            lay.repaired = True
        lay.tracks.append((body, length))
        pos = body + length
    if len(lay.tracks) != ntracks:
        lay.warnings.append(
            f"header.ntracks: says {ntracks} tracks but {len(lay.tracks)} were found"
        )
    if fmt == 0 and len(lay.tracks) > 1:
        lay.warnings.append(f"header.format: type 0 file with {len(lay.tracks)} tracks")
    return lay


def rebuild(data: bytes, lay: SmfLayout) -> bytes:
    """A well-formed copy: each track chunk closed with end-of-track, lengths corrected."""
    out = [struct.pack(">4sIHHH", b"MThd", 6, 1 if len(lay.tracks) > 1 else lay.fmt,
                       len(lay.tracks), lay.division)]
    for off, length in lay.tracks:
        body = data[off : off + length]
        if not body.endswith(b"\xff\x2f\x00"):
            body += b"\x00\xff\x2f\x00"
        out.append(struct.pack(">4sI", b"MTrk", len(body)) + body)
    return b"".join(out)


# One raw event: (tick, status, data1, data2, meta_type, meta_bytes)
RawEvent = tuple[int, int, int, int, int, bytes]
_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


def parse_track(data: bytes, off: int, length: int, index: int,
                warnings: list[str]) -> list[RawEvent]:
    """Events of one track, tolerant: data bytes above 127 are clipped, truncation ends it."""
    end = off + length
    pos = off
    tick = 0
    status = 0
    events: list[RawEvent] = []
    clipped = 0

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
        return value

    try:
        while pos < end:
            tick += varlen()
            if pos >= end:
                raise EOFError
            b = data[pos]
            if b & 0x80:
                pos += 1
                if b < 0xF0:
                    status = b
            elif not status:
                raise ValueError("data byte without a status")
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
                pos += n
                if mtype == 0x2F:
                    break
            elif b in (0xF0, 0xF7):
                n = varlen()
                pos += n
            elif b >= 0xF0:
                continue  # system common/real-time bytes carry no data we keep
            else:
                need = _DATA_LEN[b & 0xF0]
                if pos + need > end:
                    raise EOFError
                d = list(data[pos : pos + need])
                pos += need
                for k, v in enumerate(d):
                    if v > 127:
                        d[k] = 127
                        clipped += 1
                events.append((tick, b, d[0], d[1] if need == 2 else 0, 0, b""))
    except EOFError:
        warnings.append(f"tracks[{index}]: ends in the middle of an event (truncated)")
    except ValueError as exc:
        warnings.append(f"tracks[{index}]: byte {pos - off}: {exc}; rest of track skipped")
    if clipped:
        warnings.append(f"tracks[{index}]: {clipped} data bytes above 127 were clipped to 127")
    return events


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
