"""Shared fixtures: the corpus of real files (read in place from ../shared/corpus) and a
JACK dummy server for real-time audio tests (clocked like a device, no sound card)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MOS_LAB_CORPUS", ROOT.parent / "shared" / "corpus"))
# Engines and sessions play the built-in instruments in tests (their expected audio is
# the built-in set's; a default SF3 set would add ~0.5 GB and seconds per engine);
# tests of SoundFont sets pass soundfont= or monkeypatch this.
os.environ["MOS_LAB_SOUNDFONT"] = "builtin"


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


def _jack_ready(name: str, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for server ``name`` with ``jack_wait`` in a child process, never in ours.

    Why: a client opened in-process while the server is half started can block in
    native code, where no Python timeout reaches it; a child process can be killed.
    """
    deadline = time.monotonic() + timeout
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            check = subprocess.run(["jack_wait", "-c", "-s", name], env=env, timeout=5,
                                   capture_output=True, text=True)
            if check.stdout.strip() == "running":  # its exit status is 0 either way
                return True
        time.sleep(0.2)
    return False


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies, so a killed test
    run leaves no jackd behind (JACK allows only a few servers per machine)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


@pytest.fixture(scope="session")
def jack_device() -> Iterator[int]:
    """Start ``jackd -d dummy`` (clocked, no sound card) and yield its PortAudio index.

    The server gets a name of its own (JACK_DEFAULT_SERVER), so a user's server or the
    stale files of a killed one can never be the one the tests talk to.
    """
    if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
        pytest.skip("jackd not installed (apt-get install jackd2)")
    try:
        import sounddevice as sd
    except OSError as exc:
        pytest.skip(f"PortAudio missing (apt-get install libportaudio2): {exc}")
    name = f"mos-lab-test-{os.getpid()}"
    # Never let libjack autostart a server once ours is gone (that aborts the process).
    os.environ["JACK_NO_START_SERVER"] = "1"
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(["jackd", "-n", name, "-R", "-d", "dummy", "-r", "48000",
                                 "-p", "256"], stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
        try:
            index = _jack_index(sd) if _jack_ready(name, proc, 15) else None
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
            if previous is None:
                os.environ.pop("JACK_DEFAULT_SERVER", None)
            else:
                os.environ["JACK_DEFAULT_SERVER"] = previous
            sd._initialize()  # balance sounddevice's own atexit terminate


@contextlib.contextmanager
def provided_session(output: Any, wait_s: float = 30.0) -> Iterator[Any]:
    """A Session on ``output``, made the provider widgets find, closed afterwards (also when
    its engine does not come up: never leave its audio threads to the next test)."""
    from mos_lab.kernel.session import Session
    from mos_lab.widgets import set_provider

    s = Session(output=output)
    try:
        s.engine.wait_ready(wait_s)
    except BaseException:
        s.close()
        raise
    set_provider(lambda: s)
    try:
        yield s
    finally:
        set_provider(None)
        s.close()


@pytest.fixture
def session() -> Iterator[Any]:
    """A Session on a manual output (``provided_session``)."""
    from mos_lab.testing import ManualOutput

    with provided_session(ManualOutput()) as s:
        yield s
