"""SoundFont 2.04 voice: each generator and default modulator provoked by a tiny
SoundFont made here (a sine or noise sample with that one parameter set) and measured,
FluidSynth (Debian's ``fluidsynth`` command) as the oracle where it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Any

import numpy as np
import pytest
from _sf2_make import SR, make_sf2, noise, sine

from mos_lab.audio import SoundFontBank, Synth
from mos_lab.audio.instruments.sf2 import SF2Error, SF2File

FLUID = shutil.which("fluidsynth")


def bank_of(blob: bytes) -> SoundFontBank:
    sf = SF2File(blob)
    return SoundFontBank(sf, "tiny")


def play(blob: bytes, *, key: int = 69, vel: int = 100, seconds: float = 1.0,
         off: float | None = None, extra: list | None = None, block: int = 1024,
         effects: bool = False) -> np.ndarray:
    """Render one note of the tiny SoundFont (stereo float64; dry unless ``effects``)."""
    synth = Synth(SR, 16, bank_of(blob), max_block=block, effects=effects)
    total = int(seconds * SR)
    ev = [(0, "note_on", 0, key, vel), *(extra or [])]
    if off is not None:
        ev.append((int(off * SR), "note_off", 0, key, 0))
    ev.sort(key=lambda e: e[0])
    out = np.zeros((total, 2), np.float32)
    i = 0
    for pos in range(0, total, block):
        n = min(block, total - pos)
        now = [(e[0] - pos, *e[1:]) for e in ev[i:] if e[0] < pos + n]
        i += len(now)
        synth.process(out[pos:pos + n], now)
    return out.astype(np.float64)


def fluid_render(blob: bytes, messages: list[Any]) -> np.ndarray:
    """``messages`` (mido messages of one track, 480 ticks a beat) played on the SoundFont
    ``blob`` by the fluidsynth command (float WAV, no reverb/chorus)."""
    import mido
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        path, mid, wav = (os.path.join(tmp, n) for n in ("t.sf2", "t.mid", "t.wav"))
        with open(path, "wb") as f:
            f.write(blob)
        m = mido.MidiFile(ticks_per_beat=480)
        m.tracks.append(mido.MidiTrack(messages))
        m.save(mid)
        subprocess.run([FLUID or "fluidsynth", "-ni", "-q", "-g", "1", "-r", str(SR), "-O",
                        "float", "-T", "wav", "-F", wav, "-R", "0", "-C", "0", path, mid],
                       check=True, capture_output=True, timeout=120)
        x, _ = sf.read(wav, dtype="float64")
    return x


def fluid(blob: bytes, *, key: int = 69, vel: int = 100, seconds: float = 1.0,
          off: float | None = None) -> np.ndarray:
    """The same note rendered by the fluidsynth command (float WAV, no reverb/chorus)."""
    import mido

    held = int((off if off is not None else seconds) * 960)
    x = fluid_render(blob, [
        mido.MetaMessage("set_tempo", tempo=500000),
        mido.Message("note_on", note=key, velocity=vel, time=0),
        mido.Message("note_off", note=key, velocity=0, time=held),
        mido.MetaMessage("end_of_track", time=int(seconds * 960) - held + 960)])
    return np.pad(x, ((0, max(0, int(seconds * SR) - len(x))), (0, 0)))[:int(seconds * SR)]


def spectrum(x: np.ndarray, n: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    w = np.hanning(n)
    fr = np.lib.stride_tricks.sliding_window_view(x, n)[::n // 2] * w
    return np.fft.rfftfreq(n, 1 / SR), (np.abs(np.fft.rfft(fr, axis=1)) ** 2).mean(axis=0)


def cutoff_hz(x: np.ndarray, dry: np.ndarray) -> float:
    """Where the power response (``x`` over the unfiltered ``dry``, the same noise) falls
    3 dB under its low-frequency level."""
    f, p = spectrum(x)
    _, q = spectrum(dry)
    h = np.convolve(p, np.ones(5), mode="same") / np.convolve(q, np.ones(5), mode="same")
    ref = h[(f > 30) & (f < 150)].mean()
    above = (f > 150) & (h < ref / 2)
    return float(f[np.argmax(above)])


DRY: dict[str, np.ndarray] = {}


def dry_noise(player: str = "apollo") -> np.ndarray:
    """The noise sample played with the filter wide open (19.9 kHz), for the ratio."""
    if player not in DRY:
        blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 13500})
        DRY[player] = (play(blob) if player == "apollo" else fluid(blob))[4800:, 0]
    return DRY[player]


def pitch_track(x: np.ndarray, hop: int = 480) -> np.ndarray:
    """Frequency per hop by zero crossings (a clean sine), Hz."""
    s = np.signbit(x)
    cross = np.flatnonzero(s[:-1] & ~s[1:]).astype(float)
    t = np.arange(hop, len(x) - hop, hop)
    out = []
    for c in t:
        k = cross[(cross > c - hop) & (cross < c + hop)]
        out.append(SR * (len(k) - 1) / (k[-1] - k[0]) if len(k) > 2 else 0.0)
    return np.array(out)


LOOPED = sine(440.0, 0.5)
NOISE = noise(1.0)


def test_filter_cutoff_from_spectrum() -> None:
    for fc_cents, hz in ((9000, 1474.0), (10800, 4186.0)):  # 8.176 * 2**(fc/1200)
        blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: fc_cents})
        got = cutoff_hz(play(blob, seconds=1.0)[4800:, 0], dry_noise())
        assert abs(got / hz - 1) < 0.06, (fc_cents, got, hz)
        if FLUID:
            ref = cutoff_hz(fluid(blob)[4800:, 0], dry_noise("fluid"))
            assert abs(got / ref - 1) < 0.03, (got, ref)


def test_filter_resonance_raises_a_peak_at_cutoff() -> None:
    flat = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 9000})
    peak = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 9000, 9: 150})  # Q 15 dB
    f, a = spectrum(play(flat)[4800:, 0])
    _, b = spectrum(play(peak)[4800:, 0])
    near = (f > 1300) & (f < 1700)
    gain = 10 * np.log10(b[near].max() / a[near].max())
    assert 6.0 < gain < 16.0  # a resonant bump (the spec halves the DC gain in dB)


def test_vibrato_rate_and_depth_from_pitch_track() -> None:
    # vibLfoToPitch 100 cents at freqVibLFO 0 -> 8.176 Hz, after a 0.2 s delay
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={6: 100, 24: 0, 23: -2786})
    x = play(blob, seconds=1.5)[:, 0]
    track = pitch_track(x)
    t = np.arange(len(track)) * 480 / SR + 0.01
    early = track[(t > 0.02) & (t < 0.18)]
    assert np.abs(early - 440).max() < 3, "no vibrato during the delay"
    late = track[t > 0.4]
    cents = 1200 * np.log2(late / 440)
    assert 80 < cents.max() < 115 and -115 < cents.min() < -80
    spec = np.abs(np.fft.rfft(cents - cents.mean(), 4096))
    rate = np.fft.rfftfreq(4096, 480 / SR)[np.argmax(spec)]
    assert abs(rate - 8.176) < 0.4


def test_mod_wheel_deepens_vibrato() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)))  # default CC1 -> 50 cents vibrato
    x = play(blob, seconds=1.0, extra=[(0, "control", 0, 1, 127)])[:, 0]
    cents = 1200 * np.log2(pitch_track(x)[20:] / 440)
    assert 35 < cents.max() < 60
    y = play(blob, seconds=1.0)[:, 0]
    assert np.abs(1200 * np.log2(pitch_track(y)[20:] / 440)).max() < 3


def test_mod_env_to_pitch_bends_the_attack() -> None:
    # +1200 cents at the peak, decaying to 0 over ~0.5 s
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={7: 1200, 28: -1200, 29: 1000})
    tr = pitch_track(play(blob, seconds=1.0)[:, 0])
    assert tr[1] > 700 and abs(tr[-5] - 440) < 3


def test_mod_lfo_to_volume_makes_tremolo() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={13: 60, 22: -1200})  # +-6 dB, 4 Hz
    x = play(blob, seconds=1.5)[:, 0]
    frames = np.sqrt((x[:len(x) // 480 * 480].reshape(-1, 480) ** 2).mean(axis=1))
    db = 20 * np.log10(frames[20:])
    assert 10.5 < db.max() - db.min() < 12.5


def test_pan_law_from_channel_levels() -> None:
    for pan, want_db in ((0, 0.0), (-500, None), (250, None)):
        blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={17: pan})
        x = play(blob, seconds=0.3)[4800:]
        left, right = np.sqrt((x ** 2).mean(axis=0))
        angle = (pan / 500 + 1) * np.pi / 4  # equal power: cos / sin
        if pan == -500:
            assert right < 1e-6 * left
        else:
            law = 20 * np.log10(np.cos(angle) / np.sin(angle))
            assert abs(20 * np.log10(left / right) - law) < 0.1
        assert want_db is None or abs(left - right) < 1e-9


def test_velocity_and_attenuation_follow_the_default_modulator() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)))
    loud = np.abs(play(blob, vel=127, seconds=0.3)[4800:, 0]).max()
    soft = np.abs(play(blob, vel=40, seconds=0.3)[4800:, 0]).max()
    assert abs(20 * np.log10(loud / soft) - 40 * np.log10(127 / 40)) < 0.2
    quiet = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={48: 100})  # 100 * 0.4 cB = 4 dB
    q = np.abs(play(quiet, vel=127, seconds=0.3)[4800:, 0]).max()
    assert abs(20 * np.log10(loud / q) - 4.0) < 0.2


def test_volume_envelope_as_fluidsynth() -> None:
    # attack 0.1 s, hold 0.1 s, decay 1 s per 96 dB to sustain 30 dB down, release 0.5 s
    g = {34: -3986, 35: -3986, 36: 0, 37: 300, 38: -1200}
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens=g)
    x = play(blob, seconds=2.0, off=1.0)[:, 0]
    env = 20 * np.log10(np.maximum(1e-9, np.sqrt(
        (x[:len(x) // 960 * 960].reshape(-1, 960) ** 2).mean(axis=1))))
    top = env.max()
    assert abs(env[40] - top + 28.8) < 1.5, "sustain 300 cB = 28.8 dB as FluidSynth"
    assert np.abs(x[int(1.6 * SR):]).max() == 0.0, "the release ends in silence"
    if FLUID:
        ref = fluid(blob, seconds=2.0, off=1.0)[:, 0]
        renv = 20 * np.log10(np.maximum(1e-9, np.sqrt(
            (ref[:len(ref) // 960 * 960].reshape(-1, 960) ** 2).mean(axis=1))))
        a, b = np.maximum(env, top - 90), np.maximum(renv, renv.max() - 90)
        assert np.corrcoef(a, b)[0, 1] > 0.99


def test_released_quiet_note_decays_into_silence_not_noise() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={38: -2400})  # release 0.25 s
    x = play(blob, vel=20, seconds=1.5, off=0.5)[:, 0]
    level = np.sqrt((x[int(0.2 * SR):int(0.4 * SR)] ** 2).mean())
    tail = x[int(0.5 * SR):]
    frames = np.sqrt((tail[:len(tail) // 480 * 480].reshape(-1, 480) ** 2).mean(axis=1))
    live = frames[frames > 0]
    assert 20 * np.log10(level / live.min()) > 80, "decays 80 dB under the note"
    assert not tail[int(0.6 * SR):].any(), "then silence"


def test_root_key_override_and_tuning() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={58: 57})  # sample plays A3 at key 57
    tr = pitch_track(play(blob, key=69, seconds=0.5)[:, 0])
    assert abs(np.median(tr[5:]) - 880) < 2
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={51: -12, 52: 50})  # -1150 cents
    tr = pitch_track(play(blob, key=69, seconds=0.5)[:, 0])
    assert abs(np.median(tr[5:]) - 440 * 2 ** (-1150 / 1200)) < 1.5
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={56: 50})  # 50 cents per key
    tr = pitch_track(play(blob, key=81, seconds=0.5)[:, 0])
    assert abs(np.median(tr[5:]) - 440 * 2 ** 0.5) < 2


def test_loop_modes() -> None:
    half = LOOPED[:SR // 4]  # 0.25 s of sample
    one = play(make_sf2(half), seconds=0.6)[:, 0]  # no loop: stops at its end
    assert np.abs(one[:SR // 5]).max() > 0.1 and not one[int(0.3 * SR):].any()
    cont = play(make_sf2(half, loop=(0, len(half))), seconds=0.6)[:, 0]
    assert np.abs(cont[int(0.5 * SR):]).max() > 0.1
    # mode 3: loops while held, then plays on to the sample's end after the release
    tail = np.concatenate([half, np.zeros(2400)])
    rel = make_sf2(tail, loop=(0, len(half)), gens={54: 3, 38: 0})
    x = play(rel, seconds=1.0, off=0.5)[:, 0]
    assert np.abs(x[int(0.45 * SR):int(0.5 * SR)]).max() > 0.1
    assert not x[int(0.85 * SR):].any()


def test_exclusive_class_cuts_the_previous_note() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={57: 1})
    x = play(blob, seconds=0.5, extra=[(SR // 10, "note_on", 0, 81, 100)])[:, 0]
    tr = pitch_track(x)
    assert abs(np.median(tr[-10:]) - 880) < 2, "only the new note sounds"


def test_sustain_and_sostenuto_pedals_hold_notes() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={38: -3600})
    x = play(blob, seconds=1.0, off=0.2, extra=[(0, "control", 0, 64, 127)])[:, 0]
    assert np.abs(x[int(0.8 * SR):]).max() > 0.1
    y = play(blob, seconds=1.0, off=0.2, extra=[(100, "control", 0, 66, 127)])[:, 0]
    assert np.abs(y[int(0.8 * SR):]).max() > 0.1
    z = play(blob, seconds=1.0, off=0.2)[:, 0]
    assert not z[int(0.8 * SR):].any()


def test_block_size_never_changes_the_voice() -> None:
    g = {8: 8000, 11: 3000, 28: -1200, 29: 1000, 6: 50, 5: 30, 13: 20, 10: 500}
    blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens=g)
    a = play(blob, seconds=0.8, off=0.4, block=4096)
    b = play(blob, seconds=0.8, off=0.4, block=97)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_preset_generators_add_and_clamp() -> None:
    # instrument fc 9000 + preset -600 = 8400 cents; preset pan +1000 clamps to 500
    blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={8: 9000, 17: 0},
                    pgens={8: -600, 17: 1000})
    r = SF2File(blob).regions(0)[0]
    assert r.gens[8] == 8400 and r.gens[17] == 500
    hz = 8.176 * 2 ** (8400 / 1200)
    assert abs(cutoff_hz(play(blob)[4800:, 0], dry_noise()) / hz - 1) < 0.06
    # out of range in the file: the spec's clamp (initialFilterFc 1500..13500)
    hi = SF2File(make_sf2(NOISE, gens={8: 20000})).regions(0)[0]
    assert hi.gens[8] == 13500


def test_bad_soundfonts_give_clear_errors() -> None:
    good = make_sf2(LOOPED, loop=(0, len(LOOPED)))
    with pytest.raises(SF2Error, match="truncated"):
        SF2File(good[:len(good) // 2])
    past = make_sf2(LOOPED, sample_end=len(LOOPED) + 10000)
    with pytest.raises(SF2Error, match=r"preset 'tiny' zone 0 / instrument 'inst' zone 0.*end"):
        SF2File(past).regions(0)
    cyc = make_sf2(LOOPED, mods=[(2, 0x8001, 100, 0, 0), (127, 0x8000, 100, 0, 0)])
    with pytest.raises(SF2Error, match="cycle"):
        SF2File(cyc).regions(0)
    # a loop outside its sample: played without the loop (FluidSynth's clamp)
    r = SF2File(make_sf2(LOOPED[:4800], loop=(100, 99999))).regions(0)[0]
    assert not r.loops
    x = play(make_sf2(LOOPED[:4800], loop=(100, 99999)), seconds=0.3)
    assert np.isfinite(x).all() and np.abs(x).max() < 1.0 and not x[SR // 5:].any()


def test_sf3_decodes_like_its_sf2_twin() -> None:
    import io
    import struct

    import soundfile as sf

    data = sine(440.0, 0.5) * 0.8
    twin = make_sf2(data, loop=(0, len(data)))
    buf = io.BytesIO()
    sf.write(buf, data.astype(np.float32), SR, format="OGG", subtype="VORBIS")
    ogg = buf.getvalue()
    # The same file with the Ogg stream as sample data (SF3: byte offsets, type bit 0x10).
    i = twin.index(b"smpl")
    size = struct.unpack_from("<I", twin, i + 4)[0]
    body = ogg + (b"\0" if len(ogg) & 1 else b"")
    sf3 = twin[:i + 4] + struct.pack("<I", len(ogg)) + body + twin[i + 8 + size:]
    j = sf3.index(b"shdr") + 8
    hdr = list(struct.unpack_from("<20sIIIIIBbHH", sf3, j))
    hdr[1], hdr[2], hdr[9] = 0, len(ogg), 1 | 0x10
    sf3 = sf3[:j] + struct.pack("<20sIIIIIBbHH", *hdr) + sf3[j + 46:]
    sf3 = sf3[:4] + struct.pack("<I", len(sf3) - 8) + sf3[8:]
    lst = sf3.index(b"sdta") - 8  # the sdta LIST's new size
    sdta_size = 4 + 8 + len(body)
    sf3 = sf3[:lst + 4] + struct.pack("<I", sdta_size) + sf3[lst + 8:]
    a = play(twin, seconds=0.4)
    b = play(sf3, seconds=0.4)
    err = np.sqrt(((a - b) ** 2).mean()) / np.sqrt((a ** 2).mean())
    assert err < 0.05, err  # Vorbis is lossy: within its error


def test_reverb_rt60_from_an_impulse() -> None:
    from mos_lab.audio import effects

    t = effects.rt60(SR)
    assert 0.8 < t < 1.6, t  # Freeverb, room 0.5: about 1.1 s
    small = effects.make_state(SR, room=0.2)
    assert effects.rt60(SR, state=small) < t


def test_sends_feed_reverb_and_chorus_and_dry_turns_them_off() -> None:
    blob = make_sf2(LOOPED, loop=(0, len(LOOPED)), gens={16: 500, 15: 500, 38: -2400})
    wet = play(blob, seconds=2.0, off=0.5, effects=True)
    dry = play(blob, seconds=2.0, off=0.5)
    assert not dry[int(1.2 * SR):].any()
    assert np.abs(wet[int(1.2 * SR):]).max() > 1e-4, "the room rings on after the note"
    assert np.abs(wet[:, 0] - wet[:, 1]).max() > 1e-3, "reverb and chorus are stereo"
    b = bank_of(blob)
    b.dry = True
    synth = Synth(SR, 16, b)
    out = np.zeros((2 * SR, 2), np.float32)
    synth.process(out[:SR // 2], [(0, "note_on", 0, 69, 100)])
    synth.process(out[SR // 2:], [(0, "note_off", 0, 69, 0)])
    assert not out[int(1.2 * SR):].any()


def test_effects_are_block_size_independent() -> None:
    blob = make_sf2(NOISE, loop=(0, len(NOISE)), gens={16: 700, 15: 700, 8: 9000})
    a = play(blob, seconds=1.0, off=0.3, block=4096, effects=True)
    b = play(blob, seconds=1.0, off=0.3, block=113, effects=True)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
