"""Audio clips on the transport: in the offline render at their score time, through
seeks and tempo changes, and in what a playing engine sends to its output."""

from __future__ import annotations

import numpy as np
import pytest

from mos_lab.audio import Synth
from mos_lab.engine import Engine, render
from mos_lab.engine.clips import AudioClip
from mos_lab.engine.scheduler import Scheduler
from mos_lab.engine.timeline import Timeline
from mos_lab.score import Score
from mos_lab.testing import ManualOutput

SR = 48_000


def tone(seconds: float, hz: float = 1000.0, amp: float = 0.25) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    left = amp * np.sin(2 * np.pi * hz * t)
    return np.stack([left, -0.5 * left], axis=1).astype(np.float32)  # L != R


def chords() -> Score:
    """Two bars of notes at 120 bpm (0..2 s), so the clip at 2.5 s is in the tail."""
    rows = [(i * 480, 480, p, 90) for i in range(4) for p in (60, 64, 67)]
    return Score.from_notes(rows, bpm=120.0)


def test_offline_render_has_the_clip_at_its_time() -> None:
    score, clip_audio = chords(), tone(0.5)
    clip = AudioClip.make(clip_audio, SR, start=2.5, gain=0.5)
    plain = render(score, tail_s=1.0).array()
    mixed = render(score, tail_s=1.0, clips=[clip]).array()
    assert len(plain) == 3 * SR and len(mixed) == 4 * SR  # the tail follows the clip too
    diff = mixed[: len(plain)] - plain
    a, b = round(2.5 * SR), round(3.0 * SR)
    np.testing.assert_allclose(diff[a:b], 0.5 * clip_audio[: len(diff[a:b])], atol=1e-6)
    assert np.abs(diff[:a]).max() == 0.0  # nothing before it
    assert np.abs(plain[: 2 * SR]).max() > 0.01  # the notes are there too


def test_clip_past_the_score_lengthens_the_render() -> None:
    score = chords()
    clip = AudioClip.make(tone(1.0)[:, 0], SR, start=5.0)  # mono, made stereo
    out = render(score, tail_s=0.5, clips=[clip]).array()
    assert len(out) == 6 * SR + round(0.5 * SR)
    np.testing.assert_allclose(out[5 * SR : 6 * SR, 1], tone(1.0)[:, 0], atol=1e-6)


def test_seek_and_tempo_place_the_clip() -> None:
    clip = AudioClip.make(tone(1.0), SR, start=1.0)
    score = Score.from_notes([], bpm=120.0)
    fast = Timeline(score, SR, tempo_factor=2.0, clips=[clip])
    assert fast.clips is not None and fast.clips.spans[0][0] == SR // 2  # 1 s at 2x
    sched = Scheduler(Synth(sample_rate=SR, max_block=4096))
    sched.set_timeline(Timeline(score, SR, clips=[clip]), round(1.25 * SR))  # a seek
    sched.set_playing(True)
    out = np.zeros((4096, 2), np.float32)
    sched.render(out)
    np.testing.assert_allclose(out, tone(1.0)[SR // 4 : SR // 4 + 4096], atol=1e-6)


def test_playing_engine_sends_the_clip_to_its_output() -> None:
    manual = ManualOutput(sample_rate=SR)
    with Engine(output=manual, sample_rate=SR) as eng:
        eng.wait_ready(5)
        eng.load(Score.from_notes([])).result(timeout=10)
        clip = eng.add_clip(tone(0.2), start=0.1, name="generated")
        assert eng.clips == (clip,)
        manual.keep = True
        eng.play()
        manual.tick(round(0.6 * SR / manual.block))
        heard = np.concatenate(manual.captured)
        start = int(np.flatnonzero(np.abs(heard[:, 0]) > 0)[0])
        np.testing.assert_allclose(heard[start : start + len(tone(0.2)) - 1],
                                   tone(0.2)[1:], atol=1e-6)  # sample 0 of a sine is 0
        assert len(eng.render(tail_s=0.0)) == round(0.3 * SR)
        eng.remove_clip(clip)
        assert eng.clips == ()


def test_bad_clips_are_named() -> None:
    with pytest.raises(ValueError, match="shape"):
        AudioClip.make(np.zeros((10, 3)), SR)
    with pytest.raises(ValueError, match="start"):
        AudioClip.make(np.zeros(10), SR, start=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        AudioClip.make(np.full(10, np.nan), SR)
