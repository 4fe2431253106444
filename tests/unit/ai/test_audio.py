"""The offline audio backend and audio checks: quality, limits, streams, formats, memory,
sync with the score."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from mos_lab.ai.core.audioio import collect_stream, conform_audio, export_audio, onset_offsets
from mos_lab.ai.core.backend import FunctionBackend
from mos_lab.ai.core.errors import InvalidOutputError, InvalidRequestError, InvalidResponseError
from mos_lab.ai.core.types import CancelToken, GenerationRequest, GenerationResult, ModelInfo
from mos_lab.ai.core.validate import audio_problems
from mos_lab.ai.models.render import RenderBackend
from mos_lab.ai.service.generation import GenerationService, RetryPolicy
from mos_lab.score import Score
from mos_lab.score.tempo import TempoChange, TempoMap

SR = 16_000
REQ = GenerationRequest(prompt="piano", key="A minor", bars=2, bpm=120, seed=4, sample_rate=SR)


def audio_backend(make) -> FunctionBackend:
    return FunctionBackend(lambda r, p, c: GenerationResult(audio=make(r), sample_rate=SR),
                           ModelInfo("fake-audio", "1", "c", "audio"))


def tone(seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


def test_render_backend_makes_valid_audio_from_a_prompt(markov):
    with GenerationService([RenderBackend(markov)]) as svc:
        res = svc.generate(REQ)
    assert res.audio.shape[1] == 2 and res.sample_rate == SR
    assert audio_problems(res.audio, SR) == []
    assert res.score.tracks[0].program == 0 and res.provenance.model == "render"
    assert len(res.provenance.checksum) == 64
    assert 0 < res.meta["first_sound_s"] <= res.meta["render_s"]
    strings = RenderBackend(markov).score_for(REQ.with_changes(prompt="warm strings"),
                                              lambda d, n: None, CancelToken())
    assert strings.tracks[0].program == 48


@pytest.mark.seed("MGN-02")
def test_nan_silent_or_clipped_audio_is_rejected_and_retried():
    made = []

    def make(req):
        made.append(req.seed)
        bad = [np.full((SR, 2), np.nan, np.float32), np.zeros((SR, 2), np.float32),
               np.clip(tone(amp=3.0), -1, 1)]
        return bad[len(made) - 1] if len(made) <= 3 else tone()

    with GenerationService([audio_backend(make)], retry=RetryPolicy(quality_retries=3)) as svc:
        res = svc.generate(REQ)
    notes = res.provenance.notes
    assert len(made) == 4 and len(set(made)) == 4
    assert "NaN" in notes[0] and "silent" in notes[1] and "clipped" in notes[2]
    silent = audio_backend(lambda r: np.zeros((SR, 2), np.float32))
    with GenerationService([silent]) as svc, pytest.raises(InvalidOutputError, match="silent"):
        svc.generate(REQ)


@pytest.mark.seed("MGN-03")
def test_duration_limits_and_compressed_export(tmp_path, markov):
    with GenerationService([RenderBackend(markov)], max_seconds=60) as svc:
        with pytest.raises(InvalidRequestError, match="longer than the limit of 60 s"):
            svc.submit(REQ.with_changes(duration_s=3600.0))
        with pytest.raises(InvalidRequestError, match="duration"):
            svc.submit(REQ.with_changes(bars=200, bpm=60))  # 800 s of music
        res = svc.generate(REQ.with_changes(bars=8))
    flac = export_audio(res.audio, SR, tmp_path / "jam.flac")
    wav = export_audio(res.audio, SR, tmp_path / "jam.wav")
    assert flac.stat().st_size < 0.6 * wav.stat().st_size
    with pytest.raises(ValueError, match="over the limit of 1 s"):
        export_audio(res.audio, SR, tmp_path / "long.flac", max_seconds=1)
    with pytest.raises(ValueError, match="MiB is over the limit"):
        export_audio(res.audio, SR, tmp_path / "big.flac", max_bytes=1000)
    assert not (tmp_path / "big.flac").exists()


def chunked(total: np.ndarray, fail_at: list[int], size: int = 1000):
    """A stream opener: yields ``total`` in chunks, raising once at each frame in fail_at."""
    def open_at(start: int):
        for pos in range(start, len(total), size):
            if fail_at and pos >= fail_at[0]:
                fail_at.pop(0)
                raise ConnectionResetError("network went away")
            yield total[pos:pos + size]
    return open_at


@pytest.mark.seed("MGN-04")
def test_interrupted_stream_resumes_where_it_broke():
    x = tone(2.0)
    res = collect_stream(chunked(x, [5000, 20000]), max_resumes=2)
    assert not res.partial and res.resumes == 2
    assert np.array_equal(res.audio, x)
    assert res.first_chunk_s is not None


@pytest.mark.seed("MGN-04")
def test_a_stream_that_keeps_failing_returns_what_arrived_marked_partial():
    x = tone(2.0)
    res = collect_stream(chunked(x, [5000, 6000, 7000]), max_resumes=2)
    assert res.partial and "broke after 7000 frames" in res.error
    assert np.array_equal(res.audio, x[:7000])
    cancel = CancelToken()
    got = []

    def slow_open(start):
        for pos in range(start, len(x), 1000):
            got.append(pos)
            if pos == 3000:
                cancel.cancel("user stop")
            yield x[pos:pos + 1000]

    res = collect_stream(slow_open, cancel=cancel)
    assert res.partial and len(res.audio) == 3000 and "user stop" in res.error


@pytest.mark.seed("MGN-04")
def test_the_render_backend_streams_and_can_restart_at_any_frame(markov):
    r = RenderBackend(markov)
    score = r.score_for(REQ, lambda d, n: None, CancelToken())
    whole = np.concatenate(list(r.stream(score, SR)))
    tail = np.concatenate(list(r.stream(score, SR, start_frame=12_345)))
    assert np.allclose(tail, whole[12_345:], atol=1e-6)


@pytest.mark.seed("MGN-05")
def test_formats_are_converted_or_refused():
    mono16 = (np.sin(np.arange(22050) / 10) * 20000).astype(np.int16)
    out = conform_audio(mono16, 22050, target_rate=SR)
    assert out.dtype == np.float32 and out.shape == (SR, 2)
    assert 0.55 < np.abs(out).max() <= 0.62
    chfirst = np.zeros((2, 4800), np.float64)
    chfirst[1] = 0.5
    out = conform_audio(chfirst, 48000, target_rate=SR)
    assert out.shape == (1600, 2) and np.allclose(out[:, 0], 0) and np.allclose(out[:, 1], 0.5)
    six = np.ones((100, 6), np.float32) * 0.1
    assert conform_audio(six, SR, target_rate=SR).shape == (100, 2)
    u8 = np.full(100, 192, np.uint8)
    assert np.allclose(conform_audio(u8, SR, target_rate=SR), 0.5)
    for bad, msg in [(np.zeros(10, np.complex64), "sample format"),
                     (np.zeros((100, 12), np.float32), "channels"),
                     (np.zeros((2, 3, 4), np.float32), "shape"),
                     (np.zeros(100, np.float32), "sample rate")]:
        with pytest.raises(InvalidResponseError, match=msg):
            conform_audio(bad, 4000 if msg == "sample rate" else SR, target_rate=SR)


@pytest.mark.seed("MGN-06")
def test_a_hundred_generations_keep_memory_flat(markov):
    small = GenerationRequest(prompt="marimba", key="C", bars=1, bpm=240, seed=1,
                              sample_rate=8000)
    with GenerationService([RenderBackend(markov, tail_s=0.1)]) as svc:
        for _ in range(10):  # warm caches first
            svc.generate(small).release()
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            peak_growth = 0
            for i in range(110):
                res = svc.generate(small.with_changes(seed=i))
                assert res.audio is not None
                res.release()
                del res
                if i % 10 == 9:
                    gc.collect()
                    peak_growth = max(peak_growth, tracemalloc.get_traced_memory()[0] - base)
        finally:
            tracemalloc.stop()
    assert peak_growth < 1.5 * 2**20, f"grew by {peak_growth / 2**20:.2f} MiB"


@pytest.mark.seed("MGN-10")
def test_rendered_audio_sits_on_the_tempo_map_even_across_tempo_changes(markov):
    rows = [(i * 1920, 240, 57, 110) for i in range(6)]  # one short note per bar
    s = Score.from_notes(rows, bpm=120)
    s = s.replace(tempo=TempoMap(480, [TempoChange(0, 500_000), TempoChange(3840, 300_000)]))
    r = RenderBackend(markov)
    audio = np.concatenate(list(r.stream(s, SR)))
    off = onset_offsets(audio, SR, s, ticks=s.notes["start"])
    assert np.all(np.abs(off) < 0.003), off


@pytest.mark.seed("MGN-10")
def test_late_audio_from_a_backend_is_measured_and_aligned(markov):
    r = RenderBackend(markov)
    score = r.score_for(REQ, lambda d, n: None, CancelToken())
    audio = np.concatenate(list(r.stream(score, SR)))
    late = np.concatenate([np.zeros((1600, 2), np.float32), audio])  # 100 ms late

    def gen(req, progress, cancel):
        return GenerationResult(score=score, audio=late.copy(), sample_rate=SR)

    b = FunctionBackend(gen, ModelInfo("late", "1", "c", "audio"))
    with GenerationService([b]) as svc:
        res = svc.generate(REQ)
    assert abs(res.meta["offset_s"] - 0.1) < 0.003
    assert abs(onset_offsets(res.audio, SR, score)[0]) < 0.003
    assert "ms off the score; aligned" in res.provenance.notes[-1]
