"""The lessons that ship (notebooks/lessons): up to date with their Markdown sources, and
each runs top to bottom under nbclient, recording one attempt per exercise."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

HERE = Path(__file__).resolve().parents[3] / "notebooks" / "lessons"
spec = importlib.util.spec_from_file_location("make_notebooks", HERE / "make_notebooks.py")
assert spec is not None and spec.loader is not None
make_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_notebooks)


@pytest.mark.parametrize("name", make_notebooks.SOURCES)
def test_the_notebook_matches_its_source(name):
    built = make_notebooks.build(name)
    stored = nbformat.read(HERE / f"{name}.ipynb", 4)
    assert [c.source for c in stored.cells] == [c.source for c in built.cells], \
        "run notebooks/lessons/make_notebooks.py"


@pytest.mark.parametrize("name", make_notebooks.SOURCES)
def test_the_lesson_runs_top_to_bottom(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MOS_LAB_NO_AUTOLOAD", "1")
    nb = nbformat.read(HERE / f"{name}.ipynb", 4)
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    lesson = make_notebooks.Lesson.load(HERE / f"{name}.md")
    n = sum(d.count for d in lesson.drills())
    rows = sqlite3.connect(tmp_path / "progress.sqlite").execute(
        "SELECT count(*), sum(correct) FROM attempts").fetchone()
    assert rows == (n, 0)  # every empty answer recorded, none right
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
