import io

import mido
import numpy as np
import pytest
import symusic
from hypothesis import given
from hypothesis import strategies as st

import mos_lab
from mos_lab.score.tempo import TempoChange, TempoMap


def test_constant_tempo_conversions():
    tm = TempoMap(480, [TempoChange(0, 500_000)])
    assert tm.ticks_to_seconds(480) == 0.5
    assert tm.ticks_to_frames(480, 48_000) == 24_000
    assert tm.seconds_to_ticks(0.5) == 480.0
    assert tm.frames_to_ticks(24_000, 48_000) == 480.0


def test_tempo_changes_are_integrated_piecewise():
    tm = TempoMap(480, [TempoChange(0, 500_000), TempoChange(960, 250_000)])
    # 2 quarters at 120 BPM (1 s) then 2 at 240 BPM (0.5 s)
    assert tm.ticks_to_seconds(1920) == pytest.approx(1.5)
    assert tm.ticks_to_frames(np.array([960, 1440, 1920]), 44_100).tolist() == [
        44_100, 55_125, 66_150]
    assert tm.bpm_at(0) == 120 and tm.bpm_at(1000) == 240


def test_default_tempo_and_repeats_are_normalised():
    assert TempoMap(96).changes == [TempoChange(0, 500_000)]
    tm = TempoMap(96, [TempoChange(0, 400_000), TempoChange(20, 400_000)])
    assert tm.changes == [TempoChange(0, 400_000)]


def test_ticks_before_the_first_tempo_are_at_120_bpm():
    """A first tempo at tick 10 does not reach back to tick 0: the MIDI default is before it."""
    tm = TempoMap(96, [TempoChange(10, 400_000), TempoChange(20, 400_000)])
    assert tm.changes == [TempoChange(0, 500_000), TempoChange(10, 400_000)]
    assert tm.bpm_at(9) == 120 and tm.bpm_at(10) == 150


def _late_tempo_file() -> bytes:
    """One note over beats 1-4 of a file whose first Set Tempo (60 BPM) comes at beat 3."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("note_on", note=60, velocity=90, time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=960))
    track.append(mido.Message("note_off", note=60, velocity=0, time=960))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def test_midi_file_whose_first_tempo_comes_late_times_like_mido_and_symusic():
    data = _late_tempo_file()
    score = mos_lab.load(data)
    # two beats at the default 120 BPM (1 s), then two at 60 BPM (2 s)
    assert score.tempo.ticks_to_seconds(960) == 1.0
    assert score.duration == 3.0
    assert score.duration == pytest.approx(mido.MidiFile(file=io.BytesIO(data)).length)
    assert score.duration == pytest.approx(symusic.Score.from_midi(data).to("second").end())
    # the tempo survives a save and reload (written out with its 120 BPM start)
    again = mos_lab.load(score.to_midi_bytes())
    assert again.tempo == score.tempo and again.duration == 3.0


def test_frames_exact_over_very_long_time():
    """Integer arithmetic: after 30 hours at an odd tempo, frames are still exact."""
    tm = TempoMap(960, [TempoChange(0, 461_538)])  # ~130 BPM
    ticks = 960 * 14_000  # quarters
    exact = (ticks * 461_538 * 48_000 + 960 * 10**6 // 2) // (960 * 10**6)
    assert tm.ticks_to_frames(ticks, 48_000) == exact


@given(
    tpq=st.integers(1, 10_000),
    changes=st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 2**24 - 1)), max_size=20),
    ticks=st.lists(st.integers(0, 10**8), min_size=1, max_size=50),
    sr=st.sampled_from([22_050, 44_100, 48_000, 96_000]),
)
def test_round_trip_ticks_frames_ticks(tpq, changes, ticks, sr):
    tm = TempoMap(tpq, [TempoChange(t, u) for t, u in changes])
    t = np.array(sorted(ticks), dtype=np.int64)
    frames = tm.ticks_to_frames(t, sr)
    assert np.all(np.diff(frames) >= 0)
    back = tm.frames_to_ticks(frames, sr)
    # one frame of rounding is at most this many ticks at the fastest tempo in the map
    us_min = min(c.us_per_quarter for c in tm.changes)  # 120 BPM before a late first change
    tol = tpq * 1e6 / (us_min * sr) + 1e-6 * np.maximum(t, 1)
    assert np.all(np.abs(back - t) <= tol)
    secs = tm.ticks_to_seconds(t)
    assert np.allclose(tm.seconds_to_ticks(secs), t, rtol=1e-9, atol=1e-6)


def test_invalid_tpq_and_scale():
    with pytest.raises(ValueError, match="ticks_per_quarter"):
        TempoMap(0)
    with pytest.raises(ValueError, match="tempo factor"):
        TempoMap(480).scaled(float("nan"))
    assert TempoMap(480).scaled(2.0).bpm_at(0) == 240
