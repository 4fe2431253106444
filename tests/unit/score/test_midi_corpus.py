"""Every real MIDI file of the corpus: loads, matches an independent reader, round-trips."""

from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import pytest
import symusic

import mos_lab
from mos_lab.score import ScoreError
from tests.conftest import corpus_files

GOOD = corpus_files("midi", "one_track") + corpus_files("midi", "multitrack") + corpus_files("midi")
CORRUPTED = corpus_files("midi", "corrupted")
KEY = ["start", "duration", "pitch", "velocity"]


def mido_note_count(path: Path) -> int:
    """Notes by pairing mido's messages by hand: FIFO per (track, channel, pitch)."""
    mid = mido.MidiFile(path, clip=True)
    count = 0
    for track in mid.tracks:
        open_notes: dict[tuple[int, int], int] = {}
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes[(msg.channel, msg.note)] = open_notes.get((msg.channel, msg.note), 0) + 1
            elif msg.type in ("note_off", "note_on") and open_notes.get((msg.channel, msg.note)):
                open_notes[(msg.channel, msg.note)] -= 1
                count += 1
    return count


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_real_file_loads_with_independent_note_count(path):
    score = mos_lab.load(path)
    assert score.n_notes == mido_note_count(path)
    assert score.warnings == ()
    assert np.all(np.diff(score.notes["start"]) >= 0)
    if score.n_notes:
        assert score.duration > 0


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_midi_nvx1_midi_round_trip_keeps_notes_tempo_programs(path, tmp_path):
    score = mos_lab.load(path)
    via_json = mos_lab.load(score.save(tmp_path / "s.json"))
    back = mos_lab.load(via_json.save(tmp_path / "s.mid"))
    for other in (via_json, back):
        assert np.array_equal(other.notes[KEY], score.notes[KEY])
        assert other.tempo == score.tempo
        assert [t.program for t in other.tracks] == [t.program for t in score.tracks]
        assert [t.drums for t in other.tracks] == [t.drums for t in score.tracks]
        assert other.time_signatures == score.time_signatures


@pytest.mark.parametrize("path", CORRUPTED, ids=lambda p: p.name)
def test_corrupted_file_errors_clearly_or_loads_best_effort(path):
    try:
        score = mos_lab.load(path)
    except ScoreError as exc:
        assert str(exc).startswith(str(path))
        return
    if score.warnings:  # a best-effort load says what it repaired
        assert all(":" in w for w in score.warnings)
    assert score.n_notes > 0


def test_damaged_file_warns_and_keeps_the_good_part():
    path = next(p for p in CORRUPTED if "Control168" in p.name)
    score = mos_lab.load(path)
    assert any("clipped" in w for w in score.warnings)
    assert score.n_notes == mido_note_count(path)


def test_unexpected_eof_file_lasts_until_its_last_note_off():
    """mido and symusic agree: the file ends on its last note-off, 99,638 ticks at 120 BPM.

    Track 6 stacks three note-ons of pitch 0 at one tick and closes them with note-offs at
    the next tick, the next tick and ~44 s later: paired first-in first-out (symusic, mido,
    the MIDI standard) the third note lasts until that last note-off. pretty_midi closes
    every open note of a pitch at its first note-off and so ends the piece at 258.0 s.
    """
    path = next(p for p in CORRUPTED if p.name.startswith("RunTimeError_unexpected_EOF"))
    score = mos_lab.load(path)
    assert score.warnings == ()
    assert score.duration == pytest.approx(mido.MidiFile(path).length)
    assert score.duration == pytest.approx(symusic.Score(str(path)).to("second").end())
    last = score.notes[np.argmax(score.notes["start"] + score.notes["duration"])]
    assert last["pitch"] == 0 and last["duration"] > 40 * score.tpq * 2  # over 40 s at 120 BPM


def _smf(*tracks: list[bytes], fmt: int = 1, division: int = 96) -> bytes:
    out = b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big")
    out += len(tracks).to_bytes(2, "big") + division.to_bytes(2, "big")
    for events in tracks:
        body = b"".join(events) + b"\x00\xff\x2f\x00"
        out += b"MTrk" + len(body).to_bytes(4, "big") + body
    return out


def test_running_status_velocity_zero_and_overlapping_notes():
    # note on C4, running status: note on E4, C4 vel 0 (off), E4 vel 0; then overlapping C4s
    track = [b"\x00\x90\x3c\x40", b"\x00\x40\x40", b"\x60\x3c\x00", b"\x00\x40\x00",
             b"\x00\x90\x3c\x50", b"\x30\x3c\x51", b"\x30\x80\x3c\x00", b"\x30\x3c\x00"]
    score = mos_lab.load(_smf(track, fmt=0))
    got = sorted(map(tuple, score.notes[KEY].tolist()))
    assert got == [(0, 96, 60, 64), (0, 96, 64, 64), (96, 96, 60, 80), (144, 96, 60, 81)]


def test_type_2_and_meta_events_are_kept():
    conductor = [b"\x00\xff\x51\x03\x07\xa1\x20", b"\x00\xff\x58\x04\x03\x02\x18\x08",
                 b"\x00\xff\x59\x02\xfe\x01", b"\x00\xff\x06\x02A1"]
    part = [b"\x00\xc0\x18", b"\x00\xb0\x40\x7f", b"\x00\xe0\x00\x50", b"\x00\x90\x40\x64",
            b"\x60\x80\x40\x00", b"\x00\xb0\x40\x00"]
    score = mos_lab.load(_smf(conductor, part, fmt=2))
    assert score.tempo.bpm_at(0) == pytest.approx(120.0)
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)
    assert score.key_signatures[0].name == "g" and score.markers[0].text == "A1"
    assert score.tracks[0].program == 24
    pedal = score.controls[score.controls["number"] == 64]
    assert pedal["value"].tolist() == [127, 0]
    bends = score.controls[score.controls["number"] == mos_lab.score.PITCH_BEND]
    assert bends["value"].tolist() == [(0x50 << 7) - 8192]
    assert score.seek.controls_at(10)["value"].tolist()  # state at a tick is available


def test_mido_interop_both_ways():
    path = GOOD[0]
    score = mos_lab.load(path)
    mid = score.to_mido()
    assert isinstance(mid, mido.MidiFile)
    again = mos_lab.score.interop.from_mido(mid)
    assert np.array_equal(again.notes[KEY], score.notes[KEY])
    buf = io.BytesIO()
    mid.save(file=buf)
    assert mos_lab.load(buf.getvalue()).n_notes == score.n_notes


def test_symusic_and_pretty_midi_interop():
    from mos_lab.score import interop

    score = mos_lab.load(GOOD[1])
    assert interop.from_symusic(interop.to_symusic(score)).n_notes == score.n_notes
    pm = interop.to_pretty_midi(score)
    assert sum(len(i.notes) for i in pm.instruments) == score.n_notes
    assert interop.from_pretty_midi(pm).n_notes == score.n_notes
