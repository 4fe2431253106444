"""Public fakes for tests (mos_lab's and its users'): no sound card, no browser, no MIDI.

- :class:`ManualOutput`: an audio output whose clock the test advances (``tick(n)``);
  deterministic, simulated hours in seconds; ``running=False`` starts it "suspended".
- :class:`FakePage`: stands in for the page's AudioWorklet on a
  :class:`~mos_lab.audio.BrowserOutput`: takes the PCM blocks, "plays" them on
  ``play(frames)`` and acknowledges, so the browser clock can be tested without a browser.
- :class:`FakeMidiPort`: a mido-like port: ``send`` records, ``feed`` queues input.
- :func:`offline_engine`: an :class:`~mos_lab.engine.Engine` on a ManualOutput, ready.

Examples
--------
>>> import mos_lab
>>> from mos_lab.testing import offline_engine
>>> eng, out = offline_engine()
>>> _ = eng.load(mos_lab.Score.from_notes([(0, 480, 60, 90)])).result(5)  # doctest: +SKIP
>>> eng.play(); out.tick(100); round(eng.position, 2)                      # doctest: +SKIP
0.53
>>> eng.close()
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

from mos_lab.audio import BrowserOutput, Output
from mos_lab.engine import Engine

__all__ = ["FakeMidiPort", "FakePage", "ManualOutput", "offline_engine"]


class ManualOutput(Output):
    """An output whose device clock is advanced by the test: ``tick(n)`` consumes n blocks.

    The render thread is not used: ``tick`` fills and consumes in the calling thread.
    """

    def __init__(self, sample_rate: int = 48_000, block: int = 512, running: bool = True,
                 lookahead_s: float = 0.05) -> None:
        super().__init__(sample_rate, block, lookahead_s=lookahead_s)
        self.running_allowed = running
        self.captured: list[np.ndarray] = []
        self.keep = False

    def start(self) -> None:
        self._state = "running" if self.running_allowed else "suspended"

    def _open(self) -> None:  # pragma: no cover - start() is overridden
        pass

    def _close_device(self) -> None:
        pass

    def stop(self) -> None:
        self._state = "stopped"

    def tick(self, blocks: int = 1) -> None:
        buf = np.zeros((self.block, 2), dtype=np.float32)
        for _ in range(blocks):
            if self.source is not None:
                self._fill()
            self._consume(buf)
            if self.keep:
                self.captured.append(buf.copy())


class FakePage:
    """The page side of a BrowserOutput: receives blocks, plays on demand, acknowledges.

    ``unlock()`` is the user's click; ``play(frames)`` plays that many queued frames (as
    the worklet would) and sends the ack; ``audio()`` is everything played, concatenated.
    """

    def __init__(self, output: BrowserOutput) -> None:
        self.output = output
        self.blocks: deque[tuple[int, np.ndarray, float, float]] = deque()
        self.played_index = 0
        self.played: list[np.ndarray] = []
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        output.attach(self.receive, owner="FakePage")

    def receive(self, header: dict[str, Any], buffers: list[bytes]) -> None:
        with self._lock:
            self.messages.append(header)
            if header["type"] == "pcm":
                dtype = "<f4" if header["encoding"] == "f32" else "<i2"
                data = np.frombuffer(buffers[0], dtype=dtype).reshape(-1, 2)
                if dtype == "<i2":
                    data = data.astype(np.float32) / 32768.0
                self.blocks.append((header["start"], data, header["pos"], header["rate"]))
            elif header["type"] == "flush":
                before = header["before"]
                while self.blocks and self.blocks[0][0] + len(self.blocks[0][1]) <= before:
                    self.blocks.popleft()
                if self.blocks and self.blocks[0][0] < before:
                    s, d, p, r = self.blocks.popleft()
                    self.blocks.appendleft((before, d[before - s:], p + (before - s) * r, r))
                self.played_index = max(self.played_index, before)

    def unlock(self, sample_rate: int | None = None) -> None:
        err = self.output.handle({"type": "unlocked",
                                  "sample_rate": sample_rate or self.output.sample_rate})
        assert err is None, err

    def play(self, frames: int) -> int:
        """Play up to ``frames`` queued frames and acknowledge; returns frames played."""
        done = self.consume(frames)
        with self._lock:
            index = self.played_index
        self.output.handle({"type": "ack", "played": index, "underruns": 0})
        return done

    def consume(self, frames: int) -> int:
        """Play up to ``frames`` queued frames without acknowledging (a page that acks on
        its own schedule); returns frames played."""
        done = 0
        with self._lock:
            while done < frames and self.blocks:
                start, data, pos, rate = self.blocks.popleft()
                self.played_index = max(self.played_index, start)
                take = min(frames - done, len(data))
                self.played.append(data[:take])
                self.played_index += take
                done += take
                if take < len(data):
                    self.blocks.appendleft((start + take, data[take:], pos + take * rate, rate))
        return done

    @property
    def queued(self) -> int:
        with self._lock:
            return sum(len(b[1]) for b in self.blocks)

    def audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.played) if self.played else np.zeros((0, 2), np.float32)


class FakeMidiPort:
    """A mido-like port: ``send`` records messages; ``feed`` queues input for ``receive``."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.closed = False
        self.sent: list[Any] = []
        self._in: deque[Any] = deque()

    def send(self, msg: Any) -> None:
        if self.closed:
            raise ValueError("send() called on closed port")
        self.sent.append(msg)

    def feed(self, *msgs: Any) -> None:
        self._in.extend(msgs)

    def iter_pending(self) -> Any:
        while self._in:
            yield self._in.popleft()

    def receive(self, block: bool = True) -> Any:
        return self._in.popleft() if self._in else None

    def poll(self) -> Any:
        return self.receive(block=False)

    def close(self) -> None:
        self.closed = True


def offline_engine(sample_rate: int = 48_000, *, running: bool = True,
                   **kwargs: Any) -> tuple[Engine, ManualOutput]:
    """An engine on a :class:`ManualOutput` (started and ready) and that output."""
    out = ManualOutput(sample_rate, running=running)
    eng = Engine(output=out, sample_rate=sample_rate, **kwargs)
    eng.wait_ready(10)
    return eng, out
