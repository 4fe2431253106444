"""ExerciseWidget: one exercise in a notebook (question, engraved prompt, play, answer,
feedback), recording each attempt in a Progress file.

The prompt is engraved by ``mos_lab.notation`` (verovio) when it can be, else shown as
text; Play loads the prompt into the session's engine and plays it; answers come typed
(Enter), from the on-screen ``widgets.Keyboard`` or a MIDI keyboard on the kernel's
side (``session.engine.midi_in(port)``: both put notes on the session bus), or a MIDI
keyboard in the browser (Web MIDI: the page sends the notes), all spelled in the
exercise's key; or as rhythm taps.

A rhythm is played by the page itself (a count-in bar, then a click per note, scheduled
on its AudioContext) and each tap is placed on that audio clock: the event's time stamp
mapped through ``getOutputTimestamp`` (what is heard now), less the time the first note
is heard. So a tap exactly on a note is sent as the note's time, whatever the latency
of the kernel or the event loop; the answer goes when the last note has its tap. The
page has the onsets (it plays them), so a student who reads the widget's state can see
them: the widget is for practice; graded notebooks grade in the kernel from the seed.
"""

from __future__ import annotations

import threading
import time
from importlib import resources
from typing import Any

import anywidget
import traitlets as t

from mos_lab.lessons.exercise import Exercise, Feedback
from mos_lab.lessons.progress import Progress, ProgressError
from mos_lab.theory.pitch import Pitch
from mos_lab.widgets._order import InOrder

#: Kinds whose answers are notes (the keyboard fills the answer box).
NOTE_KINDS = frozenset({"note_reading", "interval_build", "dictation", "harmonisation"})
#: Kinds whose prompt is only heard (no notation shown: it would give the answer away).
HEARD_KINDS = frozenset({"dictation", "rhythm_tap"})
PLACEHOLDER = {
    "interval_id": "M3, P5, A4, m10", "chord_id": "C, F#m/A, G7/B, Bdim",
    "note_reading": "F#4", "interval_build": "E4", "key_signature": "D major",
    "scale_id": "D dorian", "roman_analysis": "I IV V7 I", "dictation": "C4 D4 E4",
    "rhythm_tap": "tap with the button or the space bar",
    "harmonisation": "E5 C5 G4 C3 | F5 C5 A4 F3",
}


def _esm() -> str:
    return (resources.files("mos_lab.lessons") / "esm" / "exercise.js").read_text("utf-8")


def spell_in_key(midi: int, sharps: int | None) -> Pitch:
    """A played key spelled as the key signature suggests (sharps keys sharp, flats flat)."""
    if sharps is None:
        return Pitch.from_midi(midi)
    centre = sharps + 2  # the key's seven spellings are fifths sharps-1 .. sharps+5
    f = min((f for f in range(centre - 12, centre + 13) if (7 * f) % 12 == midi % 12),
            key=lambda f: abs(f - centre))
    return Pitch.from_midi(midi, f)


def rhythm_of(exercise: Exercise, count_in: int = 4) -> dict[str, Any]:
    """What the page needs to play a rhythm exercise and time taps against it: the notes'
    onsets in ms (first at 0, as the grader reads taps), the beat and the count-in."""
    if exercise.kind != "rhythm_tap":
        return {}
    return {"onsets_ms": [float(x) for x in exercise.answer.split()],
            "beat_ms": 60_000.0 / exercise.bpm, "count_in": count_in}


def engraved(exercise: Exercise) -> str:
    """The prompt as SVG, or "" when notation (verovio) cannot engrave it here."""
    try:
        from mos_lab.notation import engrave

        return engrave(exercise.prompt, page_width=700, fit_height=True).svg(1)
    except Exception:  # no verovio, or a prompt notation refuses: the text prompt shows
        return ""


class ExerciseWidget(anywidget.AnyWidget):
    """An exercise the student sees, hears, answers and gets feedback on."""

    _esm = _esm()

    kind = t.Unicode("").tag(sync=True)
    question = t.Unicode("").tag(sync=True)
    svg = t.Unicode("").tag(sync=True)
    text_prompt = t.Unicode("").tag(sync=True)
    placeholder = t.Unicode("").tag(sync=True)
    entered = t.List(t.Unicode()).tag(sync=True)
    rhythm = t.Dict().tag(sync=True)
    midi = t.Bool(False).tag(sync=True)
    feedback = t.Dict().tag(sync=True)

    def __init__(self, exercise: Exercise, *, progress: Progress | None = None,
                 student: str = "student", session: Any = None, keyboard: bool | None = None,
                 engrave: bool = True) -> None:
        """Show ``exercise``; attempts go to ``progress`` under ``student``. ``session``
        (default: the kernel's, made when first needed) plays the prompt and the keyboard;
        ``keyboard`` (default: for note answers) adds the on-screen piano."""
        heard = exercise.kind in HEARD_KINDS
        super().__init__(
            kind=exercise.kind, question=exercise.question,
            svg="" if heard or not engrave else engraved(exercise),
            text_prompt="(listen, then answer)" if heard else " ".join(exercise.notes),
            placeholder=PLACEHOLDER.get(exercise.kind, ""),
            rhythm=rhythm_of(exercise))
        self.exercise = exercise
        self.progress = progress
        self.student = student
        self.results: list[Feedback] = []
        self.errors: list[str] = []
        self._session = session
        self._shown = time.monotonic()
        self._sub: Any = None
        self.keyboard: Any = None
        self.transport: Any = None  # show() may add one; closed with the widget
        if keyboard if keyboard is not None else exercise.kind in NOTE_KINDS:
            from mos_lab.widgets import Keyboard

            self.midi = True  # the page offers Web MIDI too
            self.keyboard = Keyboard(session=self.session, key=None, low=36, high=96)
            self._sub = self.session.bus.subscribe("note_on", self._on_note, weak=False)
        self._entering = threading.Lock()  # page notes (kernel thread) and bus notes meet
        self._order = InOrder(self._on_page_msg)  # the page's sent order (ipykernel 7)
        self.on_msg(self._on_msg)

    @property
    def session(self) -> Any:
        """The session that plays the prompt (the kernel's unless one was given)."""
        if self._session is None:
            from mos_lab.widgets._context import current_session

            self._session = current_session()
        return self._session

    # -- page -> kernel ----------------------------------------------------------------
    def _on_msg(self, _w: Any, content: Any, _buffers: Any) -> None:
        self._order.feed(content)

    def _on_page_msg(self, content: Any) -> None:
        if not isinstance(content, dict):
            return
        try:
            if content.get("type") == "answer":
                self.answer(content.get("text", ""))
            elif content.get("type") == "play":
                self.play()
            elif content.get("type") == "clear":
                with self._entering:
                    self.entered = []
            elif content.get("type") == "note" and self.midi:
                pitch = content.get("pitch")
                if not isinstance(pitch, int) or isinstance(pitch, bool) or \
                        not 0 <= pitch <= 127:
                    raise ValueError(f"a MIDI note is 0..127, not {pitch!r}")
                self._enter(pitch)
        except Exception as exc:  # a failing command is shown, never raised in the kernel
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self.feedback = {"correct": False, "score": 0.0, "message": str(exc)[:500]}

    def _on_note(self, ev: Any) -> None:
        if ev.frame is not None or ev.get("channel") != 0:
            return  # playback, not the student's keys
        self._enter(int(ev["pitch"]))

    def _enter(self, midi: int) -> None:
        """A played key, spelled in the exercise's key, added to the answer being entered."""
        name = spell_in_key(midi, self.exercise.key_signature).name_with_octave
        with self._entering:
            self.entered = [*self.entered, name][-64:]

    # -- actions -----------------------------------------------------------------------
    def answer(self, response: object) -> Feedback:
        """Grade a response, show the feedback and record the attempt."""
        fb = self.exercise.check(response)
        self.results.append(fb)
        message = fb.message
        if self.progress is not None:
            try:
                self.progress.record(self.student, self.exercise, response, fb,
                                     time_taken=time.monotonic() - self._shown)
            except ProgressError as exc:
                self.errors.append(str(exc))
                message += f" (not recorded: {exc})"
        self.feedback = {"correct": fb.correct, "score": fb.score, "message": message,
                         "attempt": len(self.results)}  # a new value even when repeated
        with self._entering:
            self.entered = []
        return fb

    def play(self) -> None:
        """Play the prompt through the session's engine (from its start)."""
        engine = self.session.engine
        engine.load(self.exercise.prompt).result(timeout=10)
        engine.seek(0.0)
        engine.play()

    def close(self) -> None:
        """Close the keyboard and the bus subscription, then the comm; idempotent."""
        self._order.close()
        if self._sub is not None:
            self._sub.dispose()
            self._sub = None
        if self.keyboard is not None:
            self.keyboard.close()
            self.keyboard = None
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        super().close()


def show(exercise: Exercise, *, transport: bool | None = None, **options: Any) -> Any:
    """The exercise widget with its keyboard below it (an ipywidgets box), ready to
    display; ``options`` go to ExerciseWidget. ``transport`` adds the session's Transport,
    which hosts the browser's audio (its "enable audio" click): by default when the
    widget's session plays in the browser, since nothing is heard there without one."""
    import ipywidgets

    w = ExerciseWidget(exercise, **options)
    parts: list[Any] = [w]
    if w.keyboard is not None:
        parts.append(w.keyboard)
    if transport is None:  # rhythm plays in the page itself; others through the engine
        transport = exercise.kind != "rhythm_tap" and w._session is not None and \
            getattr(w._session, "output", "") == "browser"
    if transport:
        from mos_lab.widgets import Transport

        w.transport = Transport(session=w.session, key=None)
        parts.append(w.transport)
    box = ipywidgets.VBox(parts)
    box.exercise_widget = w
    return box
