"""Fixtures of the AI tests: a tiny corpus and Markov model made here (no music21, no
downloads), a bus, fake backends, and a check that no test leaves threads behind."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ai_fakes import tiny_corpus

from mos_lab.ai.models.markov.backend import MarkovBackend
from mos_lab.ai.service._runner import abandoned
from mos_lab.bus import EventBus


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Models trained by tests never go to the user's ~/.cache."""
    old = os.environ.get("MOS_LAB_CACHE")
    os.environ["MOS_LAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("MOS_LAB_CACHE", None)
    else:
        os.environ["MOS_LAB_CACHE"] = old


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one thread for the test: small models' one-position steps run far faster
    so on a loaded machine (torch: the ai extra, which the README's test command installs)."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def markov_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markov-cache")


@pytest.fixture(scope="session")
def trained(markov_cache: Path) -> MarkovBackend:
    b = MarkovBackend(tiny_corpus(), cache=markov_cache)
    b.load()
    return b


@pytest.fixture
def markov(trained: MarkovBackend, markov_cache: Path) -> MarkovBackend:
    """A fresh backend over the session's cached tiny model (loads in milliseconds)."""
    return MarkovBackend(tiny_corpus(), cache=markov_cache)


@pytest.fixture
def bus() -> Iterator[EventBus]:
    b = EventBus()
    yield b
    b.close()


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        extra = [t for t in threading.enumerate()
                 if t.ident not in before and t.name.startswith("mos_lab-") and t.is_alive()]
        if not extra and abandoned() == 0:
            break
        time.sleep(0.02)
    assert not extra, f"threads left behind: {[t.name for t in extra]}"
    assert abandoned() == 0, "backend threads were abandoned and are still running"


