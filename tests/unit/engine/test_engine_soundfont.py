"""Engine(soundfont=...) and the Session: which instrument set plays, chosen at
construction (bad names refused there), loaded in the background on first use."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from mos_lab.audio.instruments.defaults import GM_SETS, load_bank
from mos_lab.engine import Engine, render
from mos_lab.engine.engine import resolve_soundfont
from mos_lab.kernel.session import Session
from mos_lab.score import Score
from mos_lab.testing import ManualOutput

SF3, SF2 = GM_SETS  # MuseScore_General_Lite.sf3, TimGM6mb.sf2 (Debian's paths)
SR = 22_050
needs_sf2 = pytest.mark.skipif(not os.path.isfile(SF2),
                               reason="timgm6mb-soundfont not installed")


def note() -> Score:
    """One piano C4 held for 0.5 s."""
    return Score.from_notes([(0, 480, 60, 100)])


def spectrum(audio: np.ndarray) -> np.ndarray:
    """Normalised magnitude spectrum of the first second (mono), in 40 Hz bands."""
    mono = audio[:SR, 0].astype(np.float64)
    mag = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    bands = mag[: len(mag) // 40 * 40].reshape(-1, 40).sum(axis=1)
    return bands / np.linalg.norm(bands)


@needs_sf2
def test_a_soundfont_engine_renders_the_soundfonts_spectrum_not_the_builtin_one():
    with Engine(output="null", sample_rate=SR, soundfont=SF2, start=False) as sf_eng, \
            Engine(output="null", sample_rate=SR, soundfont=None, start=False) as plain:
        assert sf_eng.soundfont == SF2 and plain.soundfont is None
        got = sf_eng.render(note(), tail_s=0.5)  # waits for the set: never half built-in
        builtin = plain.render(note(), tail_s=0.5)
    direct = render(note(), sample_rate=SR, tail_s=0.5, bank=load_bank(SF2)).array()
    np.testing.assert_array_equal(got, direct)  # the SoundFont's own voice, sample for sample
    assert np.abs(got).max() > 0.05
    similar_sf = float(spectrum(got) @ spectrum(direct))
    similar_builtin = float(spectrum(got) @ spectrum(builtin))
    assert similar_sf > 0.999 and similar_builtin < 0.9, (similar_sf, similar_builtin)


@needs_sf2
def test_the_set_loads_on_first_use_in_the_background_with_progress():
    out = ManualOutput(SR)
    with Engine(output=out, sample_rate=SR, soundfont=SF2) as eng:
        eng.wait_ready(10)
        out.tick(2)
        events = [e for e in eng.bus.history if e.type == "progress"]
        assert not [e for e in events if e["task"] == "instruments"]  # idle: nothing loaded
        builtin = eng.synth.bank
        eng.note_on(60)  # first use: starts the load; the note plays on what is there now
        out.tick(1)
        bank = eng.wait_instruments(30)
        out.tick(1)
        assert eng.synth.bank is bank is not builtin and bank.name == "TimGM6mb.sf2"
        done = [e["done"] for e in eng.bus.history
                if e.type == "progress" and e["task"] == "instruments"]
        assert done[0] == 0.0 and done[-1] == 1.0
        assert eng.status()["instruments"] == "TimGM6mb.sf2"


def test_the_default_is_musescore_general_lite_then_timgm6mb(monkeypatch):
    monkeypatch.delenv("MOS_LAB_SOUNDFONT", raising=False)
    expected = next((p for p in GM_SETS if os.path.isfile(p)), None)
    if expected is None:
        pytest.skip("neither musescore-general-soundfont-small nor timgm6mb-soundfont")
    with Engine(output="null", start=False) as eng:
        assert eng.soundfont == expected
    if not os.path.isfile(SF3):
        pytest.skip("musescore-general-soundfont-small not installed (TimGM6mb checked)")
    assert Path(expected).name == "MuseScore_General_Lite.sf3"


def test_bad_soundfonts_are_refused_at_construction_naming_the_file(tmp_path, monkeypatch):
    before = threading.active_count()
    missing = tmp_path / "nope.sf2"
    with pytest.raises(FileNotFoundError, match=re.escape(f"soundfont: {missing} not found")):
        Engine(output="null", soundfont=missing)
    text = tmp_path / "notes.sf2"
    text.write_text("not a SoundFont")
    with pytest.raises(ValueError, match=re.escape(f"soundfont: {text} is not a SoundFont")):
        Engine(output="null", soundfont=str(text))
    monkeypatch.setenv("MOS_LAB_SOUNDFONT", str(missing))
    env_error = re.escape(f"MOS_LAB_SOUNDFONT: {missing} not found")
    with pytest.raises(FileNotFoundError, match=env_error):
        Engine(output="null")
    with pytest.raises(FileNotFoundError, match=r"nope\.sf2"):
        Session(output="null", plugins=False)
    assert threading.active_count() == before  # nothing was started


def test_mos_lab_soundfont_builtin_is_honoured(monkeypatch):
    monkeypatch.setenv("MOS_LAB_SOUNDFONT", "builtin")
    assert resolve_soundfont() is None and resolve_soundfont("BUILTIN") is None
    with Engine(output="null", sample_rate=SR, start=False) as eng:
        assert eng.soundfont is None
        got = eng.render(note(), tail_s=0.2)
        assert eng.status()["instruments"] == "built-in"
    np.testing.assert_array_equal(got, render(note(), sample_rate=SR, tail_s=0.2).array())


@needs_sf2
def test_sessions_play_the_default_set_loaded_once(monkeypatch):
    monkeypatch.setenv("MOS_LAB_SOUNDFONT", SF2)
    a = Session(output="null", sample_rate=SR, plugins=False)
    b = Session(output="null", sample_rate=SR, plugins=False)
    c = Session(output="null", sample_rate=SR, plugins=False, soundfont=None)
    try:
        assert a.soundfont == a.engine.soundfont == SF2 and c.engine.soundfont is None
        a.load(note())
        bank = a.engine.wait_instruments(30)
        assert bank.name == "TimGM6mb.sf2"
        assert b.engine.wait_instruments(30) is bank  # one decoded set per process
        assert c.engine.wait_instruments(30) is c.engine.synth.fallback_bank
    finally:
        for s in (a, b, c):
            s.close()
