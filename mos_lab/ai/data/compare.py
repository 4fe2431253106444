"""Theory-based metrics and side-by-side comparison of two scores (table and bar plot).

The theory metrics read ``mos_lab.theory.analyze``: key clarity is the analysis's
confidence in its global key, chord vocabulary the number of distinct chord symbols, and
cadence rate the cadences per measure. They complement muspy's statistics with what a
listener hears as tonal coherence.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from mos_lab.score import Score
from mos_lab.theory import analyze

from .metrics import muspy_metrics

__all__ = ["THEORY_METRICS", "Comparison", "all_metrics", "compare", "theory_metrics"]

THEORY_METRICS = ("key_clarity", "chord_vocabulary", "cadence_rate")


def theory_metrics(score: Score) -> dict[str, float | int | None]:
    """Key clarity, chord vocabulary and cadence rate from the harmonic analysis."""
    a = analyze(score)
    if not a.segments:
        return {"key_clarity": None, "chord_vocabulary": 0, "cadence_rate": None}
    measures = {s.measure for s in a.segments}
    n_measures = max(measures) - min(measures) + 1
    return {
        "key_clarity": float(a.confidence) if a.key is not None else None,
        "chord_vocabulary": len({s.chord for s in a.segments}),
        "cadence_rate": len(a.cadences) / n_measures,
    }


def all_metrics(score: Score, *, theory: bool = True) -> dict[str, Any]:
    """muspy's metrics, then (``theory=True``) the theory-based ones."""
    out = muspy_metrics(score)
    if theory:
        out.update(theory_metrics(score))
    return out


@dataclass(frozen=True)
class Comparison:
    """Metrics of two scores side by side: rows of (metric, a, b, b - a)."""

    names: tuple[str, str]
    rows: tuple[tuple[str, Any, Any, float | None], ...]

    def table(self) -> str:
        """A plain-text table, one metric per line."""
        def fmt(v: Any) -> str:
            return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

        head = f"{'metric':<28}{self.names[0]:>14}{self.names[1]:>14}{'b - a':>12}"
        lines = [head] + [f"{m:<28}{fmt(a):>14}{fmt(b):>14}{fmt(d):>12}"
                          for m, a, b, d in self.rows]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape('-' if v is None else str(v))}</td>"
                             for v in row) + "</tr>" for row in self.rows)
        a, b = (html.escape(n) for n in self.names)
        return (f"<table><tr><th>metric</th><th>{a}</th><th>{b}</th><th>b - a</th></tr>"
                f"{cells}</table>")

    def plot(self, ax: Any = None) -> Any:
        """Grouped bars of each metric for a and b (matplotlib); returns the figure."""
        import matplotlib.pyplot as plt
        import numpy as np

        rows = [r for r in self.rows if r[1] is not None and r[2] is not None]
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(rows)), 3.5))
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [float(r[1]) for r in rows], 0.4, label=self.names[0])
        ax.bar(x + 0.2, [float(r[2]) for r in rows], 0.4, label=self.names[1])
        ax.set_xticks(x, [r[0] for r in rows], rotation=60, ha="right")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.legend()
        ax.figure.tight_layout()
        return ax.figure


def compare(a: Score, b: Score, *, names: tuple[str, str] = ("a", "b"),
            theory: bool = True) -> Comparison:
    """Every metric of ``a`` and ``b`` side by side, with their difference."""
    ma, mb = all_metrics(a, theory=theory), all_metrics(b, theory=theory)
    rows = tuple(
        (k, ma[k], mb[k], None if ma[k] is None or mb[k] is None else float(mb[k] - ma[k]))
        for k in ma)
    return Comparison(names, rows)
