"""Generated audio at the engine's sample rate and at the loudness of the engine's renders."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import soundfile as sf

from mos_lab.ai.core.audioio import normalize_loudness
from mos_lab.ai.core.types import GenerationRequest
from mos_lab.ai.jam.instant import InstantJam
from mos_lab.ai.models.render import RenderBackend
from mos_lab.ai.service.generation import GenerationService
from mos_lab.audio import write_audio
from mos_lab.engine import SAMPLE_RATE, Engine, render


def dbfs(x: np.ndarray) -> tuple[float, float]:
    """(peak, RMS) in dBFS."""
    peak = float(np.abs(x).max())
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return 20 * np.log10(peak), 20 * np.log10(rms)


def default(fn, name: str) -> object:
    return inspect.signature(fn).parameters[name].default


@pytest.mark.seed("MGN-05")
def test_one_sample_rate_from_generation_to_the_engine_and_render():
    assert SAMPLE_RATE == 48_000
    assert GenerationRequest().sample_rate == SAMPLE_RATE
    assert default(InstantJam, "sample_rate") == SAMPLE_RATE
    assert default(Engine, "sample_rate") == SAMPLE_RATE
    assert default(render, "sample_rate") == SAMPLE_RATE


@pytest.mark.seed("MGN-05", "MGN-02")
def test_a_default_generation_keeps_its_length_when_saved_at_the_engine_rate(markov, tmp_path):
    """Written at the engine's rate (what the engine and ``mos-lab render`` use), 10 s of
    generated audio stay 10 s (at 32 kHz they became 6.7 s); it peaks near a song's level
    (was about -20 dBFS) and never above -1 dBFS."""
    req = GenerationRequest(prompt="piano", key="A minor", bars=4, bpm=96, seed=4)
    with GenerationService([RenderBackend(markov)]) as svc:
        res = svc.generate(req)
    assert res.sample_rate == SAMPLE_RATE
    write_audio(tmp_path / "gen.wav", res.audio, SAMPLE_RATE)
    info = sf.info(str(tmp_path / "gen.wav"))
    assert abs(info.duration - (res.score.duration + 1.0)) < 0.01  # the score + 1 s of tail
    peak, rms = dbfs(res.audio)
    assert -8.0 < peak <= -1.0 + 1e-3, peak
    assert -24.0 < rms <= -19.9, rms


def test_an_instant_jam_is_as_loud(markov):
    jam = InstantJam(symbolic=markov)
    res = jam.start(GenerationRequest(key="E minor", bars=2, bpm=140, seed=3)).result(120)
    assert res.sample_rate == SAMPLE_RATE
    peak, _ = dbfs(res.audio)
    assert -10.0 < peak <= -1.0 + 1e-3, peak


def test_normalising_keeps_dynamics_caps_peaks_and_spares_near_silence():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    quiet = (0.01 * np.sin(2 * np.pi * 220 * t) * np.linspace(0, 1, len(t))).astype(np.float32)
    x = np.stack([quiet, quiet], axis=1)
    y = normalize_loudness(x)
    assert np.allclose(y / y.max(), x / x.max(), atol=1e-6)  # one gain: the shape is kept
    assert abs(dbfs(y)[1] - -20.0) < 0.01
    assert np.array_equal(normalize_loudness(y), y)  # idempotent
    spiky = x.copy()
    spiky[100] = 0.9
    assert abs(dbfs(normalize_loudness(spiky))[0] - -1.0) < 0.01  # the peak decides
    hiss = np.full((1000, 2), 1e-6, np.float32)
    assert np.allclose(normalize_loudness(hiss), hiss * 10 ** (30 / 20))  # at most +30 dB
    silent = np.zeros((10, 2), np.float32)
    assert np.array_equal(normalize_loudness(silent), silent)
    nan = np.full((10, 2), np.nan, np.float32)
    assert np.isnan(normalize_loudness(nan)).all()  # left for the checks to reject
