"""Shared helpers for the Apollo tests: tiny test banks and render shortcuts."""

from __future__ import annotations

import threading

import numpy as np

from mos_lab.audio import Synth
from mos_lab.audio.envelope import ADSR
from mos_lab.audio.instruments.base import NoteSpec

SR = 48000


def proc_mb(field: str, path: str = "/proc/self/status") -> float:
    """One kB field of this process's /proc file (``RssAnon`` from status, ``Anonymous``
    from smaps_rollup, ...), in MB."""
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} line in {path}")


def render_events(events, total_frames: int, sample_rate: int = SR, synth: Synth | None = None,
                  *, block: int = 512) -> np.ndarray:
    """``(frame, kind, channel, a, b)`` events through ``synth.process`` in blocks, each event
    at its offset: (total_frames, 2) float32. A test harness for the synth alone; scores
    render through ``mos_lab.engine.render``."""
    synth = synth or Synth(sample_rate=sample_rate, max_block=block)
    if synth.sample_rate != sample_rate or synth.max_block < block:
        synth.prepare(sample_rate, max(block, synth.max_block))
    evs = sorted((tuple(e) for e in events), key=lambda e: int(e[0]))
    out = np.zeros((int(total_frames), 2), dtype=np.float32)
    i = 0
    for pos in range(0, int(total_frames), block):
        end = min(pos + block, int(total_frames))
        j = i
        while j < len(evs) and int(evs[j][0]) < end:
            j += 1
        synth.process(out[pos:end], [(int(e[0]) - pos, *e[1:]) for e in evs[i:j]
                                     if int(e[0]) >= pos])
        i = j
    return out


def render(events, seconds: float, synth: Synth | None = None, block: int = 512) -> np.ndarray:
    return render_events(events, int(seconds * SR), SR, synth, block=block)


def peak_hz(x: np.ndarray, sr: int = SR) -> float:
    """Frequency of the strongest FFT bin, zero-padded to 2**20 points with interpolation."""
    n = 1 << 20
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    k_frac = k + 0.5 * (a - c) / (a - 2 * b + c)
    return k_frac * sr / n


class SineSource:
    """A pure sine (phase 0.25 start) used to measure clicks precisely."""

    def __init__(self, freq: float, sr: float) -> None:
        self.inc = freq / sr
        self.phase = 0.25
        self.finished = False

    def render(self, n: int, bend: float) -> np.ndarray:
        ph = self.phase + self.inc * bend * np.arange(n)
        self.phase = (self.phase + self.inc * bend * n) % 1.0
        return np.sin(2 * np.pi * ph)


class NaNSource(SineSource):
    def render(self, n: int, bend: float) -> np.ndarray:
        out = super().render(n, bend)
        out[::7] = np.nan
        out[3::11] = np.inf
        return out


class SineInstrument:
    def __init__(self, name: str = "sine", log: list | None = None, nan: bool = False,
                 env: ADSR | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.nan = nan
        self.env = env or ADSR(attack=0.001, decay=1.0, sustain=1.0, release=0.05)

    def start(self, pitch: int, velocity: int, sample_rate: float) -> list[NoteSpec]:
        self.log.append((pitch, velocity))
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        src = (NaNSource if self.nan else SineSource)(freq, sample_rate)
        return [NoteSpec(src, self.env, 0.5 * (velocity / 127.0))]


class SineBank:
    """A bank whose every program is a pure sine; ``log`` records started notes."""

    def __init__(self, name: str = "sine", nan: bool = False) -> None:
        self.name = name
        self.log: list[tuple[int, int]] = []
        self.inst = SineInstrument(name, self.log, nan)

    def instrument(self, program: int, drums: bool) -> SineInstrument:
        return self.inst


class GatedLoader:
    """A bank loader that reports progress and waits for ``gate`` before returning."""

    def __init__(self, bank: object, steps: int = 4) -> None:
        self.bank = bank
        self.gate = threading.Event()
        self.steps = steps
        self.__name__ = "gated"

    def __call__(self, progress) -> object:
        for i in range(self.steps):
            progress(i / self.steps)
        if not self.gate.wait(10):
            raise RuntimeError("gate never opened")
        progress(1.0)
        return self.bank


def run_blocks(synth: Synth, n_blocks: int, events_at: dict[int, list] | None = None,
               block: int = 512) -> np.ndarray:
    out = np.zeros((n_blocks * block, 2), np.float32)
    for i in range(n_blocks):
        synth.process(out[i * block:(i + 1) * block], (events_at or {}).get(i, []))
    return out
