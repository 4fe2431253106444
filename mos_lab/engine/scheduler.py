"""The lookahead scheduler: the render source that fills the output's ring buffer.

The output's render thread calls :meth:`Scheduler.render` for the next block, always
ahead of what is heard; events land on their exact sample offsets inside the block. Jumps
(seek, loop wrap, tempo change) are requested by other threads and applied by the render
thread at a block boundary, where it also records an *anchor*: "ring frame R is score
frame F". The heard position is then derived from the output's consumed-frame counter,
so the audio clock is the only clock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mos_lab.audio import Synth
from mos_lab.engine.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Anchor:
    """From ring frame ``ring`` on, the audio is score frame ``frame`` (advancing or not)."""

    ring: int
    frame: int
    advancing: bool


class Scheduler:
    """Renders the timeline through the synth, block by block, with loops and jumps."""

    def __init__(self, synth: Synth, *, max_anchors: int = 256,
                 on_discontinuity: Callable[[int], None] | None = None,
                 on_events: Callable[[int, list[tuple[int, ...]]], None] | None = None) -> None:
        self.synth = synth
        self.on_discontinuity = on_discontinuity
        self.on_events = on_events
        self.timeline: Timeline | None = None
        self.pos = 0  # score frame of the next block to render
        self.playing = False
        self.loop: tuple[int, int] | None = None
        self.finished = False
        self._lock = threading.RLock()
        self._jump: int | None = None
        self._ring_index = 0  # ring frame of the next block (kept by render callers)
        self._anchors: deque[Anchor] = deque([Anchor(0, 0, False)], maxlen=max_anchors)
        self.blocks = 0

    # -- requests from other threads ------------------------------------------------------
    def set_timeline(self, timeline: Timeline | None, frame: int = 0) -> None:
        with self._lock:
            self.timeline = timeline
            self._jump = frame
            self.finished = False

    def request_jump(self, frame: int) -> None:
        """Move to ``frame`` at the next block boundary (voices reset, controllers restored)."""
        with self._lock:
            self._jump = max(0, int(frame))
            self.finished = False

    def set_playing(self, playing: bool, at_ring: int | None = None) -> None:
        with self._lock:
            if playing == self.playing:
                return
            self.playing = playing
            if not playing:
                self.synth.all_notes_off(immediate=False)
            self._anchor(self._ring_index if at_ring is None else at_ring)

    def clear(self) -> None:
        """Drop every pending event and voice (stop): nothing queued survives."""
        with self._lock:
            self.synth.reset()
            self._jump = None

    # -- the render path (output thread or offline loop) ---------------------------------
    def render(self, out: np.ndarray, ring_index: int | None = None) -> None:
        """Fill ``out`` with the next block; ``ring_index`` is where it will be written."""
        with self._lock:
            if ring_index is not None:
                self._ring_index = ring_index
            n = len(out)
            tl = self.timeline
            if self._jump is not None and tl is not None:
                self._apply_jump(tl, self._jump)
            if not self.playing or tl is None:
                self.synth.process(out, ())
                self._ring_index += n
                return
            done = 0
            while done < n:
                end = self.pos + (n - done)
                if self.loop is not None and self.pos < self.loop[1] < end:
                    end = self.loop[1]
                seg = out[done : done + (end - self.pos)]
                events = tl.events_between(self.pos, end)
                self.synth.process(seg, events)
                if tl.clips is not None:
                    tl.clips.mix(seg, self.pos)
                if self.on_events is not None and events:
                    self.on_events(self._ring_index + done, events)
                done += end - self.pos
                self.pos = end
                if self.loop is not None and self.pos >= self.loop[1]:
                    self._apply_jump(tl, self.loop[0], ring=self._ring_index + done)
                elif self.pos >= tl.end_frame and not self.finished:
                    self.finished = True
            self._ring_index += n
            self.blocks += 1

    def _apply_jump(self, tl: Timeline, frame: int, ring: int | None = None) -> None:
        self._jump = None
        self.synth.all_notes_off(immediate=True)
        for ch, st in tl.channel_state_at(frame).items():
            self.synth.set_channel_state(ch, program=st.program, controls=st.controls,
                                         pitch_bend=st.pitch_bend, bend_range=st.bend_range)
        self.pos = frame
        self._anchor(self._ring_index if ring is None else ring)

    def _anchor(self, ring: int) -> None:
        self._anchors.append(Anchor(ring, self.pos, self.playing))
        if self.on_discontinuity is not None:
            self.on_discontinuity(ring)

    # -- the clock -----------------------------------------------------------------------
    def frame_at(self, ring_read: int) -> int:
        """Score frame being heard when the output has consumed ``ring_read`` ring frames."""
        with self._lock:
            # A pending jump is where we are: while stopped or paused, and while playing
            # until the renderer applies it (no audio of the new place is read yet; a
            # tempo change held by a locked browser output waits there until the click).
            if self._jump is not None and (not self.playing or ring_read <= self._ring_index):
                return self._jump
            anchor = self._anchors[0]
            for a in reversed(self._anchors):
                if a.ring <= ring_read:
                    anchor = a
                    break
            if not anchor.advancing:
                return anchor.frame
            frame = anchor.frame + (ring_read - anchor.ring)
            return min(frame, self.pos)
