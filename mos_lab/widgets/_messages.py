"""Validation of messages from the browser: every field checked before anything is applied.

A page is untrusted input (a stale view, a hostile notebook, a bug): a message is a dict
with a ``type`` naming a command and that command's fields. :func:`check` returns the
cleaned fields or a list of problems naming each bad field, and never raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MAX_STR = 256


@dataclass(frozen=True)
class Arg:
    """One field of a command: its type (int, float, bool, str), inclusive range, default."""

    type: type
    lo: float | None = None
    hi: float | None = None
    optional: bool = False
    default: Any = None


Spec = dict[str, Arg]


def _one(cmd: str, name: str, arg: Arg, value: Any) -> tuple[Any, str | None]:
    where = f"{cmd}.{name}"
    t = arg.type
    if t is bool:
        if not isinstance(value, bool):
            return None, f"{where}: expected a boolean"
        return value, None
    if t is str:
        if not isinstance(value, str) or len(value) > MAX_STR:
            return None, f"{where}: expected a string of at most {MAX_STR} characters"
        return value, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{where}: expected a number"
    if t is int:
        if not float(value).is_integer():
            return None, f"{where}: expected an integer"
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            return None, f"{where}: {value} is not finite"
    if arg.lo is not None and value < arg.lo:
        return None, f"{where}: {value} is below {arg.lo}"
    if arg.hi is not None and value > arg.hi:
        return None, f"{where}: {value} is above {arg.hi}"
    return value, None


def check(content: Any, commands: dict[str, Spec]) -> tuple[str, dict[str, Any], list[str]]:
    """(command, cleaned fields, problems) for one message; problems empty when valid."""
    if not isinstance(content, dict):
        return "", {}, [f"message: expected an object, got {type(content).__name__}"]
    cmd = content.get("type")
    if not isinstance(cmd, str) or cmd not in commands:
        shown = repr(cmd)[:40]
        return "", {}, [f"message.type: {shown} is not one of {sorted(commands)}"]
    spec = commands[cmd]
    out: dict[str, Any] = {}
    problems: list[str] = []
    for name, arg in spec.items():
        if name not in content or content[name] is None:
            if arg.optional:
                out[name] = arg.default
            else:
                problems.append(f"{cmd}.{name}: missing")
            continue
        value, err = _one(cmd, name, arg, content[name])
        if err:
            problems.append(err)
        else:
            out[name] = value
    extra = set(content) - set(spec) - {"type", "view"}
    if extra:
        problems.append(f"{cmd}: unknown fields {sorted(extra)[:5]}")
    return cmd, out, problems
