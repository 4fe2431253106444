"""Note events published when they are *heard*: released by the audio clock, not the renderer.

The scheduler renders ahead; if it emitted note events while rendering, widgets and MIDI
out would run a lookahead early. It pushes them here stamped with their ring frame, and a
small thread emits each one on the bus once the output has consumed that frame. While
nothing is queued the thread sleeps until a push (an idle kernel's engine wakes nobody).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

from mos_lab.audio import events as aev
from mos_lab.bus import EventBus

POLL_S = 0.005


class HeardEvents:
    """Bounded queue of (ring frame, kind, channel, pitch, velocity), drained by the clock."""

    def __init__(self, bus: EventBus, clock: Callable[[], int], maxlen: int = 65_536) -> None:
        self.bus = bus
        self.clock = clock
        self._q: deque[tuple[int, int, int, int, int]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._queued = threading.Event()  # set by push (and close): the queue has work
        self.emitted = 0
        self._thread = threading.Thread(target=self._run, name="mos-lab-heard-events",
                                        daemon=True)
        self._thread.start()

    def push(self, ring_base: int, events: Sequence[tuple[int, ...]]) -> None:
        """Called by the render thread with a segment's events (offsets from ring_base)."""
        notes = [(ring_base + e[0], e[1], e[2], e[3], e[4]) for e in events
                 if e[1] in (aev.NOTE_ON, aev.NOTE_OFF)]
        if notes:
            with self._lock:
                self._q.extend(notes)
            self._queued.set()

    def drop_before(self, ring: int) -> None:
        """Audio before ``ring`` that was not heard yet is being discarded: so are its notes."""
        heard = self.clock()
        with self._lock:
            kept = [e for e in self._q if e[0] <= heard or e[0] >= ring]
            self._q.clear()
            self._q.extend(kept)

    @property
    def pending(self) -> int:
        return len(self._q)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            now = self.clock()
            due: list[tuple[int, int, int, int, int]] = []
            with self._lock:
                while self._q and self._q[0][0] <= now:
                    due.append(self._q.popleft())
                if not self._q:
                    self._queued.clear()  # under the lock: a push after this sets it again
            if not due and not self._queued.is_set():
                self._queued.wait()  # nothing pending: sleep until a push or close
            for frame, kind, ch, pitch, vel in due:
                if kind == aev.NOTE_ON and vel > 0:
                    self.bus.emit("note_on", pitch=pitch, velocity=min(vel, 127), channel=ch,
                                  frame=frame)
                else:
                    self.bus.emit("note_off", pitch=pitch, channel=ch, frame=frame)
                self.emitted += 1

    def close(self) -> None:
        self._stop.set()
        self._queued.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
