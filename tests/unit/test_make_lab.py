"""`make lab` as the README says to run it: on a fresh machine that is as root and, on a
server, without a display. JupyterLab must start (as root it refuses without
--allow-root) and say where to point the browser: a URL that opens the tour."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_lab_starts_headless_and_prints_the_url_to_open(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "lab.log"
    with open(log, "w") as err:  # Jupyter's own log: a pipe nobody reads would fill up
        proc = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240  # make may first bring .venv up to date
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            m = re.search(r"(http://\S+token=\w+)", line)
            url = m.group(1) if m else None
        assert url, ("no URL printed", "".join(lines), log.read_text()[-3000:])
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/00_tour.ipynb?token=")
        with urllib.request.urlopen(url, timeout=20) as r:  # the tour opens with this URL
            assert r.status == 200
        token = url.rsplit("token=", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/00_tour.ipynb"
                                    f"?token={token}&content=0", timeout=20) as r:
            assert r.status == 200  # served from notebooks/
        rest = "".join(proc.stdout.readline() for _ in range(4))
        assert "ssh -L" in rest and "LAB_IP=0.0.0.0" in rest, rest  # how to reach it remotely
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # as Ctrl-C would: make stops Jupyter
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    with pytest.raises(OSError):  # nothing is left serving
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=3)
