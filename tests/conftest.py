"""Shared fixtures: the corpus of real files (read in place from ../shared/corpus) and a
JACK dummy server for real-time audio tests (clocked like a device, no sound card)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MOS_LAB_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_files(*parts: str, pattern: str = "*.mid") -> list[Path]:
    """Files of the shared corpus under ``parts`` (empty when the corpus is absent)."""
    folder = CORPUS.joinpath(*parts)
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


def _jack_index(sd: Any) -> int | None:
    sd._terminate()  # PortAudio lists devices once per initialisation
    sd._initialize()
    for i, d in enumerate(sd.query_devices()):
        api = sd.query_hostapis(d["hostapi"])["name"]
        if "JACK" in api and d["max_output_channels"] >= 2:
            return i
    return None


@pytest.fixture(scope="session")
def jack_device() -> Iterator[int]:
    """Start ``jackd -d dummy`` (clocked, no sound card) and yield its PortAudio index."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd not installed (apt-get install jackd2)")
    try:
        import sounddevice as sd
    except OSError as exc:
        pytest.skip(f"PortAudio missing (apt-get install libportaudio2): {exc}")
    # Never let libjack autostart a server once ours is gone (that aborts the process).
    os.environ["JACK_NO_START_SERVER"] = "1"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(["jackd", "-R", "-d", "dummy", "-r", "48000", "-p", "256"],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            index = None
            deadline = time.monotonic() + 10
            while index is None and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.3)
                index = _jack_index(sd)
            if index is None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-800:]
                pytest.fail(f"jackd did not come up: {tail}")
            yield index
        finally:
            with contextlib.suppress(Exception):
                sd._terminate()  # close PortAudio's JACK client while the server runs
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sd._initialize()  # balance sounddevice's own atexit terminate
