"""The engine: transport state machine, audio-clock positions, loads, seeks, loops."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest

import mos_lab
from mos_lab.engine import Engine, render
from mos_lab.engine.transport import EngineTimeout, TransportError
from mos_lab.score import Score, ScoreError
from mos_lab.score._types import CONTROL_DTYPE
from mos_lab.score.tempo import TempoChange, TempoMap
from tests.unit.engine.conftest import ManualOutput

SR = 48_000


def scale(n: int = 8, bpm: float = 120) -> Score:
    return Score.from_notes([(i * 480, 400, 60 + i, 100) for i in range(n)], bpm=bpm)


def transports(bus) -> list[str]:
    return [e["state"] for e in bus.history if e.type == "transport"]


def test_render_a4_is_440_hz_and_clean():
    audio = render(Score.from_notes([(0, 960, 69, 100)]), sample_rate=SR).array()
    spec = np.abs(np.fft.rfft(audio[: SR, 0] * np.hanning(SR)))
    peak = np.argmax(spec) * SR / SR
    assert abs(peak - 440.0) <= 1.0
    assert not np.isnan(audio).any() and np.abs(audio).max() <= 1.0


def test_render_length_is_duration_plus_tail():
    score = scale()
    audio = render(score, sample_rate=SR, tail_s=2.0).array()
    assert len(audio) == round(score.duration * SR) + 2 * SR
    assert np.abs(audio[-SR // 10 :]).max() < 1e-3  # tails have ended


@pytest.mark.parametrize("tick", [0, 480, 1000, 2500])
def test_onset_lands_on_the_exact_frame_across_tempo_changes(tick):
    tempo = TempoMap(480, [TempoChange(0, 500_000), TempoChange(960, 333_333),
                           TempoChange(1920, 750_000)])
    base = Score.from_notes([(tick, 240, 72, 110)])
    score = base.replace(tempo=tempo)
    audio = render(score, sample_rate=SR, tail_s=0.5).array()
    expected = tempo.ticks_to_frames(tick, SR)
    nonzero = np.flatnonzero(np.abs(audio[:, 0]) > 0)
    assert nonzero[0] == expected


@pytest.mark.seed("ENG-03", "DRF-01")
def test_thirty_simulated_minutes_have_zero_drift():
    """ENG-03: position comes from consumed frames; after 30 min it is exact to the frame."""
    out = ManualOutput(block=8192, lookahead_s=0.2)
    beats = [(i * 480, 100, 60 + i % 12, 90) for i in range(0, 4000)]
    score = Score.from_notes(beats, bpm=131.7)  # an awkward tempo: 0.4556 s per beat
    with Engine(output=out, sample_rate=SR) as eng:
        eng.wait_ready(5)
        eng.load(score).result(10)
        eng.play()
        out.tick(1)
        start_read = out.ring.frames_read
        start_pos = eng.position_frames
        blocks = (30 * 60 * SR) // out.block
        out.tick(blocks)
        consumed = out.ring.frames_read - start_read
        assert consumed == blocks * out.block
        assert eng.position_frames - start_pos == consumed  # zero samples of drift
        expected_s = score.tempo.ticks_to_seconds(
            score.tempo.seconds_to_ticks(eng.position_frames / SR))
        assert abs(eng.position - expected_s) < 1e-6
        assert out.underruns == 0


@pytest.mark.seed("ENG-02")
def test_ten_thousand_play_stop_cycles_leave_nothing_queued(engine, manual):
    engine.load(scale()).result(5)
    tracemalloc.start()
    for i in range(10_000):
        engine.play()
        if i % 10 == 0:
            manual.tick(1)
        engine.stop()
        if i == 500:
            base = tracemalloc.take_snapshot()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    assert engine.state == "ready"
    assert not engine.synth._scheduled and not engine.synth._incoming
    assert len(engine.scheduler._anchors) <= engine.scheduler._anchors.maxlen
    assert engine.synth.active_voices == 0 or manual.tick(20) is None
    assert grown < 2_000_000  # bus history is bounded; nothing else grows


@pytest.mark.seed("ENG-04")
def test_play_during_loading_is_deferred_and_never_doubles_the_scheduler(manual):
    gate = threading.Event()
    big = mos_lab.Score.from_notes([(i * 10, 100, 60, 90) for i in range(50_000)])

    others = {t for t in threading.enumerate() if t.name.startswith("apollo-render")}
    eng = Engine(output=manual, sample_rate=SR)
    real_load = mos_lab.engine.loader.load

    def slow_load(src):
        gate.wait(5)
        return real_load(src)

    mos_lab.engine.loader.load = slow_load
    try:
        eng.wait_ready(5)
        fut = eng.load(big.to_midi_bytes())
        assert eng.state == "loading"
        for _ in range(50):  # rapid play/pause while loading
            eng.play()
            eng.pause()
        eng.play()
        assert eng.state == "loading"
        gate.set()
        fut.result(10)
        assert eng.state == "playing"  # the deferred play ran once
        ours = [t for t in threading.enumerate()
                if t.name.startswith("apollo-render") and t not in others]
        assert len(ours) <= 1  # this engine's render thread, once
        assert eng.scheduler.playing
    finally:
        mos_lab.engine.loader.load = real_load
        eng.close()


@pytest.mark.seed("ENG-05", "APO-08")
def test_suspended_output_waits_for_audio_instead_of_playing_silently():
    out = ManualOutput(running=False)
    with Engine(output=out, sample_rate=SR) as eng:
        eng.wait_ready(5)
        eng.load(scale()).result(5)
        eng.play()
        assert eng.state == "waiting_for_audio"
        out.tick(50)  # a suspended output consumes nothing: the clock holds
        assert eng.position_frames == 0
        assert "waiting_for_audio" in transports(eng.bus)
        out.resume()
        out.tick(50)
        assert eng.state == "playing"
        assert eng.position_frames > 0
        assert transports(eng.bus)[-1] == "playing"


def test_missing_output_reports_why():
    class Broken(ManualOutput):
        def start(self) -> None:
            self._fail("no audio device: PortAudio found 0 output devices")

    with Engine(output=Broken(), sample_rate=SR) as eng:
        eng.wait_ready(5)
        eng.load(scale()).result(5)
        eng.play()
        assert eng.state == "waiting_for_audio"
        assert "0 output devices" in eng.status()["output_error"]


@pytest.mark.seed("ENG-10")
def test_concurrent_loads_latest_wins_never_a_mix(engine):
    scores = [Score.from_notes([(j * 100, 90, 40 + i, 80) for j in range(200 + i)])
              for i in range(20)]
    futures = []
    lock = threading.Lock()

    def submit(s):
        f = engine.load(s)
        with lock:
            futures.append((engine.loads.latest, s, f))

    threads = [threading.Thread(target=submit, args=(s,)) for s in scores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _, _, f in futures:
        f.result(10)
    newest = max(futures, key=lambda x: x[0])[1]
    deadline = time.monotonic() + 5
    while engine.loads.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.score is newest
    assert engine.timeline.score is newest
    assert engine.state == "ready"


@pytest.mark.seed("ENG-06")
def test_failed_load_keeps_the_previous_score_playing(engine, manual):
    engine.load(scale(32)).result(5)
    engine.play()
    manual.tick(20)
    before = engine.position_frames
    with pytest.raises(ScoreError, match=r"tracks\[0\]\.notes\[0\]\.pitch: 300 is above 127"):
        engine.load(b'{"format":"nvx1","version":1,"ticks_per_quarter":480,"tracks":'
                    b'[{"notes":[{"start":0,"duration":1,"pitch":300,"velocity":1}]}]}'
                    ).result(5)
    manual.tick(20)
    assert engine.state == "playing" and engine.score.n_notes == 32
    assert engine.position_frames > before
    assert any(e.type == "error" for e in engine.bus.history)


@pytest.mark.seed("ENG-01")
def test_calls_during_start_up_are_queued_not_dropped():
    gate = threading.Event()
    out = ManualOutput()
    eng = Engine(output=out, sample_rate=SR, boot=lambda: gate.wait(5))
    try:
        eng.load(scale()).result(5)
        eng.play()  # audio side not ready yet: queued
        eng.note_on(64, 100)
        assert not eng.ready and eng.state == "ready"
        with pytest.raises(EngineTimeout, match=r"not ready after 0\.1 s"):
            eng.wait_ready(0.1)
        gate.set()
        eng.wait_ready(5)
        assert eng.state == "playing"
        out.keep = True
        out.tick(40)
        assert np.abs(np.concatenate(out.captured)).max() > 0.01  # it sounds
    finally:
        eng.close()


@pytest.mark.seed("SCL-03")
def test_a_hundred_concurrent_play_calls_end_consistent(engine, manual):
    engine.load(scale()).result(5)
    barrier = threading.Barrier(100)
    errors = []

    def hammer(i):
        try:
            barrier.wait(5)
            engine.play()
            if i % 3 == 0:
                engine.pause()
            engine.play()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "deadlock"
    assert not errors
    assert engine.state == "playing" and engine.scheduler.playing


@pytest.mark.seed("SCL-01")
def test_two_engines_in_one_process_share_no_state():
    a_out, b_out = ManualOutput(), ManualOutput()
    with Engine(output=a_out, sample_rate=SR) as a, Engine(output=b_out, sample_rate=SR) as b:
        a.wait_ready(5)
        b.wait_ready(5)
        a.load(scale()).result(5)
        b.load(scale(3)).result(5)
        a.play()
        a.tempo = 2.0
        a_out.tick(30)
        b_out.tick(30)
        assert a.state == "playing" and b.state == "ready"
        assert b.position_frames == 0 and a.position_frames > 0
        assert a.synth is not b.synth and a.bus is not b.bus and b.tempo == 1.0


def test_illegal_calls_raise_clear_errors(engine):
    with pytest.raises(TransportError, match="no score is loaded"):
        engine.play()
    with pytest.raises(TransportError, match="seek: no score"):
        engine.seek(1.0)
    engine.load(scale()).result(5)
    with pytest.raises(ValueError, match="seek: -1"):
        engine.seek(-1)
    with pytest.raises(ValueError, match="tempo: 0"):
        engine.tempo = 0
    with pytest.raises(ValueError, match="track: 5"):
        engine.mute(5)


def test_seek_restores_pedal_and_program(engine, manual):
    c = np.zeros(2, dtype=CONTROL_DTYPE)
    c["time"], c["number"], c["value"] = [0, 10], [64, 128], [127, 33]
    score = scale(16).replace(controls=c)
    engine.load(score).result(5)
    engine.seek(3.0)
    manual.tick(4)
    state = engine.synth.channel_state(0)
    assert state["controls"][64] == 127 and state["program"] == 33
    assert abs(engine.position - 3.0) < 0.02


def test_pause_resume_and_stop_positions(engine, manual):
    engine.load(scale(32)).result(5)
    engine.play()
    manual.tick(100)
    engine.pause()
    paused = engine.position
    manual.tick(100)
    assert engine.position == paused and engine.state == "paused"
    engine.play()
    manual.tick(50)
    assert engine.position > paused
    engine.stop()
    assert engine.position == 0.0 and engine.state == "ready"


def test_loop_region_keeps_the_playhead_inside(engine, manual):
    engine.load(scale(16)).result(5)
    engine.set_loop(1.0, 2.0)
    engine.seek(1.0)
    engine.play()
    seen = []
    for _ in range(60):
        manual.tick(10)
        seen.append(engine.position)
    assert min(seen[3:]) >= 0.99 and max(seen) < 2.0
    assert max(seen) > 1.8


def test_tempo_change_keeps_musical_position(engine, manual):
    engine.load(scale(32)).result(5)
    engine.play()
    manual.tick(200)
    before = engine.position
    engine.tempo = 2.0
    manual.tick(2)
    assert abs(engine.position - before) < 0.1
    t0 = engine.position
    manual.tick(int(SR / manual.block))  # one second of audio = two seconds of score
    assert abs(engine.position - t0 - 2.0) < 0.05


def test_mute_and_solo_silence_tracks_offline():
    from mos_lab.score import Track

    two = scale(4)
    notes = two.notes.copy()
    notes["track"][::2] = 1
    notes["channel"][::2] = 1
    score = two.replace(notes=notes, tracks=(Track("a", 0, 0), Track("b", 0, 1)))
    with Engine(output=ManualOutput(), sample_rate=SR) as eng:
        eng.load(score).result(5)
        full = eng.render(tail_s=0.2)
        eng.mute(0)
        eng.mute(1)
        assert np.abs(eng.render(tail_s=0.2)).max() == 0
        eng.mute(0, False)
        eng.mute(1, False)
        eng.solo(1)
        solo = eng.render(tail_s=0.2)
        assert np.abs(solo).max() > 0 and not np.array_equal(solo, full)


def test_metronome_clicks_on_beats():
    score = Score.from_notes([(0, 1, 30, 1)]).replace(
        notes=Score.from_notes([(1920 * 2, 10, 30, 1)]).notes)
    audio = render(score, sample_rate=SR, metronome=True, tail_s=0.1).array()
    for beat in range(4):
        frame = beat * SR // 2
        assert np.abs(audio[frame : frame + 200]).max() > 0.01
        if beat:
            before = np.abs(audio[frame - 5 : frame]).max()
            assert before < np.abs(audio[frame : frame + 200]).max()
