"""Errors raised by the event bus; messages name the event type and, where known, the field."""

from __future__ import annotations

__all__ = [
    "BusError",
    "EmitDepthError",
    "EventValidationError",
    "FieldTypeError",
    "PayloadTooLargeError",
    "UnknownEventTypeError",
]


class BusError(ValueError):
    """Base class of every error the bus raises (a ValueError, so callers can catch broadly)."""


class UnknownEventTypeError(BusError, KeyError):
    """An event type that no registry knows was emitted or subscribed to."""

    def __init__(self, event_type: str, known: tuple[str, ...] = ()) -> None:
        self.event_type = event_type
        hint = f"; known types: {', '.join(sorted(known))}" if known else ""
        super().__init__(f"unknown event type {event_type!r}{hint}")

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0])


class EventValidationError(BusError):
    """A field of an emitted event is missing, unexpected or out of range."""

    def __init__(self, event_type: str, field: str | None, problem: str) -> None:
        self.event_type = event_type
        self.field = field
        where = f"{event_type}.{field}" if field else event_type
        super().__init__(f"event {where}: {problem}")


class FieldTypeError(EventValidationError, TypeError):
    """A field has the wrong Python type (also a TypeError)."""


class PayloadTooLargeError(EventValidationError):
    """A string, bytes or container in the payload is larger than the bus's limit."""

    def __init__(self, event_type: str, field: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            event_type,
            field,
            f"payload size {size} exceeds the limit of {limit} (chars/bytes/items)",
        )


class EmitDepthError(BusError):
    """Handlers emitted events from handlers too deeply: almost always an event cycle."""

    def __init__(self, chain: tuple[str, ...], limit: int) -> None:
        self.chain = chain
        self.limit = limit
        cycle = _find_cycle(chain)
        what = f"cycle {' -> '.join(cycle)}" if cycle else "no repeating cycle"
        super().__init__(
            f"emit depth limit {limit} exceeded ({what}); chain: {' -> '.join(chain)}"
        )


def _find_cycle(chain: tuple[str, ...]) -> tuple[str, ...]:
    """Return the shortest repeating tail of ``chain`` (e.g. a -> b -> a), or () if none."""
    n = len(chain)
    for period in range(1, n // 2 + 1):
        if chain[n - period :] == chain[n - 2 * period : n - period]:
            return (*chain[n - period :], chain[n - period])
    return ()
