"""Voices and the voice allocator: polyphony limit, note stealing, stuck-note reclaim.

``max_voices`` bounds the notes that sound (APO-10). A stolen voice is not cut: it
moves to a tail list where it fades out over ~5 ms, so stealing never clicks; tails
are capped too. Every release (note-off, release-all, stealing, timeout) goes through
``Envelope.release`` (APO-03), and notes held longer than ``max_note_s`` are released
so an error path that loses a note-off cannot leave a voice stuck (APO-02).

Rendering is batched (:meth:`VoiceAllocator.render`): all voices whose sources are of
one kind render together as rows of a 2-D array, their envelopes too, and one matrix
product mixes them down, so a block costs a fixed number of numpy calls instead of a
couple of dozen per voice (each such call can cost milliseconds when a busy Python
thread shares the GIL).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from mos_lab.audio.channels import ChannelState
from mos_lab.audio.envelope import Envelope, render_envelopes
from mos_lab.audio.instruments.base import NoteSpec
from mos_lab.audio.instruments.batch import KINDS, batch_key


class Voice:
    """One sounding note: a source shaped by an envelope, with level and pan."""

    __slots__ = ("channel", "env", "exclusive", "gain", "ignore_off", "key", "pan", "pitch",
                 "serial", "source", "stolen", "sustained", "velocity")

    def __init__(self, spec: NoteSpec, channel: int, pitch: int, velocity: int,
                 sample_rate: float, serial: int) -> None:
        self.source = spec.source
        self.env = Envelope(spec.envelope, sample_rate)
        self.gain = float(spec.gain)
        self.pan = float(spec.pan)
        self.exclusive = spec.exclusive
        self.ignore_off = spec.ignore_note_off
        self.channel = channel
        self.pitch = pitch
        self.velocity = velocity
        self.serial = serial
        self.sustained = False
        self.stolen = False
        self.key = batch_key(self.source)  # which batch renders it (see batch.py)

    @property
    def held(self) -> bool:
        """True until the voice's release has started."""
        return not self.env.released

    @property
    def done(self) -> bool:
        return self.env.finished or self.source.finished

    def loudness(self) -> float:
        """Current envelope level times gain, used to pick the quietest voice."""
        return self.env.level() * self.gain

    def release(self, frames: int | None = None) -> None:
        """Start the release (the one path every kind of note end uses)."""
        self.sustained = False
        self.env.release(frames)

    def render_into(self, mix: np.ndarray, start: int, end: int, bend: float,
                    left: float, right: float) -> None:
        """Add frames ``start:end`` of this voice into the float64 stereo ``mix``.

        The one-voice reference path; the synth renders through
        :meth:`VoiceAllocator.render`, which gives the same samples batched.
        """
        n = end - start
        if n <= 0 or self.done:
            return
        sig = self.source.render(n, bend)
        env = self.env.render(n)
        if isinstance(env, float):
            g = env * self.gain
            mix[start:end] += np.multiply.outer(sig, (left * g, right * g))
        else:
            sig *= env
            mix[start:end] += np.multiply.outer(sig, (left * self.gain, right * self.gain))


class VoiceAllocator:
    """Owns the voices; starts, releases, steals and reaps them."""

    def __init__(self, max_voices: int, sample_rate: float, *, steal_fade_s: float = 0.005,
                 max_note_s: float = 60.0) -> None:
        if max_voices < 1:
            raise ValueError("max_voices must be at least 1")
        self.max_voices = int(max_voices)
        self.sample_rate = float(sample_rate)
        self.fade_frames = max(1, round(steal_fade_s * sample_rate))
        self.max_note_frames = int(max_note_s * sample_rate) if math.isfinite(max_note_s) else 0
        self.voices: list[Voice] = []
        self.tails: list[Voice] = []
        self._serial = 0
        self.stolen_count = 0
        self.reclaimed_count = 0

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

    def _to_tail(self, v: Voice) -> None:
        v.stolen = True
        v.release(self.fade_frames)
        if v in self.voices:
            self.voices.remove(v)
        self.tails.append(v)
        if len(self.tails) > self.max_voices:  # pathological bursts: drop the oldest tail
            self.tails.pop(0)

    def _steal(self) -> None:
        released = [v for v in self.voices if not v.held]
        pool = released or self.voices
        if released:
            victim = min(pool, key=lambda v: v.loudness())
        else:
            victim = min(pool, key=lambda v: v.serial)  # the oldest held note
        self.stolen_count += 1
        self._to_tail(victim)

    def start(self, specs: list[NoteSpec], channel: int, pitch: int, velocity: int) -> None:
        """Start a note's layers, releasing a retriggered key and stealing if full."""
        for v in self.voices:
            if v.channel == channel and v.pitch == pitch and v.held and not v.ignore_off:
                v.release()
        for spec in specs:
            if spec.exclusive:
                for v in list(self.voices):
                    if v.channel == channel and v.exclusive == spec.exclusive:
                        self._to_tail(v)
            while len(self.voices) >= self.max_voices:
                self._steal()
            self._serial += 1
            self.voices.append(Voice(spec, channel, pitch, velocity, self.sample_rate,
                                     self._serial))

    def note_off(self, channel: int, pitch: int, sustain: bool) -> None:
        """Release held voices of a key, or mark them sustained while the pedal is down."""
        for v in self.voices:
            if v.channel == channel and v.pitch == pitch and v.held and not v.ignore_off:
                if sustain:
                    v.sustained = True
                else:
                    v.release()

    def sustain_off(self, channel: int) -> None:
        """Pedal up: release the voices the pedal was holding."""
        for v in self.voices:
            if v.channel == channel and v.sustained:
                v.release()

    def release_all(self, channel: int | None = None, *, immediate: bool = False,
                    sustain: bool = False) -> None:
        """Release every held voice (of a channel); ``immediate`` fades in ~5 ms instead."""
        for v in list(self.voices):
            if channel is not None and v.channel != channel:
                continue
            if immediate:
                self._to_tail(v)
            elif v.held and not v.ignore_off:
                if sustain:
                    v.sustained = True
                else:
                    v.release()
            elif v.held and channel is None:
                v.release()

    def render(self, mix: np.ndarray, start: int, end: int,
               channels: Sequence[ChannelState]) -> None:
        """Add frames ``start:end`` of every sounding voice into the stereo ``mix``.

        Voices are sorted by :func:`batch_key`, each run of one kind renders in one
        batch into rows of ``sig``, the envelopes of all rows in another, and a single
        (2, voices) x (voices, frames) product adds them to ``mix`` with their channel
        level, pan and gain.
        """
        n = end - start
        live = [v for v in self if not v.done]
        if n <= 0 or not live:
            return
        live.sort(key=lambda v: v.key)
        count = len(live)
        sig = np.empty((count, n))
        bends = np.array([channels[v.channel].bend_ratio for v in live])
        gains = np.empty((2, count))
        for j, v in enumerate(live):
            ch = channels[v.channel]
            left, right = ch.pan_gains(v.pan)
            g = ch.level * v.gain
            gains[0, j] = left * g
            gains[1, j] = right * g
        a = 0
        while a < count:
            kind, group = live[a].key[:2]
            b = a + 1
            while b < count and live[b].key[:2] == (kind, group):
                b += 1
            if kind < len(KINDS):
                KINDS[kind][1]([v.source for v in live[a:b]], n, bends[a:b], sig[a:b])
            else:
                for j in range(a, b):
                    sig[j] = live[j].source.render(n, float(bends[j]))
            a = b
        env = np.empty((count, n))
        render_envelopes([v.env for v in live], n, env)
        sig *= env
        mix[start:end] += np.dot(sig.T, gains.T)

    def reap(self) -> None:
        """Drop finished voices and release notes held longer than ``max_note_s``."""
        if self.max_note_frames:
            for v in self.voices:
                if v.held and v.env.t >= self.max_note_frames:
                    v.release()
                    self.reclaimed_count += 1
        self.voices = [v for v in self.voices if not v.done]
        self.tails = [v for v in self.tails if not v.done]

    def clear(self) -> None:
        """Forget every voice at once (used after an immediate fade has finished)."""
        self.voices.clear()
        self.tails.clear()
