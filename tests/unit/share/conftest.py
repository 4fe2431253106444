"""Shared-session tests: each test collects its own garbage (sockets, tasks)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_here() -> Iterator[None]:
    """Collect each test's garbage (sockets, tasks) inside the test, not at a later one."""
    yield
    gc.collect()
