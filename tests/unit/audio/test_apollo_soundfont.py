"""SoundFont 2: parsing TimGM6mb.sf2, exact pitch, loops, drums, async loading with cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _apollo_helpers import SR, peak_hz, render

from mos_lab.audio import SoundFontBank, Synth
from mos_lab.audio.cache import SampleCache
from mos_lab.audio.instruments.sf2 import SF2Error, SF2File

SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
pytestmark = pytest.mark.skipif(not os.path.exists(SF2),
                                reason="TimGM6mb.sf2 missing: apt-get install timgm6mb-soundfont")


@pytest.fixture(scope="module")
def bank() -> SoundFontBank:
    return SoundFontBank.load(SF2)


def test_presets_and_regions_parse(bank: SoundFontBank) -> None:
    assert (0, 0) in bank.sf2.presets and (128, 0) in bank.sf2.presets
    piano = bank.instrument(0, False)
    assert piano.name.startswith("Piano")
    regions = piano.regions  # type: ignore[attr-defined]
    assert regions and all(0 <= r.key_lo <= r.key_hi <= 127 for r in regions)
    covered = {k for r in regions for k in range(r.key_lo, r.key_hi + 1)}
    assert covered >= set(range(21, 109))
    assert bank.data.dtype == np.float32 and np.abs(bank.data).max() <= 1.0


def test_sf2_piano_a4_pitch(bank: SoundFontBank) -> None:
    x = render([(0, "note_on", 0, 69, 100)], 1.0, Synth(instrument_bank=bank))[:, 0]
    assert abs(peak_hz(x[2400:]) - 440.0) < 1.0


def test_sf2_looped_sustain_and_release(bank: SoundFontBank) -> None:
    synth = Synth(instrument_bank=bank)
    ev = [(0, "program", 0, 19), (0, "note_on", 0, 60, 100), (3 * SR, "note_off", 0, 60)]
    x = render(ev, 6.0, synth)
    assert np.abs(x[int(2.5 * SR):3 * SR]).max() > 0.01, "organ loop sustains"
    # the voice has ended; what is left is the master reverb's tail, far below hearing
    assert synth.sounding_voices == 0 and np.abs(x[-SR // 4:]).max() < 1e-5
    dry = Synth(instrument_bank=bank, effects=False)
    assert not render(ev, 6.0, dry)[-SR // 4:].any()


def test_sf2_drums_and_programs_sound(bank: SoundFontBank) -> None:
    synth = Synth(instrument_bank=bank)
    ev = [(0, "note_on", 9, 36, 110), (0, "note_on", 9, 42, 110)]
    ev += [(i * 4800, "program", 1, p) for i, p in enumerate(range(0, 128, 8))]
    ev += [(i * 4800 + 1, "note_on", 1, 60, 100) for i in range(16)]
    x = render(ev, 16 * 0.1 + 0.1, synth)
    for i in range(16):
        assert np.abs(x[i * 4800 + 100:(i + 1) * 4800]).max() > 1e-3
    assert np.isfinite(x).all() and np.abs(x).max() <= 1.0


def test_load_bank_async_from_path_with_progress() -> None:
    seen: list[tuple[str, dict]] = []
    synth = Synth()
    fut = synth.load_bank(SF2, emit=lambda t, p: seen.append((t, dict(p))))
    assert isinstance(fut.result(30), SoundFontBank)
    render([(0, "note_on", 0, 60, 100)], 0.05, synth)
    assert isinstance(synth.bank, SoundFontBank)
    fr = [p["fraction"] for t, p in seen if t == "audio.load.progress"]
    assert fr[0] == 0.0 and fr[-1] == 1.0 and len(fr) >= 4


def test_sample_cache_is_used(tmp_path: os.PathLike) -> None:
    cache = SampleCache(directory=tmp_path)
    a = SoundFontBank.load(SF2, cache=cache, preload=False)
    b = SoundFontBank.load(SF2, cache=cache, preload=False)
    assert cache.misses == 1 and cache.hits == 1 and a.data is b.data


def test_not_a_soundfont_raises_clear_error() -> None:
    with pytest.raises(SF2Error, match="RIFF"):
        SF2File(b"hello world, not a soundfont")
    with pytest.raises(SF2Error, match="missing"):
        SF2File(b"RIFF\x04\x00\x00\x00sfbk")


def test_a_loaded_bank_keeps_no_copy_of_the_file() -> None:
    """Once the samples are float32 the file's bytes are let go (an idle kernel holding a
    SoundFont pays for its samples only, not also for the file read to get them)."""
    import tracemalloc

    tracemalloc.start()
    try:
        loaded = SoundFontBank.load(SF2, preload=False)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    size = os.path.getsize(SF2)
    assert loaded.sf2.raw_samples.size == 0
    assert held < loaded.data.nbytes + size // 4, (
        f"{held / 1e6:.1f} MB held for {loaded.data.nbytes / 1e6:.1f} MB of samples "
        f"from a {size / 1e6:.1f} MB file")
    piano = loaded.instrument(0, False)  # presets still resolve from the copied tables
    assert piano.name.startswith("Piano") and piano.regions  # type: ignore[attr-defined]
