"""Session: the one engine, bus, audio output and widget registry of a kernel.

``mos_lab.session()`` returns the same Session from any cell or thread (made once, under
a lock); re-running cells never makes a second engine, scheduler or audio stream. The
output is chosen by name: "browser" (PCM to the page's AudioWorklet; the default in a
notebook kernel), "local" (sounddevice, for a kernel on this machine) or "null" (a silent
clock; the default elsewhere, or ``MOS_LAB_OUTPUT``). Changing ``session.output`` closes
the engine and makes one for the new output, keeping the score and the widgets.

Examples
--------
>>> import mos_lab                                      # doctest: +SKIP
>>> s = mos_lab.session()
>>> s.load("bach.mxl"); s.engine.play(); s.doctor()
{'widgets': 0, 'subscriptions': 2, 'threads': 3, 'timers': 0, 'streams': 0}

Plugins: a new Session discovers installed plugins (entry points, group
``mos_lab.plugins``) and those in its plugins folders (``plugins=`` paths, else
``$MOS_LAB_PLUGIN_PATH`` or ``~/.config/mos_lab/plugins``), checks their manifests and
starts them in dependency order; ``plugins=False`` (or ``MOS_LAB_NO_PLUGINS=1``) turns that
off. ``s.plugins`` is the registry (its repr is the status table); plugins' widgets come
from ``s.plugins.widget(name)`` and their tools join the assistant's
(``s.assistant_tools()``, ``s.assistant()``).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mos_lab.audio import BrowserOutput, Output
from mos_lab.bus import Event, EventBus
from mos_lab.engine import Engine
from mos_lab.engine.engine import DEFAULT_SOUNDFONT, SoundFontArg, resolve_soundfont
from mos_lab.plugins import PluginRegistry, default_folders
from mos_lab.score import Score
from mos_lab.widgets import Registry

if TYPE_CHECKING:
    from mos_lab.ai import Assistant, Tool
    from mos_lab.ai.service.generation import GenerationService
    from mos_lab.ai.service.jobs import Job

OUTPUTS = ("browser", "local", "null")
THREAD_PREFIXES = ("mos", "apollo")


def default_output() -> str:
    """``MOS_LAB_OUTPUT`` if set, else "browser" inside a notebook kernel, else "null"."""
    env = os.environ.get("MOS_LAB_OUTPUT")
    if env:
        return env
    try:
        from IPython import get_ipython

        return "browser" if getattr(get_ipython(), "kernel", None) is not None else "null"
    except Exception:
        return "null"


class Session:
    """One kernel's engine, bus, outputs and widget registry, with ``doctor()``."""

    def __init__(self, output: str | Output | None = None, *, sample_rate: int = 48_000,
                 lookahead_s: float = 0.1,
                 plugins: bool | Sequence[str | os.PathLike[str]] = True,
                 soundfont: SoundFontArg = DEFAULT_SOUNDFONT) -> None:
        kind = output or default_output()
        if not isinstance(kind, Output) and kind not in OUTPUTS:
            raise ValueError(f"output: {kind!r} is not one of {list(OUTPUTS)} or an Output")
        # The instruments: the default GM set (mos-lab info --sound) unless named; every
        # engine of the session (one per output) plays the same file, loaded once.
        self.soundfont: str | None = resolve_soundfont(soundfont)
        self.id = uuid.uuid4().hex
        self.sample_rate = int(sample_rate)
        self.lookahead_s = float(lookahead_s)
        self.bus = EventBus()
        self.registry = Registry()
        self.closed = False
        self._lock = threading.RLock()
        self._output = kind if isinstance(kind, str) else (
            "browser" if isinstance(kind, BrowserOutput) else "custom")
        self._browser: BrowserOutput | None = None
        self._engine = self._make_engine(kind)
        self._held: set[tuple[int, int]] = set()
        self._live_chord = ""
        self._subs = [self.bus.subscribe("note_on", self._on_live_note, weak=False),
                      self.bus.subscribe("note_off", self._on_live_note, weak=False)]
        self.plugins = PluginRegistry(self.bus)
        self._generation: GenerationService | None = None
        self._start_plugins(plugins)

    # -- plugins -----------------------------------------------------------------------
    def _start_plugins(self, plugins: bool | Sequence[str | os.PathLike[str]]) -> None:
        """Discover (entry points, plugins folders) and start; failures become status
        rows and error events, never a failed Session."""
        if plugins is False or (plugins is True and os.environ.get("MOS_LAB_NO_PLUGINS")):
            return
        if isinstance(plugins, (str, os.PathLike)):
            plugins = [plugins]  # one folder, not its characters
        folders = default_folders() if plugins is True else [Path(p) for p in plugins]
        self.plugins.discover(folders=folders)
        self.plugins.start()

    def assistant_tools(self) -> dict[str, Tool]:
        """The assistant's built-in tools plus those started plugins offer (by name)."""
        from mos_lab.ai import Tool, default_tools

        def call(fn: Callable[[dict[str, Any]], str]) -> Callable[[Any, dict[str, Any]], str]:
            return lambda _ctx, args: str(fn(args))

        from mos_lab.ai.assistant.tools import exercise_tool
        from mos_lab.lessons.authoring import KINDS, make

        tools = default_tools()
        tools.setdefault("exercise", exercise_tool(make, kinds=list(KINDS)))  # one registered wins
        for name, spec in self.plugins.tools.items():
            tools[name] = Tool(name, spec.description, dict(spec.schema), call(spec.fn))
        return tools

    def assistant(self, backend: Any = None, **options: Any) -> Assistant:
        """An assistant on the current score with the built-in and the plugins' tools; its
        playback tools drive this session's engine and scores it makes are loaded here.
        With no backend: the LLM server ``MOS_LAB_LLM_BASE_URL`` names, with the offline
        interpreter as fallback, or the interpreter alone when none is set."""
        from mos_lab.ai import Assistant, ChatCompletionsBackend, RuleBackend

        if backend is None and os.environ.get("MOS_LAB_LLM_BASE_URL"):
            backend = ChatCompletionsBackend.from_env()
            options.setdefault("fallback", RuleBackend())
            options.setdefault("timeout", 120.0)  # a local model can take a while

        def follow(score: Score) -> None:  # a score a tool made or loaded plays here
            if self.score is not score:
                self.load(score)

        a = Assistant(backend, score=self.score, tools=self.assistant_tools(), **options)
        a.context.transport = self.engine
        a.context.on_score = follow
        return a

    # -- engine and output -------------------------------------------------------------
    def _make_engine(self, kind: str | Output) -> Engine:
        """An engine on the named output (or on an Output instance, e.g. a test fake)."""
        self._browser = None
        out: Any = kind
        if kind == "browser":
            out = self._browser = BrowserOutput(self.sample_rate, lookahead_s=self.lookahead_s)
        elif isinstance(kind, BrowserOutput):
            self._browser = kind
        eng = Engine(output=out, sample_rate=self.sample_rate, lookahead_s=self.lookahead_s,
                     bus=self.bus, soundfont=self.soundfont)
        if self._browser is not None:
            self._browser.timecode = self._timecode
        return eng

    @property
    def engine(self) -> Engine:
        """The engine (one per session; replaced only when the output changes)."""
        return self._engine

    @property
    def output(self) -> str:
        """"browser", "local", "null" (or "custom"); set it to play elsewhere, keeping the
        score and the widgets."""
        return self._output

    @output.setter
    def output(self, kind: str) -> None:
        if kind not in OUTPUTS:
            raise ValueError(f"output: {kind!r} is not one of {list(OUTPUTS)}")
        with self._lock:
            if kind == self._output:
                return
            old = self._engine
            score, tempo, clips = old.score, old.tempo, old.clips
            old.close()
            self._output = kind
            self._engine = self._make_engine(kind)
            self._engine.tempo = tempo
            if score is not None:
                self._engine.load(score).result(30)
            for clip in clips:  # generated audio stays on the transport
                self._engine.add_clip(clip)
        self.bus.emit("mos.clock")

    @property
    def browser_output(self) -> BrowserOutput | None:
        """The browser sink when the output is "browser" (its stats: what the page played)."""
        return self._browser

    def _timecode(self, ring: int, frames: int) -> tuple[float, float]:
        """Score seconds at ring frame ``ring`` and score seconds per frame after it."""
        eng = self._engine
        tl, score = eng.timeline, eng.score
        if tl is None or score is None:
            return 0.0, 0.0
        f0 = eng.scheduler.frame_at(ring)
        adv = eng.scheduler.frame_at(ring + frames) - f0
        sr = self.sample_rate

        def seconds(frame: int) -> float:
            return float(score.tempo.ticks_to_seconds(float(tl.tempo.frames_to_ticks(frame, sr))))

        s0 = seconds(f0)
        if adv <= 0:
            return s0, 0.0
        return s0, (seconds(f0 + frames) - s0) / frames

    # -- convenience -------------------------------------------------------------------
    @property
    def score(self) -> Score | None:
        return self._engine.score

    def load(self, source: Any, timeout: float = 60.0) -> Score:
        """Load a score (path, bytes or Score) into the engine and return it."""
        score = self._engine.load(source).result(timeout)
        if score is None:  # superseded by a newer load: that one is current
            score = self._engine.score
        assert score is not None
        return score

    # -- generation --------------------------------------------------------------------
    def generate(self, prompt: str = "", *, model: Any = None, seconds: float = 10.0,
                 start: float = 0.0, seed: int | None = None, batch: int = 1,
                 melody: bool = False, gain: float = 1.0, timeout: float | None = 600.0,
                 on_progress: Callable[[float, float], Any] | None = None,
                 wait: bool = False, **params: Any) -> Job:
        """Generate with ``model`` (a MusicGen folder, a Backend, or the name of one used
        before) behind the session's GenerationService; audio lands on the transport as a
        clip at ``start`` seconds (heard and rendered with the score), a score is loaded.

        Returns the Job at once (``job.progress``, ``job.cancel()``, ``job.result()``;
        progress also goes to the bus); ``wait=True`` returns it done and placed.
        ``melody=True`` conditions on the current score (MusicGen-Melody).
        """
        from mos_lab.ai.core.types import GenerationRequest

        svc = self._generation_service()
        name = self._generation_backend(svc, model)
        req = GenerationRequest(prompt=prompt, duration_s=seconds, seed=seed, batch=batch,
                                condition=self.score if melody else None,
                                sample_rate=self.sample_rate, params=params)
        job = svc.submit(req, backend=name, timeout=timeout, on_progress=on_progress)

        def place(fut: Any) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            res = fut.result()
            if res.audio is not None:
                if self.score is None:  # the transport needs a score to play the clip on
                    self.load(Score.from_notes([], title=prompt or name))
                self._engine.add_clip(res.audio, res.sample_rate or self.sample_rate,
                                      start=start, gain=gain, name=f"{name}: {prompt}")
            elif res.score is not None:
                self.load(res.score)

        if wait:
            try:
                job.future.exception()  # waits; failures stay on the job
            except BaseException:
                job.cancel(wait=0)
                raise
            place(job.future)
        else:
            job.future.add_done_callback(place)
        return job

    def _generation_service(self) -> GenerationService:
        from mos_lab.ai.service.generation import GenerationService

        with self._lock:
            if self._generation is None:
                self._generation = GenerationService(bus=self.bus, concurrency=1)
            return self._generation

    def _generation_backend(self, svc: GenerationService, model: Any) -> str:
        """The registered name of ``model`` (registered now if it is new)."""
        from mos_lab.ai.core.backend import Backend

        if model is None:
            if not svc.backends:
                raise ValueError("generate: name a model (a MusicGen folder or a Backend)")
            return svc.backends[-1]
        if isinstance(model, Backend):
            svc.register(model)
            return model.info.name
        if isinstance(model, str) and model in svc.backends:
            return model
        from mos_lab.ai.models.musicgen import MusicGenBackend

        backend = MusicGenBackend(model)
        if backend.info.name not in svc.backends:
            svc.register(backend)
        return backend.info.name

    # -- live chords: notes held on the keyboard (or MIDI in) -> chord events ----------
    def _on_live_note(self, ev: Event) -> None:
        if ev.frame is not None:
            return  # a note of the playback (heard events): the page labels those itself
        key = (int(ev.get("channel", 0)), int(ev["pitch"]))
        (self._held.add if ev.type == "note_on" else self._held.discard)(key)
        from mos_lab.widgets import live_chord  # imports the widget code: first live note

        symbol, rn = live_chord([p for _, p in self._held])
        if symbol and symbol != self._live_chord:
            self.bus.emit("chord", symbol=symbol, roman=rn, key="C")
        self._live_chord = symbol

    # -- diagnostics -------------------------------------------------------------------
    def threads(self) -> list[str]:
        """Names of the live threads mos_lab started (engine, audio, bus, widgets)."""
        return sorted(t.name for t in threading.enumerate()
                      if t.name.lower().startswith(THREAD_PREFIXES) and t.is_alive())

    def streams(self) -> list[tuple[str, str]]:
        """(stream, owner): audio streams that are open."""
        out = []
        state = self._engine.output.state
        if state in ("running", "waiting", "suspended"):
            out.append((f"audio:{self._output}", "engine"))
        return out

    def doctor(self) -> dict[str, int]:
        """Counts of what is alive, by kind: widgets, subscriptions, threads, timers, streams."""
        reg = self.registry.counts()
        return {"widgets": reg["widgets"], "subscriptions": self.bus.subscriber_count(),
                "threads": len(self.threads()), "timers": reg["timers"],
                "streams": len(self.streams()) + reg["streams"]}

    def inventory(self) -> list[tuple[str, str, str]]:
        """(kind, name, owner) of everything alive, for ``%mos doctor``."""
        rows = list(self.registry.inventory())
        widget_subs = sum(1 for kind, _, _ in rows if kind == "subscriptions")
        rows.append(("subscriptions", "note_on, note_off -> live chords (2)", "session"))
        others = self.bus.subscriber_count() - widget_subs - len(self._subs)
        if others > 0:
            rows.append(("subscriptions", f"{others} more", "engine, plugins, user code"))
        rows += [("threads", name, "engine" if name.startswith("apollo") else "mos_lab")
                 for name in self.threads()]
        rows += [("streams", name, owner) for name, owner in self.streams()]
        rows += [("plugins", f"{r.name} {r.version}", r.source)
                 for r in self.plugins.status() if r.state == "started"]
        return rows

    def status(self) -> dict[str, Any]:
        """Engine state, output, position and what is loaded (``%mos status``)."""
        st = self._engine.status()
        st["output_kind"] = self._output
        if self._browser is not None:
            st["browser"] = {k: v for k, v in self._browser.stats().items()
                             if k in ("unlocked", "attached", "frames_sent", "frames_acked",
                                      "browser_underruns", "browser_rate")}
        return st

    # -- lifecycle ---------------------------------------------------------------------
    def stop(self) -> None:
        """Stop playback (``%mos stop``)."""
        self._engine.stop()

    def close(self) -> None:
        """Close every widget, the engine (audio, threads) and the bus; idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self.registry.close_all()
        self.plugins.close()
        if self._generation is not None:
            self._generation.close()
        for sub in self._subs:
            sub.dispose()
        self._engine.close()
        self.bus.close()

    def __repr__(self) -> str:
        return (f"<mos_lab Session {self.id[:8]} output={self._output} "
                f"state={self._engine.state} score={self._engine.score!r}>")
