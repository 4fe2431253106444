"""Truncated, corrupt and hostile input: a clear ScoreError, quickly, never a hang."""

from __future__ import annotations

import contextlib
import json
import random
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mos_lab
from mos_lab.score import ScoreError
from tests.conftest import corpus_files

REAL = corpus_files("midi", "one_track")
CORRUPTED = corpus_files("midi", "corrupted")


def load_quickly(data: bytes):
    t0 = time.perf_counter()
    try:
        return mos_lab.load(data)
    finally:
        assert time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize("data,msg", [
    (b"", "unknown format"),
    (b"MThd", "not a Standard MIDI File"),
    (b"MThd" + struct.pack(">IHHH", 6, 7, 1, 96), "header.format: 7"),
    (b"MThd" + struct.pack(">IHHH", 6, 1, 1, 0), "header.division"),
    (b"MThd" + struct.pack(">IHHH", 6, 1, 1, 0xE728), "SMPTE"),
])
def test_not_midi_gives_clear_error(data, msg):
    with pytest.raises(ScoreError, match=msg):
        mos_lab.load(data, format="midi" if data else None)


def _header(ntracks: int) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, 1, ntracks, 96)


def _track(body: bytes, claim: int | None = None) -> bytes:
    return b"MTrk" + struct.pack(">I", len(body) if claim is None else claim) + body


def test_two_gigabyte_chunk_claim_with_notes_loads_the_notes():
    body = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
    score = load_quickly(_header(1) + _track(body, 2**31))
    assert score.n_notes == 1
    assert any("byte 14: chunk claims 2147483648 bytes" in w for w in score.warnings)


@pytest.mark.parametrize("data,where", [
    (_header(65535), "header.ntracks: says 65535 tracks but 0 were found before byte 14 (the end"),
    (_header(0), "file: no track chunk before byte 14"),
    (_header(1) + _track(b"\x00\xff\x03\x02ab", 2**31),
     "tracks[0]: byte 14: chunk claims 2147483648 bytes but only 6 remain"),
    (_header(1) + _track(b"\x00\xff\x03\x02ab" + b"\xff" * 64),
     "tracks[0]: byte 28: a variable-length number runs past 4 bytes"),
    (_header(1) + _track(b"\x00\x90\x3c"), "tracks[0]: byte 22: ends in the middle of an event"),
    (_header(2) + _track(b"\x00\xff\x03\x02ab") + _track(b"\x00\x90\x3c\x40\x81"),
     "tracks[1]: byte 40: ends in the middle of an event"),
], ids=["65535-tracks", "no-track", "2GB-track", "endless-varlen", "truncated-mid-event",
        "second-track"])
def test_file_with_nothing_usable_is_an_error_naming_the_byte(data, where):
    with pytest.raises(ScoreError) as err:
        load_quickly(data)
    assert any(p.startswith(where) for p in err.value.problems), err.value.problems
    assert err.value.problems[-1] == "file: no note and no complete track could be read"


def test_file_with_a_complete_empty_track_is_an_empty_score_not_an_error():
    score = load_quickly(_header(1) + _track(b"\x00\xff\x03\x02ab\x00\xff\x2f\x00"))
    assert score.n_notes == 0 and score.warnings == ()


def test_partly_broken_file_keeps_its_good_track_and_says_what_broke():
    good = _track(b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00")
    broken = _track(b"\x00\x90\x40\x40\x60\x80\x40")  # cut inside the note-off
    score = load_quickly(_header(2) + good + broken)
    assert score.notes[["start", "duration", "pitch"]].tolist() == [(0, 96, 60)]
    assert "tracks[1]: byte 46: ends in the middle of an event (truncated)" in score.warnings


@pytest.mark.skipif(not REAL, reason="corpus absent")
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.9, 0.999])
def test_truncated_real_file_loads_best_effort_or_names_the_byte(fraction):
    data = REAL[0].read_bytes()
    part = data[: max(int(len(data) * fraction), 23)]
    full = mos_lab.load(data)
    try:
        score = load_quickly(part)
    except ScoreError as exc:  # nothing usable: every problem names where it is
        assert all("byte " in p for p in exc.problems[:-1])
        return
    assert 0 < score.n_notes <= full.n_notes
    assert any("truncated" in w for w in score.warnings)


@pytest.mark.parametrize("seed", range(40))
def test_garbage_after_good_events_is_dropped_not_read_as_hours_of_music(seed):
    """The lenient reader stops where it loses sync; nothing lands hours past the music."""
    rng = random.Random(seed)
    good = b"".join(bytes([0, 0x90, 60 + k % 12, 64, 48, 0x80, 60 + k % 12, 0]) for k in range(40))
    junk = bytes(rng.randrange(256) for _ in range(4000))
    conductor = _track(b"\x00\xff\x51\x03\x07\xa1\x20\x00\xff\x2f\x00")
    score = load_quickly(_header(2) + conductor + _track(good + junk))
    assert score.n_notes >= 40  # the good part is kept
    hour = 7200 * 96  # quarters at 120 BPM
    assert score.end_tick < 40 * 48 + hour, score.warnings
    assert any(w.startswith("tracks[1]: byte ") for w in score.warnings)


@pytest.mark.skipif(not CORRUPTED, reason="corpus absent")
def test_file_gone_to_garbage_keeps_only_what_is_plausible():
    """Issue104: a track turns into random bytes at 16 KiB; it used to read as 50 days."""
    path = next(p for p in CORRUPTED if p.name.startswith("Issue104"))
    score = mos_lab.load(path)
    assert score.n_notes > 1000
    assert score.duration < 600  # was 4,373,418 s
    lost = [w for w in score.warnings if "lost sync" in w]
    assert lost and lost[0].startswith("tracks[3]: byte 16384: lost sync")
    assert "was dropped" in lost[0]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_after_header_never_crash(payload):
    data = b"MThd" + struct.pack(">IHHH", 6, 1, 2, 96) + b"MTrk" + struct.pack(">I", len(payload))
    with contextlib.suppress(ScoreError):
        load_quickly(data + payload)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_bit_flips_in_real_file_never_crash(data):
    raw = bytearray(REAL[1].read_bytes() if len(REAL) > 1 else b"MThd")
    for _ in range(data.draw(st.integers(1, 20))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ScoreError):
        load_quickly(bytes(raw))


@pytest.mark.parametrize("text,msg", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply|not of type object"),
    ('{"format": "nvx1", "version": 1, "ticks_per_quarter": NaN, "tracks": []}', "NaN"),
    ('{"format": "nvx1", "version": 1, "ticks_per_quarter": ' + "9" * 5000 + ', "tracks": []}',
     "document"),
    ('{"format": "nvx1", "version": 1, "ticks_per_quarter": 480, "tracks": [}', "invalid JSON"),
    ("\xff\xfe{}", "document"),
])
def test_hostile_json(text, msg):
    t0 = time.perf_counter()
    with pytest.raises(ScoreError, match=msg):
        mos_lab.load(text.encode("utf-8", "surrogatepass"), format="json")
    assert time.perf_counter() - t0 < 5


def test_huge_note_count_json_is_validated_not_hung():
    doc = {"format": "nvx1", "version": 1, "ticks_per_quarter": 480,
           "tracks": [{"notes": [{"start": i, "duration": -1, "pitch": 60, "velocity": 1}
                                 for i in range(200_000)]}]}
    t0 = time.perf_counter()
    with pytest.raises(ScoreError) as err:
        mos_lab.load(json.dumps(doc).encode())
    assert time.perf_counter() - t0 < 10
    assert len(err.value.problems) == 100  # collected, then capped
    assert "tracks[0].notes[0].duration: -1 is below 0" in err.value.problems[0]


def _vl(v: int) -> bytes:
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    return bytes(reversed(out))


def _notes(n: int, step: int, pitch: int = 60) -> bytes:
    """n notes one after another, each ``step`` ticks long."""
    return b"".join(b"\x00" + bytes([0x90, pitch, 64]) + _vl(step) + bytes([0x80, pitch, 0])
                    for _ in range(n))


def _closed(body: bytes) -> bytes:
    return _track(body + b"\x00\xff\x2f\x00")


BAD_BYTE = b"\x00\xb0\x07\xa8"  # a controller value of 168: symusic refuses the whole file


def test_events_after_a_misread_delta_time_are_dropped_and_named():
    """A damaged delta (600,000 ticks, under an hour) shifts the rest of the track 100 min."""
    body = BAD_BYTE + _notes(50, 96) + _vl(600_000) + b"\xff\x01\x01x" + _notes(49, 96, 62)
    score = load_quickly(_header(1) + _closed(body))
    assert score.n_notes == 50 and score.end_tick == 50 * 96
    dropped = [w for w in score.warnings if "dropped" in w]
    assert dropped == [
        f"tracks[0]: byte {22 + len(BAD_BYTE) + len(_notes(50, 96))}: 100 events from tick "
        "604800 on dropped: they follow a silence of 600000 ticks (over 10 min at 120 BPM) "
        "longer than all the music before it (a misread delta time)"]


def test_a_long_rest_after_longer_music_is_kept():
    body = BAD_BYTE + _notes(1000, 192) + _vl(1500 * 96) + bytes([0x90, 62, 64]) + _vl(96) \
        + bytes([0x80, 62, 0])
    score = load_quickly(_header(1) + _closed(body))
    assert score.n_notes == 1001 and not any("dropped" in w for w in score.warnings)


def test_damaged_track_running_far_past_the_undamaged_ones_is_cut():
    clean = _closed(_notes(20, 96))  # 20 quarters of music
    damaged = _closed(BAD_BYTE + _notes(40, 96 * 1000))  # notes 1000 quarters apart
    score = load_quickly(_header(2) + clean + damaged)
    assert score.end_tick <= 20 * 96 + 1200 * 96 + 96 * 1000
    assert any(w.startswith("tracks[1]: byte ") and "after the end of every undamaged track "
               "(tick 1920)" in w for w in score.warnings)
