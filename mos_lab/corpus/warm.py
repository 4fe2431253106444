"""What a pooled worker does as it starts: import the task modules and make their first
call, so a job's first files are not charged with it."""

from __future__ import annotations

WARM_MODULES = ("mos_lab.score", "mos_lab.theory", "mos_lab.corpus.tasks")


def warm(modules: tuple[str, ...] = WARM_MODULES) -> int:
    """Import ``modules`` and analyse a tiny score once in this process; returns the count.

    Run in each worker as it starts, so a job's first files are not charged with imports.
    """
    import importlib

    for name in modules:
        importlib.import_module(name)
    if "mos_lab.theory" in modules:
        from mos_lab.score import Score
        from mos_lab.theory import analyze

        chords = [(48, 64, 67, 72), (53, 65, 69, 72), (55, 62, 67, 71), (48, 64, 67, 72)]
        analyze(Score.from_notes([(i * 960, 960, p, 80) for i, ch in enumerate(chords)
                                  for p in ch]))
    return len(modules)
