"""Voices and the voice allocator: polyphony limit, note stealing, stuck-note reclaim.

``max_voices`` bounds the notes that sound (APO-10). A stolen voice is not cut: it
moves to a tail list where it fades out over ~5 ms, so stealing never clicks; tails
are capped too. Every release (note-off, release-all, stealing, timeout) goes through
``Envelope.release`` (APO-03), and notes held longer than ``max_note_s`` are released
so an error path that loses a note-off cannot leave a voice stuck (APO-02).

Rendering is one numba call per block (``kernels.render_block``): each voice owns a row
of two preallocated state matrices, written once when the note starts. Changes made
while a block's events are applied (releases, stealing fades, dropped tails, channel
volume/pan/bend) are queued as event rows at their frame in the block, so the kernel
applies them at that exact sample; the Python side only keeps the bookkeeping (which
voice holds which key, release levels, stealing order). Built-in notes go through the
note cache (``notecache``): a voice's row says whether it records its note, reads it
back or renders live, and a row copied from the first note of the same key makes a
note start cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np

from mos_lab.audio import kernels as K
from mos_lab.audio.envelope import Envelope
from mos_lab.audio.instruments.base import NoteSpec
from mos_lab.audio.instruments.sf2voice import SF2Source
from mos_lab.audio.instruments.sources import (
    TABLES,
    FMSource,
    SampleSource,
    WavetableSource,
    clone_source,
)
from mos_lab.audio.notecache import NoteCache

_DATA_SLOTS = 4  # distinct sample arrays one kernel call can read
_EMPTY = np.zeros(1, np.float32)
_MIN_SCRATCH = 64  # scratch rows hold at least the kernels' lane tables (K.LANES)


class Voice:
    """One sounding note: its slot in the state matrices plus the allocator's bookkeeping."""

    __slots__ = (
        "_alloc",
        "alive",
        "cache_key",
        "channel",
        "data_slot",
        "entry",
        "env",
        "exclusive",
        "gain",
        "ignore_off",
        "kind",
        "onset",
        "pan",
        "pitch",
        "serial",
        "slot",
        "sostenuto",
        "source",
        "stolen",
        "sustained",
        "velocity",
    )

    def __init__(self, alloc: VoiceAllocator, spec: NoteSpec, channel: int, pitch: int,
                 velocity: int, serial: int, slot: int, onset: int) -> None:
        self._alloc = alloc
        self.source = spec.source
        self.env = Envelope(spec.envelope, alloc.sample_rate)
        self.gain = float(spec.gain)
        self.pan = float(spec.pan)
        self.exclusive = spec.exclusive
        self.ignore_off = spec.ignore_note_off
        self.channel = channel
        self.pitch = pitch
        self.velocity = velocity
        self.serial = serial
        self.slot = slot
        self.onset = onset  # absolute frame of note-on
        self.sustained = False
        self.sostenuto = False  # held by the sostenuto pedal (CC66) since it went down
        self.stolen = False
        self.kind = K.K_EXT
        self.data_slot = -1
        self.cache_key = spec.cache_key
        self.entry = -1  # note-cache entry (built-in notes), -1 when none
        self.alive = True  # False once its slot is freed

    @property
    def held(self) -> bool:
        """True until the voice's release has started."""
        return not self.env.released

    @property
    def done(self) -> bool:
        """True once the kernel found the voice finished (or it was dropped)."""
        return bool(self._alloc.I[self.slot, K.I_DONE])

    def loudness(self) -> float:
        """Envelope level now (at the current event's frame) times gain."""
        self.env.t = self._alloc.now - self.onset
        return self.env.level() * self.gain


class VoiceAllocator:
    """Owns the voices and their state rows; starts, releases, steals, renders and reaps."""

    def __init__(self, max_voices: int, sample_rate: float, *, steal_fade_s: float = 0.005,
                 max_note_s: float = 60.0, threads: int = 1, note_cache_bytes: int = 0) -> None:
        if max_voices < 1:
            raise ValueError("max_voices must be at least 1")
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.threads = int(threads)  # > 1: offline only, voices split over threads
        self.max_voices = int(max_voices)
        self.sample_rate = float(sample_rate)
        self.fade_frames = max(1, round(steal_fade_s * sample_rate))
        self.max_note_frames = int(max_note_s * sample_rate) if math.isfinite(max_note_s) else 0
        self.voices: list[Voice] = []
        self.tails: list[Voice] = []
        self._serial = 0
        self.stolen_count = 0
        self._released = 0  # releases so far (a steal's candidate list is stale after one)
        # (frame, releases, candidates sorted by loudness then order, next index)
        self._steal_at: tuple[int, int, list[tuple[float, int, Voice]], int] | None = None
        self.reclaimed_count = 0
        cap = 2 * self.max_voices + 8
        self.F = np.zeros((cap, K.NF))
        self.I = np.zeros((cap, K.NI), np.int64)
        self.rng = np.ones(cap, np.uint64)
        self._free = list(range(cap - 1, -1, -1))  # pop() gives the lowest slot
        self._by_slot: list[Voice | None] = [None] * cap
        # Held voices that answer note-offs, per (channel, pitch), in start order: a
        # note-off or retrigger finds its voices without scanning every voice.
        self._keys: dict[tuple[int, int], list[Voice]] = {}
        # Rows of notes started before, by (cache key, id of envelope): copied at note start.
        self._rows: dict[tuple[object, int],
                         tuple[np.ndarray, np.ndarray, int, int, object]] = {}
        self._high = 0  # slots below this may be active
        self._dying: list[Voice] = []  # dropped this block: slots freed after the render
        self._ev = np.zeros((64, K.EV_COLS))
        self._nev = 0
        self.clock = 0  # absolute frame of the next block's first sample
        self.offset = 0  # frame in the next block where calls made now take effect
        # level, pan offset, bend ratio, mod wheel (0..1) at the block start
        self.chan = np.zeros((16, 4))
        self.chan[:, 0] = (100 / 127) ** 2
        self.chan[:, 2] = 1.0
        self._data: list[np.ndarray | None] = [None] * _DATA_SLOTS
        self._data_users = [0] * _DATA_SLOTS
        self._dargs = [_EMPTY] * _DATA_SLOTS  # what the kernel gets for each data slot
        self._ext = np.zeros((1, 1))
        self._scratch = np.zeros((4, _MIN_SCRATCH))
        self._report = np.zeros(K.NREPORT, np.int64)
        self._tmix = np.zeros((self.threads, 4, 8))  # per-thread mixes (threads > 1)
        self.fx = K.NO_FX  # master effects state (``effects.make_state``), set by the synth
        self._tscratch = np.zeros((self.threads, 4, _MIN_SCRATCH))
        self._treport = np.zeros((self.threads, K.NREPORT), np.int64)
        # Built-in notes rendered once and read back (0 bytes: every note renders live).
        self.notes = NoteCache(note_cache_bytes, sample_rate) if note_cache_bytes > 0 else None
        self._nc = ((self.notes.arena, self.notes.etab, self.notes.E) if self.notes is not None
                    else K.empty_note_cache())
        self._n_ext = 0  # voices with custom sources (rendered in numpy before the kernel)
        # Per channel: how many sounding SoundFont voices have live modulators reading each
        # source (controller number, sf2voice.WHEEL, SENSITIVITY): a change of a source no
        # voice reads costs nothing.
        self._reads: list[dict[int, int]] = [{} for _ in range(16)]

    def __iter__(self) -> Iterator[Voice]:
        yield from self.voices
        yield from self.tails

    @property
    def active(self) -> int:
        """Voices counted against the polyphony limit."""
        return len(self.voices)

    @property
    def sounding(self) -> int:
        """All voices that still produce sound, stolen tails included."""
        return len(self.voices) + len(self.tails)

    @property
    def now(self) -> int:
        """Absolute frame at which calls made now take effect."""
        return self.clock + self.offset

    # -- events for the kernel -------------------------------------------------------------
    def _event(self, kind: int, target: int, a: float = 0.0, b: float = 0.0,
               c: float = 0.0) -> None:
        if self._nev == len(self._ev):
            self._ev = np.concatenate([self._ev, np.zeros_like(self._ev)])
        self._ev[self._nev] = (self.offset, kind, target, a, b, c, 0.0)  # one numpy call
        self._nev += 1

    def set_channel(self, channel: int, level: float, pan: float, bend: float,
                    modwheel: float = 0.0) -> None:
        """Channel level/pan/bend/mod wheel from the current frame on (applied by the kernel)."""
        self._event(K.EV_CHAN, channel, level, pan, bend)
        if modwheel:
            self._ev[self._nev - 1, 6] = modwheel

    def reads(self, channel: int, source: int | None = None) -> bool:
        """True if a sounding voice of ``channel`` has a live modulator reading ``source``
        (a controller number, ``sf2voice.WHEEL`` or ``SENSITIVITY``; None: any)."""
        reads = self._reads[channel]
        return bool(reads) if source is None else source in reads

    def modulate(self, channel: int, source: int | None, controls: Mapping[int, int],
                 wheel: tuple[float, float]) -> None:
        """``source`` changed on ``channel`` (None: any may have): the voices whose live
        modulators read it evaluate them again with ``controls`` and ``wheel`` (pitch
        wheel 0..1, sensitivity semitones); the changed row values apply from the
        current frame on (the kernel glides gains and sends, ramps the filter)."""
        # (None, a restore or CC121: not the stolen voices fading out, as after a seek)
        for v in self.voices if source is None else (*self.voices, *self.tails):
            src = v.source
            if v.channel != channel or v.kind != K.K_SF2 or not v.alive \
                    or not isinstance(src, SF2Source) or src.spec is None:
                continue
            if source is not None and source not in src.keys:
                continue
            live = src.live
            if live is None:  # its first change: the values it started with
                live = src.live = src.spec.voice(v.pitch, v.velocity, v.gain, v.pan,
                                                 src.ratio)
            for col, val in live.update(controls, wheel, source):
                self._event(K.EV_SET, v.slot, float(col), val)
                if col == K.F_GAIN:
                    v.gain = val
                elif col == K.F_PAN:
                    v.pan = val

    def _release(self, v: Voice, frames: int | None = None) -> None:
        """Start ``v``'s release at the current frame (the one path for every note end)."""
        v.sustained = False
        self._unkey(v)
        self._released += 1
        env = v.env
        env.t = self.now - v.onset
        before = (env.rel_start, env.rel_len, env.rel_level)
        env.release(frames)
        if (env.rel_start, env.rel_len, env.rel_level) != before:
            self._event(K.EV_REL, v.slot, env.rel_level, float(env.rel_len))

    def _unkey(self, v: Voice) -> None:
        """Forget ``v`` as a held voice of its key (it is released or gone)."""
        lst = self._keys.get((v.channel, v.pitch))
        if lst is not None and v in lst:
            lst.remove(v)
            if not lst:
                del self._keys[(v.channel, v.pitch)]

    # -- slots ---------------------------------------------------------------------------
    def _grow(self) -> None:
        cap = len(self.F)
        self.F = np.concatenate([self.F, np.zeros_like(self.F)])
        self.I = np.concatenate([self.I, np.zeros_like(self.I)])
        self.rng = np.concatenate([self.rng, np.ones(cap, np.uint64)])
        self._free = list(range(2 * cap - 1, cap - 1, -1)) + self._free
        self._by_slot += [None] * cap

    def _take_slot(self) -> int:
        if not self._free:
            self._grow()
        slot = self._free.pop()
        self._high = max(self._high, slot + 1)
        return slot

    def _data_slot(self, data: np.ndarray) -> int:
        for i, d in enumerate(self._data):
            if d is data:
                return i
        for i, d in enumerate(self._data):
            if d is None or self._data_users[i] == 0:
                self._data[i] = data
                self._dargs[i] = data
                return i
        return -1

    def _fill_row(self, v: Voice, spec: NoteSpec) -> None:
        """Write ``v``'s envelope and source parameters into its state row.

        A note with a cache key starts from a copy of the row its key first produced
        (same source and envelope), then gets its own gain, pan, channel and onset.
        """
        s = v.slot
        rk = (v.cache_key, id(spec.envelope)) if v.cache_key is not None else None
        got = self._rows.get(rk) if rk is not None else None
        if got is not None:
            self.F[s] = got[0]
            self.I[s] = got[1]
            self.rng[s] = got[2]
            self.F[s, K.F_GAIN] = v.gain
            self.F[s, K.F_PAN] = v.pan
            self.I[s, K.I_CH] = v.channel
            self.I[s, K.I_START] = self.offset
            v.kind = got[3]
            if self.notes is not None:
                self._use_cache(v, self.notes)
            return
        F, Iv = self.F[s], self.I[s]
        F[:] = 0.0
        Iv[:] = 0
        env = v.env
        F[K.F_A], F[K.F_H], F[K.F_DK], F[K.F_S] = env._a, env._h, env._d_k, env._s
        F[K.F_GAIN], F[K.F_PAN] = v.gain, v.pan
        Iv[K.I_CH] = v.channel
        Iv[K.I_START] = self.offset
        Iv[K.I_ACTIVE] = 1
        src = v.source
        kind = K.K_EXT
        if type(src) is WavetableSource and src.table_ofs >= 0:
            kind = K.K_WAVE
            nosc = len(src.incs)
            F[K.F_INC:K.F_INC + nosc] = src.incs
            F[K.F_PH:K.F_PH + nosc] = src.phases
            F[K.F_NORM], F[K.F_BK] = src.norm, src.bright_k
            F[K.F_VINC], F[K.F_VDEPTH], F[K.F_VPH] = src.vib_inc, src.vib_depth, src.vib_phase
            F[K.F_NOISE], F[K.F_VFADE] = src.noise, 1.0 / (0.3 * src.sr)
            Iv[K.I_NOSC], Iv[K.I_TOFS] = nosc, src.table_ofs
            Iv[K.I_TSIZE] = src.tables.shape[1] - 1
            self.rng[s] = src.noise_state[0]
            Iv[K.I_T] = src.t
        elif type(src) is FMSource:
            kind = K.K_FM
            F[K.F_INC], F[K.F_RATIO], F[K.F_PH], F[K.F_PH + 1] = (src.inc, src.ratio,
                                                                   src.phase, src.mphase)
            F[K.F_I0], F[K.F_I1], F[K.F_IK] = src.i0, src.i1, src.ik
            Iv[K.I_T] = src.t
        elif type(src) is SF2Source:
            d = self._data_slot(src.data)
            if d >= 0:
                kind = K.K_SF2
                v.data_slot = d
                self._data_users[d] += 1
                Iv[K.I_DATA] = d
                F[K.S_VDEL:] = src.row[K.S_VDEL:]
                F[K.F_INC], F[K.F_POS], F[K.F_END] = src.ratio, src.pos, src.end
                F[K.F_LS], F[K.F_LE], F[K.F_RLEN] = src.loop_start, src.loop_end, src.pos
                F[K.S_CHUNK] = F[K.S_NEXT] = -1.0
                Iv[K.I_LOOP] = src.loop_mode
                if src.keys:
                    reads = self._reads[v.channel]
                    for k in src.keys:
                        reads[k] = reads.get(k, 0) + 1
        elif type(src) is SampleSource:
            d = self._data_slot(src.data)
            if d >= 0:
                kind = K.K_SAMPLE
                v.data_slot = d
                self._data_users[d] += 1
                Iv[K.I_DATA] = d
                F[K.F_INC], F[K.F_POS], F[K.F_END] = src.ratio, src.pos, src.end
                if src.loop is not None:
                    Iv[K.I_LOOP] = 1
                    F[K.F_LS], F[K.F_LE] = src.loop
                Iv[K.I_FIN] = int(src.finished)
        Iv[K.I_KIND] = kind
        v.kind = kind
        if kind == K.K_EXT:
            self._n_ext += 1
            if v.cache_key is not None:  # a shared source: render a copy of it
                v.source = clone_source(src)
        elif kind != K.K_SAMPLE and rk is not None:
            if len(self._rows) >= 4096:  # bounded: forget old rows (rebuilt on demand)
                self._rows.clear()
            # The envelope object is kept with the row, so its id (in the key) stays unique.
            self._rows[rk] = (F.copy(), Iv.copy(), int(self.rng[s]), kind, spec.envelope)
            if self.notes is not None:
                self._use_cache(v, self.notes)

    def _use_cache(self, v: Voice, nc: NoteCache) -> None:
        """Play ``v`` from its note's cache entry: read it, record it, or extend it."""
        e = nc.lookup(v.cache_key)
        if e < 0:
            e = nc.create(v.cache_key)
            if e < 0:
                return  # the cache is full of notes in use: play live
            mode = K.PM_RECORD
        elif e in nc.recording or nc.E[e, 0] >= nc.per_entry * K.CHUNK:
            mode = K.PM_READ
        else:
            nc.room(e, K.CHUNK)
            mode = K.PM_EXTEND
        if mode != K.PM_READ:
            nc.recording[e] = v.slot
        nc.users[e] += 1
        v.entry = e
        self.I[v.slot, K.I_ENT] = e
        self.I[v.slot, K.I_PMODE] = mode

    def _drop_done(self, slots: list[int] | None = None) -> None:
        """Free the voices the kernel marked done and drop them from the lists.

        ``slots`` is the kernel's list of voices that ended (None: find them by one
        numpy pass), so the cost follows the voices that ended, not all that sound.
        """
        if slots is None:
            rows = self.I[:self._high]
            slots = np.flatnonzero(rows[:, K.I_DONE] & rows[:, K.I_ACTIVE]).tolist()
        if not slots:
            return
        by_slot = self._by_slot
        held = tail = False  # which lists lost a voice (tails hold the stolen ones)
        for s in slots:
            v = by_slot[s]
            if v is not None and v.alive:
                self._free_slot(v)
                if v.stolen:
                    tail = True
                else:
                    held = True
        if held:
            self.voices = [v for v in self.voices if v.alive]
        if tail:
            self.tails = [v for v in self.tails if v.alive]

    def _free_slot(self, v: Voice) -> None:
        v.alive = False
        self._by_slot[v.slot] = None
        if v.held and not v.ignore_off:
            self._unkey(v)
        if v.kind == K.K_EXT:
            self._n_ext -= 1
        if v.entry >= 0 and self.notes is not None:
            nc = self.notes
            nc.users[v.entry] -= 1
            if nc.recording.get(v.entry) == v.slot:
                del nc.recording[v.entry]
            v.entry = -1
        self.I[v.slot, K.I_ACTIVE] = 0
        self.I[v.slot, K.I_DONE] = 1
        if v.data_slot >= 0:
            self._data_users[v.data_slot] -= 1
            v.data_slot = -1
        src = v.source
        if v.kind == K.K_SF2 and isinstance(src, SF2Source) and src.keys:
            reads = self._reads[v.channel]
            for k in src.keys:
                left = reads[k] - 1
                if left:
                    reads[k] = left
                else:
                    del reads[k]
        self._free.append(v.slot)

    # -- allocation ------------------------------------------------------------------------
    def _to_tail(self, v: Voice) -> None:
        v.stolen = True
        self._release(v, self.fade_frames)
        if v in self.voices:
            self.voices.remove(v)
        self.tails.append(v)
        if len(self.tails) > self.max_voices:  # pathological bursts: drop the oldest tail
            self._drop(self.tails.pop(0))

    def _drop(self, v: Voice) -> None:
        """Silence ``v`` from the current frame on; its slot is freed after the render."""
        self._event(K.EV_KILL, v.slot)
        self._dying.append(v)

    def _steal(self) -> None:
        """Steal the quietest released voice, else the oldest held one. The released
        voices' levels are ranked once per frame (a chord's notes steal one after
        another at the same frame; a release in between ranks them again)."""
        now = self.now
        got = self._steal_at
        if got is None or got[0] != now or got[1] != self._released:
            exp = math.exp
            ranked: list[tuple[float, int, Voice]] = []
            for i, v in enumerate(self.voices):
                env = v.env
                rs = env.rel_start
                if rs < 0:  # held
                    continue
                # the released envelope's level (``Envelope.level``) inlined, times gain
                g = (exp(-env.rel_k * (now - v.onset - rs)) - 0.001) * (env.rel_level / 0.999)
                ranked.append(((g if g > 0.0 else 0.0) * v.gain, i, v))
            ranked.sort(key=lambda r: (r[0], r[1]))  # quietest first, the first one on ties
            got = (now, self._released, ranked, 0)
        ranked, k = got[2], got[3]
        while k < len(ranked) and ranked[k][2].stolen:  # stolen since it was ranked
            k += 1
        if k < len(ranked):
            victim = ranked[k][2]
            k += 1
        else:
            victim = min(self.voices, key=lambda v: v.serial)  # the oldest held note
        self.stolen_count += 1
        self._to_tail(victim)
        self._steal_at = (now, self._released, ranked, k)

    def start(self, specs: list[NoteSpec], channel: int, pitch: int, velocity: int) -> None:
        """Start a note's layers, releasing a retriggered key and stealing if full."""
        held = self._keys.get((channel, pitch))
        if held:
            for v in list(held):
                self._release(v)
        # Exclusive classes cut the channel's earlier notes, never this note's own layers
        # (FluidSynth spares the voices of the same note-on; TimGM6mb's kit 16 hi-hat is
        # two layers of class 1, and the second one cut the first: 6 dB short).
        excl = {s.exclusive for s in specs if s.exclusive}
        if excl:
            for v in list(self.voices):
                if v.channel == channel and v.exclusive in excl:
                    self._to_tail(v)
        for spec in specs:
            while len(self.voices) >= self.max_voices:
                self._steal()
            self._serial += 1
            v = Voice(self, spec, channel, pitch, velocity, self._serial, self._take_slot(),
                      self.now)
            self._by_slot[v.slot] = v
            self._fill_row(v, spec)
            self.voices.append(v)
            if not v.ignore_off:
                self._keys.setdefault((channel, pitch), []).append(v)

    def note_off(self, channel: int, pitch: int, sustain: bool) -> None:
        """Release held voices of a key, or mark them sustained while the pedal is down."""
        held = self._keys.get((channel, pitch))
        if not held:
            return
        for v in list(held):
            if sustain or v.sostenuto:
                v.sustained = True
            else:
                self._release(v)

    def sustain_off(self, channel: int) -> None:
        """Pedal up: release the voices the pedal was holding."""
        for v in self.voices:
            if v.channel == channel and v.sustained and not v.sostenuto:
                self._release(v)

    def sostenuto_on(self, channel: int) -> None:
        """Sostenuto down: the notes held now keep sounding after their note-off."""
        for v in self.voices:
            if v.channel == channel and v.held and not v.ignore_off:
                v.sostenuto = True

    def sostenuto_off(self, channel: int, sustain: bool) -> None:
        """Sostenuto up: release the notes it held whose keys are up (unless sustained)."""
        for v in list(self.voices):
            if v.channel == channel and v.sostenuto:
                v.sostenuto = False
                if v.sustained and not sustain:
                    self._release(v)

    def release(self, v: Voice, frames: int | None = None) -> None:
        """Release one voice now (``frames`` overrides its release length)."""
        self._release(v, frames)

    def release_all(self, channel: int | None = None, *, immediate: bool = False,
                    sustain: bool = False) -> None:
        """Release every held voice (of a channel); ``immediate`` fades in ~5 ms instead."""
        if immediate:  # all at once: same result as _to_tail one by one, without O(n^2)
            movers = [v for v in self.voices if channel is None or v.channel == channel]
            for v in movers:
                v.stolen = True
                self._release(v, self.fade_frames)
            self.voices = [v for v in self.voices if not v.stolen]
            self.tails.extend(movers)
            extra = len(self.tails) - self.max_voices
            if extra > 0:  # pathological bursts: drop the oldest tails
                for v in self.tails[:extra]:
                    self._drop(v)
                del self.tails[:extra]
            return
        for v in list(self.voices):
            if channel is not None and v.channel != channel:
                continue
            if v.held and not v.ignore_off:
                if sustain:
                    v.sustained = True
                else:
                    self._release(v)
            elif v.held and channel is None:
                self._release(v)

    # -- rendering ---------------------------------------------------------------------------
    def _render_external(self, n: int) -> None:
        """Custom sources render in Python (numpy) for the whole block, before the kernel."""
        if not self._n_ext:
            return
        ext = [v for v in self if v.kind == K.K_EXT and not v.done]
        if not ext:
            return
        if self._ext.shape[0] < len(ext) or self._ext.shape[1] < n:
            self._ext = np.zeros((max(len(ext), self._ext.shape[0]), max(n, self._ext.shape[1])))
        bends = {int(c): float(b) for _, kind, c, _, _, b, _ in self._ev[:self._nev]
                 if kind == K.EV_CHAN}  # the block's last bend per channel
        for row, v in enumerate(ext):
            start = int(self.I[v.slot, K.I_START])
            self.I[v.slot, K.I_EXT] = row
            bend = bends.get(v.channel, float(self.chan[v.channel, 2]))
            if start < n:
                self._ext[row, start:n] = v.source.render(n - start, bend)
            if v.source.finished:
                self.I[v.slot, K.I_EXTFIN] = 1

    def render(self, mix: np.ndarray, n: int, out: np.ndarray | None = None,
               limiter: np.ndarray | None = None) -> None:
        """Render the next ``n`` frames of every voice into planar ``mix`` (2, >= n) float64
        (4 rows: also the reverb and chorus sends, which ``fx`` turns into sound).

        With ``limiter`` (``Limiter.state``) the kernel also limits ``mix`` into ``out``
        (float32). Events queued since the last render apply at their frames; then the
        clock advances by ``n`` and finished voices are reaped.
        """
        if self._n_ext:
            self._render_external(n)
        if self._scratch.shape[1] < n:
            self._scratch = np.zeros((4, max(n, _MIN_SCRATCH)))
        d = self._dargs
        if limiter is None:
            lim = np.zeros(6)
            target = np.zeros((0, 2), np.float32)
        else:
            lim, target = limiter, out if out is not None else np.zeros((n, 2), np.float32)
        if self.threads > 1 and self._high > 1:
            if self._tmix.shape[2] < n:
                self._tmix = np.zeros((self.threads, 4, n))
                self._tscratch = np.zeros((self.threads, 4, max(n, _MIN_SCRATCH)))
            K.render_parallel(n, mix, target, self.F, self.I, self.rng, self._high, self._ev,
                              self._nev, self.chan, TABLES.pairs, K.SINE, K.SINE_DELTA, d[0],
                              d[1], d[2], d[3], self._ext, self._tscratch, lim,
                              self.max_note_frames, self._report, *self._nc, self._tmix,
                              self._treport, self.fx)
        else:
            K.render_block(n, mix, target, self.F, self.I, self.rng, self._high, self._ev,
                           self._nev, self.chan, TABLES.pairs, K.SINE, K.SINE_DELTA, d[0],
                           d[1], d[2], d[3], self._ext, self._scratch, lim,
                           self.max_note_frames, self._report, *self._nc, self.fx)
        self._nev = 0
        self.offset = 0
        self.clock += n
        rep = self._report
        done, overdue, want = rep[:3].tolist()
        if want and self.notes is not None:
            self.notes.grow_recorders(rep[K.R_WANT:K.R_WANT + want].tolist()
                                      if want <= K.NLIST else None)
        if done or overdue or self._dying:
            self._reap(done, overdue, rep[K.R_DONE:K.R_DONE + done].tolist()
                       if done <= K.NLIST else None)

    def _reap(self, finished: int, overdue: int, slots: list[int] | None = None) -> None:
        """Drop finished voices and release notes held longer than ``max_note_s``."""
        if overdue:
            for v in self.voices:
                if v.held and self.clock - v.onset >= self.max_note_frames:
                    self._release(v)
                    self.reclaimed_count += 1
        for v in self._dying:
            self._free_slot(v)
        self._dying.clear()
        if finished:
            self._drop_done(slots)
        while self._high and not self.I[self._high - 1, K.I_ACTIVE]:
            self._high -= 1

    def reap(self) -> None:
        """Drop voices already found finished (the render reaps by itself; kept for callers)."""
        self._reap(1, 0)

    def clear(self) -> None:
        """Forget every voice at once (used after an immediate fade has finished)."""
        for v in [*self.voices, *self.tails]:
            self._free_slot(v)
        self.voices.clear()
        self.tails.clear()
