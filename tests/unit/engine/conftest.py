from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from mos_lab.audio import Output
from mos_lab.engine import Engine


class ManualOutput(Output):
    """An output whose device clock is advanced by the test: ``tick(n)`` consumes n blocks.

    The render thread is not used: ``tick`` fills and consumes in the calling thread, so
    tests are deterministic and simulated hours run in seconds.
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


@pytest.fixture
def manual() -> ManualOutput:
    return ManualOutput()


@pytest.fixture
def engine(manual: ManualOutput) -> Iterator[Engine]:
    eng = Engine(output=manual, sample_rate=manual.sample_rate)
    eng.wait_ready(5)
    yield eng
    eng.close()


def thread_names() -> list[str]:
    return [t.name for t in threading.enumerate()]
