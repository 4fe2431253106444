from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mos_lab.engine import Engine
from mos_lab.testing import ManualOutput


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
