"""Getting a wgpu device safely: a timeout, feature checks, and device-loss detection.

wgpu-py 0.32 has no ``device.lost`` promise: a lost device shows up as
``GPUValidationError("... Parent device is lost")`` on the next call and as ERROR records
on the ``wgpu`` logger at the next submit. ``LossWatch`` collects the latter;
``is_device_lost`` recognises the former.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

AdapterFactory = Callable[[], Any]
_LOST_WORDS = ("device is lost", "device lost", "parent device", "devicelost")


def quiet_mesa() -> None:
    """Give Mesa a valid XDG_RUNTIME_DIR (a private folder) when none is set: without it,
    Mesa prints an error line per process, which a notebook shows as stderr output."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join(tempfile.gettempdir(), f"mos-lab-xdg-{os.getuid()}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = path


class RendererUnavailable(RuntimeError):
    """No usable GPU: no adapter, too slow to appear, or a required feature is missing."""


@dataclass
class GPUContext:
    """An adapter and its device, with what was detected about them."""

    adapter: Any
    device: Any
    info: dict[str, Any]
    features: frozenset[str]
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def max_texture(self) -> int:
        return int(self.limits.get("max-texture-dimension-2d", 8192))

    def describe(self) -> str:
        i = self.info
        kind = f"{i.get('adapter_type', '?')}, {i.get('backend_type', '?')}"
        return f"{i.get('device', '?')} ({kind})"


_TYPE_RANK = {"DiscreteGPU": 0, "IntegratedGPU": 1, "VirtualGPU": 2, "CPU": 3}


def adapter_rank(info: dict[str, Any]) -> tuple[int, int]:
    """Sort key: hardware before software; on a software
    (CPU) adapter OpenGL before Vulkan, because Mesa 22.3's lavapipe leaks about 0.5 MB
    per submitted draw (measured; llvmpipe through OpenGL stays flat, and is faster)."""
    backend = str(info.get("backend_type", ""))
    kind = str(info.get("adapter_type", ""))
    cpu = kind == "CPU"
    return (_TYPE_RANK.get(kind, 4),
            (0 if backend == "OpenGL" else 1) if cpu else (1 if backend == "OpenGL" else 0))


_ADAPTERS: list[Any] | None = None  # the process's adapters, enumerated once
_ADAPTERS_LOCK = threading.Lock()


def process_adapters() -> list[Any]:
    """The system's adapters, enumerated once per process and shared by every renderer.

    Sharing is what makes two renderers in two threads safe on OpenGL: wgpu-hal gives
    each *enumerated* GL adapter its own lock around the one EGL context of the process,
    so devices of two enumerations make that context current in two threads at once and
    the process aborts (``egl.rs`` ``BadAccess``, a Rust panic that kills the kernel).
    Devices of the same adapter share its lock, so wgpu serialises their GL work itself.
    """
    global _ADAPTERS
    import wgpu

    with _ADAPTERS_LOCK:
        if _ADAPTERS is None:
            _ADAPTERS = list(wgpu.gpu.enumerate_adapters_sync())
        return _ADAPTERS


def default_adapter() -> Any:
    """The best adapter of the system (wgpu imported only here), the same object for
    every call in the process (``process_adapters``): each renderer asks it for a device
    of its own, so a lost device stays one renderer's.

    ``MOS_LAB_WGPU_BACKEND`` (or wgpu's own ``WGPU_BACKEND_TYPE``), e.g. ``Vulkan`` or
    ``OpenGL``, restricts the choice to that backend.
    """
    import wgpu

    forced = (os.environ.get("MOS_LAB_WGPU_BACKEND") or os.environ.get("WGPU_BACKEND_TYPE")
              or "").strip()
    found = process_adapters()
    if not found:  # let wgpu say why (e.g. "No suitable graphics adapter found")
        return wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    adapters = [a for a in found
                if not forced or str(a.info.get("backend_type", "")).lower() == forced.lower()]
    if not adapters:  # not wgpu's own request: it would enumerate a second GL adapter
        have = ", ".join(sorted({str(a.info.get("backend_type", "?")) for a in found}))
        raise RendererUnavailable(f"no {forced} adapter (found: {have})")
    return min(adapters, key=lambda a: adapter_rank(dict(a.info)))


_NEWEST_GL_DEVICE: list[Any] = []  # the OpenGL device opened last (one EGL context)


def _keep_newest_gl_device(adapter: Any, device: Any) -> None:
    """Hold the OpenGL device opened last until a newer one replaces it.

    Why: wgpu-hal's GL devices share the process's one EGL context, and each
    binds its own vertex array object when it opens, never again. Dropping the device
    opened last deletes the bound one, and every other live device then draws nothing
    but clears (a frame of background only: a video rendered and closed in the kernel
    blanked every view opened before it). Dropping an older device is harmless, so
    holding the newest one (a few kB, even when lost) is enough.
    """
    if str(dict(adapter.info).get("backend_type", "")) == "OpenGL":
        with _ADAPTERS_LOCK:
            _NEWEST_GL_DEVICE[:] = [device]


def _open(factory: AdapterFactory, required: Sequence[str]) -> GPUContext:
    adapter = factory()
    if adapter is None:
        raise RendererUnavailable("no graphics adapter")
    features = frozenset(str(f) for f in adapter.features)
    missing = sorted(set(required) - features)
    if missing:
        raise RendererUnavailable(f"adapter lacks required features: {', '.join(missing)}")
    limits = {str(k): int(v) for k, v in dict(adapter.limits).items()
              if isinstance(v, int | float)}
    device = adapter.request_device_sync(
        required_features=list(required),
        required_limits={"max-texture-dimension-2d": limits.get("max-texture-dimension-2d")},
    )
    _keep_newest_gl_device(adapter, device)
    return GPUContext(adapter, device, dict(adapter.info), features, limits)


def request_context(factory: AdapterFactory | None = None, *, timeout: float = 10.0,
                    required_features: Sequence[str] = ()) -> GPUContext:
    """Adapter plus device, or ``RendererUnavailable`` within ``timeout`` seconds.

    The request runs in a daemon thread: a driver that hangs while loading cannot hang
    the kernel (THR-05); it is abandoned and the caller falls back to the CPU renderer.
    """
    result: list[GPUContext] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(_open(factory or default_adapter, required_features))
        except BaseException as exc:  # reported to the caller's thread below
            error.append(exc)

    t = threading.Thread(target=work, name="mos-lab-wgpu-open", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise RendererUnavailable(f"adapter/device request timed out after {timeout:g} s")
    if error:
        exc = error[0]
        if isinstance(exc, RendererUnavailable):
            raise exc
        msg = str(exc).strip().splitlines()
        raise RendererUnavailable(msg[-1] if msg else type(exc).__name__) from exc
    return result[0]


def is_device_lost(exc: BaseException) -> bool:
    """Whether an exception from wgpu says the device is gone."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in _LOST_WORDS)


class LossWatch(logging.Handler):
    """Collects ERROR records of the ``wgpu`` logger (where device loss is reported)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._records: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock2:
            self._records.append(record.getMessage())

    def take(self) -> list[str]:
        """The messages seen since the last call."""
        with self._lock2:
            out, self._records = self._records, []
        return out

    def attach(self) -> LossWatch:
        logging.getLogger("wgpu").addHandler(self)
        return self

    def detach(self) -> None:
        logging.getLogger("wgpu").removeHandler(self)
