"""Fake backends and tiny data for the AI tests (imported by the test modules)."""

from __future__ import annotations

import threading

import numpy as np

from mos_lab.ai.core.backend import BaseBackend
from mos_lab.ai.core.types import CancelToken, GenerationRequest, GenerationResult, ModelInfo
from mos_lab.score import Score


def tiny_corpus() -> list[Score]:
    """Six little tunes: scales, arpeggios and a stepwise song, in C (the model is relative)."""
    rng = np.random.default_rng(0)
    tunes = []
    for k in range(6):
        pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 67, 64, 60, 59, 60]
        pitches = [p + int(rng.integers(-1, 2)) * (i % 3 == 1) for i, p in enumerate(pitches)]
        durs = rng.choice([240, 480, 960], size=len(pitches), p=[0.4, 0.5, 0.1])
        starts = np.concatenate([[0], np.cumsum(durs)[:-1]])
        tunes.append(Score.from_notes(
            [(int(s), int(d), p + k, 80) for s, d, p in zip(starts, durs, pitches, strict=True)]))
    return tunes


class Hang(BaseBackend):
    """Hangs until cancelled (cooperative) or, with ``stubborn``, until ``release`` is set."""

    def __init__(self, name: str = "hang", stubborn: bool = False, kind: str = "symbolic"):
        self.info = ModelInfo(name, "1", "abc", kind)
        self.stubborn = stubborn
        self.release = threading.Event()
        self.started = threading.Event()
        self.stopped = threading.Event()

    def generate(self, request: GenerationRequest, progress, cancel: CancelToken,
                 ) -> GenerationResult:
        self.started.set()
        try:
            if self.stubborn:
                self.release.wait(5)
            else:
                while True:
                    cancel.sleep(0.01)
            raise AssertionError("released")
        finally:
            self.stopped.set()


def melody_result(req: GenerationRequest, pitch_step: int = 2) -> GenerationResult:
    """A valid result for ``req``: quarter notes walking up and down, filling the bars."""
    bar = 480 * 4 * req.meter[0] // req.meter[1]
    n = req.bars * bar // 480
    rows = [(i * 480, 480, 60 + pitch_step * (i % 5), 80) for i in range(n)]
    return GenerationResult(score=Score.from_notes(rows, bpm=req.bpm))
