"""A real JupyterHub on loopback with ``deploy/jupyterhub/jupyterhub_config.py``, for tests.

``ClassHub`` starts ``jupyterhub`` (and its configurable-http-proxy) on free ports in a
temporary folder, with the shared-password authenticator, the simple local spawner and a
``class-admin`` service token. Users' servers are started through the REST API; code runs
in a kernel of a user's server over the kernel's websocket (the Jupyter protocol, as a
notebook page does), so each user's mos_lab engine lives in its own kernel process.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
JUPYTERHUB = Path(sys.executable).with_name("jupyterhub")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing() -> str | None:
    """Why a hub cannot run here (None if it can)."""
    if not JUPYTERHUB.exists():
        return "jupyterhub is not installed (pip install 'mos_lab[hub]')"
    if shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy is not installed (npm install -g configurable-http-proxy)"
    return None


class ClassHub:
    """A running hub for an instructor and ``students``; use as a context manager."""

    def __init__(self, folder: Path, students: list[str], *, instructor: str = "teacher",
                 env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.students = students
        self.instructor = instructor
        self.token = secrets.token_hex(16)
        self.password = secrets.token_hex(8)
        self.admin_password = secrets.token_hex(20)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ, **(env or {}),
            "MOS_LAB_HUB_AUTH": "shared-password", "MOS_LAB_HUB_PASSWORD": self.password,
            "MOS_LAB_HUB_ADMIN_PASSWORD": self.admin_password,
            "MOS_LAB_HUB_SPAWNER": "simple", "MOS_LAB_HUB_HOME": str(folder / "home"),
            "MOS_LAB_HUB_INSTRUCTOR": instructor,
            "MOS_LAB_HUB_STUDENTS": ",".join(students), "MOS_LAB_HUB_API_TOKEN": self.token,
            "PYTHONPATH": str(ROOT),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "hub.log"

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> ClassHub:
        cmd = [str(JUPYTERHUB), "-f", str(CONFIG), "--ip", "127.0.0.1", "--port", str(self.port),
               f"--JupyterHub.hub_port={free_port()}",
               f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
               f"--JupyterHub.db_url=sqlite:///{self.folder / 'hub.sqlite'}",
               f"--JupyterHub.cookie_secret_file={self.folder / 'cookie_secret'}"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.folder, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_up(60)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_up(self, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.proc.returncode}):\n"
                                   f"{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"jupyterhub not up after {timeout} s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def __exit__(self, *exc: object) -> None:
        """Stop the hub: it stops the users' servers (cleanup_servers) and the proxy."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: hub, proxy, servers
            proc.wait()

    # -- the REST API ---------------------------------------------------------------------
    async def api(self, method: str, path: str, body: Any = None, *,
                  token: str | None = None) -> Any:
        req = HTTPRequest(f"{self.url}{path}", method=method,
                          headers={"Authorization": f"token {token or self.token}"},
                          body=None if body is None and method in ("GET", "DELETE") else
                          json.dumps(body or {}), request_timeout=120)
        resp = await AsyncHTTPClient().fetch(req, raise_error=False)
        if resp.code >= 400:
            raise HTTPClientError(resp.code, f"{method} {path}: {resp.body[:300]!r}", resp)
        return json.loads(resp.body) if resp.body else None

    async def login(self, user: str, password: str) -> int:
        """POST the login form as a browser would; the HTTP status (302: logged in)."""
        client = AsyncHTTPClient()
        page = await client.fetch(f"{self.url}/hub/login", raise_error=False)
        cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("Set-Cookie"))
        xsrf = next((c.split("=", 1)[1] for c in cookies.split("; ")
                     if c.startswith("_xsrf=")), "")
        resp = await client.fetch(
            f"{self.url}/hub/login?next=", method="POST", follow_redirects=False,
            raise_error=False, headers={"Cookie": cookies},
            body=urlencode({"username": user, "password": password, "_xsrf": xsrf}))
        return int(resp.code)

    async def start_server(self, user: str, timeout: float = 240) -> float:
        """Start ``user``'s server and wait until it answers; seconds it took."""
        t0 = time.monotonic()
        await self.api("POST", f"/hub/api/users/{user}/server")
        while time.monotonic() - t0 < timeout:
            info = await self.api("GET", f"/hub/api/users/{user}")
            server = info.get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - t0
            if not info.get("pending") and not server:
                raise RuntimeError(f"{user}'s server did not start:\n{self.tail()}")
            await asyncio.sleep(0.5)
        raise TimeoutError(f"{user}'s server not ready after {timeout} s")

    # -- kernels ----------------------------------------------------------------------------
    async def kernel(self, user: str) -> Kernel:
        """A new kernel on ``user``'s server, connected as a notebook page connects."""
        base = f"/user/{user}/api/kernels"
        kid = (await self.api("POST", base, {"name": "python3"}))["id"]
        conn = await websocket_connect(HTTPRequest(
            f"ws://127.0.0.1:{self.port}{base}/{kid}/channels?session_id={uuid.uuid4().hex}",
            headers={"Authorization": f"token {self.token}"}, request_timeout=120))
        return Kernel(self, user, f"{base}/{kid}", conn)


class Kernel:
    """One kernel of a user's server, driven over its websocket (the Jupyter protocol)."""

    def __init__(self, hub: ClassHub, user: str, path: str, conn: Any) -> None:
        self.hub, self.user, self.path, self.conn = hub, user, path, conn
        self.session = uuid.uuid4().hex

    async def execute(self, code: str, timeout: float = 300) -> str:
        """Run ``code``; its stdout, or RuntimeError with the kernel's traceback."""
        msg_id = uuid.uuid4().hex
        self.conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out: list[str] = []
        error: str | None = None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.user}: code still running after {timeout} s")
            raw = await asyncio.wait_for(self.conn.read_message(), left)
            if raw is None:
                raise RuntimeError(f"{self.user}: the kernel's websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                error = "\n".join(content.get("traceback", []))
            elif kind == "execute_reply":
                break
        if error is not None:
            raise RuntimeError(f"{self.user}: the code failed in the kernel:\n{error}")
        return "".join(out)

    async def close(self) -> None:
        self.conn.close()
        await self.hub.api("DELETE", self.path)
