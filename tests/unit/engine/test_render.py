"""The one offline render (``mos_lab.engine.render``): bounded, streamed, the same audio
however it is consumed."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from mos_lab.audio import OutputError
from mos_lab.engine import Engine, render
from mos_lab.engine.engine import MAX_RENDER_S
from mos_lab.score import Score

SR = 8_000


def sparse(minutes: int) -> Score:
    """One note every 10 s (at 120 BPM, 20 beats) for ``minutes``."""
    return Score.from_notes([(i * 480 * 20, 480, 60 + i % 12, 100) for i in range(minutes * 6)])


def huge() -> Score:
    """Two notes ~9,900 hours apart, as a damaged file can claim (2**35 ticks at 120 BPM)."""
    return Score.from_notes([(0, 480, 60, 100), (2**35, 480, 62, 100)])


def test_a_render_beyond_the_limit_is_refused_before_anything_is_allocated():
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"9942 h 03 min of audio is over the limit of 6 h"):
        render(huge(), sample_rate=48_000)
    took = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert took < 0.5 and peak < 1_000_000, (took, peak)
    assert MAX_RENDER_S == 6 * 3600.0
    eng = Engine(output="null", start=False)
    with pytest.raises(ValueError, match="limit"):  # the limit also holds for Engine.render
        eng.render(huge())
    eng.close()
    with pytest.raises(ValueError, match="limit"):  # and for an explicit length
        render(sparse(1), frames=7 * 3600 * 48_000)


def test_the_limit_can_be_raised():
    job = render(sparse(2), sample_rate=SR, max_seconds=3600 * 24 * 365)
    assert job.frames == round(sparse(2).duration * SR) + 3 * SR
    with pytest.raises(ValueError, match=r"limit of 60\.0 s"):
        render(sparse(2), sample_rate=SR, max_seconds=60)


def _write_peak(score: Score, path) -> int:
    tracemalloc.start()
    render(score, sample_rate=SR).write(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_writing_a_long_render_streams_in_constant_memory(tmp_path):
    """Ten times the length costs no more memory: the file is written block by block."""
    short = _write_peak(sparse(2), tmp_path / "short.wav")
    long = _write_peak(sparse(20), tmp_path / "long.wav")
    info = sf.info(str(tmp_path / "long.wav"))
    assert info.frames == round(sparse(20).duration * SR) + 3 * SR and info.channels == 2
    whole = info.frames * 2 * 4  # what one float32 array of the render would take
    assert whole > 70_000_000
    assert long - short < 4_000_000, (short, long)


def test_array_file_and_blocks_are_the_same_audio(tmp_path):
    score = Score.from_notes([(i * 240, 200, 60 + i, 100) for i in range(12)])
    job = render(score, sample_rate=SR, block=1000)
    audio = job.array()
    assert audio.shape == (job.frames, 2) and np.abs(audio).max() > 0.05
    assert np.array_equal(np.concatenate(list(job)), audio)  # a second pass: same audio
    out = job.write(tmp_path / "x.wav", subtype="FLOAT")
    back, rate = sf.read(str(out), dtype="float32")
    assert rate == SR and np.array_equal(back, audio)
    flac = job.write(tmp_path / "x.flac")
    assert sf.info(str(flac)).format == "FLAC"


def test_a_part_starts_where_asked_and_lasts_what_was_asked():
    score = Score.from_notes([(i * 480, 400, 60 + i, 100) for i in range(8)])
    part = render(score, sample_rate=SR, start=1.0, frames=SR).array()
    assert part.shape == (SR, 2)
    assert np.abs(part[: SR // 100]).max() > 0.01  # the note at 1.0 s starts at once


def test_a_failed_write_leaves_nothing_and_names_only_the_users_file(tmp_path, monkeypatch):
    target = tmp_path / "x.wav"
    target.write_bytes(b"old")
    job = render(sparse(1), sample_rate=SR)

    def broken(progress=None):
        yield np.zeros((100, 2), np.float32)
        raise RuntimeError("Error writing '" + str(tmp_path / ".x.wav.part") + "': disk full")

    monkeypatch.setattr(job, "blocks", broken)
    with pytest.raises(OutputError) as err:
        job.write(target)
    assert ".part" not in str(err.value) and str(target) in str(err.value)
    assert target.read_bytes() == b"old"  # the old file is kept until a new one is complete
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
    with pytest.raises(ValueError, match=r"cannot write '\.mp3'"):
        job.write(tmp_path / "x.mp3")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        job.write(tmp_path / "no" / "x.wav")
