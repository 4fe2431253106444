"""A slot holding the current score: replaced only by a score that loaded and validated."""

from __future__ import annotations

import os
import threading

from mos_lab.score.errors import ScoreError
from mos_lab.score.io import load
from mos_lab.score.model import Score


class ScoreSlot:
    """The one current score of a session; a failed load never replaces it.

    ``version`` counts successful loads, ``last_error`` keeps the latest failure so a UI can
    show it next to the score that is still loaded.
    """

    def __init__(self, score: Score | None = None) -> None:
        self._lock = threading.Lock()
        self.current: Score | None = score
        self.version = 0 if score is None else 1
        self.last_error: ScoreError | None = None

    def load(self, source: str | os.PathLike[str] | bytes | Score) -> Score:
        """Load and validate, then swap in atomically; on error keep the previous score."""
        try:
            score = source if isinstance(source, Score) else load(source)
        except ScoreError as exc:
            self.last_error = exc
            raise
        with self._lock:
            self.current = score
            self.version += 1
            self.last_error = None
        return score
