"""The sandbox of untrusted plugins holds: each escape is blocked or contained, and the
kernel (bus, other plugins) goes on."""

from __future__ import annotations

import os
import socket
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from mos_lab.bus import EventBus
from mos_lab.plugins import sandbox
from mos_lab.plugins.isolation import MAX_LINE, IsolatedPlugin, ProtocolError, parse_answer
from mos_lab.plugins.manifest import Manifest, PluginError
from mos_lab.plugins.registry import PluginRegistry

assert MAX_LINE < 70_000

HOSTILE = '''
import os, signal, socket, sys, time

def report(text):
    return [{"type": "progress", "task": text, "done": 1.0, "total": 1.0}]

def handle(event):
    cmd, arg = event["symbol"], event.get("key", "")
    if cmd == "ping":
        return report("pong")
    if cmd == "read":
        try:
            with open(arg) as f:
                return report("read " + f.read(40))
        except OSError as exc:
            return report("blocked " + type(exc).__name__)
    if cmd == "listdir":
        return report(" ".join(sorted(os.listdir(arg))))
    if cmd == "write":
        try:
            with open(arg, "w") as f:
                f.write("x")
            return report("wrote")
        except OSError as exc:
            return report("blocked " + type(exc).__name__)
    if cmd == "connect":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(("127.0.0.1", int(arg)))
        return report("connected")
    if cmd == "forkbomb":  # children sleep, so a working fork would pile processes up
        n = 0
        try:
            for n in range(64):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
        except OSError as exc:
            return report(f"fork blocked after {n}: {type(exc).__name__}")
        return report("forked 64")
    if cmd == "threadbomb":  # threads are allowed; the address-space limit caps them
        import threading
        n = 0
        try:
            for n in range(10_000):
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        except (RuntimeError, MemoryError) as exc:
            return report(f"threads stopped at {n}: {type(exc).__name__}")
        return report("10000 threads")
    if cmd == "hog":
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
    if cmd == "spin":
        while True:
            pass
    if cmd == "suicide":
        os.kill(os.getpid(), signal.SIGKILL)
    if cmd == "raw":  # write straight into the protocol pipe
        import __main__
        __main__._out.write("x" * 70_000 if arg == "BIG" else arg.replace("ID", str(__main__._id)))
        __main__._out.flush()
        return []
    if cmd == "answer_then_sleep":  # answers, then stops reading its requests
        import __main__
        __main__._out.write('{"id": %d, "events": []}\\n' % __main__._id)
        __main__._out.flush()
        time.sleep(30)
    if cmd == "bad_events":
        return [{"type": "transport", "state": "playing"}, "text", {"type": "progress", "task": 1}]
    if cmd == "import":
        import mos_lab  # noqa: F401
    if cmd == "print":
        print("chatter on stdout")  # goes to stderr, not into the protocol
        return report("printed")
    return []
'''


class Counter:
    """A trusted in-process plugin: proof that the kernel goes on."""

    def __init__(self) -> None:
        self.manifest = Manifest("counter", "1.0")
        self.seen = 0

    def start(self, context) -> None:
        context.subscribe("chord", self._on)

    def _on(self, event) -> None:
        self.seen += 1

    def stop(self) -> None:
        pass


@pytest.fixture
def bus():
    with EventBus() as b:
        yield b


@pytest.fixture
def hostile(tmp_path: Path):
    """A plugin folder (with the hostile module under a unique name) and a secret beside it."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    name = f"hostile_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(HOSTILE))
    (folder / "own.txt").write_text("mine to read")
    (tmp_path / "secret.txt").write_text("kernel secret")
    return folder, name


def start(bus, folder, name, **kw):
    reg = PluginRegistry(bus)
    counter = Counter()
    reg.register(counter)
    plug = IsolatedPlugin(Manifest("hostile", "0.1", trusted=False), name, subscribes=["chord"],
                          emits=["progress"], path=folder, **{"timeout": 1.0, **kw})
    reg.register(plug)
    assert reg.start() == ["counter", "hostile"]
    return reg, plug, counter


def ask(bus, cmd, arg=""):
    """Send one command; the texts of the progress answers it produced."""
    n = len(bus.history)
    bus.emit("chord", symbol=cmd, key=arg)
    return [e["task"] for e in list(bus.history)[n:] if e.type == "progress"]


def errors(bus):
    return [e["message"] for e in bus.history if e.type == "error"]


def processes_named(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.seed("WID-08")
def test_files_outside_its_folder_do_not_exist_for_it_and_its_own_are_read_only(
        bus, hostile, tmp_path):
    folder, name = hostile
    reg, plug, _ = start(bus, folder, name)
    assert ask(bus, "read", str(tmp_path / "secret.txt")) == ["blocked FileNotFoundError"]
    assert ask(bus, "read", "/etc/passwd") == ["blocked FileNotFoundError"]
    import mos_lab
    assert ask(bus, "read", mos_lab.__file__) == ["blocked FileNotFoundError"]
    assert ask(bus, "read", "own.txt") == ["read mine to read"]
    assert ask(bus, "write", "own.txt") == ["blocked OSError"]  # read-only file system
    assert ask(bus, "write", "/new.txt") == ["blocked OSError"]
    assert (folder / "own.txt").read_text() == "mine to read"
    root = set(ask(bus, "listdir", "/")[0].split())
    assert "plugin" in root and not root & {"home", "work", "tmp", "proc", "dev", "usr", "var"}
    assert ask(bus, "import") == [] and plug.alive  # mos_lab is not in its file system
    assert any("ModuleNotFoundError" in m and "mos_lab" in m for m in errors(bus))
    assert ask(bus, "print") == ["printed"]
    reg.stop()


@pytest.mark.seed("WID-08")
def test_no_network_even_to_the_kernels_loopback(bus, hostile):
    folder, name = hostile
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    reg, plug, _ = start(bus, folder, name)
    try:
        assert ask(bus, "connect", str(listener.getsockname()[1])) == []
        assert any("PermissionError" in m for m in errors(bus))
        with pytest.raises(TimeoutError):
            listener.accept()
        assert plug.alive
    finally:
        listener.close()
        reg.stop()


@pytest.mark.seed("WID-08")
def test_a_fork_bomb_creates_no_process(bus, hostile):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name)
    assert ask(bus, "forkbomb") == ["fork blocked after 0: PermissionError"]
    assert ask(bus, "ping") == ["pong"] and counter.seen == 2 and plug.alive
    [threads] = ask(bus, "threadbomb")
    assert threads.startswith("threads stopped at") and int(threads.split()[3][:-1]) < 100
    assert ask(bus, "ping") == ["pong"] and plug.alive
    reg.stop()
    assert processes_named(name) == []


@pytest.mark.seed("WID-08")
def test_a_memory_hog_hits_its_limit_and_the_plugin_goes_on(bus, hostile):
    folder, name = hostile
    reg, plug, _ = start(bus, folder, name, memory_bytes=128 * 1024 * 1024)
    assert ask(bus, "hog") == []
    assert any("MemoryError" in m for m in errors(bus))
    assert ask(bus, "ping") == ["pong"] and plug.alive
    reg.stop()


@pytest.mark.seed("WID-08")
def test_an_endless_loop_is_killed_at_the_deadline(bus, hostile):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name, timeout=0.5)
    t0 = time.monotonic()
    assert ask(bus, "spin") == []
    assert time.monotonic() - t0 < 4  # the 0.5 s deadline, the kill, a loaded machine
    assert plug.failed == "no valid answer in time" and not plug.alive
    assert any("isolated plugin stopped: no valid answer" in m for m in errors(bus))
    assert ask(bus, "ping") == [] and counter.seen == 2  # the kernel goes on without it
    assert [r.state for r in reg.status() if r.name == "hostile"] == ["failed"]
    reg.stop("hostile")
    assert processes_named(name) == []
    assert reg.start("hostile") == ["hostile"] and plug.alive  # a fresh sandbox
    assert ask(bus, "ping") == ["pong"]
    reg.stop()
    assert processes_named(name) == []


def test_the_cpu_limit_ends_a_loop_whatever_the_deadline(bus, hostile):
    folder, name = hostile
    reg, plug, _ = start(bus, folder, name, timeout=60.0, cpu_seconds=1)
    ask(bus, "spin")  # SIGXCPU after 1 s of CPU time, long before the 60 s deadline
    assert plug.failed and "ended" in plug.failed, plug.failed
    reg.stop()


def test_a_plugin_killed_mid_call_is_reported_and_leaves_nothing(bus, hostile):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name)
    assert processes_named(name)
    assert ask(bus, "suicide") == []
    assert plug.failed and "ended" in plug.failed
    assert any("isolated plugin stopped" in m for m in errors(bus))
    assert ask(bus, "ping") == [] and counter.seen == 2
    assert reg.started == ["counter", "hostile"]
    reg.stop()
    assert processes_named(name) == []


def test_killing_the_sandbox_from_outside_takes_the_plugin_with_it(bus, hostile):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name)
    assert plug.proc is not None
    plug.proc.kill()  # the outer bwrap: --die-with-parent and the PID namespace do the rest
    plug.proc.wait(5)
    deadline = time.monotonic() + 2
    while processes_named(name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert processes_named(name) == []
    assert ask(bus, "ping") == [] and plug.failed and "ended" in plug.failed
    assert counter.seen == 1
    reg.stop()


@pytest.mark.parametrize("raw", [
    "not json\n",
    '{"events": []}\n',  # no request id
    '{"id": 999, "events": []}\n',  # another request's id
    "[1, 2]\n",
    '{"events": 5}\n',
    '{"events": [], "more": 1}\n',
    '{"events": [{"type": "progress", "task": "x", "done": NaN, "total": 1}]}\n',
    "[" * 50_000 + "\n",
    "BIG",  # 70,000 bytes and no end of line
])
@pytest.mark.seed("WID-08")
def test_malformed_messages_stop_the_plugin_not_the_kernel(bus, hostile, raw):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name)
    assert ask(bus, "raw", raw) == []
    assert plug.failed and plug.failed.startswith("malformed message") and not plug.alive
    assert counter.seen == 1
    bus.emit("chord", symbol="C")
    assert counter.seen == 2
    reg.stop()


@pytest.mark.parametrize(("line", "problem"), [
    (b"\xff\xfe\n", "not JSON"),
    (b'{"events": "x"}', "must be a list"),
    (b'{"ready": false}', "ready line"),
    (b'{"events": [], "error": 3}', "'error' must be a string"),
    (b'{"events": [' + b"{}," * 200 + b"{}]}", "more than 100 events"),
    (b'{"a": Infinity}', "Infinity is not allowed"),
])
def test_every_answer_line_is_checked(line, problem):
    with pytest.raises(ProtocolError, match=problem):
        parse_answer(line)
    assert parse_answer(b'{"id": 3, "events": [{"type": "progress"}]}', 3)["events"] == [
        {"type": "progress"}]
    with pytest.raises(ProtocolError, match="answer to request True, expected 1"):
        parse_answer(b'{"id": true, "events": []}', 1)


def test_answers_of_undeclared_types_or_invalid_fields_are_dropped(bus, hostile):
    folder, name = hostile
    reg, plug, _ = start(bus, folder, name)
    assert ask(bus, "bad_events") == []
    assert plug.rejected == 3 and not any(e.type == "transport" for e in bus.history)
    assert ask(bus, "ping") == ["pong"] and plug.alive
    reg.stop()


@pytest.mark.seed("WID-08")
def test_an_unsolicited_answer_is_caught_by_its_request_id(bus, hostile):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name)
    # answers this request twice: the handler's own answer then lies ahead of the next one
    assert ask(bus, "raw", '{"id": ID, "events": []}\n') == []
    assert plug.alive
    assert ask(bus, "ping") == []
    assert plug.failed and "answer to request" in plug.failed and "expected" in plug.failed
    assert counter.seen == 2
    reg.stop()


@pytest.mark.seed("WID-08")
def test_without_bubblewrap_untrusted_plugins_refuse_to_start(bus, hostile, tmp_path,
                                                               monkeypatch):
    folder, name = hostile
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    reg = PluginRegistry(bus)
    plug = IsolatedPlugin(Manifest("hostile", "0.1", trusted=False), name,
                          subscribes=["chord"], path=folder)
    reg.register(plug)
    with pytest.raises(PluginError, match=r"'hostile' was not started.*apt-get install "
                                          r"bubblewrap"):
        reg.start("hostile")
    assert plug.proc is None and processes_named(name) == []
    assert reg.start() == []


def test_the_seccomp_filter_is_built_for_known_machines_only():
    for machine in ("x86_64", "aarch64"):
        prog = sandbox.seccomp_filter(machine)
        assert len(prog) % 8 == 0 and 20 < len(prog) // 8 < 100
    with pytest.raises(sandbox.SandboxUnavailable, match="no seccomp filter for 'sparc'"):
        sandbox.seccomp_filter("sparc")


@pytest.mark.seed("WID-08")
def test_a_child_that_stops_reading_cannot_block_the_kernel(bus, hostile):
    folder, name = hostile
    reg, plug, counter = start(bus, folder, name, timeout=0.5)
    assert ask(bus, "answer_then_sleep") == [] and plug.alive
    t0 = time.monotonic()
    bus.emit("chord", symbol="big", key="\u00e9" * 60_000)  # ~360 kB of JSON: > a pipe's buffer
    assert time.monotonic() - t0 < 4  # the 0.5 s deadline, the kill, a loaded machine
    assert plug.failed == "no valid answer in time" and counter.seen == 2
    reg.stop()


@pytest.mark.seed("WID-08")
def test_where_namespaces_are_not_permitted_untrusted_plugins_refuse_to_start(
        bus, hostile, tmp_path, monkeypatch):
    folder, name = hostile
    fake = tmp_path / "bin" / "bwrap"  # a bwrap that cannot make namespaces, as in a container
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    reg = PluginRegistry(bus)
    plug = IsolatedPlugin(Manifest("hostile", "0.1", trusted=False), name,
                          subscribes=["chord"], path=folder)
    reg.register(plug)
    with pytest.raises(PluginError, match=r"cannot start here: bwrap: No permissions to "
                                          r"create new namespace.*never run unconfined"):
        reg.start("hostile")
    assert plug.proc is None and processes_named(name) == []


def test_a_sandbox_started_from_a_short_lived_thread_outlives_the_thread(bus, hostile):
    """bwrap --die-with-parent follows the thread that spawned it (PR_SET_PDEATHSIG):
    sandboxes are spawned from one long-lived thread, so a session made in a worker thread
    keeps its plugins when that thread ends."""
    import threading

    folder, name = hostile
    box: list = []
    worker = threading.Thread(target=lambda: box.append(start(bus, folder, name)))
    worker.start()
    worker.join()
    reg, plug, _ = box[0]
    time.sleep(0.2)
    assert ask(bus, "ping") == ["pong"] and plug.alive
    reg.stop()
