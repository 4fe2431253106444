"""How a widget made with no arguments finds its session, without importing the kernel.

``mos_lab.widgets`` sits below ``mos_lab.kernel`` in the layers, so it cannot import the
Session. It names what it needs (:class:`SessionLike`) and asks a *provider* for it: the
kernel installs one (``set_provider``); without it, the top-level ``mos_lab.session``
function (which makes the kernel's Session on first use) is the provider.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mos_lab.audio import BrowserOutput
    from mos_lab.bus import EventBus
    from mos_lab.engine import Engine
    from mos_lab.widgets._lifecycle import Registry


class SessionLike(Protocol):
    """What widgets use of a session: its engine, bus, lifecycle registry and audio."""

    bus: EventBus
    registry: Registry
    id: str

    @property
    def engine(self) -> Engine: ...

    @property
    def output(self) -> str: ...

    @property
    def browser_output(self) -> BrowserOutput | None: ...


_provider: Callable[[], Any] | None = None


def set_provider(provider: Callable[[], Any] | None) -> None:
    """Install the function that returns the current session (the kernel does this)."""
    global _provider
    _provider = provider


def current_session() -> SessionLike:
    """The session a widget made with no arguments binds to."""
    if _provider is not None:
        return _provider()
    top = sys.modules.get("mos_lab")
    get = getattr(top, "session", None)
    if get is None:  # pragma: no cover - mos_lab/__init__ always defines it
        raise RuntimeError("no mos_lab session: run `%load_ext mos_lab` or mos_lab.session()")
    return get()
