"""Engine I/O: heard-time note events, MIDI out/in, real-time audio on JACK, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import mido
import numpy as np
import pytest
import soundfile as sf

from mos_lab.engine import Engine
from mos_lab.score import Score
from tests.conftest import corpus_files
from tests.unit.engine.conftest import ManualOutput

SR = 48_000


def scale(n: int = 8) -> Score:
    return Score.from_notes([(i * 480, 400, 60 + i, 100) for i in range(n)])


class FakePort:
    """A mido-like port: records sent messages; ``callback`` receives incoming ones."""

    def __init__(self) -> None:
        self.sent: list[mido.Message] = []
        self.callback = None
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True


def wait_for(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_note_events_are_published_when_heard_not_when_rendered(engine, manual):
    engine.load(scale()).result(5)
    seen: list = []
    engine.bus.subscribe("note_on", seen.append, owner=engine)
    engine.play()
    manual.tick(1)  # renders ~50 ms ahead, consumes one block: the first note not heard yet
    time.sleep(0.02)
    assert not seen or seen[0].frame <= manual.ring.frames_read
    manual.tick(int(1.1 * SR / manual.block))
    wait_for(lambda: len(seen) >= 3)
    for ev in seen:
        assert ev.frame <= manual.ring.frames_read  # never before the audio reached it
    assert [e["pitch"] for e in seen[:3]] == [60, 61, 62]
    assert seen[1].frame - seen[0].frame == SR // 2  # one beat at 120 BPM, exact


def test_seek_drops_note_events_that_will_not_be_heard(engine, manual):
    engine.load(scale(16)).result(5)
    engine.play()
    manual.tick(2)
    engine.seek(5.0)
    manual.tick(2)
    time.sleep(0.02)
    assert all(f >= 0 for f in (e[0] for e in engine.heard._q))


def test_midi_out_mirrors_heard_notes_and_silences_on_close(engine, manual):
    port = FakePort()
    out = engine.midi_out(port)
    engine.load(scale(4)).result(5)
    engine.play()
    manual.tick(int(2.2 * SR / manual.block))
    wait_for(lambda: sum(m.type == "note_on" for m in port.sent) == 4)
    assert [m.note for m in port.sent if m.type == "note_on"] == [60, 61, 62, 63]
    out.close()
    assert sum(m.type == "control_change" and m.control == 123 for m in port.sent) == 16
    assert engine.bus.subscriber_count("note_on") == 0


def test_midi_in_plays_the_current_instrument_live(engine, manual):
    port = FakePort()
    handle = engine.midi_in(port)
    seen: list = []
    engine.bus.subscribe("note_on", seen.append, owner=engine)
    manual.keep = True
    port.callback(mido.Message("note_on", note=69, velocity=100))
    port.callback(mido.Message("control_change", control=64, value=127))
    port.callback(mido.Message("sysex", data=[1, 2, 3]))  # ignored, not an error
    manual.tick(20)
    assert np.abs(np.concatenate(manual.captured)).max() > 0.01
    assert seen and seen[0]["pitch"] == 69
    assert engine.synth.channel_state(0)["controls"][64] == 127
    assert handle.received == 2 and handle.rejected == 0
    handle.close()
    assert port.callback is None


def _scale_through(virtual, reader) -> tuple[list[int], int]:
    """Play a 3-note scale with MIDI out on ``virtual``; what ``reader`` got, and sent."""
    list(reader.iter_pending())  # nothing left over from an earlier try
    with Engine(output=ManualOutput(), sample_rate=SR) as eng:
        eng.wait_ready(5)
        out = eng.midi_out(virtual)
        eng.load(scale(3)).result(5)
        eng.play()
        eng.output.tick(int(1.6 * SR / 512))  # past the last note's end (1.42 s)
        got: list = []
        deadline = time.monotonic() + 3
        while len([m for m in got if m.type == "note_on"]) < 3 and time.monotonic() < deadline:
            got += list(reader.iter_pending())
            time.sleep(0.01)
        wait_for(lambda: out.sent >= 6, 3)
        return [m.note for m in got if m.type == "note_on"], out.sent


@pytest.mark.audio_device
def test_midi_through_a_real_jack_midi_port(jack_device):
    """MIDI out through rtmidi's JACK backend to a virtual port, read back by a real input.

    The engine's side is checked exactly (every note handed to the port). JACK itself
    may lose a cycle's MIDI when a client misses its deadline on a starved CPU (seen
    here with both cores busy), so the round trip gets three tries.
    """
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    try:
        virtual = backend.open_output("mos-lab-test", virtual=True)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"rtmidi JACK backend unavailable: {exc}")
    name = next(n for n in backend.get_input_names() if "mos-lab-test" in n)
    reader = backend.open_input(name)
    try:
        tries = []
        for _ in range(3):
            notes, sent = _scale_through(virtual, reader)
            assert sent == 6  # three note-ons and three note-offs, none lost on our side
            tries.append(notes)
            if notes == [60, 61, 62]:
                break
        assert tries[-1] == [60, 61, 62], tries
    finally:
        reader.close()
        virtual.close()


@pytest.mark.audio_device
@pytest.mark.seed("APO-08")
def test_engine_plays_in_real_time_on_a_clocked_device(jack_device):
    """A real PortAudio stream (JACK dummy, 48 kHz): callbacks run, position follows them."""
    from mos_lab.audio import SoundDeviceOutput

    out = SoundDeviceOutput(SR, 256, device=jack_device, lookahead_s=0.1)
    path = corpus_files("midi", "multitrack")[0]
    with Engine(output=out, sample_rate=SR) as eng:
        eng.wait_ready(10)
        assert out.state in ("running", "waiting"), out.error
        eng.load(path).result(10)
        eng.play()
        t0 = time.monotonic()
        time.sleep(2.0)
        elapsed = time.monotonic() - t0
        pos = eng.position
        assert eng.state == "playing"
        assert out.callbacks > 0.8 * elapsed * SR / 256
        assert abs(pos - elapsed) < 0.35  # the device clock, minus the lookahead
        assert out.underruns <= 2  # loose on a shared CI core; the soak test is strict
        eng.stop()


@pytest.mark.soak
@pytest.mark.audio_device
@pytest.mark.timeout(float(os.environ.get("MOS_LAB_SOAK_S", 600)) + 120)
def test_soak_ten_minutes_with_a_busy_python_thread(jack_device):
    from mos_lab.audio import SoundDeviceOutput

    seconds = float(os.environ.get("MOS_LAB_SOAK_S", 600))
    stop = threading.Event()

    def busy() -> None:
        x = 0
        while not stop.is_set():
            x = (x * 31 + 7) % 1_000_003

    out = SoundDeviceOutput(SR, 256, device=jack_device, lookahead_s=0.15)
    with Engine(output=out, sample_rate=SR) as eng:
        eng.wait_ready(10)
        eng.load(corpus_files("midi", "multitrack")[0]).result(10)
        eng.set_loop(0.0, 60.0)
        hog = threading.Thread(target=busy, daemon=True)
        hog.start()
        eng.play()
        time.sleep(seconds)
        stop.set()
        hog.join()
        assert out.underruns == 0, f"{out.underruns} underruns, {out.callbacks} callbacks"


def mos(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mos_lab", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def test_cli_render_wav_matches_the_engine(tmp_path):
    src = tmp_path / "s.mid"
    scale(4).save(src)
    out = mos("render", str(src), "-o", str(tmp_path / "s.wav"), "--sample-rate", "44100")
    assert out.returncode == 0, out.stderr
    assert "x real time" in out.stdout
    audio, sr = sf.read(tmp_path / "s.wav", dtype="float32")
    assert sr == 44100 and audio.shape[1] == 2
    assert abs(len(audio) / sr - (scale(4).duration + 3.0)) < 0.01
    assert np.abs(audio).max() > 0.05


def test_cli_render_and_play_fail_clearly(tmp_path):
    bad = mos("render", "missing.mid", "-o", str(tmp_path / "x.wav"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not found" in bad.stderr
    src = tmp_path / "s.mid"
    scale(2).save(src)
    no_sf = mos("render", str(src), "-o", str(tmp_path / "x.wav"), "--soundfont", "nope.sf2")
    assert no_sf.returncode == 2 and "Traceback" not in no_sf.stderr
    env = dict(os.environ, JACK_NO_START_SERVER="1")
    play = subprocess.run([sys.executable, "-m", "mos_lab", "play", str(src), "--device", "999"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert play.returncode == 2 and "Traceback" not in play.stderr


SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"


@pytest.mark.skipif(not os.path.exists(SF2), reason="timgm6mb-soundfont not installed")
def test_soundfont_loads_in_background_with_progress_and_notes_keep_sounding(engine, manual):
    progress: list = []
    engine.bus.subscribe("progress", progress.append, owner=engine)
    manual.keep = True
    fut = engine.load_instruments(SF2)
    engine.note_on(60, 100)  # during the load: plays on the current (built-in) instruments
    manual.tick(10)
    assert np.abs(np.concatenate(manual.captured)).max() > 0.01
    bank = fut.result(30)
    manual.tick(2)
    assert engine.synth.bank is bank
    fractions = [e["done"] for e in progress if e["task"] == "instruments"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0


def test_a_broken_soundfont_keeps_the_instruments_and_reports(engine, manual, tmp_path):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00sfbkLIST" + b"\x00" * 8)
    errors: list = []
    engine.bus.subscribe("error", errors.append, owner=engine)
    before = engine.synth.bank
    fut = engine.load_instruments(bad)
    with pytest.raises(Exception):  # noqa: B017 - the SF2 reader's own error type
        fut.result(10)
    manual.tick(2)
    assert engine.synth.bank is before
    wait_for(lambda: bool(errors))
    assert "bad.sf2" in errors[0]["message"]
