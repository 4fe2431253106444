"""Lessons and exercises: seeded generators, graders, progress (built on theory and notation).

Map of the API::

    ex = interval_id(seed=7, level=2, qualities=["M3", "m3", "P5"])
    ex.prompt                  # a spelled Score (save() keeps the spelling in MusicXML)
    ex.answer                  # "M3": music21's interval name, lower note to upper
    ex.check("m3")             # Feedback(correct, score 0..1, message)
    chord_id(seed=1, level=2)  # .answer a chord symbol: "F#m/A", "G7/B", "Bdim"
    interval_build(...)        # write the note an interval above/below a given note
    note_reading, key_signature, scale_id       # "F#4", "D major", "D dorian"
    roman_analysis(seed=3, level=3)             # "I vi ii6/5 V7 I" (V65 = V6/5)
    dictation(...), rhythm_tap(...)             # notes by alignment; taps in ms
    harmonisation(seed=2, level=3)  # SATB over a bass, graded by check_voice_leading
    harmonisation(seed=2, figured=True)  # the same over a figured bass (E3 # | C#3 6/5)
    Progress("course/progress.sqlite").record(student, ex, response, feedback)
    show(ex, progress=p, student="ada")  # the exercise widget (+ on-screen keyboard)
    make("chord_id", seed=3, level=2); grade(kind, params, seed, response)
    Lesson.load("intervals.md").to_notebook(path) / .to_nbgrader(path) / .preview()
    skills(p, "ada"), weakest(p, "ada"), practice(p, "ada"), Dashboard(p, "ada")
    p.to_csv("attempts.csv")  # for the instructor
"""

from typing import TYPE_CHECKING, Any

from mos_lab.lessons.authoring import KINDS, Drill, Lesson, LessonError, grade, make
from mos_lab.lessons.chords import chord_id
from mos_lab.lessons.dashboard import SkillStats, dashboard_html, practice, skills, weakest
from mos_lab.lessons.exercise import Exercise, Feedback
from mos_lab.lessons.harmony import harmonisation
from mos_lab.lessons.intervals import interval_build, interval_id
from mos_lab.lessons.kinds import (
    dictation,
    key_signature,
    note_reading,
    rhythm_tap,
    roman_analysis,
    scale_id,
)
from mos_lab.lessons.progress import Attempt, Progress, ProgressError

if TYPE_CHECKING:
    from mos_lab.lessons.dashboard import Dashboard
    from mos_lab.lessons.widget import ExerciseWidget, show

__all__ = [
    "KINDS",
    "Attempt",
    "Dashboard",
    "Drill",
    "Exercise",
    "ExerciseWidget",
    "Feedback",
    "Lesson",
    "LessonError",
    "Progress",
    "ProgressError",
    "SkillStats",
    "chord_id",
    "dashboard_html",
    "dictation",
    "grade",
    "harmonisation",
    "interval_build",
    "interval_id",
    "key_signature",
    "make",
    "note_reading",
    "practice",
    "rhythm_tap",
    "roman_analysis",
    "scale_id",
    "show",
    "skills",
    "weakest",
]


def __getattr__(name: str) -> Any:
    """The widgets load anywidget (~0.5 s): imported when first asked for."""
    if name in ("ExerciseWidget", "show"):
        from mos_lab.lessons import widget

        return getattr(widget, name)
    if name == "Dashboard":
        from mos_lab.lessons.dashboard import Dashboard

        return Dashboard
    raise AttributeError(f"module 'mos_lab.lessons' has no attribute {name!r}")
