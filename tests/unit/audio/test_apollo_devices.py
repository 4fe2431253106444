"""Outputs: ring buffer, null clock, offline WAV/FLAC, PortAudio errors, JACK real time."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from _apollo_helpers import SR
from hypothesis import given, settings
from hypothesis import strategies as st

import mos_lab.audio.devices.sounddevice_out as sdo
from mos_lab.audio import NullOutput, OutputError, SoundDeviceOutput, Synth
from mos_lab.audio.devices.offline import OfflineOutput
from mos_lab.audio.devices.ring import RingBuffer


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=60))
@settings(max_examples=60, deadline=None)
def test_ring_buffer_is_a_fifo(ops: list[tuple[int, int]]) -> None:
    ring = RingBuffer(32)
    written: list[float] = []
    read: list[float] = []
    counter = 0.0
    for w, r in ops:
        blk = np.arange(counter, counter + w, dtype=np.float32)[:, None].repeat(2, 1)
        n = ring.write(blk)
        written += list(blk[:n, 0])
        counter += n
        out = np.full((r, 2), -1.0, np.float32)
        got = ring.read(out)
        read += list(out[:got, 0])
        assert not out[got:].any()
        assert 0 <= ring.available <= 32 and ring.space == 32 - ring.available
    assert read == written[: len(read)]


def test_ring_buffer_threads_keep_order() -> None:
    ring = RingBuffer(1000)
    total = 200_000
    received: list[np.ndarray] = []

    def produce() -> None:
        pos = 0
        while pos < total:
            blk = np.arange(pos, min(total, pos + 300), dtype=np.float32)[:, None].repeat(2, 1)
            pos += ring.write(blk)

    t = threading.Thread(target=produce)
    t.start()
    got = 0
    out = np.zeros((256, 2), np.float32)
    deadline = time.monotonic() + 20
    while got < total and time.monotonic() < deadline:
        n = ring.read(out)
        received.append(out[:n, 0].copy())
        got += n
    t.join()
    np.testing.assert_array_equal(np.concatenate(received), np.arange(total, dtype=np.float32))


def test_null_output_clock_runs_and_stops() -> None:
    synth = Synth()
    synth.note_on(0, 60, 100)
    before = threading.active_count()
    with NullOutput(SR, 256, source=synth.process, lookahead_s=0.05, keep=True) as out:
        assert out.state == "stopped"
        out.start()
        time.sleep(0.4)
        assert out.state == "running" and out.error is None
        played = out.frames_played
        assert 0.2 * SR < played < 0.8 * SR
        out.suspend()
        time.sleep(0.05)
        frozen = out.frames_played
        time.sleep(0.1)
        assert out.frames_played == frozen and out.state == "suspended"
        out.resume()
        time.sleep(0.1)
        assert out.frames_played > frozen
        out.stop()
        assert out.state == "stopped"
    audio = np.concatenate(out.captured)
    assert np.abs(audio).max() > 0.05
    assert out.underruns <= 2
    assert threading.active_count() == before


def test_null_output_reports_a_failing_source() -> None:
    def broken(block: np.ndarray) -> None:
        raise RuntimeError("synth exploded")

    out = NullOutput(SR, 256, source=broken)
    out.start()
    assert out.state == "error" and "exploded" in (out.error or "")
    out.close()


def test_offline_output_writes_wav_and_flac(tmp_path: os.PathLike) -> None:
    pytest.importorskip("soundfile")
    import soundfile as sf

    synth = Synth()
    synth.note_on(0, 69, 100)
    out = OfflineOutput(SR, 512, source=synth.process)
    t0 = time.perf_counter()
    audio = out.render(SR)
    assert time.perf_counter() - t0 < 1.0, "faster than real time"
    assert audio.shape == (SR, 2) and out.frames_played == SR and out.state == "running"
    for ext in ("wav", "flac"):
        path = os.path.join(tmp_path, f"a4.{ext}")
        out.write(path)
        data, rate = sf.read(path, dtype="float32")
        assert rate == SR and data.shape == (SR, 2)
        np.testing.assert_allclose(data, audio, atol=1e-4)
    out.close()


def test_missing_portaudio_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise OutputError("PortAudio library not found (apt-get install libportaudio2)")

    monkeypatch.setattr(sdo, "import_sounddevice", missing)
    out = SoundDeviceOutput(SR, 256, source=Synth().process)
    out.start()
    assert out.state == "error" and "libportaudio2" in (out.error or "")
    out.close()


def test_missing_or_wrong_device_is_reported_not_pretended() -> None:
    """With no output device, or a device index that does not exist, the output says why."""
    try:
        devices = SoundDeviceOutput.devices()
    except OutputError as exc:  # PortAudio itself is missing: reported the same way
        assert "libportaudio2" in str(exc)
        return
    out = SoundDeviceOutput(SR, 256, device=None if not devices else 99_999)
    out.start()
    assert out.state == "error"
    expected = "no audio output device" if not devices else "99999"
    assert expected in (out.error or ""), out.error
    assert out.frames_played == 0
    out.close()


@contextlib.contextmanager
def gil_hog() -> Iterator[None]:
    """A thread running a pure-Python busy loop (holding the GIL) for the block's time."""
    stop = threading.Event()

    def burn() -> None:
        x = 0
        while not stop.is_set():
            for i in range(10_000):
                x += i * i

    burner = threading.Thread(target=burn)
    burner.start()
    try:
        yield
    finally:
        stop.set()
        burner.join()


def _run_device(device: int, seconds: float, busy: bool = False) -> SoundDeviceOutput:
    synth = Synth(max_voices=32)
    for i, p in enumerate((48, 52, 55, 60, 64, 67)):
        synth.note_on(i % 4, p, 90)
    out = SoundDeviceOutput(SR, 256, source=synth.process, lookahead_s=0.15, device=device)
    with gil_hog() if busy else contextlib.nullcontext():
        _play_for(out, synth, seconds)
    return out


def _play_for(out: SoundDeviceOutput, synth: Synth, seconds: float) -> None:
    """Run ``out`` for ``seconds`` with a note now and then; closed after, also on error."""
    try:
        out.start()
        assert out.state in ("waiting", "running"), out.error
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            time.sleep(0.5)
            if int(time.monotonic()) % 5 == 0:  # keep notes coming
                synth.note_on(0, 60 + int(time.monotonic()) % 12, 80)
    finally:
        out.close()


@pytest.mark.audio_device
def test_realtime_output_on_jack_dummy(jack_device: int) -> None:
    interval = sys.getswitchinterval()
    out = _run_device(jack_device, 3.0)
    assert sys.getswitchinterval() == interval, "the GIL switch interval is restored"
    expected = 3.0 * SR / 256
    assert out.error is None and out.state == "stopped"
    assert 0.6 * expected < out.callbacks < 1.4 * expected
    assert out.frames_played > 0.6 * 3.0 * SR
    assert out.underruns <= 3, out.stats()


@pytest.mark.soak
@pytest.mark.audio_device
@pytest.mark.timeout(1800)  # (the suite's 300 s would stop the 600 s run)
def test_soak_ten_minutes_with_busy_python_thread(jack_device: int) -> None:
    seconds = float(os.environ.get("APOLLO_SOAK_S", "600"))
    out = _run_device(jack_device, seconds, busy=True)
    assert out.error is None
    assert out.callbacks > 0.9 * seconds * SR / 256
    assert out.underruns == 0, out.stats()


def _run_soundfont(device: int, seconds: float, bank: object
                   ) -> tuple[SoundDeviceOutput, Synth, list[tuple[float, int]]]:
    """The default SoundFont set on the device with a GIL-holding thread beside it:
    chords on piano, strings, flute and organ every 0.5 s, with the controllers that
    move sounding voices (volume, pan, mod wheel, CC74 brightness, reverb and chorus
    sends, pitch wheel) changing all the while. Also returns (seconds, underruns so far)
    every 0.5 s where they grew."""
    synth = Synth(SR, max_voices=64, instrument_bank=bank)  # type: ignore[arg-type]
    for ch, prog in enumerate((0, 48, 73, 19)):
        synth.send("program", ch, prog)
    synth.warm_up()
    out = SoundDeviceOutput(SR, 256, source=synth.process, lookahead_s=0.15, device=device)
    rng = np.random.default_rng(7)
    held: list[tuple[int, int]] = []

    def chord() -> None:
        nonlocal held
        for ch, key in held:
            synth.note_off(ch, key)
        held = [(ch, int(k)) for ch in range(4)
                for k in 48 + 12 * (ch % 2) + rng.choice(12, 3, replace=False)]
        for ch, key in held:
            synth.note_on(ch, key, int(rng.integers(30, 120)))

    chord()  # queued before the start, as the built-in soak's notes: the prefill plays it
    with gil_hog():
        try:
            out.start()
            assert out.state in ("waiting", "running"), out.error
            t0 = time.monotonic()
            t_end = t0 + seconds
            first = True
            marks: list[tuple[float, int]] = []
            while time.monotonic() < t_end:
                if not first:
                    chord()
                first = False
                if out.underruns > (marks[-1][1] if marks else 0):
                    marks.append((round(time.monotonic() - t0, 1), out.underruns))
                for _ in range(10):  # controllers every 50 ms
                    ch = int(rng.integers(0, 4))
                    for cc in (7, 10, 1, 74, 91, 93, 11):
                        synth.send("control", ch, cc, int(rng.integers(0, 128)))
                    synth.send("pitch_bend", ch, int(rng.integers(-8192, 8192)))
                    time.sleep(0.05)
        finally:
            out.close()
    return out, synth, marks


@pytest.mark.soak
@pytest.mark.audio_device
@pytest.mark.timeout(1800)
def test_soak_default_soundfont_with_busy_python_thread(jack_device: int) -> None:
    from mos_lab.audio.instruments.defaults import GM_SETS, load_bank

    # the set a user hears (the suite's MOS_LAB_SOUNDFONT=builtin is for expected audio)
    path = next((p for p in GM_SETS if os.path.isfile(p)), None)
    if path is None:
        pytest.skip("no default SoundFont (apt-get install musescore-general-soundfont-small)")
    bank = load_bank(path)  # presets resolve at their first note, in the audio thread
    seconds = float(os.environ.get("APOLLO_SOAK_S", "600"))
    out, synth, marks = _run_soundfont(jack_device, seconds, bank)
    assert out.error is None
    assert out.callbacks > 0.9 * seconds * SR / 256
    assert synth.sounding_voices > 0 or out.frames_played > 0
    assert out.underruns == 0, (out.underruns, marks)
