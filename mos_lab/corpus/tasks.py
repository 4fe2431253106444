"""What a worker does with one file; each returns the row's columns (errors are raised).

Module-level functions, so Dask sends them to worker processes by name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mos_lab.score import Score, load


def _loaded(path: str) -> Score:
    return load(path)


def analyze_file(path: str) -> dict[str, Any]:
    """The global key, how sure, segment and cadence counts of one score."""
    from mos_lab.theory import analyze

    score = _loaded(path)
    t0 = time.process_time()
    a = analyze(score)
    return {"notes": score.n_notes, "duration_s": float(score.duration),
            "key": a.key or "", "confidence": float(a.confidence), "segments": len(a),
            "cadences": len(a.cadences), "cpu_s": time.process_time() - t0}


def convert_file(path: str, out_dir: str, fmt: str) -> dict[str, Any]:
    """Save one score under ``out_dir`` with the same stem and the ``fmt`` extension."""
    score = _loaded(path)
    dest = Path(out_dir) / (Path(path).stem + fmt)
    score.save(dest)
    return {"notes": score.n_notes, "output": str(dest)}


def render_file(path: str, out_dir: str) -> dict[str, Any]:
    """Render one score offline to ``out_dir/<stem>.wav`` (one thread: workers are the cores)."""
    from mos_lab.engine import render

    score = _loaded(path)
    dest = Path(out_dir) / (Path(path).stem + ".wav")
    render(score, threads=1).write(dest)
    return {"notes": score.n_notes, "duration_s": float(score.duration), "output": str(dest)}


def tokenize_file(path: str, kind: str) -> dict[str, Any]:
    """Token count of one score with the ``kind`` tokenizer, and whether it reads back exactly."""
    from mos_lab.ai.data.tokens import tokenize

    score = _loaded(path)
    enc = tokenize(score, kind)
    return {"notes": score.n_notes, "tokens": len(enc), "exact": bool(enc.exact)}
