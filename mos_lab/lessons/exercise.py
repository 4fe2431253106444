"""Exercise and Feedback: what every generator returns and every grader answers.

An Exercise keeps its prompt as spelled pitches and builds the Score (with
``Score.spelling``) only when ``.prompt`` is read, so generating and grading thousands
stays cheap; its grader is a plain function of the response text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from mos_lab.score import KeySignature, Score
from mos_lab.theory.pitch import Pitch

#: Ticks per quarter of prompt scores.
TPQ = 480


class Feedback(NamedTuple):
    """A graded response: right or not, a score 0..1, and a message saying what was wrong
    (a NamedTuple: graders make one per response, and a drill makes many)."""

    correct: bool
    score: float
    message: str

    def __bool__(self) -> bool:
        return self.correct


def _prompt_score(events: tuple[tuple[Pitch, int, int], ...], bpm: float, title: str) -> Score:
    """A one-track Score of (pitch, start, duration) events in ticks, spelled."""
    rows = [(start, dur, p.midi, 80) for p, start, dur in events]
    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    score = Score.from_notes([rows[i] for i in order], tpq=TPQ, bpm=bpm, title=title)
    # from_notes sorts stably by start, as ``order`` does: the spelling lines up.
    spelling = np.array([events[i][0].fifths for i in order], dtype=np.int16)
    return score.replace(spelling=spelling)


@dataclass(eq=False)
class Exercise:
    """One generated exercise: kind, seed and parameters (to make it again), the question,
    the prompt's spelled notes, the canonical answer and the grader that checks responses."""

    kind: str
    seed: int
    level: int
    question: str
    answer: str
    events: tuple[tuple[Pitch, int, int], ...]
    grader: Callable[[object], Feedback] = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    bpm: float = 90.0
    skill: str = ""
    key_signature: int | None = None

    def check(self, response: object) -> Feedback:
        """Grade an untrusted response (any object); never raises for bad input."""
        try:
            return self.grader(response)
        except Exception as exc:  # a grader bug must not reach the student as a traceback
            return Feedback(False, 0.0, f"could not grade {response!r}: {exc}")

    @cached_property
    def prompt(self) -> Score:
        """The prompt as a spelled Score (its notes keep their spelling through save())."""
        score = _prompt_score(self.events, self.bpm, self.question)
        if self.key_signature is not None:
            score = score.replace(key_signatures=(KeySignature(0, self.key_signature),))
        return score

    @property
    def notes(self) -> list[str]:
        """The prompt's notes by spelled name with octave, in time order."""
        return [p.name_with_octave for p, _, _ in sorted(self.events, key=lambda e: e[1])]

    def __repr__(self) -> str:
        return f"<Exercise {self.kind} seed={self.seed} level={self.level}: {self.question}>"
