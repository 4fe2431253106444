"""A score laid out in sample frames: the event table the scheduler reads from.

Built once per (score, sample rate, tempo factor, metronome): every note-on, note-off,
control, program and pitch-bend gets its exact frame from the tempo map (integer
arithmetic), sorted so that at one frame controls come first, then note-offs, then
note-ons. A block's events are two ``searchsorted`` calls away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mos_lab.audio import events as aev
from mos_lab.audio.channels import (
    CC_DATA_LSB,
    CC_DATA_MSB,
    CC_NRPN_LSB,
    CC_NRPN_MSB,
    CC_RPN_LSB,
    CC_RPN_MSB,
)
from mos_lab.audio.channels import ChannelState as AudioChannel
from mos_lab.engine.clips import AudioClip, ClipLane
from mos_lab.score import PITCH_BEND, PROGRAM, Score
from mos_lab.score.tempo import TempoMap

_RPN_NUMBERS = (CC_DATA_MSB, CC_DATA_LSB, CC_NRPN_LSB, CC_NRPN_MSB, CC_RPN_LSB, CC_RPN_MSB)
METRONOME_TRACK = 0xFFFF  # track id of metronome clicks (muted/soloed on their own)
CLICK_HIGH, CLICK_LOW = 76, 77  # GM hi / lo wood block
EVENT_DTYPE = np.dtype([("frame", np.int64), ("prio", np.int8), ("kind", np.int8),
                        ("channel", np.int8), ("a", np.int16), ("b", np.int16),
                        ("track", np.uint16)], align=True)


@dataclass(frozen=True)
class ChannelState:
    """What a channel must be set to after a seek: program, controllers, pitch bend."""

    program: int | None
    controls: dict[int, int]
    pitch_bend: int | None
    bend_range: float | None = None  # RPN 0,0 as last set before the seek point (semitones)


class Timeline:
    """Frame-stamped events of one score at one sample rate and tempo factor."""

    def __init__(self, score: Score, sample_rate: int, tempo_factor: float = 1.0,
                 metronome: bool = False, clips: Sequence[AudioClip] = ()) -> None:
        self.score = score
        self.sample_rate = int(sample_rate)
        self.tempo_factor = float(tempo_factor)
        self.tempo: TempoMap = score.tempo if tempo_factor == 1.0 else score.tempo.scaled(
            tempo_factor)
        sr = self.sample_rate
        n = score.notes
        on = np.asarray(self.tempo.ticks_to_frames(n["start"], sr), dtype=np.int64)
        off = np.asarray(self.tempo.ticks_to_frames(n["start"] + n["duration"], sr),
                         dtype=np.int64)
        off = np.maximum(off, on + 1)  # every note sounds at least one frame
        c = score.controls
        self._ranges = self._range_changes(c)
        cf = np.asarray(self.tempo.ticks_to_frames(c["time"], sr), dtype=np.int64)
        parts = [self._notes(on, off, n), self._controls(cf, c), self._programs(score)]
        if metronome:
            parts.append(self._metronome(score))
        ev = np.concatenate(parts)
        self.events = ev[np.lexsort((ev["prio"], ev["frame"]))]
        self._frames = np.ascontiguousarray(self.events["frame"])
        self.end_frame = int(off.max()) if len(off) else 0
        self.clips = ClipLane(clips, score, self.tempo, sr) if clips else None
        if self.clips is not None:  # audio clips sound to their end
            self.end_frame = max(self.end_frame, self.clips.end_frame)
        n_tracks = max(len(score.tracks), 1)
        self.track_active = np.ones(0x10000, dtype=bool)
        self.track_active[n_tracks:METRONOME_TRACK] = False
        score.seek.notes_at(0)  # build the seek index here, never in the render thread

    @staticmethod
    def _notes(on: np.ndarray, off: np.ndarray, n: np.ndarray) -> np.ndarray:
        ev = np.zeros(2 * len(n), dtype=EVENT_DTYPE)
        k = len(n)
        ev["frame"][:k], ev["prio"][:k], ev["kind"][:k] = on, 2, aev.NOTE_ON
        ev["frame"][k:], ev["prio"][k:], ev["kind"][k:] = off, 1, aev.NOTE_OFF
        for part in (ev[:k], ev[k:]):
            part["channel"], part["a"], part["track"] = n["channel"], n["pitch"], n["track"]
        ev["b"][:k] = n["velocity"]
        return ev

    @staticmethod
    def _controls(cf: np.ndarray, c: np.ndarray) -> np.ndarray:
        ev = np.zeros(len(c), dtype=EVENT_DTYPE)
        ev["frame"], ev["channel"], ev["track"] = cf, c["channel"], c["track"]
        num, val = c["number"], c["value"]
        ev["kind"] = np.where(num == PROGRAM, aev.PROGRAM,
                              np.where(num == PITCH_BEND, aev.PITCH_BEND, aev.CONTROL))
        ev["a"] = np.where(num < 128, num, val)
        ev["b"] = np.where(num < 128, val, 0)
        return ev

    @staticmethod
    def _programs(score: Score) -> np.ndarray:
        """Each track's program at frame 0, so playback starts with the right sounds."""
        ev = np.zeros(len(score.tracks), dtype=EVENT_DTYPE)
        for i, tr in enumerate(score.tracks):
            ev[i] = (0, 0, aev.PROGRAM, tr.channel, tr.program, 0, i)
        return ev

    def _metronome(self, score: Score) -> np.ndarray:
        """Clicks on every beat of every time signature, accented on downbeats."""
        end = max(score.end_tick, 1)
        ticks, accents = [], []
        sigs = list(score.time_signatures)
        for i, ts in enumerate(sigs):
            stop = sigs[i + 1].tick if i + 1 < len(sigs) else end
            beat = score.tpq * 4 // ts.denominator
            t = np.arange(ts.tick, stop, max(beat, 1), dtype=np.int64)
            ticks.append(t)
            accents.append(np.arange(len(t)) % ts.numerator == 0)
        t = np.concatenate(ticks)
        acc = np.concatenate(accents)
        on = np.asarray(self.tempo.ticks_to_frames(t, self.sample_rate), dtype=np.int64)
        off = on + self.sample_rate // 20
        ev = np.zeros(2 * len(t), dtype=EVENT_DTYPE)
        k = len(t)
        ev["frame"][:k], ev["prio"][:k], ev["kind"][:k] = on, 2, aev.NOTE_ON
        ev["frame"][k:], ev["prio"][k:], ev["kind"][k:] = off, 1, aev.NOTE_OFF
        pitch = np.where(acc, CLICK_HIGH, CLICK_LOW)
        ev["a"][:k], ev["a"][k:] = pitch, pitch
        ev["b"][:k] = np.where(acc, 110, 80)
        ev["channel"], ev["track"] = aev.DRUM_CHANNEL, METRONOME_TRACK
        return ev

    # -- queries -----------------------------------------------------------------------
    def events_between(self, start: int, end: int, offset: int = 0) -> list[tuple[int, ...]]:
        """``(offset, kind, channel, a, b)`` for frames in [start, end), muted notes dropped.

        Note-offs always pass, so muting a track mid-note never leaves a note stuck.
        """
        i, j = np.searchsorted(self._frames, (start, end), side="left")
        if i == j:
            return []
        ev = self.events[i:j]
        keep = self.track_active[ev["track"]] | (ev["kind"] != aev.NOTE_ON)
        ev = ev[keep]
        return list(zip((ev["frame"] - start + offset).tolist(), ev["kind"].tolist(),
                        ev["channel"].tolist(), ev["a"].tolist(), ev["b"].tolist(),
                        strict=True))

    def channel_state_at(self, frame: int) -> dict[int, ChannelState]:
        """Per channel: program, controllers and bend in force at ``frame`` (for seeks)."""
        tick = int(self.tempo.frames_to_ticks(frame, self.sample_rate))
        programs = {tr.channel: tr.program for tr in self.score.tracks}
        state: dict[int, ChannelState] = {}
        controls: dict[int, dict[int, int]] = {}
        bends: dict[int, int] = {}
        for row in sorted(self.score.seek.controls_at(tick).tolist()):  # in time order:
            # a restore replays RPN/NRPN selections and data entries as they were played
            _time, number, value, _track, channel = row
            if number == PROGRAM:
                programs[channel] = value
            elif number == PITCH_BEND:
                bends[channel] = value
            else:
                controls.setdefault(channel, {})[number] = value
        ranges = {ch: float(r[int(np.searchsorted(t, tick, side="right")) - 1])
                  for ch, (t, r) in self._ranges.items() if t[0] <= tick}
        for ch in set(programs) | set(controls) | set(bends):
            state[ch] = ChannelState(programs.get(ch), controls.get(ch, {}), bends.get(ch),
                                     ranges.get(ch))
        return state

    @staticmethod
    def _range_changes(controls: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Per channel, (ticks, semitones) at which a data entry set the pitch-wheel range
        (RPN 0,0). The selections and entries are replayed once, in time order, through
        the synth's own RPN/NRPN rules (the controllers' last values alone cannot say which
        of RPN or NRPN an entry went to), so a seek only looks the range up."""
        rows = controls[np.isin(controls["number"], _RPN_NUMBERS)]
        rows = rows[np.argsort(rows["time"], kind="stable")]
        channels: dict[int, AudioChannel] = {}
        changes: dict[int, list[tuple[int, float]]] = {}
        for time, number, value, channel in zip(rows["time"].tolist(), rows["number"].tolist(),
                                                rows["value"].tolist(),
                                                rows["channel"].tolist(), strict=True):
            st = channels.setdefault(channel, AudioChannel())
            st.set_control(number, value)
            if st.data_entry(number, value):
                changes.setdefault(channel, []).append((time, st.bend_range))
        return {ch: (np.array([t for t, _ in ch_rows], dtype=np.int64),
                     np.array([r for _, r in ch_rows], dtype=np.float64))
                for ch, ch_rows in changes.items()}

    def set_active_tracks(self, active: np.ndarray) -> None:
        """Which tracks sound (mute/solo resolved by the engine); metronome kept apart."""
        self.track_active[: len(active)] = active

    def seconds(self, frame: int) -> float:
        return frame / self.sample_rate

    def frame_of_seconds(self, seconds: float) -> int:
        return round(seconds * self.sample_rate)
