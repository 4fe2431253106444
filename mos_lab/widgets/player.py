"""Player: the composed default view: transport, piano roll, harmony lane and keyboard,
and (unless compact) a generate panel.

An anywidget whose page module renders its child widgets (anywidget's ``host.getWidget``);
the children are real widgets the Player owns and closes with itself. Displayed where
widgets cannot run (GitHub, nbconvert HTML), it shows a PNG piano roll and a text line.

The generate panel submits to a GenerationService (the one given, else one the Player
makes on first use and closes with itself): the queue, limits, deadline, cancel and
provenance are the service's, and the model runs on its worker thread, never the
kernel's. Progress (bars made) comes back in ``gen_status``; the result replaces the
player's score or is appended after its last bar; a cancelled or failed generation
leaves the score as it was.
"""

from __future__ import annotations

import base64
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import anywidget
import numpy as np
import traitlets as t

from mos_lab.score import Score
from mos_lab.widgets._base import AUTO, MosWidget
from mos_lab.widgets._context import SessionLike
from mos_lab.widgets._messages import Arg, Spec
from mos_lab.widgets.chord_display import ChordDisplay
from mos_lab.widgets.keyboard import Keyboard
from mos_lab.widgets.piano_roll import PianoRoll
from mos_lab.widgets.static import piano_roll_png, text_summary
from mos_lab.widgets.transport import Transport

if TYPE_CHECKING:
    from mos_lab.ai.service.generation import GenerationService
    from mos_lab.ai.service.jobs import Job

MODES = ("replace", "append")
MAX_BARS = 64
PROMPT_FIELDS = ("period", "composer", "instrumentation")


class Player(MosWidget):
    """Transport + piano roll (+ harmony lane and keyboard unless ``compact``)."""

    _esm_name = "player.js"
    _commands: ClassVar[dict[str, Spec]] = {
        "generate": {
            "model": Arg(str),
            "bars": Arg(int, 1, MAX_BARS, optional=True, default=8),
            "seed": Arg(int, 0, 2**31 - 1, optional=True, default=None),
            "mode": Arg(str, optional=True, default="replace"),
            "prompt": Arg(str, optional=True, default=""),
            "key": Arg(str, optional=True, default=""),
            **{f: Arg(str, optional=True, default="") for f in PROMPT_FIELDS},
        },
        "cancel_generate": {},
    }

    transport = anywidget.WidgetTrait().tag(sync=True)
    roll = anywidget.WidgetTrait().tag(sync=True)
    chords = anywidget.WidgetTrait().tag(sync=True)
    keyboard = anywidget.WidgetTrait().tag(sync=True)
    compact = t.Bool(False).tag(sync=True)
    #: the generate panel's models: [{"name", "label", "fields"}]; empty: no panel
    gen_models = t.List(t.Dict()).tag(sync=True)
    #: the generation in progress or last finished: state (idle, queued, running, done,
    #: cancelled, failed), done/total bars, message, job id, provenance
    gen_status = t.Dict({"state": "idle"}).tag(sync=True)

    def __init__(self, score: Score | None = None, *, compact: bool = False,
                 static: bool = True, session: SessionLike | None = None,
                 key: str | None = AUTO, generate: bool | None = None,
                 service: GenerationService | None = None) -> None:
        """The default view of ``score`` (default: the session's current score).

        Parameters
        ----------
        score
            The score to play and show; ``None`` follows the session's current score.
        compact
            Transport and a shorter piano roll only (no harmony lane, no keyboard): how a
            Score shows itself as a cell's result.
        static
            Also give static renderers (GitHub, nbconvert) a PNG piano roll and a line
            of text.
        session
            The session it plays through (default: the kernel's session).
        key
            Registry key; ``"auto"`` keys it by notebook cell (re-running the cell closes
            the previous player). ``None``: not keyed.
        generate
            Show the generate panel (default: unless compact).
        service
            The GenerationService the panel submits to, offering its registered backends
            (default: one made on first use with the backends this installation runs,
            see ``mos_lab.ai.models.symbolic_choices``).

        Its parts are widgets too: ``player.transport``, ``player.roll``,
        ``player.chords``, ``player.keyboard`` (the last two ``None`` when compact).
        """
        made: list[MosWidget] = []
        try:
            made.append(Transport(score, session=session, key=None))
            made.append(PianoRoll(score, height=170 if compact else 240, session=session,
                                  key=None))
            if not compact:
                made.append(ChordDisplay(score, session=session, key=None))
                made.append(Keyboard(score, session=session, key=None))
        except Exception:
            for w in made:
                w.close()
            raise
        parts = dict(zip(("transport", "roll", "chords", "keyboard"), made, strict=False))
        if generate is None:
            generate = not compact
        super().__init__(score, session=session, key=key, compact=compact,
                         gen_models=_models(service) if generate else [], **parts)
        self.parts = made
        self.static = static
        # the lane shares the roll's time axis: its zoom follows the roll's
        self._links = [t.dlink((made[1], "window"), (made[2], "window"))] if not compact else []
        self._service = service
        self._own_service = False
        self._gen_lock = threading.Lock()
        self.job: Job | None = None  # the generation in progress or last submitted
        self.generated: Any = None  # the last GenerationResult shown (with provenance)

    # -- generation ----------------------------------------------------------------------
    def generate(self, model: str, *, bars: int = 8, seed: int | None = None,
                 mode: str = "replace", prompt: str = "", key: str = "",
                 period: str = "", composer: str = "", instrumentation: str = "",
                 timeout: float | None = 300.0) -> Job:
        """Generate ``bars`` bars with ``model`` (a name in ``gen_models``) on the service's
        worker; the result replaces the score (``mode="replace"``) or follows its last bar
        (``"append"``). NotaGen reads period, composer and instrumentation (all or none),
        the Markov chain ``key`` ("D minor"). Returns the Job; one runs at a time."""
        from mos_lab.ai.core.types import GenerationRequest

        names = [m["name"] for m in self.gen_models]
        if not names:
            raise ValueError("generate: this player has no generate panel (generate=False)")
        if model not in names:
            raise ValueError(f"generate.model: {model!r} is not one of {', '.join(names)}")
        if mode not in MODES:
            raise ValueError(f"generate.mode: {mode!r} is not one of {', '.join(MODES)}")
        if not 1 <= bars <= MAX_BARS:
            raise ValueError(f"generate.bars: {bars} is not in 1..{MAX_BARS}")
        given = [f for f, v in zip(PROMPT_FIELDS, (period, composer, instrumentation),
                                   strict=True) if v.strip()]
        if given and len(given) < 3:
            missing = [f for f in PROMPT_FIELDS if f not in given]
            raise ValueError(f"generate: NotaGen's prompt is period, composer and "
                             f"instrumentation together; {', '.join(missing)} missing")
        if any("_" in v for v in (period, composer, instrumentation)):
            raise ValueError("generate: period, composer and instrumentation may not hold '_'")
        if given:
            prompt = "_".join(v.strip() for v in (period, composer, instrumentation))
        fields: dict[str, Any] = {"prompt": prompt, "bars": bars, "seed": seed,
                                  "meter": self._meter()}
        if key.strip():
            fields["key"] = key.strip()
        request = GenerationRequest(**fields)
        with self._gen_lock:  # progress waits for it: "queued" is never shown after
            if self.job is not None and not self.job.done():
                raise RuntimeError("generate: a generation is running; cancel it first")
            svc = self._generation_service(model)
            job = svc.submit(request, backend=model, timeout=timeout,
                             on_progress=self._gen_progress)
            self.job = job
            self._set_status(job, "queued", 0, bars, f"{model}: queued")
        job.future.add_done_callback(lambda fut: self._gen_done(job, mode))
        return job

    def cancel_generation(self) -> bool:
        """Cancel the generation in progress (the score stays as it was); False if none."""
        job = self.job
        if job is None or job.done():
            return False
        job.cancel(wait=0)
        return True

    def _meter(self) -> tuple[int, int]:
        sc = self.current_score
        if sc is None or not sc.time_signatures:
            return (4, 4)
        ts = sc.time_signatures[0]
        return (ts.numerator, ts.denominator)

    def _generation_service(self, model: str) -> GenerationService:
        if self._service is None:
            from mos_lab.ai.service.generation import GenerationService

            self._service = GenerationService(bus=self.session.bus, concurrency=1,
                                              timeout=300.0)
            self._own_service = True
        if model not in self._service.backends:
            from mos_lab.ai.models import make_backend

            self._service.register(make_backend(model))
        return self._service

    def _set_status(self, job: Job, state: str, done: float, total: float, message: str,
                    **more: Any) -> None:
        if self._closed or job is not self.job:
            return
        status: dict[str, Any] = {"state": state, "done": done, "total": total,
                                  "message": message, "job": job.id, **more}
        self.gen_status = status

    def _gen_progress(self, done: float, total: float) -> None:
        with self._gen_lock:
            job = self.job
        if job is None or job.done():
            return
        bars = job.request.bars
        if total == 1.0 and bars != 1:  # the service's own start and end reports: fractions
            done, total = done * bars, bars
        self._set_status(job, "running", done, total,
                         f"{job.backend}: bar {int(done)} of {int(total)}")

    def _gen_done(self, job: Job, mode: str) -> None:
        fut = job.future
        total = job.request.bars
        if fut.cancelled():
            self._set_status(job, "cancelled", job.progress[0], total,
                             f"{job.backend}: cancelled; the score is unchanged")
            return
        exc = fut.exception()
        if exc is None and fut.result().score is None:
            exc = ValueError("the model made no score")
        if exc is not None:
            message = f"{job.backend}: failed: {type(exc).__name__}: {exc}"[:1000]
            self._set_status(job, "failed", job.progress[0], total, message)
            self.errors.append(message)
            if not self._closed:
                self.send({"type": "error", "message": message, "request": "generate"})
            return
        res = fut.result()
        assert res.score is not None
        try:
            self._show_generated(res.score, mode)
        except Exception as e:  # a score that cannot be shown: say so, keep the old one
            self._set_status(job, "failed", total, total,
                             f"{job.backend}: the result could not be shown: {e}")
            return
        self.generated = res
        p = res.provenance
        note = f" (partial: {'; '.join(res.missing)})" if res.partial else ""
        made = {} if p is None else {"model": p.model, "version": p.version, "seed": p.seed,
                                     "checksum": p.checksum[:16]}
        self._set_status(job, "done", total, total, f"{job.backend}: {total} bars{note}",
                         provenance=made)

    def _show_generated(self, new: Score, mode: str) -> None:
        old = self.current_score
        if mode == "append" and old is not None:
            new = append_score(old, new)
        if self._closed:
            return
        eng = self.session.engine
        if self.score is None:  # following the session: its engine loads it, all follow
            eng.load(new).result(30)
            return
        for w in (self, *self.parts):
            w.score = new
            w._dirty = True
            w._refresh_clock()
            w._push()
        if isinstance(self.parts[0], Transport):
            self.parts[0]._sync_meta()
        if eng.score is old:
            eng.load(new).result(30)

    def _cmd_generate(self, model: str, bars: int, seed: int | None, mode: str, prompt: str,
                      key: str, period: str, composer: str, instrumentation: str) -> None:
        try:
            self.generate(model, bars=bars, seed=seed, mode=mode, prompt=prompt, key=key,
                          period=period, composer=composer, instrumentation=instrumentation)
        except (ValueError, RuntimeError) as e:
            raise _Refused(str(e)) from None

    def _cmd_cancel_generate(self) -> None:
        self.cancel_generation()

    def _dispatch(self, content: Any) -> list[str]:
        try:
            return super()._dispatch(content)
        except _Refused as e:  # a refused generate: the message as the user should read it
            return [str(e)]

    def _close_children(self) -> None:
        job = self.job
        if job is not None and not job.done():
            job.cancel(wait=0)
        if self._own_service and self._service is not None:
            self._service.close(cancel=True, timeout=5.0)
            self._service = None
        for link in self._links:
            link.unlink()
        self._links = []
        for w in self.parts:
            w.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus a PNG piano roll and a text line for static renderers."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        sc = self.current_score
        if sc is not None:
            data = dict(data)
            data["text/plain"] = text_summary(sc)
            if self.static:
                data["image/png"] = base64.b64encode(piano_roll_png(sc)).decode("ascii")
        return data, meta


class _Refused(Exception):
    """A page's generate request that cannot run (its message goes back to the page)."""


def _models(service: GenerationService | None) -> list[dict[str, Any]]:
    """The panel's models: the service's backends, else those this installation runs."""
    from mos_lab.ai.models import symbolic_choices

    known = {m["name"]: m for m in symbolic_choices()}
    if service is None:
        return list(known.values())
    return [known.get(name, {"name": name, "label": name, "fields": ["prompt"]})
            for name in service.backends]


def append_score(first: Score, then: Score) -> Score:
    """``then`` after ``first``'s last bar (in ``first``'s meter and ticks): its notes
    shifted there on tracks of the same index (tracks ``first`` lacks are added), with
    ``first``'s tempo, meter and controllers."""
    ts = first.time_signatures[-1] if first.time_signatures else None
    num, den = (ts.numerator, ts.denominator) if ts is not None else (4, 4)
    bar = first.tpq * 4 * num // den
    at = -(-first.end_tick // bar) * bar
    scale = first.tpq / then.tpq
    add = then.notes.copy()
    add["start"] = np.round(add["start"] * scale).astype(np.int64) + at
    add["duration"] = np.maximum(1, np.round(add["duration"] * scale)).astype(np.int64)
    notes = np.concatenate([first.notes, add])
    notes = notes[np.argsort(notes["start"], kind="stable")]
    tracks = tuple(first.tracks) + tuple(then.tracks[len(first.tracks):])
    return first.replace(notes=notes, tracks=tracks, measures=None)
