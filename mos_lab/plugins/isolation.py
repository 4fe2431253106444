"""Untrusted plugins run in an OS sandbox; they talk to mos_lab in validated JSON lines.

The child is a plain interpreter inside :mod:`mos_lab.plugins.sandbox` (bubblewrap
namespaces, seccomp, rlimits): it sees only its own folder, read-only, has no network,
cannot start processes and cannot import mos_lab (it is not in its file system). It gets
each event it subscribed to as one line ``{"id": n, "event": {...}}`` and answers with one
line ``{"id": n, "events": [...]}`` (plus ``"error": "..."`` when its handler raised). The
host writes and reads with one deadline and a size limit and checks every line: a
malformed line, an oversized one, an answer to another request, a late one or a dead
child stop the plugin (the pipe can no longer be trusted) and report an ``error`` event;
each answered event must be of a declared type and pass the bus's validation, else it is
dropped and counted in ``rejected``. The kernel goes on either way.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mos_lab.plugins import sandbox
from mos_lab.plugins.manifest import Manifest, PluginError

MAX_LINE = 64 * 1024
MAX_EVENTS = 100
MAX_REQUEST = 1024 * 1024  # an event larger than this as JSON is not sent
START_TIMEOUT = 10.0


class ProtocolError(ValueError):
    """A line from a sandboxed plugin that breaks the protocol."""


def _no_constants(name: str) -> Any:
    raise ProtocolError(f"{name} is not allowed")


def parse_answer(line: bytes, expect_id: int | None = None) -> dict[str, Any]:
    """One answer line -> ``{"id": n, "events": [...], "error"?: str}``, or ProtocolError.

    ``expect_id``: the request this must answer (an unsolicited, repeated or late answer
    has another id); None for the launcher's first line (ready, or why it could not start).
    """
    if len(line) > MAX_LINE:
        raise ProtocolError(f"line longer than {MAX_LINE} bytes")
    try:
        text = line.decode("utf-8")
        data = json.loads(text, parse_constant=_no_constants)
    except ProtocolError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"not JSON: {type(exc).__name__}: {str(exc)[:80]}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected an object, got {type(data).__name__}")
    extra = set(data) - {"id", "events", "error", "ready"}
    if extra:
        raise ProtocolError(f"unknown fields {sorted(extra)[:5]}")
    if "ready" in data:
        if data != {"ready": True}:
            raise ProtocolError("a ready line is exactly {'ready': true}")
        return data
    events = data.get("events")
    if not isinstance(events, list):
        raise ProtocolError("'events' must be a list")
    if len(events) > MAX_EVENTS:
        raise ProtocolError(f"more than {MAX_EVENTS} events in one answer")
    if "error" in data and not isinstance(data["error"], str):
        raise ProtocolError("'error' must be a string")
    if expect_id is not None and (type(data.get("id")) is not int or data["id"] != expect_id):
        raise ProtocolError(f"answer to request {data.get('id')!r}, expected {expect_id}")
    return data


class IsolatedPlugin:
    """A plugin module run in the sandbox; ``module`` exports ``handle(event) -> [events]``.

    ``path`` is the plugin's folder (the only one it sees, read-only, as ``/plugin``);
    ``subscribes``: event types forwarded to the child; ``emits``: the only types its
    answers may have. Each event must be answered within ``timeout`` seconds, or the child
    is killed and the plugin reported as failed. Memory, CPU seconds, open files and
    processes are capped (``limits``). Without bubblewrap, ``start`` refuses (saying what
    to install) and nothing runs.
    """

    def __init__(self, manifest: Manifest, module: str, *, subscribes: Sequence[str],
                 emits: Sequence[str] = (), path: str | os.PathLike[str] | None = None,
                 timeout: float = 2.0, memory_bytes: int = 256 * 1024 * 1024,
                 cpu_seconds: int = 10, limits: sandbox.Limits | None = None) -> None:
        if not module.replace(".", "_").isidentifier():
            raise PluginError(f"plugin {manifest.name!r}: module {module!r} is not a module name")
        self.manifest = manifest
        self.module = module
        self.subscribes = tuple(subscribes)
        self.emits = frozenset(emits)
        self.path = None if path is None else os.fspath(path)
        self.timeout = float(timeout)
        self.limits = limits or sandbox.Limits(memory_bytes=memory_bytes,
                                               cpu_seconds=cpu_seconds)
        self.proc: subprocess.Popen[bytes] | None = None
        self.failed: str | None = None
        self.rejected = 0
        self.errors = 0
        self._ctx: Any = None
        self._buf = b""
        self._eof = False
        self._requests = 0
        self._sandbox_pid: int | None = None
        self._lock = threading.Lock()

    # -- start ---------------------------------------------------------------------------
    def start(self, context: Any) -> None:
        """Start the sandboxed child and subscribe it; PluginError if it cannot run."""
        name = self.manifest.name
        if self.path is None or not Path(self.path).is_dir():
            raise PluginError(f"isolated plugin {name!r} needs its folder (path=), "
                              f"got {self.path!r}")
        try:
            bwrap = sandbox.check()
        except sandbox.SandboxUnavailable as exc:
            raise sandbox.SandboxUnavailable(f"untrusted plugin {name!r} was not started: "
                                             f"{exc}") from None
        config = json.dumps({"module": self.module, "root": sandbox.PLUGIN_ROOT,
                             "rlimits": self.limits.rlimits()})
        self.failed, self.rejected, self.errors = None, 0, 0
        r, w = os.pipe()
        info_r, info_w = os.pipe()
        try:
            os.write(w, sandbox.seccomp_filter())
            os.close(w)
            w = -1
            cmd = sandbox.command(self.path, ["-c", _CHILD, config], r, bwrap, info_w)
            self.proc = _spawner().submit(
                subprocess.Popen, cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env={"LANG": "C.UTF-8"}, pass_fds=(r, info_w),
                start_new_session=True).result()
        except OSError:
            os.close(info_r)
            raise
        finally:
            for fd in (r, w, info_w):
                if fd >= 0:
                    os.close(fd)
        assert self.proc.stdin is not None
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._sandbox_pid = _read_child_pid(info_r, START_TIMEOUT)
        self._ctx = context
        self._buf = b""
        self._eof = False
        try:
            ready = self._read(max(self.timeout, START_TIMEOUT))
        except ProtocolError as exc:
            ready = {"invalid": str(exc)}
        if ready != {"ready": True}:
            why = ready.get("error") if isinstance(ready, dict) and ready.get("error") else ready
            self._kill(f"did not start: {why}", report=False)
            raise PluginError(f"isolated plugin {name!r} did not start: {why}")
        for event_type in self.subscribes:
            context.subscribe(event_type, self._forward)

    # -- the pipe ------------------------------------------------------------------------
    def _write(self, data: bytes, deadline: float) -> bool:
        """Write all of ``data`` to the child's stdin by ``deadline`` (never blocks past it:
        a child that stops reading cannot hang the kernel); False if it could not."""
        assert self.proc is not None and self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            if not _wait(fd, select.POLLOUT, deadline):
                return False
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                continue
        return True

    def _read(self, timeout: float, expect_id: int | None = None) -> dict[str, Any] | None:
        """The next line, parsed and checked; None when it did not come in time or EOF."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            if len(self._buf) > MAX_LINE:
                raise ProtocolError(f"line longer than {MAX_LINE} bytes")
            if not _wait(fd, select.POLLIN, deadline):
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True  # the child closed its end: it ended, not just slow
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return parse_answer(line, expect_id)

    def _forward(self, event: Any) -> None:
        """Send one event to the child; emit its validated answers; stop it if it misbehaves."""
        with self._lock:
            if self.proc is None or self.failed:
                return
            self._requests += 1
            rid = self._requests
            try:
                message = json.dumps({"id": rid, "event": {**event.data, "type": event.type}},
                                     allow_nan=False).encode() + b"\n"
            except (TypeError, ValueError):
                message = b""
            if not message or len(message) > MAX_REQUEST:
                self.rejected += 1  # no JSON form, or too large: not sent
                return
            deadline = time.monotonic() + self.timeout
            try:
                answer = (self._read(deadline - time.monotonic(), rid)
                          if self._write(message, deadline) else None)
            except ProtocolError as exc:
                self._kill(f"malformed message: {exc}")
                return
            except OSError as exc:
                answer = None
                if self.proc.poll() is None:
                    self._kill(f"pipe closed: {exc}")
                    return
            if answer is None:
                code = self.proc.poll()
                ended = code is not None or self._eof
                if code is None and self._eof:
                    # the pipe closed first: bwrap exits a moment after the plugin inside
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        code = self.proc.wait(timeout=1.0)
                self._kill(f"the plugin process ended (exit {code}) during a call" if ended
                           else "no valid answer in time")
                return
        if "error" in answer:
            self.errors += 1
            self._ctx.bus.emit("error", source=f"plugin:{self.manifest.name}",
                               message=f"handle raised: {answer['error'][:500]}")
        for out in answer["events"]:
            kind = out.get("type") if isinstance(out, dict) else None
            if kind not in self.emits:
                self.rejected += 1
                continue
            try:
                self._ctx.bus.emit(kind, **{k: v for k, v in out.items() if k != "type"})
            except (ValueError, TypeError):
                self.rejected += 1

    def _kill(self, why: str, report: bool = True) -> None:
        self.failed = why
        self._terminate()
        if report and self._ctx is not None:
            self._ctx.bus.emit("error", source=f"plugin:{self.manifest.name}",
                               message=f"isolated plugin stopped: {why}")

    def _terminate(self) -> None:
        proc = self.proc
        if proc is None:
            return
        # killing the sandbox's PID 1 makes the kernel kill every process in its PID
        # namespace; bwrap outside then exits, and once it has reaped that PID 1 it is gone
        pid1, self._sandbox_pid = self._sandbox_pid, None
        if proc.poll() is None:  # bwrap has not reaped its child: pid1 is still that child
            for pid in (pid1, proc.pid):
                if pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        proc.wait(5)
        deadline = time.monotonic() + 1.0
        while pid1 is not None and os.path.exists(f"/proc/{pid1}") and \
                time.monotonic() < deadline:
            time.sleep(0.002)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    @property
    def alive(self) -> bool:
        """Whether the sandboxed child is running and has not failed."""
        return self.proc is not None and self.proc.poll() is None and not self.failed

    def stop(self) -> None:
        """Kill the child (it holds nothing worth a graceful end) and close the pipe."""
        with self._lock:
            self._terminate()
            self.proc = None


_SPAWNER: concurrent.futures.ThreadPoolExecutor | None = None
_SPAWNER_LOCK = threading.Lock()


def _spawner() -> concurrent.futures.ThreadPoolExecutor:
    """The one thread that starts sandboxes. bwrap's --die-with-parent is
    PR_SET_PDEATHSIG, which fires when the *thread* that spawned it ends; this thread
    lives as long as the process, so a sandbox dies with the kernel and not before."""
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="plugin-sandbox-spawner")
        return _SPAWNER


def _wait(fd: int, events: int, deadline: float) -> bool:
    """Whether ``fd`` is ready (or at EOF/hung up) before ``deadline`` (poll: any fd number)."""
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    poller = select.poll()
    poller.register(fd, events)
    return bool(poller.poll(max(1, int(left * 1000))))


def _read_child_pid(fd: int, timeout: float) -> int | None:
    """The host PID of the sandbox's PID 1, from bwrap's ``--info-fd`` (None if absent)."""
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"}" not in data and len(data) < 4096:
            if not _wait(fd, select.POLLIN, deadline):
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        pid = json.loads(data.decode()).get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


# The launcher inside the sandbox: limits first, then the plugin's code. The protocol
# keeps its own copy of stdout; the plugin's prints go to stderr (discarded).
_CHILD = r"""
import importlib, json, os, resource, sys
cfg = json.loads(sys.argv[1])
for _name, (_soft, _hard) in cfg["rlimits"].items():
    resource.setrlimit(getattr(resource, _name), (_soft, _hard))
_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
def _send(obj):
    _out.write(json.dumps(obj, allow_nan=False, default=str) + "\n")
    _out.flush()
sys.path.insert(0, cfg["root"])
try:
    mod = importlib.import_module(cfg["module"])
    handle = mod.handle
except BaseException as exc:
    _send({"events": [], "error": f"{type(exc).__name__}: {exc}"})
    raise SystemExit(1)
_send({"ready": True})
for line in sys.stdin:
    request = json.loads(line)
    _id = request["id"]
    try:
        out = handle(request["event"]) or []
        _send({"id": _id, "events": list(out)})
    except BaseException as exc:
        try:
            _send({"id": _id, "events": [], "error": f"{type(exc).__name__}: {exc}"[:1000]})
        except BaseException:
            raise SystemExit(1)
"""

__all__ = ["MAX_LINE", "IsolatedPlugin", "ProtocolError", "parse_answer"]
