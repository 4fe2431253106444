"""The assistant's tools: load, transpose, chord_at, analyse_chords, key, generate, info,
and, with a transport (the session's engine), play, pause, seek, loop, tempo; engrave.

Each tool has a JSON Schema for its arguments; :func:`check_arguments` validates a call
against it (jsonschema) before the tool runs, so a model that invents a parameter or
passes text for a number gets a clear error back instead of a crash (RKY-06).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mos_lab.ai.core.types import GenerationRequest
from mos_lab.score import Score, load
from mos_lab.theory import Chord, analyze


@dataclass
class ToolContext:
    """What tools work on: the current score and, optionally, a generation service."""

    score: Score | None = None
    service: Any = None  # GenerationService; Any to keep this module light
    generator: Any = None  # a Backend used when there is no service
    transport: Any = None  # the engine (play, pause, seek, set_loop, tempo); None: no audio
    on_score: Callable[[Score], None] | None = None  # told when a tool replaces the score
    engraving: Any = None  # the last engraving made by the engrave tool

    def sync(self) -> None:
        """Follow a score loaded into the transport meanwhile (the user's newer load wins)."""
        playing = getattr(self.transport, "score", None)
        if isinstance(playing, Score):
            self.score = playing

    def set_score(self, score: Score) -> None:
        """Make ``score`` current and tell the session (so playback follows it)."""
        self.score = score
        if self.on_score is not None:
            self.on_score(score)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    schema: dict[str, Any]
    fn: Callable[[ToolContext, dict[str, Any]], str]

    def spec(self) -> dict[str, Any]:
        """The OpenAI/Anthropic-style description a remote model is given."""
        return {"name": self.name, "description": self.description, "parameters": self.schema}


@dataclass(frozen=True)
class MalformedArguments:
    """Tool-call arguments a model sent that are not JSON: kept to answer, never run."""

    raw: str
    error: str


_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}  # id -> (schema kept alive, v)


def validator(tool: Tool) -> Any:
    """The tool's compiled JSON Schema validator (jsonschema is imported on first use:
    it takes a while, which is why ``Assistant.warm_up`` calls this)."""
    hit = _VALIDATORS.get(id(tool.schema))
    if hit is not None and hit[0] is tool.schema:
        return hit[1]
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema is a dependency of the ai extra
        from mos_lab.ai.core.errors import MissingAIDependencyError
        raise MissingAIDependencyError("jsonschema", "Checking tool arguments") from None
    jsonschema.Draft202012Validator.check_schema(tool.schema)
    v = jsonschema.Draft202012Validator(tool.schema)
    if len(_VALIDATORS) > 256:
        _VALIDATORS.clear()
    _VALIDATORS[id(tool.schema)] = (tool.schema, v)
    return v


def check_arguments(tool: Tool, args: Any) -> list[str]:
    """Problems of ``args`` against the tool's schema, as ``path: message`` lines."""
    if isinstance(args, MalformedArguments):
        return [f"arguments: {args.error}: {args.raw[:200]!r}; send a JSON object matching "
                f"{json.dumps(tool.schema)}"]
    v = validator(tool)
    errs = [f"{'.'.join(map(str, e.absolute_path)) or 'arguments'}: {e.message}"
            for e in sorted(v.iter_errors(args), key=lambda e: list(map(str, e.path)))]
    if errs:  # say what is expected, so the model can correct itself
        errs.append(f"the schema is {json.dumps(tool.schema)}")
    return errs


def _need(ctx: ToolContext) -> Score:
    if ctx.score is None:
        raise ValueError("no score is loaded: load one or generate one first")
    return ctx.score


def _summary(s: Score) -> str:
    return f"{s.title or 'untitled'}: {s.n_notes} notes, {s.duration:.1f} s"


def _load(ctx: ToolContext, a: dict[str, Any]) -> str:
    ctx.set_score(load(a["path"]))
    assert ctx.score is not None
    return f"loaded {_summary(ctx.score)}"


def _transpose(ctx: ToolContext, a: dict[str, Any]) -> str:
    n = int(a["semitones"])
    ctx.set_score(_need(ctx).transpose(n))
    assert ctx.score is not None
    return f"transposed {'up' if n >= 0 else 'down'} {abs(n)} semitones: {_summary(ctx.score)}"


def chord_name(pitches: Any) -> str:
    """The chord symbol of sounding MIDI pitches (``mos_lab.theory``); "N.C." for none."""
    ps = [int(p) for p in np.asarray(pitches).tolist()]
    if len({p % 12 for p in ps}) < 2:
        return "N.C."
    return Chord.from_midi(ps).symbol or "N.C."


def _chord_at(ctx: ToolContext, a: dict[str, Any]) -> str:
    s = _need(ctx)
    sec = float(a["seconds"])
    tick = int(s.tempo.seconds_to_ticks(sec))
    marked = [c for c in s.chords if c.tick <= tick < c.tick + c.duration]
    if marked:
        return f"at {sec:g} s the chord is {marked[-1].symbol}"
    return f"at {sec:g} s the chord is {chord_name(s.notes_at(sec)['pitch'])}"


def _analyse(ctx: ToolContext, a: dict[str, Any]) -> str:
    """Per bar, the chords ``theory.analyze`` finds there: symbol = numeral in its key."""
    s = _need(ctx)
    num, den = s.time_signatures[0].numerator, s.time_signatures[0].denominator
    bar = s.tpq * 4 * num // den
    segs = analyze(s).segments
    out = []
    for b in range(min(int(np.ceil(s.end_tick / bar)), int(a.get("max_bars", 32)))):
        here = [g for g in segs if g.tick < (b + 1) * bar and g.end > b * bar]
        names = ", ".join(f"{g.chord} = {g.numeral} in {g.key}" for g in here) or "N.C."
        out.append(f"bar {b + 1}: {names}")
    return "; ".join(out) or "no notes"


def _generate(ctx: ToolContext, a: dict[str, Any]) -> str:
    req = GenerationRequest(prompt=a.get("prompt", ""), key=a.get("key", "C major"),
                            bars=int(a.get("bars", 8)), bpm=float(a.get("bpm", 100)),
                            seed=a.get("seed"))
    if ctx.service is not None:
        res = ctx.service.generate(req)
    else:
        if ctx.generator is None:
            from mos_lab.ai.models.markov.backend import MarkovBackend
            ctx.generator = MarkovBackend()
        from mos_lab.ai.core.types import CancelToken
        res = ctx.generator.generate(req, lambda d, t: None, CancelToken.with_timeout(30))
    ctx.set_score(res.score)
    assert ctx.score is not None
    return f"generated {req.bars} bars in {req.key} at {req.bpm:g} bpm: {_summary(ctx.score)}"


def _info(ctx: ToolContext, a: dict[str, Any]) -> str:
    s = _need(ctx)
    keys = ", ".join(k.name for k in s.key_signatures) or "unknown key"
    return f"{_summary(s)}, {len(s.tracks)} tracks, {keys}, {s.tempo.bpm_at(0):.0f} bpm"


def bar_seconds(s: Score, bar: int) -> float:
    """Seconds at the start of bar ``bar`` (1-based), following the time signatures."""
    if bar < 1:
        raise ValueError(f"bar {bar}: bars are numbered from 1")
    sigs = sorted((t.tick, t.numerator, t.denominator) for t in s.time_signatures) or [
        (0, 4, 4)]
    tick, i = 0, 0
    for _ in range(bar - 1):
        while i + 1 < len(sigs) and sigs[i + 1][0] <= tick:
            i += 1
        tick += s.tpq * 4 * sigs[i][1] // sigs[i][2]
        if tick > s.end_tick:
            raise ValueError(f"bar {bar} is after the end of the score")
    return float(s.tempo.ticks_to_seconds(tick))


def _time(ctx: ToolContext, a: dict[str, Any]) -> float | None:
    """The time ``bar`` or ``seconds`` names, or None when neither is given."""
    if "bar" in a:
        return bar_seconds(_need(ctx), int(a["bar"]))
    if "seconds" in a:
        return float(a["seconds"])
    return None


def _engine(ctx: ToolContext) -> Any:
    if ctx.transport is None:
        raise ValueError("no playback here: ask from a session (mos_lab.session().assistant())")
    if (ctx.score is not None and ctx.on_score is not None
            and getattr(ctx.transport, "score", None) is not ctx.score):
        ctx.on_score(ctx.score)  # a score the engine has not got yet: load it first
    return ctx.transport


def _play(ctx: ToolContext, a: dict[str, Any]) -> str:
    eng = _engine(ctx)
    at = _time(ctx, a)
    if at is not None:
        eng.seek(at)
    eng.play()
    where = f" from bar {a['bar']}" if "bar" in a else (f" from {at:g} s" if at else "")
    return f"playing{where}"


def _pause(ctx: ToolContext, a: dict[str, Any]) -> str:
    eng = _engine(ctx)
    if a.get("rewind"):
        eng.stop()
        return "stopped"
    eng.pause()
    return "paused"


def _seek(ctx: ToolContext, a: dict[str, Any]) -> str:
    at = _time(ctx, a)
    if at is None:
        raise ValueError("seek needs a bar or seconds")
    _engine(ctx).seek(at)
    return f"at {'bar ' + str(a['bar']) if 'bar' in a else f'{at:g} s'}"


def _loop(ctx: ToolContext, a: dict[str, Any]) -> str:
    eng = _engine(ctx)
    if a.get("off"):
        eng.set_loop(None)
        return "loop off"
    s = _need(ctx)
    start, end = int(a["from_bar"]), int(a.get("to_bar", a["from_bar"]))
    if end < start:
        start, end = end, start
    t0 = bar_seconds(s, start)
    try:
        t1 = min(bar_seconds(s, end + 1), s.duration)
    except ValueError:  # the last bar: loop to the end
        t1 = s.duration
    eng.set_loop(t0, t1)
    return f"looping bars {start} to {end}"


def _tempo(ctx: ToolContext, a: dict[str, Any]) -> str:
    eng = _engine(ctx)
    factor = float(a["factor"]) if "factor" in a else float(eng.tempo) * float(a["scale"])
    eng.tempo = min(10.0, max(0.1, factor))
    return f"tempo x{eng.tempo:.2f} of the written tempo"


def _key(ctx: ToolContext, a: dict[str, Any]) -> str:
    res = analyze(_need(ctx))
    if res.key is None:
        return f"no key found: {res.message or 'too few notes'}"
    return f"the key is {res.key} (confidence {res.confidence:.2f})"


def _engrave(ctx: ToolContext, a: dict[str, Any]) -> str:
    import mos_lab.notation  # noqa: F401  (registers Score.engrave; not imported by default)

    ctx.engraving = _need(ctx).engrave()
    pages = getattr(ctx.engraving, "page_count", None)
    if pages is None:
        return "engraved the score"
    return f"engraved the score: {pages} page{'' if pages == 1 else 's'}"


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required),
            "additionalProperties": False}


REGISTERED: dict[str, Tool] = {}  # tools that higher layers add (lessons: "exercise")


def register_tool(tool: Tool) -> None:
    """Add a tool every new assistant gets: how layers above ai (lessons) offer theirs."""
    validator(tool)  # a broken schema fails here, not at the first call
    REGISTERED[tool.name] = tool


def exercise_tool(make: Callable[..., Any], show: Callable[[Any], Any] | None = None,
                  kinds: list[str] | None = None) -> Tool:
    """The "exercise" tool over a maker like ``mos_lab.lessons.make(kind, seed, level=)``;
    ``show`` displays the exercise (a widget) where there is a notebook."""

    def run(ctx: ToolContext, a: dict[str, Any]) -> str:
        kind, seed = str(a["kind"]), int(a.get("seed", np.random.default_rng().integers(1000)))
        params = {"level": int(a["level"])} if "level" in a else {}
        ex = make(kind, seed, **params)
        if show is not None:
            show(ex)
        return f"made a {kind} exercise (seed {seed}): {getattr(ex, 'question', ex)}"

    kind: dict[str, Any] = {"type": "string"}
    if kinds:
        kind["enum"] = list(kinds)
    return Tool("exercise", "Make an ear-training or theory exercise for the user.",
                _obj({"kind": kind, "level": {"type": "integer", "minimum": 1, "maximum": 5},
                      "seed": {"type": "integer", "minimum": 0}}, ("kind",)), run)


_BAR = {"type": "integer", "minimum": 1, "maximum": 100_000}
_SEC = {"type": "number", "minimum": 0}


def default_tools() -> dict[str, Tool]:
    """The built-in tools, by name."""
    tools = [
        Tool("load", "Load a score file (MIDI, MusicXML, ABC, NVX1).",
             _obj({"path": {"type": "string", "minLength": 1}}, ("path",)), _load),
        Tool("transpose", "Transpose the current score by semitones.",
             _obj({"semitones": {"type": "integer", "minimum": -48, "maximum": 48}},
                  ("semitones",)), _transpose),
        Tool("chord_at", "Name the chord sounding at a time in seconds.",
             _obj({"seconds": {"type": "number", "minimum": 0}}, ("seconds",)), _chord_at),
        Tool("analyse_chords", "Name the chords of each bar with their Roman numerals.",
             _obj({"max_bars": {"type": "integer", "minimum": 1, "maximum": 256}}), _analyse),
        Tool("generate", "Generate a melody with chords.",
             _obj({"bars": {"type": "integer", "minimum": 1, "maximum": 64},
                   "key": {"type": "string", "maxLength": 20},
                   "bpm": {"type": "number", "minimum": 30, "maximum": 300},
                   "seed": {"type": "integer", "minimum": 0},
                   "prompt": {"type": "string", "maxLength": 500}}), _generate),
        Tool("info", "Describe the current score.", _obj({}), _info),
        Tool("key", "Find the key of the current score (harmonic analysis).", _obj({}), _key),
        Tool("play", "Start playback, optionally from a bar (1-based) or a time in seconds.",
             _obj({"bar": _BAR, "seconds": _SEC}), _play),
        Tool("pause", "Pause playback; rewind=true stops and goes back to the start.",
             _obj({"rewind": {"type": "boolean"}}), _pause),
        Tool("seek", "Move the playhead to a bar (1-based) or a time in seconds.",
             {**_obj({"bar": _BAR, "seconds": _SEC}), "minProperties": 1}, _seek),
        Tool("loop", "Loop bars from_bar to to_bar (inclusive); off=true clears the loop.",
             {"type": "object", "additionalProperties": False,
              "properties": {"from_bar": _BAR, "to_bar": _BAR, "off": {"type": "boolean"}},
              "anyOf": [{"required": ["from_bar"]}, {"required": ["off"]}]}, _loop),
        Tool("tempo", "Playback speed: factor (1 = as written) or scale (times the current).",
             {"type": "object", "additionalProperties": False,
              "properties": {"factor": {"type": "number", "minimum": 0.1, "maximum": 10},
                             "scale": {"type": "number", "exclusiveMinimum": 0,
                                       "maximum": 10}},
              "oneOf": [{"required": ["factor"]}, {"required": ["scale"]}]}, _tempo),
        Tool("engrave", "Engrave the current score as staff notation pages.", _obj({}),
             _engrave),
    ]
    return {**{t.name: t for t in tools}, **REGISTERED}
