"""Lessons: explanation cells and exercises, written in Python or in a small Markdown file,
previewed, and exported as a student notebook (answers stripped) or an nbgrader one.

A lesson file is Markdown; each fenced block marked ``exercise`` holds YAML (flat
``key: value`` lines, lists as ``[a, b]``) naming a kind and its parameters::

    ```exercise
    kind: interval_id
    level: 2
    qualities: [M3, m3, P5]
    count: 3          # exercises made from seeds seed, seed+1, ...
    seed: 7
    points: 1         # per exercise (nbgrader)
    attempts: 3       # what the author allows (shown to the student)
    hint: Count the letter names first.
    ```

Every exercise is named by (kind, parameters, seed), so a notebook stores no answers:
its check cells call ``lessons.grade``, which makes the exercise again and grades it.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mos_lab.lessons.chords import chord_id
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

#: Every exercise kind by name: its generator.
KINDS: dict[str, Callable[..., Exercise]] = {
    "interval_id": interval_id, "interval_build": interval_build, "chord_id": chord_id,
    "note_reading": note_reading, "key_signature": key_signature, "scale_id": scale_id,
    "roman_analysis": roman_analysis, "harmonisation": harmonisation,
    "dictation": dictation, "rhythm_tap": rhythm_tap,
}
_META = ("kind", "count", "seed", "points", "attempts", "hint")


class LessonError(ValueError):
    """A lesson file or exercise spec that cannot be used; the message says where."""


def make(kind: str, seed: int = 0, **params: Any) -> Exercise:
    """The exercise of ``kind`` made from ``seed`` and ``params`` (the same every time)."""
    if kind not in KINDS:
        raise LessonError(f"unknown exercise kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind](seed=seed, **params)


def grade(kind: str, params: dict[str, Any], seed: int, response: object) -> Feedback:
    """Grade a response to the exercise (kind, params, seed) names: what notebooks call."""
    return make(kind, seed, **params).check(response)


@dataclass
class Drill:
    """Exercises in a lesson: a kind with its parameters, how many, from which seed."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    seed: int = 0
    points: float = 1.0
    attempts: int | None = None
    hint: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LessonError(f"unknown exercise kind {self.kind!r}; known: "
                              f"{', '.join(KINDS)}")
        if not 1 <= self.count <= 100:
            raise LessonError(f"{self.kind}: count {self.count} is not in 1..100")
        make(self.kind, self.seed, **self.params)  # bad parameters fail here, named

    def exercises(self) -> list[Exercise]:
        """The drill's exercises, seeds ``seed`` .. ``seed + count - 1``."""
        return [make(self.kind, self.seed + i, **self.params) for i in range(self.count)]


@dataclass
class Lesson:
    """A title and cells: Markdown text (str) and drills, in order."""

    title: str
    cells: list[str | Drill] = field(default_factory=list)

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def from_markdown(cls, text: str) -> Lesson:
        """Read a lesson from Markdown with fenced ``exercise`` blocks (see the module)."""
        parts = re.split(r"^```exercise[ \t]*\n(.*?)^```[ \t]*$", text, flags=re.M | re.S)
        cells: list[str | Drill] = []
        title = ""
        for i, part in enumerate(parts):
            if i % 2 == 0:
                if part.strip():
                    cells.append(part.strip())
                    m = re.search(r"^#\s+(.+)$", part, re.M)
                    title = title or (m.group(1).strip() if m else "")
                continue
            spec = _read_yaml(part, where=f"exercise block {i // 2 + 1}")
            cells.append(_drill(spec, where=f"exercise block {i // 2 + 1}"))
        return cls(title or "Lesson", cells)

    @classmethod
    def load(cls, path: str | Path) -> Lesson:
        """Read a lesson file (Markdown with exercise blocks)."""
        return cls.from_markdown(Path(path).read_text(encoding="utf-8"))

    # -- views ---------------------------------------------------------------------------
    def drills(self) -> list[Drill]:
        """The lesson's drills, in order."""
        return [c for c in self.cells if isinstance(c, Drill)]

    def exercises(self) -> Iterator[tuple[Drill, Exercise]]:
        """Every exercise with its drill, in order."""
        for d in self.drills():
            for ex in d.exercises():
                yield d, ex

    def preview(self) -> str:
        """The lesson as Markdown with every exercise's question and answer (for the
        instructor: the answers are shown)."""
        first = self.cells[0] if self.cells else ""
        out = [] if isinstance(first, str) and first.startswith("#") else [f"# {self.title}"]
        n = 0
        for c in self.cells:
            if isinstance(c, str):
                out.append(c)
                continue
            for ex in c.exercises():
                n += 1
                out.append(f"**Exercise {n}** ({ex.kind}, seed {ex.seed}): {ex.question}"
                           f"  \n*Answer:* `{ex.answer}`")
        return "\n\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.preview()

    # -- notebooks -----------------------------------------------------------------------
    def to_notebook(self, path: str | Path | None = None, *, answers: bool = False,
                    progress: str = "progress.sqlite", student: str = "student") -> Any:
        """A notebook for students (``answers=True``: filled in, for checking the lesson):
        each exercise shows its widget, an answer cell and a check cell."""
        return self._notebook(path, mode="answers" if answers else "student",
                              progress=progress, student=student)

    def to_nbgrader(self, path: str | Path | None = None) -> Any:
        """An nbgrader source notebook: solution cells hold the answers between nbgrader's
        BEGIN/END SOLUTION marks, locked autograded cells call ``lessons.grade``."""
        return self._notebook(path, mode="nbgrader", progress="", student="")

    def _notebook(self, path: str | Path | None, *, mode: str, progress: str,
                  student: str) -> Any:
        import nbformat
        from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        grader = mode == "nbgrader"

        def meta(cell: Any, grade_id: str, *, solution: bool = False, grade: bool = False,
                 points: float = 0.0, locked: bool = True) -> Any:
            if grader:
                cell.metadata["nbgrader"] = {
                    "grade": grade, "grade_id": grade_id, "locked": locked,
                    "schema_version": 3, "solution": solution, "task": False,
                    **({"points": points} if grade else {})}
            return cell

        setup = "from mos_lab import lessons"
        if mode != "nbgrader":
            setup += f"\n\nprogress = lessons.Progress({progress!r})\nstudent = {student!r}"
        nb.cells.append(meta(new_code_cell(setup), "setup"))
        n = 0
        for c in self.cells:
            if isinstance(c, str):
                nb.cells.append(meta(new_markdown_cell(c), f"text{len(nb.cells)}"))
                continue
            for i in range(c.count):
                n += 1
                seed = c.seed + i
                ex = make(c.kind, seed, **c.params)
                args = [repr(c.kind), _literal(c.params), str(seed)]
                text = f"**Exercise {n}.** {ex.question}"
                if c.hint:
                    text += f"  \n*Hint:* {c.hint}"
                if c.attempts:
                    text += f"  \n*Attempts allowed:* {c.attempts}"
                nb.cells.append(meta(new_markdown_cell(text), f"q{n}"))
                made = _call("lessons.make", [repr(c.kind), str(seed), *_kwargs(c.params)])
                show = _call("lessons.show", [made] if grader else
                             [made, "progress=progress", "student=student"])
                nb.cells.append(meta(new_code_cell(show), f"show{n}"))
                if grader:
                    body = f"### BEGIN SOLUTION\nanswer_{n} = {ex.answer!r}\n### END SOLUTION"
                    nb.cells.append(meta(new_code_cell(body), f"answer{n}", solution=True,
                                         locked=False))
                    check = (_call("lessons.grade", [*args, f"answer_{n}"], "feedback = ") + "\n"
                             "print(feedback.message)\nassert feedback.correct")
                    nb.cells.append(meta(new_code_cell(check), f"check{n}", grade=True,
                                         points=c.points))
                else:
                    value = ex.answer if mode == "answers" else ""
                    nb.cells.append(new_code_cell(f"answer_{n} = {value!r}  # your answer"))
                    nb.cells.append(new_code_cell(
                        _call("lessons.grade", [*args, f"answer_{n}"], "feedback = ") + "\n"
                        + _call("progress.record",
                                ["student", made, f"answer_{n}", "feedback"]) + "\n"
                        "print(feedback.message)"))
        if mode != "nbgrader":
            nb.cells.append(new_markdown_cell(
                "## Your progress\nAccuracy per skill, the weakest marked; then one more "
                "exercise from your weakest skill."))
            nb.cells.append(new_code_cell(
                "from IPython.display import display\n\n"
                "display(lessons.Dashboard(progress, student))\n"
                "nxt = lessons.practice(progress, student)\n"
                "if nxt is not None:\n    print(nxt.question)"))
        nbformat.validate(nb)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
        return nb


def _drill(spec: dict[str, Any], where: str) -> Drill:
    kind = spec.get("kind")
    if not isinstance(kind, str):
        raise LessonError(f"{where}: no 'kind' (one of {', '.join(KINDS)})")
    params = {k: v for k, v in spec.items() if k not in _META}
    try:
        return Drill(kind, params, int(spec.get("count", 1)), int(spec.get("seed", 0)),
                     float(spec.get("points", 1.0)),
                     int(spec["attempts"]) if spec.get("attempts") is not None else None,
                     str(spec.get("hint", "")))
    except LessonError as exc:
        raise LessonError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise LessonError(f"{where}: {exc}") from None


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    """A flat YAML mapping (PyYAML when installed; else ``key: value`` lines)."""
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LessonError(f"{where}: not YAML: {exc}") from None
        if not isinstance(data, dict):
            raise LessonError(f"{where}: expected 'key: value' lines")
        return data
    out: dict[str, Any] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split(" #")[0].strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise LessonError(f"{where}, line {n}: expected 'key: value', got {line!r}")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key.strip()] = [_scalar(v.strip()) for v in value[1:-1].split(",") if v.strip()]
        else:
            out[key.strip()] = _scalar(value)
    return out


def _call(function: str, args: list[str], before: str = "", width: int = 100) -> str:
    """Source of a call (after `before`, e.g. an assignment), one argument per line when
    it would not fit `width` columns, so exported notebooks read well and pass the
    project's line-length lint."""
    one = f"{before}{function}({', '.join(args)})"
    if len(one) <= width and "\n" not in one:
        return one
    inner = ",\n".join(textwrap.indent(a, "    ") for a in args)
    return f"{before}{function}(\n{inner},\n)"


def _kwargs(params: dict[str, Any]) -> list[str]:
    """A drill's parameters as keyword arguments (`level=1`), or one `**{...}` when a key
    is not a Python name."""
    if all(str(k).isidentifier() for k in params):
        return [f"{k}={_literal(v)}" for k, v in params.items()]
    return [f"**{_literal(params)}"] if params else []


def _literal(value: Any) -> str:
    """Python source for a parameter value: JSON's form (which Python reads), except
    booleans and None, which JSON writes as true/false/null."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_literal(v)}"
                                for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return json.dumps(value)


def _scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {"true": True, "false": False}.get(text, text.strip("'\""))
