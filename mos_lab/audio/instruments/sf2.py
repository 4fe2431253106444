"""SoundFont 2 reader: RIFF chunks to presets, zones and regions (pure numpy, no deps).

Reads ``phdr/pbag/pgen/inst/ibag/igen/shdr`` and the 16-bit ``smpl`` data, and flattens
each preset into :class:`Region` rows: key/velocity ranges, sample slice, loop, root
key and tuning, volume envelope, attenuation, pan and exclusive class. Modulators and
filters are ignored (the volume envelope and pitch are what make a SoundFont sound
right; see the docstring of ``soundfont.py`` for the measured comparison).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

# Generator numbers (SoundFont 2.04, section 8.1.2)
START_OFS, END_OFS, LOOP_START_OFS, LOOP_END_OFS = 0, 1, 2, 3
START_COARSE, END_COARSE, PAN = 4, 12, 17
DELAY_VOL, ATTACK_VOL, HOLD_VOL, DECAY_VOL, SUSTAIN_VOL, RELEASE_VOL = 33, 34, 35, 36, 37, 38
INSTRUMENT, KEY_RANGE, VEL_RANGE = 41, 43, 44
LOOP_START_COARSE, ATTENUATION, LOOP_END_COARSE = 45, 48, 50
COARSE_TUNE, FINE_TUNE, SAMPLE_ID, SAMPLE_MODES = 51, 52, 53, 54
SCALE_TUNING, EXCLUSIVE_CLASS, ROOT_KEY = 56, 57, 58

DEFAULTS: dict[int, int] = {
    DELAY_VOL: -12000, ATTACK_VOL: -12000, HOLD_VOL: -12000, DECAY_VOL: -12000,
    RELEASE_VOL: -12000, SCALE_TUNING: 100, ROOT_KEY: -1, KEY_RANGE: 127 << 8,
    VEL_RANGE: 127 << 8,
}
_RANGES = (KEY_RANGE, VEL_RANGE)
# Generators that only make sense at instrument level (not added from presets).
_INSTRUMENT_ONLY = {START_OFS, END_OFS, LOOP_START_OFS, LOOP_END_OFS, START_COARSE,
                    END_COARSE, LOOP_START_COARSE, LOOP_END_COARSE, SAMPLE_ID, SAMPLE_MODES,
                    EXCLUSIVE_CLASS, ROOT_KEY}

PHDR = np.dtype([("name", "S20"), ("preset", "<u2"), ("bank", "<u2"), ("bag", "<u2"),
                 ("library", "<u4"), ("genre", "<u4"), ("morphology", "<u4")])
BAG = np.dtype([("gen", "<u2"), ("mod", "<u2")])
GEN = np.dtype([("oper", "<u2"), ("amount", "<i2")])
INST = np.dtype([("name", "S20"), ("bag", "<u2")])
SHDR = np.dtype([("name", "S20"), ("start", "<u4"), ("end", "<u4"), ("loop_start", "<u4"),
                 ("loop_end", "<u4"), ("rate", "<u4"), ("pitch", "u1"), ("correction", "i1"),
                 ("link", "<u2"), ("type", "<u2")])


class SF2Error(ValueError):
    """The file is not a readable SoundFont 2."""


@dataclass(frozen=True)
class Region:
    """One playable zone of a preset, with every generator already resolved."""

    key_lo: int
    key_hi: int
    vel_lo: int
    vel_hi: int
    start: int
    end: int
    loop_start: int
    loop_end: int
    loops: bool
    root_key: int
    tune_cents: float
    scale_tuning: float
    sample_rate: int
    attack: float
    hold: float
    decay: float
    sustain: float  # level 0..1
    release: float
    attenuation_db: float
    pan: float  # -1..1
    exclusive: int


def _chunks(data: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        key = cid.decode("latin-1")
        if key == "LIST":
            key = "LIST:" + data[body:body + 4].decode("latin-1")
        out[key] = (body, body + size)
        pos = body + size + (size & 1)
    return out


def _timecents(tc: int) -> float:
    return 0.0 if tc <= -12000 else 2.0 ** (tc / 1200.0)


class SF2File:
    """A parsed SoundFont: sample data (float32) and presets flattened into regions."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            raise SF2Error("not a SoundFont 2 file (RIFF/sfbk header missing)")
        top = _chunks(data, 12, len(data))
        try:
            sdta = _chunks(data, top["LIST:sdta"][0] + 4, top["LIST:sdta"][1])
            pdta = _chunks(data, top["LIST:pdta"][0] + 4, top["LIST:pdta"][1])
            s0, s1 = sdta["smpl"]

            def arr(name: str, dt: np.dtype) -> np.ndarray:
                a, b = pdta[name]
                return np.frombuffer(data, dtype=dt, count=(b - a) // dt.itemsize, offset=a)

            self.phdr, self.pbag, self.pgen = arr("phdr", PHDR), arr("pbag", BAG), arr("pgen", GEN)
            self.inst, self.ibag, self.igen = arr("inst", INST), arr("ibag", BAG), arr("igen", GEN)
            self.shdr = arr("shdr", SHDR)
        except KeyError as exc:
            raise SF2Error(f"SoundFont chunk {exc} missing") from None
        self.raw_samples = np.frombuffer(data, dtype="<i2", count=(s1 - s0) // 2, offset=s0)
        self.samples: np.ndarray | None = None
        self.presets: dict[tuple[int, int], int] = {}
        for i in range(len(self.phdr) - 1):  # the last record is the EOP terminal
            self.presets.setdefault((int(self.phdr[i]["bank"]), int(self.phdr[i]["preset"])), i)

    def decode_samples(self) -> np.ndarray:
        """The ``smpl`` chunk as float32 in -1..1 (cached on the object)."""
        if self.samples is None:
            self.samples = (self.raw_samples.astype(np.float32) / 32768.0)
        return self.samples

    def preset_name(self, index: int) -> str:
        return bytes(self.phdr[index]["name"]).split(b"\0")[0].decode("latin-1")

    def _zones(self, bags: np.ndarray, gens: np.ndarray, first: int, last: int,
               terminal: int) -> tuple[dict[int, int], list[dict[int, int]]]:
        """Generators of bags [first, last): (global zone, local zones)."""
        glob: dict[int, int] = {}
        zones: list[dict[int, int]] = []
        for b in range(first, last):
            g0, g1 = int(bags[b]["gen"]), int(bags[b + 1]["gen"])
            zone = {int(gens[g]["oper"]): int(gens[g]["amount"]) for g in range(g0, g1)}
            if terminal in zone:
                zones.append(zone)
            elif b == first:
                glob = zone
        return glob, zones

    def regions(self, preset_index: int) -> list[Region]:
        """Flatten one preset (index into ``phdr``) into resolved regions."""
        p = self.phdr
        pglob, pzones = self._zones(self.pbag, self.pgen, int(p[preset_index]["bag"]),
                                    int(p[preset_index + 1]["bag"]), INSTRUMENT)
        out: list[Region] = []
        for pz in pzones:
            pgen = {**pglob, **pz}
            ii = pgen[INSTRUMENT]
            if ii >= len(self.inst) - 1:
                continue
            iglob, izones = self._zones(self.ibag, self.igen, int(self.inst[ii]["bag"]),
                                        int(self.inst[ii + 1]["bag"]), SAMPLE_ID)
            for iz in izones:
                gen = {**DEFAULTS, **iglob, **iz}
                reg = self._region(gen, pgen)
                if reg is not None:
                    out.append(reg)
        return out

    def _region(self, gen: dict[int, int], pgen: dict[int, int]) -> Region | None:
        lo_hi = {}
        for r in _RANGES:
            v = gen[r] & 0xFFFF
            lo, hi = v & 0xFF, v >> 8
            if r in pgen:
                pv = pgen[r] & 0xFFFF
                lo, hi = max(lo, pv & 0xFF), min(hi, pv >> 8)
            lo_hi[r] = (lo, hi)
        if lo_hi[KEY_RANGE][0] > lo_hi[KEY_RANGE][1] or lo_hi[VEL_RANGE][0] > lo_hi[VEL_RANGE][1]:
            return None
        for k, v in pgen.items():  # preset generators add to instrument ones
            if k not in _INSTRUMENT_ONLY and k not in _RANGES and k != INSTRUMENT:
                gen[k] = gen.get(k, 0) + v
        sid = gen[SAMPLE_ID]
        if not 0 <= sid < len(self.shdr) - 1:
            return None
        s = self.shdr[sid]
        if int(s["type"]) & 0x8000:  # ROM samples are not in the file
            return None
        g = gen.get
        start = int(s["start"]) + g(START_OFS, 0) + 32768 * g(START_COARSE, 0)
        end = int(s["end"]) + g(END_OFS, 0) + 32768 * g(END_COARSE, 0)
        ls = int(s["loop_start"]) + g(LOOP_START_OFS, 0) + 32768 * g(LOOP_START_COARSE, 0)
        le = int(s["loop_end"]) + g(LOOP_END_OFS, 0) + 32768 * g(LOOP_END_COARSE, 0)
        n = len(self.raw_samples)
        start, end = max(0, min(start, n - 1)), max(0, min(end, n))
        if end - start < 2:
            return None
        loops = g(SAMPLE_MODES, 0) & 1 == 1 and start <= ls < le <= end and le - ls >= 2
        root = g(ROOT_KEY, -1)
        if root < 0:
            root = int(s["pitch"]) if int(s["pitch"]) <= 127 else 60
        sus_cb = min(1440, max(0, g(SUSTAIN_VOL, 0)))
        return Region(
            key_lo=lo_hi[KEY_RANGE][0], key_hi=lo_hi[KEY_RANGE][1],
            vel_lo=lo_hi[VEL_RANGE][0], vel_hi=lo_hi[VEL_RANGE][1],
            start=start, end=end, loop_start=ls, loop_end=le, loops=loops, root_key=root,
            tune_cents=100.0 * g(COARSE_TUNE, 0) + g(FINE_TUNE, 0) + int(s["correction"]),
            scale_tuning=float(g(SCALE_TUNING, 100)), sample_rate=max(1, int(s["rate"])),
            attack=_timecents(g(ATTACK_VOL, -12000)),
            hold=_timecents(g(HOLD_VOL, -12000)), decay=_timecents(g(DECAY_VOL, -12000)),
            sustain=0.0 if sus_cb >= 960 else 10.0 ** (-sus_cb / 200.0),
            release=_timecents(g(RELEASE_VOL, -12000)),
            attenuation_db=max(0, g(ATTENUATION, 0)) / 10.0,
            pan=max(-500, min(500, g(PAN, 0))) / 500.0,
            exclusive=g(EXCLUSIVE_CLASS, 0),
        )


def semitone_ratio(cents: float) -> float:
    return math.pow(2.0, cents / 1200.0)
