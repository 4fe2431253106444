"""An offline, deterministic "model" for the assistant: intents by regular expression.

It understands a few requests ("transpose up 2", "what chord at 12 s", "generate 8 bars in
D minor at 90 bpm", "load song.mid", "analyse the chords", "info") and turns them into
tool calls; after the tools ran, it answers with their results. Remote LLMs plug into
the same :class:`ChatBackend` protocol; this one makes the assistant usable without any.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from mos_lab.ai.types import CancelToken

HELP = ("I can: load <file>, transpose up/down <n>, what chord at <t> s, analyse chords, "
        "generate <n> bars in <key> [at <bpm> bpm], info.")


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Any
    id: str = ""


@dataclass
class Message:
    """One turn: role is "system", "user", "assistant" or "tool"."""

    role: str
    content: str
    name: str = ""  # tool name for role "tool"
    tool_calls: list[ToolCall] = field(default_factory=list)
    images: list[Any] = field(default_factory=list)  # ImageInfo + bytes, for multimodal models


@dataclass
class ChatResponse:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)


_ids = itertools.count(1)
_KEY = r"([A-Ga-g](?:#|b)?\s*(?:major|minor|maj|min|m)?)"


def parse_intent(text: str) -> list[ToolCall]:
    """The tool calls a user message asks for ([] when none is recognised)."""
    t = text.strip()
    low = t.lower()

    def call(name: str, args: dict[str, Any]) -> list[ToolCall]:
        return [ToolCall(name, args, f"call-{next(_ids)}")]

    if m := re.search(r"\bload\s+(\S+)", t, re.I):
        return call("load", {"path": m.group(1)})
    if m := re.search(r"transpose\s*(up|down)?\s*(?:by\s*)?([+-]?\d+)", low):
        n = int(m.group(2))
        return call("transpose", {"semitones": -abs(n) if m.group(1) == "down" else n})
    if "octave" in low and "transpose" in low:
        return call("transpose", {"semitones": -12 if "down" in low else 12})
    if m := re.search(r"chord\s+(?:is\s+)?at\s+(\d+(?:\.\d+)?)\s*(?:s|sec|seconds?)?\b", low):
        return call("chord_at", {"seconds": float(m.group(1))})
    if re.search(r"\b(analy[sz]e|list)\b.*\bchords?\b|^chords\??$", low):
        return call("analyse_chords", {})
    if "generate" in low or "compose" in low:
        args: dict[str, Any] = {}
        if m := re.search(r"(\d+)\s*bars?", low):
            args["bars"] = int(m.group(1))
        if m := re.search(r"\bin\s+" + _KEY + r"(?=\s|$|,|\.)", t):
            args["key"] = m.group(1).strip()
        if m := re.search(r"(\d+(?:\.\d+)?)\s*bpm", low):
            args["bpm"] = float(m.group(1))
        if m := re.search(r"seed\s*(\d+)", low):
            args["seed"] = int(m.group(1))
        return call("generate", args)
    if re.search(r"\b(info|what is loaded|describe)\b", low):
        return call("info", {})
    return []


class RuleBackend:
    """The offline chat backend (deterministic, instant, no network)."""

    name = "rules"

    def respond(self, messages: list[Message], tools: list[dict[str, Any]],
                cancel: CancelToken) -> ChatResponse:
        cancel.check()
        last = messages[-1] if messages else Message("user", "")
        if last.role == "tool":
            results = []
            for m in reversed(messages):
                if m.role != "tool":
                    break
                results.append(m.content)
            return ChatResponse(" ".join(reversed(results)))
        if last.images:
            info = last.images[0][0]
            return ChatResponse(f"I received a {info.width}x{info.height} {info.mime} image; "
                                "reading notation from images needs a multimodal backend.")
        calls = parse_intent(last.content)
        known = {t["name"] for t in tools}
        calls = [c for c in calls if c.name in known]
        return ChatResponse(tool_calls=calls) if calls else ChatResponse(HELP)
