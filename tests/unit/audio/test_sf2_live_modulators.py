"""Modulators act while a note sounds: a controller, the pitch wheel or its sensitivity
changing mid-note moves what the file's (and the default send) modulators drive.

Why it matters: FluidSynth evaluates every modulator whose source is a controller again
when that controller moves (a CC74 -> initialFilterFc modulator is how a SoundFont
makes "brightness" playable); played only at note start, a filter sweep or a send change
during a held note did nothing here. Measured on tiny SoundFonts made here, FluidSynth
(Debian's ``fluidsynth``) as the oracle: the cutoff before and after the change, the
sends from the mix's send rows, the sound controllers' power-on value (64) and what
Reset All Controllers (CC121) keeps.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _sf2_make import SR, make_sf2
from test_sf2_voice import NOISE, bank_of, cutoff_hz, fluid_render, play

from mos_lab.audio import Synth
from mos_lab.audio import kernels as K
from mos_lab.audio.channels import ChannelState
from mos_lab.audio.instruments.sf2voice import SENSITIVITY, WHEEL

FLUID = shutil.which("fluidsynth")
CC74 = 0x0080 | 74  # CC74, linear, unipolar, positive
WHEEL_SRC = 0x020E  # pitch wheel, linear, bipolar, positive
SENS_SRC = 0x0010  # pitch wheel sensitivity
# fc 10800 cents (4186 Hz), CC74 takes it down by up to 2400 cents
BRIGHT = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 10800},
                  mods=[(CC74, 8, -2400, 0, 0)])
AT_64, AT_127 = 4186 * 2 ** (-1200 / 1200), 4186 * 2 ** (-2400 * 127 / 128 / 1200)
SEG = int(0.8 * SR)


def fluid_segments(blob: bytes, changes: list[tuple[int, object]], seconds: float
                   ) -> np.ndarray:
    """A note A4 from 0 on fluidsynth with ``(frame, mido message)`` changes."""
    import mido

    msgs: list[object] = [mido.MetaMessage("set_tempo", tempo=500000),
                          mido.Message("note_on", note=69, velocity=100, time=0)]
    last = 0
    for frame, m in changes:  # 960 ticks a second
        tick = round(frame * 960 / SR)
        msgs.append(m.copy(time=tick - last))  # type: ignore[attr-defined]
        last = tick
    end = round(seconds * 960)
    msgs += [mido.Message("note_off", note=69, velocity=0, time=end - last),
             mido.MetaMessage("end_of_track", time=10)]
    return fluid_render(blob, msgs)[:int(seconds * SR), 0]


OPEN = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 13500})


def cutoffs(x: np.ndarray, player: str, n: int) -> list[float]:
    """The cutoff in each of ``n`` segments of SEG frames (their first 0.1 s left out),
    against the same frames of the noise played with the filter open."""
    seconds = n * SEG / SR
    dry = play(OPEN, seconds=seconds)[:, 0] if player == "apollo" else \
        fluid_segments(OPEN, [], seconds)
    return [cutoff_hz(x[i * SEG + SR // 10:(i + 1) * SEG], dry[i * SEG + SR // 10:(i + 1) * SEG])
            for i in range(n)]


def test_cc74_modulator_moves_the_cutoff_mid_note() -> None:
    # CC74 at its power-on 64: -1200 cents (2093 Hz); to 127 at 0.8 s: -2381 (1067 Hz)
    x = play(BRIGHT, seconds=1.6, extra=[(SEG, "control", 0, 74, 127)])[:, 0]
    got = cutoffs(x, "apollo", 2)
    assert abs(got[0] / AT_64 - 1) < 0.08 and abs(got[1] / AT_127 - 1) < 0.08, got
    if FLUID:
        import mido

        ref = cutoffs(fluid_segments(BRIGHT, [
            (SEG, mido.Message("control_change", control=74, value=127))], 1.6), "fluid", 2)
        for a, b in zip(got, ref, strict=True):
            assert abs(a / b - 1) < 0.05, (got, ref)


def test_wheel_and_its_sensitivity_drive_file_modulators_live() -> None:
    # wheel -> fc scaled by the sensitivity: -12000 x bend x semitones / 128 cents (the
    # wheel's default pitch modulator replaced by one of amount 0: the noise stays put)
    blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 9000},
                    mods=[(WHEEL_SRC, 8, -12000, SENS_SRC, 0), (WHEEL_SRC, 52, 0, SENS_SRC, 0)])
    x = play(blob, seconds=2.4, extra=[
        (SEG, "pitch_bend", 0, 8191), (2 * SEG, "control", 0, 101, 0),
        (2 * SEG, "control", 0, 100, 0), (2 * SEG, "control", 0, 6, 12)])[:, 0]
    got = cutoffs(x, "apollo", 3)
    want = [1474.0, 1474 * 2 ** (-12000 * 8191 / 8192 * 2 / 128 / 1200),
            1474 * 2 ** (-12000 * 8191 / 8192 * 12 / 128 / 1200)]  # 1474, 1326, 767 Hz
    for a, b in zip(got, want, strict=True):
        assert abs(a / b - 1) < 0.08, (got, want)
    if FLUID:
        import mido

        ref = cutoffs(fluid_segments(blob, [
            (SEG, mido.Message("pitchwheel", pitch=8191)),
            (2 * SEG, mido.Message("control_change", control=101, value=0)),
            (2 * SEG, mido.Message("control_change", control=100, value=0)),
            (2 * SEG, mido.Message("control_change", control=6, value=12))], 2.4),
            "fluid", 3)
        for a, b in zip(got, ref, strict=True):
            assert abs(a / b - 1) < 0.05, (got, ref)


def sends(blob: bytes, extra: list[tuple[int, str, int, int, int]], seconds: float
          ) -> np.ndarray:
    """Per frame: the left output and the reverb and chorus send rows of the mix."""
    synth = Synth(SR, 16, bank_of(blob), max_block=64, effects=False)
    ev = sorted([(0, "note_on", 0, 69, 100), *extra], key=lambda e: e[0])
    rows = []
    for pos in range(0, int(seconds * SR), 64):
        now = [(e[0] - pos, *e[1:]) for e in ev if pos <= e[0] < pos + 64]
        synth.process(np.zeros((64, 2), np.float32), now)
        rows.append(synth._mix[:, :64].copy())
    return np.concatenate(rows, axis=1)


def test_cc91_and_cc93_changes_move_the_sends_of_a_sounding_note() -> None:
    dc = np.full(SR // 10, 0.5)
    blob = make_sf2(dc, loop=(100, len(dc) - 100))
    at = 40 * 64 + 16
    mix = sends(blob, [(at, "control", 0, 91, 127), (at, "control", 0, 93, 64)], 0.08)
    left = mix[0, 1000:]
    mix, at = mix[:, 1000:], at - 1000
    # the default modulators: 20 % x cc / 128 of the voice's level (left = level at
    # centre pan); GM's power-on reverb 40, chorus 0
    rev, cho = mix[2] / left, mix[3] / left
    assert abs(rev[at - 100] - 0.2 * 40 / 128) < 1e-9 and abs(cho[at - 100]) < 1e-12
    assert abs(rev[at + 100] - 0.2 * 127 / 128) < 1e-9
    assert abs(cho[at + 100] - 0.2 * 64 / 128) < 1e-9
    # the change glides over 64 frames, as the channel's gains do (no step, no click)
    j = np.arange(65)
    want = 0.2 * 40 / 128 + (0.2 * 87 / 128) * j / 64
    assert np.abs(rev[at:at + 65] - want).max() < 1e-9


def test_only_a_controller_some_modulator_reads_wakes_the_voices() -> None:
    synth = Synth(SR, 16, bank_of(BRIGHT), max_block=256, effects=False)
    synth.process(np.zeros((256, 2), np.float32), [(0, "note_on", 0, 69, 100)])
    v = synth.voices
    assert v.reads(0, 74) and v.reads(0, 91) and v.reads(0, 93)
    assert not v.reads(0, 7) and not v.reads(0, 10) and not v.reads(0, WHEEL)
    assert not v.reads(0, SENSITIVITY) and not v.reads(1)
    calls = []
    real = v.modulate
    v.modulate = lambda *a: (calls.append(a[1]), real(*a))  # type: ignore[method-assign]
    synth.process(np.zeros((256, 2), np.float32), [
        (0, "control", 0, 7, 90), (10, "control", 0, 10, 20), (20, "pitch_bend", 0, 500),
        (30, "control", 0, 74, 10)])
    assert calls == [74]
    synth.process(np.zeros((256, 2), np.float32), [(0, "note_off", 0, 69, 0)])
    for _ in range(40):
        synth.process(np.zeros((256, 2), np.float32))
    assert synth.sounding_voices == 0 and not v.reads(0)  # the counts go with the voice


def test_sound_controllers_start_at_64_as_fluidsynth() -> None:
    assert all(ChannelState().controls[c] == 64 for c in range(70, 80))
    got = cutoffs(play(BRIGHT, seconds=0.8)[:, 0], "apollo", 1)[0]
    assert abs(got / AT_64 - 1) < 0.08  # CC74 at 64 from the start: -1200 cents
    if FLUID:
        ref = cutoffs(fluid_segments(BRIGHT, [], 0.8), "fluid", 1)[0]
        assert abs(got / ref - 1) < 0.05, (got, ref)


def test_reset_all_controllers_as_fluidsynth() -> None:
    st = ChannelState()
    for num, val in ((1, 90), (2, 5), (7, 50), (10, 20), (11, 30), (64, 127), (74, 3),
                     (91, 10), (93, 20), (0, 1), (32, 2), (101, 0), (100, 0), (6, 12)):
        st.set_control(num, val)
        st.data_entry(num, val)
    st.pitch_bend = 3000
    st.reset_controllers()
    c = st.controls
    assert (c[1], c[2], c[64], c[6]) == (0, 0, 0, 0)  # reset to 0
    assert (c[7], c[10], c[74], c[91], c[93], c[0], c[32]) == (50, 20, 3, 10, 20, 1, 2)
    assert c[11] == 127 and st.rpn == (127, 127) and st.pitch_bend == 0
    assert st.bend_range == 12.0  # the sensitivity stays
    if FLUID:
        import mido

        # CC74 down to 127 then CC121: FluidSynth keeps the sound controller
        changes = [(SEG // 2, mido.Message("control_change", control=74, value=127)),
                   (SEG, mido.Message("control_change", control=121, value=0))]
        x = play(BRIGHT, seconds=1.6, extra=[(SEG // 2, "control", 0, 74, 127),
                                             (SEG, "control", 0, 121, 0)])[:, 0]
        got = cutoffs(x, "apollo", 2)[1]
        ref = cutoffs(fluid_segments(BRIGHT, changes, 1.6), "fluid", 2)[1]
        assert abs(got / AT_127 - 1) < 0.08 and abs(got / ref - 1) < 0.05, (got, ref)


@pytest.mark.parametrize(("order", "semis"), [
    # RPN 0,0 entry 12, then an NRPN selected and its entry: the range stays (12 before)
    ([(101, 0), (100, 0), (99, 1), (98, 8), (6, 64)], 12.0),
    # an NRPN first, then RPN 0,0 and its entry: the range is set
    ([(99, 1), (98, 8), (101, 0), (100, 0), (6, 7)], 7.0),
])
def test_restore_replays_selections_and_entries_in_order(order: list[tuple[int, int]],
                                                        semis: float) -> None:
    st = ChannelState()
    st.bend_range = 12.0  # what the channel had before the seek
    st.restore(None, dict(order), None)
    assert st.bend_range == semis
    assert st.nrpn == (order[-2][0] == 98)


def test_live_changes_are_the_same_at_any_block_size() -> None:
    extra = [(5000, "control", 0, 74, 127), (9000, "control", 0, 91, 100),
             (9100, "control", 0, 74, 20)]
    a = play(BRIGHT, seconds=0.4, extra=extra, block=64)
    b = play(BRIGHT, seconds=0.4, extra=extra, block=1024)
    assert np.abs(a - b).max() < 1e-6
    assert K.EV_SET == 3


def seek_range(cc: list[tuple[int, int]]) -> float:
    """The pitch-wheel range a synth restores when seeking past ``cc`` in a MIDI file."""
    import io

    import mido

    from mos_lab.engine.timeline import Timeline
    from mos_lab.score.midi import read_midi

    m = mido.MidiFile(ticks_per_beat=480)
    m.tracks.append(mido.MidiTrack([
        *(mido.Message("control_change", control=c, value=v, time=10) for c, v in cc),
        mido.Message("note_on", note=60, velocity=90, time=10),
        mido.Message("note_off", note=60, velocity=0, time=960)]))
    buf = io.BytesIO()
    m.save(file=buf)
    tl = Timeline(read_midi(buf.getvalue()), SR)
    synth = Synth(SR, 16, effects=False)
    for ch, st in tl.channel_state_at(SR // 2).items():
        synth.set_channel_state(ch, program=st.program, controls=st.controls,
                                pitch_bend=st.pitch_bend, bend_range=st.bend_range)
    return synth.channels[0].bend_range


def test_a_seek_replays_rpn_and_nrpn_selections_in_time_order() -> None:
    # an NRPN (GS vibrato rate) and its entry, then RPN 0,0 = 7 semitones: 7
    assert seek_range([(99, 1), (98, 8), (6, 64), (101, 0), (100, 0), (6, 7)]) == 7.0
    # RPN 0,0 = 12, then an NRPN and its entry 80: the entry is the NRPN's, not a range
    # of 80, and the 12 set before it is still in force (the controllers' last values
    # alone could not say so: the timeline replays the selections and entries)
    assert seek_range([(101, 0), (100, 0), (6, 12), (99, 1), (98, 8), (6, 80)]) == 12.0
    # MSB and LSB (cents), then a null RPN and an entry: 12.5 stays
    assert seek_range([(101, 0), (100, 0), (6, 12), (38, 50), (101, 127), (100, 127),
                       (6, 3)]) == 12.5
    # another RPN's entry (fine tuning) never sets the range: the default 2
    assert seek_range([(101, 0), (100, 1), (6, 70)]) == 2.0


def test_resumming_one_source_equals_the_whole_row() -> None:
    from mos_lab.audio.instruments.sf2voice import _COLS, live_values

    cc = lambda n: 0x0080 | n  # noqa: E731  (linear, unipolar, positive)
    mods = [(CC74, 8, -2400, 0, 0), (cc(71), 9, 200, 0, 0), (cc(72), 17, 300, 0, 0),
            (cc(73), 48, 300, 0x0502, 0), (cc(75), 52, 50, 0, 0), (cc(76), 51, 12, 0, 0),
            (WHEEL_SRC, 24, 600, SENS_SRC, 0), (cc(77), 5, 100, cc(78), 2),
            (cc(79), 16, 500, 0, 0), (cc(2), 15, 400, 0, 0), (cc(4), 22, -300, 0, 0)]
    blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 9000, 56: 50}, mods=mods)
    inst = bank_of(blob).instrument(0, False)
    st = ChannelState()
    note = inst.start_cc(64, 90, SR, st.controls, st.wheel)[0]  # type: ignore[attr-defined]
    src = note.source
    live = src.spec.voice(64, 90, note.gain, note.pan, src.ratio)
    start = live_values(live.region, 64, 90, SR, st.controls, st.wheel, live.velmods,
                        live.dry)
    np.testing.assert_allclose(live.now, start, rtol=1e-12)  # what the note starts with
    rng = np.random.default_rng(3)
    sources = [74, 71, 72, 73, 75, 76, 77, 78, 79, 2, 4, 91, 93, WHEEL, SENSITIVITY]
    for _ in range(60):
        key = int(rng.choice(sources))
        if key == WHEEL:
            st.pitch_bend = int(rng.integers(-8192, 8192))
        elif key == SENSITIVITY:
            st.bend_range = float(rng.integers(0, 24))
        else:
            st.set_control(key, int(rng.integers(0, 128)))
        assert key in src.keys
        live.update(st.controls, st.wheel, key)
        whole = live_values(live.region, 64, 90, SR, st.controls, st.wheel, live.velmods,
                            live.dry)
        np.testing.assert_allclose(live.now, whole, rtol=1e-12, err_msg=str(_COLS))
