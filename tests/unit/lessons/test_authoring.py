"""Lessons: Markdown/YAML files, preview, student and nbgrader notebooks (nbgrader runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mos_lab import lessons
from mos_lab.lessons.authoring import _read_yaml

LESSON = """# Intervals

An interval is counted by letters, then qualified by semitones.

```exercise
kind: interval_id
level: 1
qualities: [M3, m3, P5]
count: 2
seed: 7
hint: Count the letter names first.
attempts: 3
```

Now a chord.

```exercise
kind: chord_id
level: 2
seed: 3
points: 2
```
"""


def test_a_markdown_lesson_reads_previews_and_names_bad_blocks():
    lesson = lessons.Lesson.from_markdown(LESSON)
    assert lesson.title == "Intervals"
    assert [type(c).__name__ for c in lesson.cells] == ["str", "Drill", "str", "Drill"]
    d = lesson.drills()[0]
    assert (d.kind, d.params, d.count, d.seed, d.attempts) == (
        "interval_id", {"level": 1, "qualities": ["M3", "m3", "P5"]}, 2, 7, 3)
    answers = [ex.answer for _, ex in lesson.exercises()]
    assert answers == [lessons.interval_id(seed=7, level=1, qualities=["M3", "m3", "P5"]).answer,
                       lessons.interval_id(seed=8, level=1, qualities=["M3", "m3", "P5"]).answer,
                       lessons.chord_id(seed=3, level=2).answer]
    preview = lesson.preview()
    assert all(f"`{a}`" in preview for a in answers) and "Count the letter" not in preview
    with pytest.raises(lessons.LessonError, match="exercise block 1: unknown exercise kind"):
        lessons.Lesson.from_markdown("```exercise\nkind: nope\n```\n")
    with pytest.raises(lessons.LessonError, match=r"exercise block 1: .*level"):
        lessons.Lesson.from_markdown("```exercise\nkind: chord_id\nlevel: 9\n```\n")


def test_the_fallback_reader_reads_flat_yaml():
    assert _read_yaml("kind: chord_id\nlevel: 2  # comment\nroots: [C, 'F#']\nx: true",
                      "b") == {"kind": "chord_id", "level": 2, "roots": ["C", "F#"], "x": True}


def test_the_student_notebook_has_no_answers_and_runs(tmp_path):
    lesson = lessons.Lesson.from_markdown(LESSON)
    nb = lesson.to_notebook(tmp_path / "student.ipynb", progress=str(tmp_path / "p.sqlite"))
    text = nbformat.writes(nb)
    for _, ex in lesson.exercises():
        assert repr(ex.answer) not in text
    filled = lesson.to_notebook(answers=True)
    assert all(repr(ex.answer) in nbformat.writes(filled) for _, ex in lesson.exercises())
    # the check cells grade and record what the student wrote
    ns: dict[str, object] = {}
    for cell in filled.cells:
        if cell.cell_type == "code" and "lessons.show" not in cell.source:
            exec(cell.source.replace("progress.sqlite", str(tmp_path / "p.sqlite")), ns)
    rows = lessons.Progress(tmp_path / "p.sqlite").attempts("student")
    assert [a.correct for a in rows] == [True, True, True]


def test_nbgrader_metadata_marks_solutions_and_graded_checks():
    nb = lessons.Lesson.from_markdown(LESSON).to_nbgrader()
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    assert sum(m.get("solution", False) for m in meta) == 3
    graded = [m for m in meta if m.get("grade")]
    assert [m["points"] for m in graded] == [1.0, 1.0, 2.0]
    assert all("### BEGIN SOLUTION" in c.source for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("solution"))


@pytest.mark.skipif(shutil.which("nbgrader", path=str(Path(sys.executable).parent)) is None,
                    reason="nbgrader is not installed (dev extra)")
def test_nbgrader_autogrades_an_exported_lesson(tmp_path):
    lesson = lessons.Lesson.from_markdown(LESSON)
    root = tmp_path / "course"
    lesson.to_nbgrader(root / "source" / "ps1" / "lesson.ipynb")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "MOS_LAB_NO_AUTOLOAD": "1"}
    nbg = [str(Path(sys.executable).parent / "nbgrader")]
    opt = f"--CourseDirectory.root={root}"
    for args in (["db", "student", "add", "ada"], ["generate_assignment", "ps1", "--force"]):
        subprocess.run([*nbg, *args, opt], check=True, env=env, capture_output=True,
                       timeout=240)
    released = nbformat.read(root / "release" / "ps1" / "lesson.ipynb", 4)
    answers = [ex.answer for _, ex in lesson.exercises()]
    assert not any(repr(a) in nbformat.writes(released) for a in answers)  # stripped
    wrong = {"answer2": "answer_2 = 'P8'"}
    for cell in released.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            n = int(gid.removeprefix("answer"))
            cell.source = wrong.get(gid, f"answer_{n} = {answers[n - 1]!r}")
    sub = root / "submitted" / "ada" / "ps1"
    sub.mkdir(parents=True)
    nbformat.write(released, sub / "lesson.ipynb")
    subprocess.run([*nbg, "autograde", "ps1", opt], check=True, env=env, capture_output=True,
                   timeout=240)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        s = gb.find_submission("ps1", "ada")
        grades = {g.name: g.score for nb_ in s.notebooks for g in nb_.grades}
        assert grades == {"check1": 1.0, "check2": 0.0, "check3": 2.0}
        assert (s.score, s.max_score) == (3.0, 4.0)


def test_boolean_parameters_become_python_in_the_notebook_cells():
    """A flag such as ``figured: true`` was written as JSON (``true``) into the cells,
    which Python cannot run."""
    text = "# Figured\n\n```exercise\nkind: harmonisation\nlevel: 2\nseed: 3\n" \
           "figured: true\n```\n"
    lesson = lessons.Lesson.from_markdown(text)
    for nb in (lesson.to_notebook(), lesson.to_nbgrader()):
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert any('"figured": True' in src for src in code)
        for src in code:
            compile(src, "<cell>", "exec")
    ex = lessons.make("harmonisation", 3, level=2, figured=True)
    assert "figured bass" in ex.question
    scope = {"lessons": lessons}
    exec(f"fb = lessons.grade('harmonisation', {{'level': 2, 'figured': True}}, 3, "
         f"{ex.answer!r})", scope)
    assert scope["fb"].correct
