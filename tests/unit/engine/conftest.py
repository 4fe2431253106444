from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mos_lab.audio import kernels
from mos_lab.engine import Engine
from mos_lab.testing import ManualOutput


@pytest.fixture(scope="session", autouse=True)
def _audio_kernels_compiled() -> None:
    """Compile the audio kernels (a cold numba cache, the first run after an install: up to
    a minute or more on a loaded machine) or load them, once, before any test here: a
    test's ``wait_ready`` then times the engine's start-up, not the compiler."""
    kernels.warm_up()


@pytest.fixture
def manual() -> ManualOutput:
    return ManualOutput()


@pytest.fixture
def engine(manual: ManualOutput) -> Iterator[Engine]:
    eng = Engine(output=manual, sample_rate=manual.sample_rate)
    try:
        eng.wait_ready(5)
    except BaseException:  # never leave its threads to the next test
        eng.close()
        raise
    yield eng
    eng.close()


def thread_names() -> list[str]:
    return [t.name for t in threading.enumerate()]
