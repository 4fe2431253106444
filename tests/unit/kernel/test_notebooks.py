"""Every notebook in notebooks/ runs headless (nbclient), and a real kernel survives 1,000
widget create/display/close cycles with ``%mos doctor`` back at its baseline."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MOS_LAB_OUTPUT": "browser"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_headless(path: Path, tmp_path: Path, monkeypatch) -> None:
    for k, v in _env().items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(shutil.copy(path, tmp_path / path.name), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error" or o.get("name") == "stderr"]
    assert not errors, errors
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
    assert state and state["state"], "widget state stored for static renderers"


LEAK = """
import gc, json, resource, mos_lab
from IPython.display import display
from ipywidgets.widgets.widget import _instances
from mos_lab.widgets import Transport, Keyboard, PianoRoll, ChordDisplay, Player
get_ipython().cache_size = 0
s = mos_lab.session()
s.load(mos_lab.Score.from_notes([(i * 240, 240, 60 + i % 12, 80) for i in range(200)]))
kinds = [Transport, Keyboard, PianoRoll, ChordDisplay]
def cycles(n):
    for i in range(n):
        w = Player(static=False) if i % 10 == 9 else kinds[i % 4]()
        display(w)
        w.visible = True
        w.close()
cycles(100)
gc.collect()
base, comms = s.doctor(), len(_instances)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cycles(1000)
gc.collect()
print(json.dumps({"base": base, "after": s.doctor(), "comms": [comms, len(_instances)],
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0}))
"""


@pytest.mark.seed("WID-02")
def test_a_real_kernel_survives_a_thousand_widget_cycles(tmp_path: Path, monkeypatch) -> None:
    for k, v in _env().items():
        monkeypatch.setenv(k, v)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LEAK)])
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = [o for o in nb.cells[0].outputs if o.output_type == "stream"]
    result = json.loads(out[-1]["text"].strip().splitlines()[-1])
    assert result["after"] == result["base"], result
    assert result["comms"][0] == result["comms"][1], result
    assert result["rss_kb"] < 20_000, result  # peak RSS flat (kB) over 1,000 cycles
    print(f"\nreal kernel, 1,000 cycles: {result}")
