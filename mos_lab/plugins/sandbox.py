"""An operating-system sandbox for untrusted plugins: bubblewrap, seccomp and rlimits.

A sandboxed plugin runs as ``python -I -S`` inside bubblewrap (``bwrap``) with

- its own user, mount, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``):
  no network at all (only a private loopback), no view of the kernel's processes;
- a file system that holds nothing but a read-only bind of the plugin's own folder (at
  ``/plugin``) and, read-only, what the interpreter needs: its binary, its standard
  library (with ``site-packages`` hidden) and the shared libraries they link; the root is
  read-only too, so there is nowhere to write;
- a seccomp filter (classic BPF, written here, applied by bwrap before exec): no new
  processes (``fork``/``vfork``/``clone`` without ``CLONE_THREAD``), no sockets but
  ``AF_UNIX``, no ptrace, mount, namespaces, keyrings, bpf, io_uring or module loading;
- resource limits set by the trusted launcher before the plugin's code is imported:
  address space, CPU seconds, open files, file size 0 and processes.

Where bwrap is missing or cannot make namespaces, :func:`check` raises
:class:`SandboxUnavailable` saying what to install: untrusted code never runs unconfined.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mos_lab.plugins.manifest import PluginError

#: Where the plugin's folder appears inside the sandbox.
PLUGIN_ROOT = "/plugin"
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: "
                "`dnf install bubblewrap`)")


class SandboxUnavailable(PluginError):
    """The sandbox cannot run here; the message says what to install or enable."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed plugin process (rlimits, applied before its code)."""

    memory_bytes: int = 256 * 1024 * 1024
    cpu_seconds: int = 10
    open_files: int = 16
    processes: int = 16

    def rlimits(self) -> dict[str, tuple[int, int]]:
        """``resource`` limit names -> (soft, hard); CPU gets a second's grace to SIGKILL."""
        return {"RLIMIT_AS": (self.memory_bytes, self.memory_bytes),
                "RLIMIT_CPU": (self.cpu_seconds, self.cpu_seconds + 1),
                "RLIMIT_NOFILE": (self.open_files, self.open_files),
                "RLIMIT_NPROC": (self.processes, self.processes),
                "RLIMIT_FSIZE": (0, 0), "RLIMIT_CORE": (0, 0)}


# -- seccomp ---------------------------------------------------------------------------
_LD_W_ABS, _JEQ_K, _JSET_K, _JGE_K, _RET_K = 0x20, 0x15, 0x45, 0x35, 0x06
_RET_KILL_PROCESS, _RET_ALLOW, _RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_EPERM, _EACCES, _ENOSYS = 1, 13, 38
_CLONE_THREAD, _AF_UNIX = 0x00010000, 1
_X32_BIT = 0x40000000

# (audit arch, syscall numbers) per machine; the generic table serves arm64 and riscv64.
_DENY = ("ptrace", "mount", "umount2", "unshare", "setns", "keyctl", "add_key",
         "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
         "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
         "init_module", "finit_module", "delete_module", "chroot", "pivot_root",
         "process_vm_readv", "process_vm_writev", "personality", "fork", "vfork")
_X86_64 = {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "socket": 41,
           "socketpair": 53, "ptrace": 101, "mount": 165, "umount2": 166, "unshare": 272,
           "setns": 308, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
           "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
           "io_uring_enter": 426, "io_uring_register": 427, "kexec_load": 246,
           "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
           "delete_module": 176, "chroot": 161, "pivot_root": 155, "process_vm_readv": 310,
           "process_vm_writev": 311, "personality": 135}
_GENERIC = {"clone": 220, "clone3": 435, "socket": 198, "socketpair": 199, "ptrace": 117,
            "mount": 40, "umount2": 39, "unshare": 97, "setns": 268, "keyctl": 219,
            "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
            "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
            "io_uring_register": 427, "kexec_load": 104, "kexec_file_load": 294,
            "init_module": 105, "finit_module": 273, "delete_module": 106, "chroot": 51,
            "pivot_root": 41, "process_vm_readv": 270, "process_vm_writev": 271,
            "personality": 92}
_ARCHES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _GENERIC),
           "arm64": (0xC00000B7, _GENERIC), "riscv64": (0xC00000F3, _GENERIC)}


def seccomp_filter(machine: str | None = None) -> bytes:
    """The seccomp BPF program (``struct sock_filter[]``) for this machine's architecture.

    Other architectures (and the x32 ABI) are killed; unsupported machines raise
    SandboxUnavailable rather than run without the filter.
    """
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SandboxUnavailable(f"the plugin sandbox has no seccomp filter for {machine!r} "
                                 f"(supported: {', '.join(sorted(_ARCHES))})")
    arch, nr = _ARCHES[machine]
    prog: list[tuple[int, object, object, int]] = []  # (code, jt, jf, k); jumps by label

    def op(code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        prog.append((code, jt, jf, k))

    op(_LD_W_ABS, 4)                                    # seccomp_data.arch
    op(_JEQ_K, arch, 0, "kill")
    op(_LD_W_ABS, 0)                                    # seccomp_data.nr
    if machine == "x86_64":
        op(_JGE_K, _X32_BIT, "kill", 0)
    for name in _DENY:
        if name in nr:
            op(_JEQ_K, nr[name], "eperm", 0)
    op(_JEQ_K, nr["clone3"], "enosys", 0)              # flags unreadable: glibc falls back
    op(_JEQ_K, nr["clone"], "clone", 0)
    op(_JEQ_K, nr["socket"], "socket", 0)
    op(_JEQ_K, nr["socketpair"], "socket", 0)
    op(_RET_K, _RET_ALLOW)
    labels = {"clone": len(prog)}
    op(_LD_W_ABS, 16)                                   # args[0] (low word): clone flags
    op(_JSET_K, _CLONE_THREAD, "allow", "eperm")
    labels["socket"] = len(prog)
    op(_LD_W_ABS, 16)                                   # args[0]: address family
    op(_JEQ_K, _AF_UNIX, "allow", "eacces")
    for label, ret in (("allow", _RET_ALLOW), ("eperm", _RET_ERRNO | _EPERM),
                       ("eacces", _RET_ERRNO | _EACCES), ("enosys", _RET_ERRNO | _ENOSYS),
                       ("kill", _RET_KILL_PROCESS)):
        labels[label] = len(prog)
        op(_RET_K, ret)
    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(prog):
        offs = [labels[j] - i - 1 if isinstance(j, str) else int(j) for j in (jt, jf)]  # type: ignore[call-overload]
        assert all(0 <= o < 256 for o in offs), "seccomp jump out of range"
        out += struct.pack("=HBBI", code, offs[0], offs[1], k)
    return bytes(out)


# -- what the interpreter needs --------------------------------------------------------
@dataclass(frozen=True)
class Runtime:
    """The interpreter and the read-only paths it needs inside the sandbox."""

    executable: str
    stdlib: str
    hidden: tuple[str, ...]
    files: tuple[str, ...]


_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


@functools.lru_cache(maxsize=1)
def runtime() -> Runtime:
    """The base interpreter (never a venv's: no project packages) and its libraries."""
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    stdlib = os.path.realpath(paths["stdlib"])
    dynload = Path(stdlib) / "lib-dynload"
    objects = [exe, *map(str, sorted(dynload.glob("*.so")))]
    files: set[str] = set()
    ldd = shutil.which("ldd") or next((p for p in ("/usr/bin/ldd", "/bin/ldd")
                                       if os.path.exists(p)), None)
    if ldd:
        res = subprocess.run([ldd, *objects], capture_output=True, text=True, timeout=30,
                             check=False)
        files.update(m.group(1) for m in _LDD_LINE.finditer(res.stdout))
    if not files:  # no ldd: the usual library folders, whole
        files.update(p for p in ("/lib", "/lib64", "/usr/lib", "/usr/lib64")
                     if os.path.exists(p))
    hidden = tuple(str(p) for p in (Path(stdlib) / "site-packages",
                                    Path(stdlib) / "dist-packages") if p.is_dir())
    files.discard(exe)
    return Runtime(exe, stdlib, hidden, tuple(sorted(f for f in files
                                                     if not f.startswith(stdlib + "/"))))


def bwrap() -> str:
    """The bwrap executable on PATH, or SandboxUnavailable saying what to install."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable("untrusted plugins run only inside the bubblewrap sandbox, "
                                 f"and `bwrap` is not on PATH: {INSTALL_HINT}")
    return found


def command(folder: str | os.PathLike[str], argv: Sequence[str], seccomp_fd: int,
            exe: str | None = None, info_fd: int | None = None) -> list[str]:
    """The bwrap command line that runs ``python -I -S -B <argv>`` confined to ``folder``.

    ``info_fd``: bwrap writes ``{"child-pid": N}`` there, N being the sandbox's PID 1 as
    the host sees it (killing it ends every process in the sandbox).
    """
    rt = runtime()
    cmd = [exe or bwrap(), "--unshare-all", "--die-with-parent", "--new-session",
           "--cap-drop", "ALL", "--hostname", "sandbox"]
    if info_fd is not None:
        cmd += ["--info-fd", str(info_fd)]
    for path in rt.files:
        cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
            "--ro-bind", rt.executable, rt.executable, "--ro-bind", rt.stdlib, rt.stdlib]
    for path in rt.hidden:
        cmd += ["--tmpfs", path, "--remount-ro", path]
    cmd += ["--ro-bind", os.fspath(folder), PLUGIN_ROOT, "--remount-ro", "/",
            "--chdir", PLUGIN_ROOT, "--seccomp", str(seccomp_fd),
            "--", rt.executable, "-I", "-S", "-B", *argv]
    return cmd


@functools.lru_cache(maxsize=4)
def _probe(exe: str) -> str | None:
    r, w = os.pipe()
    try:
        os.write(w, seccomp_filter())
        os.close(w)
        w = -1
        res = subprocess.run(command(runtime().stdlib, ["-c", "import json"], r, exe),
                             capture_output=True, text=True, timeout=30, pass_fds=(r,),
                             check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
    return None if res.returncode == 0 else (res.stderr.strip() or f"exit {res.returncode}")


def check() -> str:
    """Raise SandboxUnavailable unless a sandboxed interpreter starts here; bwrap's path."""
    exe = bwrap()
    seccomp_filter()
    problem = _probe(exe)
    if problem:
        raise SandboxUnavailable(
            f"the plugin sandbox (bubblewrap) cannot start here: {problem.splitlines()[-1]}; "
            "it needs user namespaces (sysctl kernel.unprivileged_userns_clone=1 or "
            "running as root); untrusted plugins never run unconfined")
    return exe
