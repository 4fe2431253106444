"""An offline, deterministic "model" for the assistant: intents by regular expression.

It understands ordinary requests ("play from bar 12", "what key is this in?", "slow it
down a bit", "loop bars 4 to 8", "transpose up 2", "what chord at 12 s", "generate 8 bars
in D minor at 90 bpm", "load song.mid", "show me the score", "give me an interval
exercise") and turns them into tool calls; after the tools ran, it answers with their
results. Remote LLMs (``mos_lab.ai.assistant.llm``) plug into the same :class:`ChatBackend`
protocol; this one makes the assistant usable without any, and is their fallback.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from mos_lab.ai.core.types import CancelToken

HELP = ("I can: load <file>, play [from bar <n>], pause, stop, go to bar <n>, loop bars "
        "<a> to <b>, slow down / speed up, transpose up/down <n>, what key is this in, what "
        "chord at <t> s, analyse chords, generate <n> bars in <key> [at <bpm> bpm], show the "
        "score, make an exercise, info.")


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
    tool_call_id: str = ""  # for role "tool": the id of the call it answers


@dataclass
class ChatResponse:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)


_ids = itertools.count(1)
_KEY = r"([A-Ga-g](?:#|b)?\s*(?:major|minor|maj|min|m)?)"


_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1}
_NUM = r"(\d+|" + "|".join(_WORDS) + r")"
_EXERCISES = {"interval": "interval_id", "chord": "chord_id", "note": "note_reading",
              "reading": "note_reading", "key signature": "key_signature",
              "scale": "scale_id", "roman": "roman_analysis", "harmon": "harmonisation"}


def _n(word: str) -> int:
    return _WORDS[word] if word in _WORDS else int(word)


def _tempo(low: str) -> dict[str, Any] | None:
    """The tempo change a sentence asks for, or None."""
    if m := re.search(r"(\d+(?:\.\d+)?)\s*(?:%|percent)\s*(speed|tempo)?", low):
        if re.search(r"\b(slow|slower|down)\b", low) and not m.group(2):
            return {"scale": round(1 - float(m.group(1)) / 100, 4)}
        if re.search(r"\b(faster|speed up|up)\b", low) and not m.group(2):
            return {"scale": round(1 + float(m.group(1)) / 100, 4)}
        return {"factor": float(m.group(1)) / 100}
    if re.search(r"\bhalf[- ](speed|tempo|time)\b", low):
        return {"factor": 0.5}
    if re.search(r"\bdouble[- ](speed|tempo|time)\b|\btwice as fast\b", low):
        return {"factor": 2.0}
    if re.search(r"\b(normal|original|written|full)\s+(speed|tempo)\b|"
                 r"\b(reset|restore)\s+the\s+(speed|tempo)\b", low):
        return {"factor": 1.0}
    bit = re.search(r"\b(a bit|a little|slightly|a touch|somewhat)\b", low)
    much = re.search(r"\b(a lot|much|way)\b", low)
    step = 0.1 if bit else 0.25 if much else 0.15
    if re.search(r"\bslow(er)?\b.*\bdown\b|\bslower\b|\bslow\s+(it|this|that)\b|"
                 r"\b(too fast)\b|\bdecrease the tempo\b", low):
        return {"scale": round(1 - step, 4)}
    if re.search(r"\bspeed\b.*\bup\b|\bfaster\b|\btoo slow\b|\bincrease the tempo\b",
                 low):
        return {"scale": round(1 + step, 4)}
    return None


def parse_intent(text: str) -> list[ToolCall]:
    """The tool calls a user message asks for ([] when none is recognised)."""
    t = text.strip()
    low = re.sub(r"\s+", " ", t.lower())

    def call(name: str, args: dict[str, Any]) -> list[ToolCall]:
        return [ToolCall(name, args, f"call-{next(_ids)}")]

    if m := re.search(r"\b(?:load|open)\s+(\S+\.\w{2,5})\b", t, re.I) or re.search(
            r"\bload\s+(\S+)", t, re.I):
        return call("load", {"path": m.group(1)})
    if m := re.search(r"transpose\s*(?:it\s*|this\s*)?(up|down)?\s*(?:by\s*)?([+-]?\d+)", low):
        n = int(m.group(2))
        return call("transpose", {"semitones": -abs(n) if m.group(1) == "down" else n})
    if re.search(r"\boctave\b", low) and re.search(r"\b(transpose|up|down|move|shift)\b", low):
        return call("transpose", {"semitones": -12 if "down" in low or "lower" in low else 12})
    if m := re.search(r"\b(?:up|raise it|higher by)\s+(?:by\s+)?" + _NUM +
                      r"\s+(?:semitones?|half[- ]steps?)", low):
        return call("transpose", {"semitones": _n(m.group(1))})
    if m := re.search(r"\b(?:down|lower it|lower by)\s+(?:by\s+)?" + _NUM +
                      r"\s+(?:semitones?|half[- ]steps?)", low):
        return call("transpose", {"semitones": -_n(m.group(1))})
    if m := re.search(r"chord\s+(?:is\s+|is it\s+|do (?:i|we) hear\s+)?at\s+(\d+(?:\.\d+)?)"
                      r"\s*(?:s|sec|secs|seconds?)?\b", low):
        return call("chord_at", {"seconds": float(m.group(1))})
    if re.search(r"\bexercises?\b|\bquiz\b|\bdrill\b|\btest me\b|\bpractice\b", low):
        kind = next((k for w, k in _EXERCISES.items() if w in low), "interval_id")
        args: dict[str, Any] = {"kind": kind}
        if m := re.search(r"\blevel\s+(\d)", low):
            args["level"] = int(m.group(1))
        return call("exercise", args)
    if re.search(r"\b(analy[sz]e|list|show|name|what are)\b.*\b(chords?|harmony|progression)\b"
                 r"|^chords\??$|\broman numerals?\b|\bharmonic analysis\b", low):
        return call("analyse_chords", {})
    if re.search(r"\bwhat(?:'s| is)? (?:the )?key\b|\bwhich key\b|\bwhat key\b|"
                 r"\bkey of (?:this|the|it)\b|\bfind the key\b|\bmajor or minor\b", low):
        return call("key", {})
    if "generate" in low or "compose" in low or re.search(r"\b(write|make) (me )?(a|an|some) "
                                                          r"(new )?(melody|tune|piece)\b", low):
        args = {}
        if m := re.search(r"(\d+)\s*bars?", low):
            args["bars"] = int(m.group(1))
        if m := re.search(r"\bin\s+" + _KEY + r"(?=\s|$|,|\.)", t):
            args["key"] = m.group(1).strip()
        if m := re.search(r"(\d+(?:\.\d+)?)\s*bpm", low):
            args["bpm"] = float(m.group(1))
        if m := re.search(r"seed\s*(\d+)", low):
            args["seed"] = int(m.group(1))
        return call("generate", args)
    if re.search(r"\b(stop|turn off|cancel|no more|disable|end)\b.*\bloop(ing)?\b|"
                 r"\bloop off\b|\bunloop\b", low):
        return call("loop", {"off": True})
    if m := re.search(r"\b(?:loop|repeat)\b.*?\b(?:bars?|measures?|m\.?)\s*(\d+)\s*"
                      r"(?:to|-|–|through|thru|and|until)\s*(?:bar\s*|measure\s*)?(\d+)", low):
        return call("loop", {"from_bar": int(m.group(1)), "to_bar": int(m.group(2))})
    if m := re.search(r"\b(?:loop|repeat)\b.*?\b(?:bar|measure)\s*(\d+)", low):
        return call("loop", {"from_bar": int(m.group(1)), "to_bar": int(m.group(1))})
    if (tempo := _tempo(low)) is not None:
        return call("tempo", tempo)
    if re.search(r"\b(stop|halt|silence|shut up|enough)\b", low):
        return call("pause", {"rewind": True})
    if re.search(r"\b(pause|hold on|wait)\b", low):
        return call("pause", {})
    where: dict[str, Any] = {}
    if m := re.search(r"\b(?:bar|measure|m\.)\s*(\d+)", low):
        where = {"bar": int(m.group(1))}
    elif m := re.search(r"(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)\b", low):
        where = {"seconds": float(m.group(1))}
    elif re.search(r"\b(from the (start|beginning|top)|start over|from scratch)\b", low):
        where = {"seconds": 0.0}
    if re.search(r"\b(play|resume|continue|start|listen|hear)\b", low):
        return call("play", where)
    if where and re.search(r"\b(go|jump|skip|seek|move|take me|rewind|back)\b", low):
        return call("seek", where)
    if re.search(r"\brewind\b|\bback to the (start|beginning)\b", low):
        return call("seek", {"seconds": 0.0})
    if re.search(r"\b(engrave|notation|sheet music|staff|staves)\b|\bshow\b.*\b(score|"
                 r"music|notes)\b", low):
        return call("engrave", {})
    if re.search(r"\b(info|what is loaded|what's loaded|describe)\b|\bhow long\b", low):
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
