"""Channel level laws, velocity and the filter, and the sample formats of a render.

Why it matters: volume (CC7) and expression (CC11) automation is how a file shapes its
dynamics, so their level law must be FluidSynth's at every value, not only at the ends;
FluidSynth 2.3 (the oracle) gives the default velocity-to-cutoff modulator no effect,
and we follow it; and ``mos-lab render --format`` must write what it says (bit depth in
the WAV header, 16 bits dithered so a quiet tail fades into noise rather than into
silence or into distortion that follows the signal). Measured on tiny SoundFonts made
here, FluidSynth (Debian's ``fluidsynth``) as the oracle, and through the real CLI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _sf2_make import SR, make_sf2, sine
from test_sf2_voice import NOISE, cutoff_hz, dry_noise, fluid, fluid_render, play

FLUID = shutil.which("fluidsynth")
LOOPED = sine(440.0, 0.5)
HELD = make_sf2(LOOPED, loop=(0, len(LOOPED)))
STEP = SR // 5  # one controller value per 0.2 s
VALUES = (127, 110, 90, 64, 40, 20, 8)


def levels_db(x: np.ndarray) -> np.ndarray:
    """RMS (dB) of the middle half of each STEP, relative to the first."""
    rms = np.array([np.sqrt((x[i * STEP + STEP // 4:i * STEP + 3 * STEP // 4] ** 2).mean())
                    for i in range(len(x) // STEP)])
    return 20 * np.log10(rms / rms[0])


@pytest.mark.parametrize("cc", [7, 11])
def test_volume_and_expression_level_law_as_fluidsynth(cc: int) -> None:
    extra = [(i * STEP, "control", 0, cc, v) for i, v in enumerate(VALUES)]
    got = levels_db(play(HELD, seconds=len(VALUES) * 0.2, extra=extra)[:, 0])
    # the default modulators: 960 cB x concave(1 - cc / 128) = 40 log10(cc / 128) dB
    law = 40 * np.log10(np.array(VALUES) / 127)
    assert np.abs(got - law).max() < 0.05, np.round(got, 2)
    if FLUID:
        import mido

        msgs: list[object] = [mido.MetaMessage("set_tempo", tempo=500000)]
        for i, v in enumerate(VALUES):  # 192 ticks per 0.2 s at 960 ticks a second
            msgs.append(mido.Message("control_change", control=cc, value=v,
                                     time=0 if i == 0 else 192))
            if i == 0:
                msgs.append(mido.Message("note_on", note=69, velocity=100, time=0))
        msgs += [mido.Message("note_off", note=69, velocity=0, time=192),
                 mido.MetaMessage("end_of_track", time=10)]
        ref = fluid_render(HELD, msgs)[:len(VALUES) * STEP, 0]
        want = levels_db(ref)
        assert np.abs(got - want).max() < 0.15, (np.round(got, 2), np.round(want, 2))


def test_velocity_leaves_the_cutoff_as_fluidsynth() -> None:
    blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 9000})  # 1474 Hz
    got = [cutoff_hz(play(blob, vel=v)[4800:, 0], dry_noise()) for v in (40, 100, 127)]
    assert max(got) / min(got) < 1.02, got
    assert abs(got[1] / 1474 - 1) < 0.06
    if FLUID:
        ref = [cutoff_hz(fluid(blob, vel=v)[4800:, 0], dry_noise("fluid"))
               for v in (40, 100, 127)]
        for a, b in zip(got, ref, strict=True):
            assert abs(a / b - 1) < 0.03, (got, ref)


def _render(tmp: Path, fmt: str) -> tuple[np.ndarray, str]:
    """``mos-lab render --format fmt --dry`` of the song below, read back (float)."""
    import soundfile as sf

    from mos_lab.cli import main

    out = tmp / f"{fmt}.wav"
    assert main(["render", str(tmp / "song.mid"), "-o", str(out), "--soundfont",
                 str(tmp / "tiny.sf2"), "--dry", "--format", fmt]) == 0
    x, rate = sf.read(out, dtype="float64")
    assert rate == SR
    return x, sf.info(str(out)).subtype


def test_render_formats_through_the_cli(tmp_path: Path) -> None:
    import mido

    (tmp_path / "tiny.sf2").write_bytes(HELD)
    # a loud note for 1 s, then a very quiet one (velocity 1, volume 80: ~ -98 dBFS,
    # under half of a 16-bit step)
    m = mido.MidiFile(ticks_per_beat=480)
    m.tracks.append(mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=500000),
        mido.Message("note_on", note=69, velocity=100, time=0),
        mido.Message("note_off", note=69, velocity=0, time=960),
        mido.Message("control_change", control=7, value=80, time=480),
        mido.Message("note_on", note=69, velocity=1, time=0),
        mido.Message("note_off", note=69, velocity=0, time=1440)]))
    m.save(tmp_path / "song.mid")
    ref, sub = _render(tmp_path, "float")
    p24, sub24 = _render(tmp_path, "pcm24")
    p16, sub16 = _render(tmp_path, "pcm16")
    assert (sub, sub24, sub16) == ("FLOAT", "PCM_24", "PCM_16")  # the WAV header says so
    assert ref.shape == p24.shape == p16.shape
    lsb = 1 / 32768
    # 24 bits: the float render rounded (no dither: its error is far under hearing)
    assert np.abs(p24 - ref).max() <= 1.01 / 2 ** 23
    # 16 bits, loud note: the error is TPDF noise (one LSB triangular plus rounding:
    # std 0.5 LSB), not correlated with the signal
    loud = slice(SR // 10, SR)
    err = (p16 - ref)[loud, 0]
    assert abs(err.mean()) < 0.05 * lsb  # no offset (rounded to nearest, not down)
    assert 0.4 * lsb < err.std() < 0.6 * lsb and np.abs(err).max() <= 1.55 * lsb
    assert abs(np.corrcoef(err, ref[loud, 0])[0, 1]) < 0.03
    # its spectrum is flat (noise), no harmonics of 440 Hz standing out
    spec = np.abs(np.fft.rfft(err * np.hanning(len(err)))) ** 2
    f = np.fft.rfftfreq(len(err), 1 / SR)
    band = [spec[(f > lo) & (f < lo * 1.5)].mean() for lo in (200, 800, 3000, 10000)]
    assert max(band) / min(band) < 2.0, band
    # the quiet note: under half a step, plain rounding would leave silence; dithered,
    # the note is still in the file under the noise (the same waveform, its level kept)
    quiet = slice(int(1.6 * SR), int(2.9 * SR))
    q, r = p16[quiet, 0], ref[quiet, 0]
    assert 0.1 * lsb < np.abs(r).max() < 0.5 * lsb, np.abs(r).max() / lsb
    assert not np.round(r * 32768).any()  # what truncation or rounding would keep
    q = q - q.mean()
    gain = float(q @ r / (r @ r))
    assert abs(gain - 1) < 0.15, gain
