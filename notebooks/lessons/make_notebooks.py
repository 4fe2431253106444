"""Build each lesson notebook here from its Markdown source: python make_notebooks.py."""

from __future__ import annotations

from pathlib import Path

from mos_lab.lessons import Lesson

HERE = Path(__file__).resolve().parent
SOURCES = ("intervals", "triads", "keys_and_scales", "cadences", "four_part", "dictation")


def build(name: str) -> object:
    """The student notebook of one lesson (answers left for the student)."""
    return Lesson.load(HERE / f"{name}.md").to_notebook(progress="progress.sqlite",
                                                        student="student")


if __name__ == "__main__":
    import nbformat

    for name in SOURCES:
        nbformat.write(build(name), str(HERE / f"{name}.ipynb"))
        print(f"wrote {name}.ipynb")
