"""SoundFont 2 reader: RIFF chunks to presets, zones and regions (pure numpy, no deps).

Reads ``phdr/pbag/pmod/pgen/inst/ibag/imod/igen/shdr`` and the ``smpl`` data, and
flattens each preset into :class:`Region` rows following SoundFont 2.04 section 9.4:
instrument generators (global zone, then local zone) replace the defaults, preset
generators (global, then local) are added to them except the instrument-only ones, and
every sum is clamped to the range of section 8.1.3 (the spec's documented clamp for
a value out of range). Each region keeps every generator (``gens``) and its modulators
(the instrument's replacing identical defaults, the preset's added), evaluated at note
start by ``soundfont.py``. A pointer outside the sample data or a modulator cycle is a
:class:`SF2Error` naming the preset, zone and field; a loop outside its sample is
clamped (no loop), as FluidSynth does.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

# Generator numbers (SoundFont 2.04, section 8.1.2)
START_OFS, END_OFS, LOOP_START_OFS, LOOP_END_OFS = 0, 1, 2, 3
START_COARSE, END_COARSE, PAN = 4, 12, 17
DELAY_VOL, ATTACK_VOL, HOLD_VOL, DECAY_VOL, SUSTAIN_VOL, RELEASE_VOL = 33, 34, 35, 36, 37, 38
INSTRUMENT, KEY_RANGE, VEL_RANGE = 41, 43, 44
LOOP_START_COARSE, ATTENUATION, LOOP_END_COARSE = 45, 48, 50
COARSE_TUNE, FINE_TUNE, SAMPLE_ID, SAMPLE_MODES = 51, 52, 53, 54
SCALE_TUNING, EXCLUSIVE_CLASS, ROOT_KEY = 56, 57, 58

# name, default, min, max of every generator (SoundFont 2.04, section 8.1.3)
GEN_INFO: dict[int, tuple[str, int, int, int]] = {
    0: ("startAddrsOffset", 0, -(1 << 30), 1 << 30),
    1: ("endAddrsOffset", 0, -(1 << 30), 1 << 30),
    2: ("startloopAddrsOffset", 0, -(1 << 30), 1 << 30),
    3: ("endloopAddrsOffset", 0, -(1 << 30), 1 << 30),
    4: ("startAddrsCoarseOffset", 0, -32768, 32767),
    5: ("modLfoToPitch", 0, -12000, 12000), 6: ("vibLfoToPitch", 0, -12000, 12000),
    7: ("modEnvToPitch", 0, -12000, 12000), 8: ("initialFilterFc", 13500, 1500, 13500),
    9: ("initialFilterQ", 0, 0, 960), 10: ("modLfoToFilterFc", 0, -12000, 12000),
    11: ("modEnvToFilterFc", 0, -12000, 12000), 12: ("endAddrsCoarseOffset", 0, -32768, 32767),
    13: ("modLfoToVolume", 0, -960, 960), 15: ("chorusEffectsSend", 0, 0, 1000),
    16: ("reverbEffectsSend", 0, 0, 1000), 17: ("pan", 0, -500, 500),
    21: ("delayModLFO", -12000, -12000, 5000), 22: ("freqModLFO", 0, -16000, 4500),
    23: ("delayVibLFO", -12000, -12000, 5000), 24: ("freqVibLFO", 0, -16000, 4500),
    25: ("delayModEnv", -12000, -12000, 5000), 26: ("attackModEnv", -12000, -12000, 8000),
    27: ("holdModEnv", -12000, -12000, 5000), 28: ("decayModEnv", -12000, -12000, 8000),
    29: ("sustainModEnv", 0, 0, 1000), 30: ("releaseModEnv", -12000, -12000, 8000),
    31: ("keynumToModEnvHold", 0, -1200, 1200), 32: ("keynumToModEnvDecay", 0, -1200, 1200),
    33: ("delayVolEnv", -12000, -12000, 5000), 34: ("attackVolEnv", -12000, -12000, 8000),
    35: ("holdVolEnv", -12000, -12000, 5000), 36: ("decayVolEnv", -12000, -12000, 8000),
    37: ("sustainVolEnv", 0, 0, 1440), 38: ("releaseVolEnv", -12000, -12000, 8000),
    39: ("keynumToVolEnvHold", 0, -1200, 1200), 40: ("keynumToVolEnvDecay", 0, -1200, 1200),
    43: ("keyRange", 127 << 8, 0, 0xFFFF), 44: ("velRange", 127 << 8, 0, 0xFFFF),
    45: ("startloopAddrsCoarseOffset", 0, -32768, 32767), 46: ("keynum", -1, -1, 127),
    47: ("velocity", -1, -1, 127), 48: ("initialAttenuation", 0, 0, 1440),
    50: ("endloopAddrsCoarseOffset", 0, -32768, 32767), 51: ("coarseTune", 0, -120, 120),
    52: ("fineTune", 0, -99, 99), 53: ("sampleID", 0, 0, 0xFFFF), 54: ("sampleModes", 0, 0, 3),
    56: ("scaleTuning", 100, 0, 1200), 57: ("exclusiveClass", 0, 0, 127),
    58: ("overridingRootKey", -1, -1, 127),
}
DEFAULTS: dict[int, int] = {g: info[1] for g, info in GEN_INFO.items()}
_RANGES = (KEY_RANGE, VEL_RANGE)
# Generators that only make sense at instrument level (not added from presets).
_INSTRUMENT_ONLY = {START_OFS, END_OFS, LOOP_START_OFS, LOOP_END_OFS, START_COARSE,
                    END_COARSE, LOOP_START_COARSE, LOOP_END_COARSE, SAMPLE_ID, SAMPLE_MODES,
                    EXCLUSIVE_CLASS, ROOT_KEY, 46, 47}

PHDR = np.dtype([("name", "S20"), ("preset", "<u2"), ("bank", "<u2"), ("bag", "<u2"),
                 ("library", "<u4"), ("genre", "<u4"), ("morphology", "<u4")])
BAG = np.dtype([("gen", "<u2"), ("mod", "<u2")])
GEN = np.dtype([("oper", "<u2"), ("amount", "<i2")])
MOD = np.dtype([("src", "<u2"), ("dest", "<u2"), ("amount", "<i2"), ("amt_src", "<u2"),
                ("trans", "<u2")])
Modulator = tuple[int, int, int, int, int]  # src, dest, amount, amount source, transform

# The default modulators of SoundFont 2.04 section 8.4 as FluidSynth plays them (velocity
# to filter cutoff switched on at velocity 64, FluidSynth's reading of the spec):
# velocity to attenuation and to cutoff, channel pressure and CC1 to vibrato, CC7 and
# CC11 to attenuation, CC10 to pan, CC91/CC93 to the sends, pitch wheel to pitch.
DEFAULT_MODS: tuple[Modulator, ...] = (
    (0x0502, 48, 960, 0, 0), (0x0102, 8, -2400, 0x0C02, 0), (0x000D, 6, 50, 0, 0),
    (0x0081, 6, 50, 0, 0), (0x0587, 48, 960, 0, 0), (0x028A, 17, 500, 0, 0),
    (0x058B, 48, 960, 0, 0), (0x00DB, 16, 200, 0, 0), (0x00DD, 15, 200, 0, 0),
    (0x020E, 52, 12700, 0x0010, 0),
)
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
    gens: dict[int, int] = field(default_factory=dict)  # every generator, summed, clamped
    mods: tuple[Modulator, ...] = DEFAULT_MODS  # modulators in effect (defaults included)
    loop_mode: int = 0  # sampleModes: 0 none, 1 continuous, 3 until release
    where: str = ""  # "preset 'Piano 1' zone 2 / instrument 'Piano' zone 3" (for errors)


def _chunks(data: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        body = pos + 8
        key = cid.decode("latin-1")
        if key == "LIST":
            key = "LIST:" + data[body:body + 4].decode("latin-1")
        if body + size > end:
            raise SF2Error(f"SoundFont truncated: chunk {key!r} needs {size} bytes at "
                           f"offset {body}, the file has {end - body}")
        out[key] = (body, body + size)
        pos = body + size
        if size & 1 and not _chunk_id(data, pos) and _chunk_id(data, pos + 1):
            pos += 1  # the RIFF pad byte (some writers, MuseScore's SF3, leave it out)
    return out


def _chunk_id(data: bytes, pos: int) -> bool:
    """Four printable ASCII bytes at ``pos`` (a chunk id can start there)."""
    cid = data[pos:pos + 4]
    return len(cid) == 4 and all(32 <= b < 127 for b in cid)


def _timecents(tc: int) -> float:
    return 0.0 if tc <= -12000 else 2.0 ** (tc / 1200.0)


def _clamp(gen: int, value: int) -> int:
    info = GEN_INFO.get(gen)
    if info is None:
        return value
    return max(info[2], min(info[3], value))


def _mod_cycle(mods: list[Modulator]) -> list[int] | None:
    """Indices of a cycle among linked modulators (destination bit 15), or None."""
    links = {i: m[1] & 0x7FFF for i, m in enumerate(mods) if m[1] & 0x8000}
    for i in links:
        seen = [i]
        j = links[i]
        while j in links:
            if j in seen:
                return seen[seen.index(j):]
            seen.append(j)
            j = links[j]
    return None


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
                # A copy: the tables are small, and must not keep the file's bytes alive
                # (its sample data is dropped once decoded; see decode_samples).
                return np.frombuffer(data, dtype=dt, count=(b - a) // dt.itemsize,
                                     offset=a).copy()

            self.phdr, self.pbag, self.pgen = arr("phdr", PHDR), arr("pbag", BAG), arr("pgen", GEN)
            self.inst, self.ibag, self.igen = arr("inst", INST), arr("ibag", BAG), arr("igen", GEN)
            self.shdr = arr("shdr", SHDR)
            empty = np.zeros(0, MOD)
            self.pmod = arr("pmod", MOD) if "pmod" in pdta else empty
            self.imod = arr("imod", MOD) if "imod" in pdta else empty
        except KeyError as exc:
            raise SF2Error(f"SoundFont chunk {exc} missing") from None
        if len(self.phdr) < 2 or len(self.inst) < 2 or len(self.shdr) < 1:
            raise SF2Error("SoundFont has no presets, instruments or samples (phdr/inst/shdr "
                           "need their terminal records)")
        # sfVersion 3 (MuseScore's SF3): samples are Ogg Vorbis streams in smpl (sf3.py)
        self.compressed = bool(len(self.shdr) > 1 and (self.shdr["type"][:-1] & 0x10).any())
        self._blob = data
        self._smpl = (s0, s1)
        self.raw_samples = (np.zeros(0, "<i2") if self.compressed else
                            np.frombuffer(data, dtype="<i2", count=(s1 - s0) // 2, offset=s0))
        self.samples: np.ndarray | None = None
        self.sample_spans: dict[int, tuple[int, int]] = {}  # SF3: sample -> decoded slice
        self.presets: dict[tuple[int, int], int] = {}
        for i in range(len(self.phdr) - 1):  # the last record is the EOP terminal
            self.presets.setdefault((int(self.phdr[i]["bank"]), int(self.phdr[i]["preset"])), i)

    def decode_samples(self) -> np.ndarray:
        """The sample data as float32 in -1..1 (cached on the object; SF3 decoded once).

        Afterwards the file's bytes are let go (``raw_samples`` becomes empty): the float32
        samples (or the ones a cache set) are all that plays, and an SF3 file's 40 MB of
        Ogg streams held for nothing is a fifth of an idle kernel.
        """
        if self.samples is None:
            if self.compressed:
                from mos_lab.audio.instruments.sf3 import decode_sf3

                s0, s1 = self._smpl
                try:
                    self.samples, self.sample_spans = decode_sf3(
                        memoryview(self._blob)[s0:s1], self.shdr)
                except ValueError as exc:
                    raise SF2Error(str(exc)) from None
            else:
                self.samples = (self.raw_samples.astype(np.float32) / 32768.0)
        self._blob = b""
        self.raw_samples = np.zeros(0, "<i2")
        return self.samples

    def preset_name(self, index: int) -> str:
        return bytes(self.phdr[index]["name"]).split(b"\0")[0].decode("latin-1")

    def _name(self, table: np.ndarray, index: int) -> str:
        return bytes(table[index]["name"]).split(b"\0")[0].decode("latin-1")

    def _zones(self, bags: np.ndarray, gens: np.ndarray, mods: np.ndarray, first: int,
               last: int, terminal: int, where: str
               ) -> tuple[dict[int, int], list[Modulator], list[tuple[int, dict[int, int],
                                                                    list[Modulator]]]]:
        """Generators and modulators of bags [first, last): global zone, local zones."""
        glob: dict[int, int] = {}
        gmods: list[Modulator] = []
        zones: list[tuple[int, dict[int, int], list[Modulator]]] = []
        if not 0 <= first <= last < len(bags):
            raise SF2Error(f"{where}: zone index {last} past the bag table ({len(bags)})")
        for b in range(first, last):
            g0, g1 = int(bags[b]["gen"]), int(bags[b + 1]["gen"])
            m0, m1 = int(bags[b]["mod"]), int(bags[b + 1]["mod"])
            if not 0 <= g0 <= g1 <= len(gens) or not 0 <= m0 <= m1 <= len(mods):
                raise SF2Error(f"{where} zone {b - first}: generator/modulator index past "
                               "its table (truncated or corrupt SoundFont)")
            zone = {int(gens[g]["oper"]): int(gens[g]["amount"]) for g in range(g0, g1)}
            zmods = [tuple(int(x) for x in mods[m]) for m in range(m0, m1)]
            zm: list[Modulator] = [(a, b2, c, d, e) for a, b2, c, d, e in zmods]
            cyc = _mod_cycle(zm)
            if cyc is not None:
                raise SF2Error(f"{where} zone {b - first}: modulators {cyc} are linked in a "
                               "cycle (sfModDestOper)")
            if terminal in zone:
                zones.append((b - first, zone, zm))
            elif b == first:
                glob, gmods = zone, zm
        return glob, gmods, zones

    def regions(self, preset_index: int) -> list[Region]:
        """Flatten one preset (index into ``phdr``) into resolved regions."""
        p = self.phdr
        pwhere = f"preset {self.preset_name(preset_index)!r}"
        pglob, pgmods, pzones = self._zones(
            self.pbag, self.pgen, self.pmod, int(p[preset_index]["bag"]),
            int(p[preset_index + 1]["bag"]), INSTRUMENT, pwhere)
        out: list[Region] = []
        for pzi, pz, pzmods in pzones:
            pgen = {**pglob, **pz}
            ii = pgen[INSTRUMENT]
            if not 0 <= ii < len(self.inst) - 1:
                raise SF2Error(f"{pwhere} zone {pzi}: field instrument = {ii} is past the "
                               f"{len(self.inst) - 1} instruments")
            iwhere = f"{pwhere} zone {pzi} / instrument {self._name(self.inst, ii)!r}"
            iglob, igmods, izones = self._zones(
                self.ibag, self.igen, self.imod, int(self.inst[ii]["bag"]),
                int(self.inst[ii + 1]["bag"]), SAMPLE_ID, iwhere)
            pmods = _merge_mods(pgmods, pzmods)
            for izi, iz, izmods in izones:
                gen = {**DEFAULTS, **iglob, **iz}
                mods = _merge_mods(_merge_mods(list(DEFAULT_MODS), igmods), izmods)
                reg = self._region(gen, pgen, tuple(mods) + tuple(pmods),
                                   f"{iwhere} zone {izi}")
                if reg is not None:
                    out.append(reg)
        return out

    def _region(self, gen: dict[int, int], pgen: dict[int, int], mods: tuple[Modulator, ...],
                where: str) -> Region | None:
        lo_hi = {}
        for r in _RANGES:
            v = gen[r] & 0xFFFF
            lo, hi = v & 0xFF, v >> 8
            if r in pgen:
                pv = pgen[r] & 0xFFFF
                lo, hi = max(lo, pv & 0xFF), min(hi, pv >> 8)
            lo_hi[r] = (lo, min(127, hi))
        if lo_hi[KEY_RANGE][0] > lo_hi[KEY_RANGE][1] or lo_hi[VEL_RANGE][0] > lo_hi[VEL_RANGE][1]:
            return None
        for k, v in pgen.items():  # preset generators add to instrument ones
            if k not in _INSTRUMENT_ONLY and k not in _RANGES and k != INSTRUMENT:
                gen[k] = gen.get(k, 0) + v
        for k in list(gen):
            if k not in _RANGES and k not in (0, 1, 2, 3):
                gen[k] = _clamp(k, gen[k])
        sid = gen[SAMPLE_ID]
        if not 0 <= sid < len(self.shdr) - 1:
            raise SF2Error(f"{where}: field sampleID = {sid} is past the "
                           f"{len(self.shdr) - 1} samples")
        s = self.shdr[sid]
        if int(s["type"]) & 0x8000:  # ROM samples are not in the file
            return None
        g = gen.get
        base = 0
        n_total = (self._smpl[1] - self._smpl[0]) // 2
        s_start, s_end = int(s["start"]), int(s["end"])
        s_ls, s_le = int(s["loop_start"]), int(s["loop_end"])
        if self.compressed:  # SF3: offsets are into the sample's own decoded stream
            self.decode_samples()
            base, n = self.sample_spans.get(sid, (0, 0))
            s_ls, s_le = s_ls + base, s_le + base  # loop points are relative in SF3
            s_start, s_end = base, base + n
            n_total = len(self.samples) if self.samples is not None else 0
        if s_end > n_total or s_start >= s_end:
            raise SF2Error(f"{where}: sample {self._name(self.shdr, sid)!r} field end = "
                           f"{s_end} is past the sample data ({n_total} points) or before "
                           f"its start ({s_start})")
        start = s_start + g(START_OFS, 0) + 32768 * g(START_COARSE, 0)
        end = s_end + g(END_OFS, 0) + 32768 * g(END_COARSE, 0)
        ls = s_ls + g(LOOP_START_OFS, 0) + 32768 * g(LOOP_START_COARSE, 0)
        le = s_le + g(LOOP_END_OFS, 0) + 32768 * g(LOOP_END_COARSE, 0)
        start, end = max(0, min(start, n_total - 1)), max(0, min(end, n_total))
        if end - start < 2:
            return None
        mode = g(SAMPLE_MODES, 0)
        mode = 0 if mode == 2 else mode  # 2 is "no loop" too (spec 8.1.2, item 54)
        ok = start <= ls < le <= end and le - ls >= 2  # a loop outside its sample: no loop
        loops = mode in (1, 3) and ok
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
            gens=dict(gen), mods=mods, loop_mode=mode if loops else 0, where=where,
        )


def _merge_mods(base: list[Modulator], over: list[Modulator]) -> list[Modulator]:
    """``base`` with ``over`` added; an identical modulator (same sources, destination and
    transform) replaces the one in ``base`` (spec 9.5.1)."""
    out = list(base)
    for m in over:
        key = (m[0], m[1], m[3], m[4])
        for i, b in enumerate(out):
            if (b[0], b[1], b[3], b[4]) == key:
                out[i] = m
                break
        else:
            out.append(m)
    return out


def semitone_ratio(cents: float) -> float:
    return math.pow(2.0, cents / 1200.0)
