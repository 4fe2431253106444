"""Untrusted plugins run in a subprocess with limits; they talk to mos_lab in JSON lines.

The child sees events it subscribed to (as plain dicts) and may answer with events of the
types it declared; the host validates every answer through the bus before it is emitted.
It never sees the engine, the synth or any Python object of the kernel: a hostile plugin
can waste its own CPU and memory (both capped) and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from mos_lab.plugins.manifest import Manifest, PluginError

MAX_LINE = 64 * 1024


def _limits(memory_bytes: int, cpu_seconds: int) -> Any:
    def apply() -> None:  # runs in the child before exec
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    return apply


class IsolatedPlugin:
    """A plugin module run out of process; ``module`` exports ``handle(event) -> [events]``.

    ``subscribes``: event types forwarded to the child; ``emits``: the only types its
    answers may have. Each event must be answered within ``timeout`` seconds, or the child
    is killed and the plugin reported as failed.
    """

    def __init__(self, manifest: Manifest, module: str, *, subscribes: Sequence[str],
                 emits: Sequence[str] = (), path: str | None = None, timeout: float = 2.0,
                 memory_bytes: int = 512 * 1024 * 1024, cpu_seconds: int = 30) -> None:
        self.manifest = manifest
        self.module = module
        self.subscribes = tuple(subscribes)
        self.emits = frozenset(emits)
        self.path = path
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.cpu_seconds = cpu_seconds
        self.proc: subprocess.Popen[str] | None = None
        self.failed: str | None = None
        self.rejected = 0
        self._ctx: Any = None
        self._lock = threading.Lock()

    def start(self, context: Any) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": self.path or "",
               "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _CHILD, self.module] if not self.path else
            [sys.executable, "-c", _CHILD, self.module],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env, preexec_fn=_limits(self.memory_bytes, self.cpu_seconds),
            cwd=self.path or None)
        self._ctx = context
        ready = self._read_line()
        if ready != {"ready": True}:
            self._kill(f"did not start: {ready}")
            raise PluginError(f"isolated plugin {self.manifest.name!r} did not start: {ready}")
        for event_type in self.subscribes:
            context.subscribe(event_type, self._forward)

    def _read_line(self) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(
            self.proc.stdout.readline(MAX_LINE + 1)), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self.timeout)
        if reader.is_alive() or not result or not result[0]:
            return None
        try:
            return json.loads(result[0])
        except ValueError:
            return {"invalid": result[0][:80]}

    def _forward(self, event: Any) -> None:
        """Send one event to the child; emit its validated answers; kill it if it hangs."""
        with self._lock:
            if self.proc is None or self.failed:
                return
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(json.dumps({"type": event.type, **event.data}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, TypeError, ValueError) as exc:
                self._kill(f"pipe closed: {exc}")
                return
            answer = self._read_line()
        if not isinstance(answer, dict) or not isinstance(answer.get("events"), list):
            self._kill("no valid answer in time" if answer is None else f"bad answer {answer}")
            return
        for out in answer["events"][:100]:
            kind = out.pop("type", None) if isinstance(out, dict) else None
            if kind not in self.emits:
                self.rejected += 1
                continue
            try:
                self._ctx.bus.emit(kind, **out)
            except (ValueError, TypeError):
                self.rejected += 1

    def _kill(self, why: str) -> None:
        self.failed = why
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self._ctx is not None:
            self._ctx.bus.emit("error", source=f"plugin:{self.manifest.name}",
                               message=f"isolated plugin stopped: {why}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout) if self.proc else ():
            if stream is not None:
                stream.close()
        self.proc = None


_CHILD = r"""
import importlib, json, sys
mod = importlib.import_module(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    try:
        out = mod.handle(json.loads(line)) or []
    except Exception as exc:
        out = []
        print(json.dumps({"events": [], "error": str(exc)}), flush=True)
        continue
    print(json.dumps({"events": list(out)}), flush=True)
"""
