"""Truncated, corrupt and hostile input: a clear ScoreError, quickly, never a hang."""

from __future__ import annotations

import contextlib
import json
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mos_lab
from mos_lab.score import ScoreError
from tests.conftest import corpus_files

REAL = corpus_files("midi", "one_track")


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


def test_two_gigabyte_chunk_claim_is_caught():
    body = b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", 2**31) + body
    score = load_quickly(data)
    assert score.n_notes == 1
    assert any("claims 2147483648 bytes" in w for w in score.warnings)


def test_huge_track_count_claim_is_caught():
    data = b"MThd" + struct.pack(">IHHH", 6, 1, 65535, 96)
    score = load_quickly(data)
    assert score.n_notes == 0 and any("65535" in w for w in score.warnings)


@pytest.mark.skipif(not REAL, reason="corpus absent")
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.5, 0.9, 0.999])
def test_truncated_real_file_loads_best_effort(fraction):
    data = REAL[0].read_bytes()
    part = data[: max(int(len(data) * fraction), 23)]
    score = load_quickly(part)
    full = mos_lab.load(data)
    assert score.n_notes <= full.n_notes
    assert score.warnings


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
