"""A session on a ManualOutput (deterministic clock) bound as the widgets' provider."""

from __future__ import annotations

from typing import Any

import pytest

from mos_lab.audio import kernels
from mos_lab.score import Score


@pytest.fixture(scope="session", autouse=True)
def _audio_kernels_compiled() -> None:
    """Compile the audio kernels (a cold numba cache, the first run after an install: up to
    a minute or more on a loaded machine) or load them, once, before any test here: a
    test's ``wait_ready`` then times the engine's start-up, not the compiler."""
    kernels.warm_up()


def progression() -> Score:
    """C F G7 C, one chord per beat (480 ticks), four times."""
    chords = [(48, 60, 64, 67), (53, 60, 65, 69), (43, 59, 62, 65, 67), (48, 60, 64, 67)]
    rows = [(i * 480, 480, p, 90) for i, ch in enumerate(chords * 4) for p in ch]
    return Score.from_notes(rows, title="progression")


@pytest.fixture
def score() -> Score:
    return progression()


class Sent:
    """Records what a widget sends to the page: state updates and custom messages."""

    def __init__(self, w: Any) -> None:
        self.msgs: list[dict[str, Any]] = []
        real = w._send

        def record(msg: dict[str, Any], buffers: Any = None) -> None:
            self.msgs.append(msg)
            real(msg, buffers)

        w._send = record

    def custom(self) -> list[dict[str, Any]]:
        return [m["content"] for m in self.msgs if m.get("method") == "custom"]

    def updates(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.msgs if m.get("method") == "update"]
