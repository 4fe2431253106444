"""Synth behaviour: exact pitch, sample-accurate onsets, limiter, controllers, families."""

from __future__ import annotations

import numpy as np
import pytest
from _apollo_helpers import (
    SR,
    NaNSource,
    SineBank,
    SineInstrument,
    peak_hz,
    render,
    render_events,
    run_blocks,
)

from mos_lab.audio import Synth
from mos_lab.audio.instruments.builtin import FAMILY_NAMES, BuiltinBank


def test_a4_is_440_hz_by_fft() -> None:
    x = render([(0, "note_on", 0, 69, 100)], 1.0)[:, 0]
    assert abs(peak_hz(x) - 440.0) < 1.0


@pytest.mark.parametrize("program", [0, 19, 40, 73])
def test_pitch_exact_for_sustained_families(program: int) -> None:
    x = render([(0, "program", 0, program), (0, "note_on", 0, 57, 100)], 1.0)[:, 0]
    assert abs(peak_hz(x[4800:]) - 220.0) < 1.0


@pytest.mark.parametrize("offset", [0, 1, 137, 511])
@pytest.mark.parametrize(("channel", "pitch"), [(0, 60), (9, 38), (9, 36)])
def test_onset_at_exact_sample(offset: int, channel: int, pitch: int) -> None:
    synth = Synth()
    out = np.zeros((512, 2), np.float32)
    synth.process(out, [(offset, "note_on", channel, pitch, 100)])
    assert not out[:offset].any()
    assert out[offset].any()


def test_onset_exact_across_blocks() -> None:
    frame = 512 * 7 + 301
    x = render([(frame, "note_on", 0, 60, 90)], 0.2)
    nz = np.flatnonzero(np.abs(x[:, 0]) + np.abs(x[:, 1]))
    assert nz[0] == frame


def test_loud_dense_output_is_limited_and_finite() -> None:
    events = [(0, "control", ch, 7, 127) for ch in range(16)]
    events += [(i * 7, "note_on", i % 16, 36 + (i * 5) % 60, 127) for i in range(64)]
    events += [(i * 8, "program", i % 16, (i * 8) % 128) for i in range(16)]
    x = render(events, 1.0, Synth(max_voices=64))
    assert np.isfinite(x).all()
    assert np.abs(x).max() <= 1.0
    assert np.abs(x).max() > 0.5


def test_a_limited_render_does_not_depend_on_the_block_size() -> None:
    """The limiter decides its gain per sample: a loud render in the real-time block
    size equals one in big offline blocks (only float rounding of the voices differs)."""
    events = [(0, "control", ch, 7, 127) for ch in range(16)]
    events += [(i * 2400, "note_on", i % 16, 36 + (i * 5) % 60, 127) for i in range(48)]
    events += [(24000 + i * 2400, "note_off", i % 16, 36 + (i * 5) % 60) for i in range(48)]
    renders = [render_events(events, 3 * SR, SR, Synth(max_voices=64), block=b)
               for b in (97, 512, 4096)]
    limiter = Synth()  # (the loud part is pulled down by the limiter, not only clipped)
    assert np.abs(renders[0]).max() > 0.8 and limiter.limiter.threshold < 0.95
    for x in renders[1:]:
        np.testing.assert_allclose(x, renders[0], rtol=0, atol=1e-5)


def test_nan_from_a_voice_never_reaches_the_output() -> None:
    synth = Synth(instrument_bank=SineBank(nan=True))
    x = run_blocks(synth, 8, {0: [(0, "note_on", 0, 60, 127)]})
    assert np.isfinite(x).all() and np.abs(x).max() <= 1.0
    assert isinstance(SineInstrument(nan=True).start(60, 100, SR)[0].source, NaNSource)


@pytest.mark.parametrize("program", range(0, 128, 8))
def test_release_tail_ends(program: int) -> None:
    synth = Synth()
    ev = [(0, "program", 0, program), (0, "note_on", 0, 60, 100),
          (SR // 2, "note_off", 0, 60)]
    x = render(ev, 4.0, synth)
    assert np.abs(x[: SR // 2]).max() > 1e-3, "family must sound"
    assert synth.sounding_voices == 0
    assert not x[-SR // 4:].any(), "tail must be silent after at most ~3.5 s"


def test_families_sound_different() -> None:
    spectra = []
    for program in range(0, 128, 8):
        x = render([(0, "program", 0, program), (0, "note_on", 0, 57, 100)], 0.5)[:, 0]
        s = np.abs(np.fft.rfft(x[2400:2400 + 16384] * np.hanning(16384)))[:2000]
        spectra.append(s / (np.linalg.norm(s) + 1e-12))
    sims = np.array(spectra) @ np.array(spectra).T
    np.fill_diagonal(sims, 0)
    assert sims.max() < 0.995
    assert len(FAMILY_NAMES) == 16


def test_struck_and_bowed_families_go_from_bright_to_mellow() -> None:
    """The kernel's bright->mellow crossfade is audible: piano, guitar, bass and strings
    start with a much higher spectral centroid than they settle to; organ stays put."""
    def centroid(x: np.ndarray) -> float:
        s = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        f = np.fft.rfftfreq(len(x), 1.0 / SR)
        k = f < 8000
        return float((f[k] * s[k]).sum() / s[k].sum())

    ratios = {}
    for program in (0, 16, 24, 32, 40):
        x = render([(0, "program", 0, program), (0, "note_on", 0, 57, 100)], 1.6)[:, 0]
        early = centroid(x[480:480 + 4096].astype(np.float64))
        late = centroid(x[int(1.5 * SR) - 4096:int(1.5 * SR)].astype(np.float64))
        ratios[program] = early / late
    assert all(ratios[p] > 1.8 for p in (0, 24, 32, 40)), ratios
    assert 0.9 < ratios[16] < 1.1, ratios


def test_drum_kit_keys_all_sound_and_end() -> None:
    synth = Synth()
    events = [(i * 2400, "note_on", 9, key, 110) for i, key in enumerate(range(35, 82))]
    x = render(events, 47 * 0.05 + 4.0, synth)
    for i in range(47):
        seg = x[i * 2400:(i + 1) * 2400]
        assert np.abs(seg).max() > 1e-3
    assert synth.sounding_voices == 0


def test_hihat_choke_group() -> None:
    synth = Synth()
    run_blocks(synth, 2, {0: [(0, "note_on", 9, 46, 100)], 1: [(0, "note_on", 9, 42, 100)]})
    run_blocks(synth, 2)
    assert [v.pitch for v in synth.voices.voices] == [42]


def test_sustain_pedal_holds_and_releases() -> None:
    synth = Synth(instrument_bank=SineBank())
    run_blocks(synth, 4, {0: [(0, "control", 0, 64, 127), (0, "note_on", 0, 60, 100),
                              (100, "note_off", 0, 60)]})
    run_blocks(synth, 100)
    assert synth.active_voices == 1
    run_blocks(synth, 20, {0: [(0, "control", 0, 64, 0)]})
    assert synth.active_voices == 0


def test_volume_pan_and_bend() -> None:
    x = render([(0, "control", 0, 7, 0), (0, "note_on", 0, 60, 100)], 0.2)
    assert not x.any()
    x = render([(0, "control", 0, 10, 0), (0, "note_on", 0, 60, 100)], 0.2)
    assert np.abs(x[:, 0]).max() > 0.05 and np.abs(x[:, 1]).max() < 1e-6
    x = render([(0, "pitch_bend", 0, 8191), (0, "program", 0, 73), (0, "note_on", 0, 69, 90)],
               1.0)[:, 0]
    assert abs(peak_hz(x[4800:]) - 440.0 * 2 ** (2 * 8191 / 8192 / 12)) < 1.5


def test_reset_controllers_and_all_notes_off_cc() -> None:
    synth = Synth(instrument_bank=SineBank())
    run_blocks(synth, 2, {0: [(0, "pitch_bend", 0, 4000), (0, "control", 0, 64, 127),
                              (0, "note_on", 0, 60, 100)]})
    run_blocks(synth, 1, {0: [(0, "control", 0, 121, 0)]})
    st = synth.channel_state(0)
    assert st["pitch_bend"] == 0 and st["controls"][64] == 0  # type: ignore[index]
    run_blocks(synth, 1, {0: [(0, "note_on", 0, 64, 100), (5, "control", 0, 123, 0)]})
    run_blocks(synth, 20)
    assert synth.active_voices == 0


def test_program_change_and_set_channel_state() -> None:
    synth = Synth()
    synth.set_channel_state(3, program=40, controls={7: 90, 10: 20, 64: 127}, pitch_bend=-100)
    st = synth.channel_state(3)
    assert st["program"] == 40 and st["pitch_bend"] == -100
    assert st["controls"][7] == 90  # type: ignore[index]
    run_blocks(synth, 1, {0: [(0, "note_on", 3, 60, 100), (1, "note_off", 3, 60)]})
    assert synth.voices.voices[0].sustained
    synth.set_channel_state(3, controls={64: 0})
    assert not synth.voices.voices[0].held
    with pytest.raises(ValueError):
        synth.set_channel_state(3, controls={7: 300})


def test_reset_silences_and_restores_defaults() -> None:
    synth = Synth()
    run_blocks(synth, 2, {0: [(0, "program", 2, 19), (0, "note_on", 2, 60, 100)]})
    synth.reset()
    x = run_blocks(synth, 2)
    assert synth.sounding_voices == 0 and synth.channel_state(2)["program"] == 0
    assert np.abs(x[256:]).max() == 0.0


def test_bad_block_is_rejected_atomically() -> None:
    synth = Synth()
    out = np.zeros((512, 2), np.float32)
    with pytest.raises(ValueError):
        synth.process(out, [(0, "note_on", 0, 60, 100), (10, "note_on", 0, 61, float("nan"))])
    with pytest.raises(ValueError):
        synth.process(out, [(600, "note_on", 0, 60, 100)])
    with pytest.raises(ValueError):
        synth.process(out, [(0, "wobble", 0, 60, 100)])
    assert synth.active_voices == 0 and synth.frames == 0


def test_rendering_events_is_faster_than_real_time() -> None:
    import time

    events = [(i * 2400, "note_on", i % 8, 40 + i % 40, 100) for i in range(200)]
    t0 = time.perf_counter()
    render_events(events, 5 * SR, SR, Synth(max_voices=32))
    assert time.perf_counter() - t0 < 5.0


def test_builtin_bank_covers_all_programs() -> None:
    bank = BuiltinBank()
    names = {bank.instrument(p, False).name for p in range(128)}
    assert names == set(FAMILY_NAMES)
    assert bank.instrument(0, True).name == "GM drum kit"


def test_table_store_reuses_registered_memory_and_separates_new_arrays() -> None:
    from mos_lab.audio.instruments.sources import TableStore

    store = TableStore()
    tables = np.random.default_rng(3).standard_normal((3, 2, 9))
    ofs = store.offset(tables[1])
    size = store.size
    assert store.offset(tables[1]) == ofs, "a fresh view of the same memory"
    level = tables[2]
    other = store.offset(level)
    assert other == size and store.offset(level) == other, "same object: same offset"
    copy = tables[1].copy()
    assert store.offset(copy) == store.size - copy.size, "equal values, new memory"
    np.testing.assert_array_equal(store.flat[ofs:ofs + 18], tables[1].ravel())
    np.testing.assert_array_equal(store.flat[other:other + 18], tables[2].ravel())
