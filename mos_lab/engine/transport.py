"""The transport state machine: which calls are legal in which state, in one table."""

from __future__ import annotations

from typing import Literal

State = Literal["idle", "loading", "ready", "playing", "paused", "waiting_for_audio", "error"]

#: state -> the states ``_set_state`` may move to from it
TRANSITIONS: dict[str, frozenset[str]] = {
    "idle": frozenset({"loading", "ready", "error"}),
    "loading": frozenset({"ready", "idle", "error", "loading"}),
    "ready": frozenset({"playing", "loading", "ready", "error"}),
    "playing": frozenset({"paused", "ready", "loading", "error"}),
    "paused": frozenset({"playing", "ready", "loading", "error"}),
    "error": frozenset({"idle", "loading", "ready"}),
}


class TransportError(RuntimeError):
    """A transport call that is not possible in the current state (says which and why)."""


class EngineTimeout(TimeoutError):
    """The audio engine did not become ready in time."""


def check(current: str, target: str) -> None:
    """Raise TransportError unless ``current -> target`` is in the table."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise TransportError(f"transport: cannot go from {current!r} to {target!r}")
