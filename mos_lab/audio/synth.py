"""The Apollo synth: a JUCE-style audio processor driven by sample-offset events.

``process(out, events)`` fills one stereo float32 block; each event takes effect at its
exact frame inside the block: the events are applied to the voice allocator in order
(notes start, releases and channel changes are queued at their frame), then one nogil
numba call renders every voice, the mix and the limiter (see ``kernels.py``). Calls
from other threads (``note_on``, ``all_notes_off``, bank switches) are serialised by one
lock and take effect at the start of the next block.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Literal

import numpy as np

from mos_lab.audio import events as ev
from mos_lab.audio import kernels
from mos_lab.audio.channels import ChannelState
from mos_lab.audio.effects import make_state
from mos_lab.audio.events import DRUM_CHANNEL as DRUM
from mos_lab.audio.events import NOTE_OFF, NOTE_ON, Event, check_event, check_events
from mos_lab.audio.instruments.base import InstrumentBank
from mos_lab.audio.instruments.builtin import BuiltinBank
from mos_lab.audio.instruments.sf2voice import SENSITIVITY, WHEEL
from mos_lab.audio.limiter import Limiter
from mos_lab.audio.loading import Emit, Progress, load_async
from mos_lab.audio.voices import VoiceAllocator

BankLoader = Callable[[Progress], InstrumentBank]


class Synth:
    """Polyphonic GM synth: 16 channels, voice allocator, instrument bank, limiter."""

    def __init__(self, sample_rate: int = 48000, max_voices: int = 64,
                 instrument_bank: InstrumentBank | None = None, *, max_block: int = 1024,
                 max_note_s: float = 60.0, steal_fade_s: float = 0.005,
                 render_threads: int = 1, note_cache_bytes: int = 64 << 20,
                 effects: bool = True) -> None:
        self._lock = threading.RLock()
        # Master reverb and chorus (``effects.py``), fed by SoundFont voices' sends.
        self._effects = bool(effects)
        # > 1 splits voices over that many threads: for offline renders only (the real-time
        # path stays one single-threaded nogil call per block).
        self.render_threads = max(1, int(render_threads))
        # Built-in notes are rendered once into this many bytes and read back (0: off).
        self.note_cache_bytes = max(0, int(note_cache_bytes))
        self.max_voices = int(max_voices)
        self.max_note_s = float(max_note_s)
        self.steal_fade_s = float(steal_fade_s)
        self.fallback_bank: InstrumentBank = BuiltinBank()
        self.bank: InstrumentBank = instrument_bank or self.fallback_bank
        self.channels = [ChannelState() for _ in range(16)]
        self.frames = 0  # frames rendered so far: the synth's own sample clock
        self._incoming: deque[Event] = deque()
        self._scheduled: list[tuple[int, int, Event]] = []  # (abs frame, seq, event)
        self._held: list[tuple[int, Event]] = []  # note events held while a bank loads
        self._seq = 0
        self._pending: Future[InstrumentBank] | None = None
        self._pending_mode: Literal["old", "queue"] = "old"
        self.last_load_error: BaseException | None = None
        self.prepare(sample_rate, max_block)

    # -- lifecycle ---------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int) -> None:
        """Set the rate and largest block; drops voices (like JUCE ``prepareToPlay``)."""
        if sample_rate <= 0 or max_block <= 0:
            raise ValueError("sample_rate and max_block must be positive")
        with self._lock:
            self.sample_rate = int(sample_rate)
            self.max_block = int(max_block)
            self._warm = False  # kernels and instrument samples ready for this rate
            self.voices = VoiceAllocator(self.max_voices, sample_rate,
                                         steal_fade_s=self.steal_fade_s,
                                         max_note_s=self.max_note_s,
                                         threads=self.render_threads,
                                         note_cache_bytes=self.note_cache_bytes)
            self.limiter = Limiter(sample_rate)
            # planar: what the kernel sums into (stereo, then the reverb and chorus sends)
            self._mix = np.zeros((4, self.max_block))
            self.voices.fx = make_state(sample_rate) if self._effects else kernels.NO_FX
            self._out = np.zeros((self.max_block, 2), np.float32)
            for ch in range(16):
                self._sync_channel(ch)

    @property
    def effects(self) -> bool:
        """Master reverb and chorus on (the default, for listening) or off (dry)."""
        return self._effects

    @effects.setter
    def effects(self, on: bool) -> None:
        with self._lock:
            self._effects = bool(on)
            self.voices.fx = (make_state(self.sample_rate) if self._effects
                              else kernels.NO_FX)

    def warm_up(self) -> None:
        """Compile (or load from cache) the kernels and render the drum samples now.

        The first ``process`` does it anyway (an output's prefill, on the engine's boot
        thread, before the device opens); call it on a loader thread to do it earlier.
        """
        kernels.warm_up()
        if self.render_threads > 1:
            kernels.warm_up_parallel()
        for bank in (self.fallback_bank, self.bank):
            prepare = getattr(bank, "prepare", None)
            if callable(prepare):
                prepare(self.sample_rate)
        self._warm = True

    def _sync_channel(self, channel: int) -> None:
        """Tell the voices the channel's level/pan/bend (from the current frame on)."""
        st = self.channels[channel]
        self.voices.set_channel(channel, st.level, st.pan, st.bend_ratio,
                                st.controls.get(1, 0) / 128.0)

    def reset(self) -> None:
        """Fade every voice out (~5 ms), reset controllers/programs, drop queued events."""
        with self._lock:
            self.voices.release_all(immediate=True)
            self.channels = [ChannelState() for _ in range(16)]
            for ch in range(16):
                self._sync_channel(ch)
            self._incoming.clear()
            self._scheduled.clear()
            self._held.clear()
            self.limiter.reset()

    def all_notes_off(self, immediate: bool = False) -> None:
        """Release every voice through its normal release (or a ~5 ms fade if immediate)."""
        with self._lock:
            self.voices.release_all(immediate=immediate)
            for ch in self.channels:
                ch.controls[ev.CC_SUSTAIN] = 0

    def set_channel_state(self, channel: int, *, program: int | None = None,
                          controls: Mapping[int, int] | None = None,
                          pitch_bend: int | None = None,
                          bend_range: float | None = None) -> None:
        """Restore a channel's program/controllers/bend (after a seek), validated;
        ``bend_range`` (semitones, 0..127.99) is the wheel's RPN 0,0 range in force there."""
        checked: dict[int, int] = {}
        for num, val in (controls or {}).items():
            e = check_event(0, ev.CONTROL, channel, num, val)
            checked[e.a] = e.b
        prog = check_event(0, ev.PROGRAM, channel, program).a if program is not None else None
        bend = check_event(0, ev.PITCH_BEND, channel, pitch_bend).a if pitch_bend is not None \
            else None
        with self._lock:
            st = self.channels[channel]
            was_sustained = st.sustain
            st.restore(prog, checked, bend)
            if bend_range is not None:
                st.bend_range = min(max(float(bend_range), 0.0), 127.99)
            self._sync_channel(channel)
            if self.voices.reads(channel):
                self.voices.modulate(channel, None, st.controls, st.wheel)
            if was_sustained and not st.sustain:
                self.voices.sustain_off(channel)

    def channel_state(self, channel: int) -> dict[str, object]:
        """A copy of a channel's program, controllers and pitch bend."""
        with self._lock:
            return self.channels[channel].snapshot()

    # -- immediate input (UI clicks, tests) -------------------------------------------
    def send(self, kind: str | int, channel: int, a: int, b: object = 0) -> None:
        """Queue one validated event for the start of the next block (thread-safe)."""
        e = check_event(0, kind, channel, a, b)
        with self._lock:
            self._incoming.append(e)

    def note_on(self, channel: int, pitch: int, velocity: object = 100) -> None:
        self.send(ev.NOTE_ON, channel, pitch, velocity)

    def note_off(self, channel: int, pitch: int) -> None:
        self.send(ev.NOTE_OFF, channel, pitch, 0)

    # -- instrument banks (APO-01, APO-05, APO-06) ---------------------------------------
    def load_bank(self, source: BankLoader | str | os.PathLike[str], *, timeout: float = 30.0,
                  pending: Literal["old", "queue"] = "old",
                  emit: Emit | None = None) -> Future[InstrumentBank]:
        """Load a bank (an .sf2 path or a loader function) in the background.

        The switch happens at the start of the first block after the load succeeds.
        Meanwhile ``pending="old"`` plays notes with the current bank (APO-06), and
        ``pending="queue"`` holds note events and replays them, with their spacing, once
        ready (APO-01). On failure or timeout the current bank stays (the built-in one
        by default) and held notes are replayed with it (APO-05).
        """
        if isinstance(source, str | os.PathLike):
            from mos_lab.audio.instruments.soundfont import SoundFontBank

            path = os.fspath(source)

            def sf2_loader(progress: Progress) -> InstrumentBank:
                return SoundFontBank.load(path, progress=progress)
            loader: BankLoader = sf2_loader
            name = os.path.basename(path)
        else:
            loader = source
            name = getattr(source, "__name__", "bank")
        with self._lock:
            fut = load_async(loader, timeout=timeout, name=name, emit=emit)
            self._pending = fut
            self._pending_mode = pending
        return fut

    @property
    def loading(self) -> bool:
        """True while a bank load is in flight or waiting to be switched in."""
        return self._pending is not None

    def _poll_pending(self) -> None:
        fut = self._pending
        if fut is None or not fut.done():
            return
        self._pending = None
        err = fut.exception()
        if err is None:
            self.bank = fut.result()
            self.last_load_error = None
        else:
            self.last_load_error = err
        held, self._held = self._held, []
        if held:  # replay held notes from now on, keeping their relative timing
            first = held[0][0]
            for at, e in held:
                self._schedule(self.frames + (at - first), e)

    def _schedule(self, at: int, e: Event) -> None:
        self._seq += 1
        self._scheduled.append((at, self._seq, e))

    # -- rendering ---------------------------------------------------------------------
    @property
    def active_voices(self) -> int:
        """Voices counted against ``max_voices`` (never above it)."""
        return self.voices.active

    @property
    def sounding_voices(self) -> int:
        """All voices producing sound, including stolen ones fading out."""
        return self.voices.sounding

    @property
    def idle(self) -> bool:
        """True while the next blocks are silence: no voice sounds, no event is queued or
        held, and the effects' tails are gone (an idle output may then stop its device)."""
        fx = self.voices.fx
        tail = (fx.shape[0] > 110 and fx[0] != 0.0
                and (fx[14] <= fx[15] or fx[110] <= fx[11]))
        return not (self.voices.sounding or self._incoming or self._scheduled or self._held
                    or tail)

    def process(self, out: np.ndarray, events: Iterable[Sequence[object]] = ()) -> None:
        """Fill ``out`` (frames, 2) float32 with this block; events at their offsets.

        Events are ``(offset, kind, channel, a, b)``; they are all validated before any
        is applied, so a bad event raises ``ValueError`` and changes nothing.
        """
        if out.ndim != 2 or out.shape[1] != 2:
            raise ValueError(f"out must have shape (frames, 2), got {out.shape}")
        n = out.shape[0]
        block = check_events(events, n)
        if not self._warm:
            self.warm_up()
        with self._lock:
            self._poll_pending()
            if self._incoming or self._scheduled:
                evs: list[Event] = [e for e in self._incoming]
                self._incoming.clear()
                if self._scheduled:
                    end = self.frames + n
                    due = sorted(s for s in self._scheduled if s[0] < end)
                    self._scheduled = [s for s in self._scheduled if s[0] >= end]
                    evs += [e._replace(offset=max(0, at - self.frames)) for at, _, e in due]
                evs += block
                evs.sort(key=lambda e: e.offset)
            else:
                evs = block  # already validated and sorted by offset
            if self._pending is not None and self._pending_mode == "queue":
                keep = []
                for e in evs:
                    if e.kind in (ev.NOTE_ON, ev.NOTE_OFF):
                        self._held.append((self.frames + e.offset, e))
                    else:
                        keep.append(e)
                evs = keep
            if n > self._mix.shape[1]:  # bigger blocks than prepared: grow the scratch once
                self._mix = np.zeros((4, n))
                self._out = np.zeros((n, 2), np.float32)
            mix = self._mix
            direct = out.dtype == np.float32 and out.flags.c_contiguous
            target = out if direct else self._out[:n]
            voices = self.voices
            channels = self.channels
            apply = self._apply_channel
            for e in evs:  # notes dispatched here (thousands a second in a dense render)
                voices.offset = e.offset
                kind = e.kind
                if kind == NOTE_ON:
                    ch = channels[e.channel]
                    inst = self.bank.instrument(ch.program, e.channel == DRUM)
                    start_cc = getattr(inst, "start_cc", None)  # SoundFont: modulators
                    specs = (inst.start(e.a, e.b, self.sample_rate) if start_cc is None
                             else start_cc(e.a, e.b, self.sample_rate, ch.controls,
                                           ch.wheel))
                    if specs:
                        voices.start(specs, e.channel, e.a, e.b)
                elif kind == NOTE_OFF:
                    voices.note_off(e.channel, e.a, channels[e.channel].sustain)
                else:
                    apply(e)
            voices.offset = 0
            voices.render(mix, n, target, self.limiter.state)
            if not direct:
                out[:] = target
            self.frames += n

    def _apply_channel(self, e: Event) -> None:
        """A controller, program or pitch-bend event (notes are applied in ``process``)."""
        ch = self.channels[e.channel]
        if e.kind == ev.CONTROL:
            self._control(e.channel, ch, e.a, e.b)
        elif e.kind == ev.PROGRAM:
            ch.program = e.a
        elif e.kind == ev.PITCH_BEND:
            ch.pitch_bend = e.a
            self._sync_channel(e.channel)
            if self.voices.reads(e.channel, WHEEL):
                self.voices.modulate(e.channel, WHEEL, ch.controls, ch.wheel)

    def _control(self, channel: int, ch: ChannelState, num: int, val: int) -> None:
        if num == ev.CC_ALL_SOUND_OFF:
            self.voices.release_all(channel, immediate=True)
        elif num == ev.CC_RESET_CONTROLLERS:
            was = ch.sustain
            sostenuto = ch.controls.get(66, 0) >= 64
            ch.reset_controllers()
            self._sync_channel(channel)
            if self.voices.reads(channel):
                self.voices.modulate(channel, None, ch.controls, ch.wheel)
            if was:
                self.voices.sustain_off(channel)
            if sostenuto:  # the pedals are up: release what they held (as FluidSynth)
                self.voices.sostenuto_off(channel, False)
        elif num == ev.CC_ALL_NOTES_OFF:
            self.voices.release_all(channel, sustain=ch.sustain)
        else:
            was = ch.sustain
            ch.set_control(num, val)
            sens = num in (6, 38) and ch.data_entry(num, val)  # 6/38: RPN data entry
            if num in (ev.CC_VOLUME, ev.CC_PAN, ev.CC_EXPRESSION, 1) or sens:
                self._sync_channel(channel)
            reads = self.voices.reads
            if reads(channel, num):  # a live modulator reads it (SoundFont voices)
                self.voices.modulate(channel, num, ch.controls, ch.wheel)
            if sens and reads(channel, SENSITIVITY):
                self.voices.modulate(channel, SENSITIVITY, ch.controls, ch.wheel)
            if num == ev.CC_SUSTAIN and was and not ch.sustain:
                self.voices.sustain_off(channel)
            if num == 66:  # sostenuto: holds the notes down when it is pressed
                if val >= 64:
                    self.voices.sostenuto_on(channel)
                else:
                    self.voices.sostenuto_off(channel, ch.sustain)
