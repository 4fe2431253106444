"""What every kind's generator and grader share: the level check, the guard in front of a
cached reader of untrusted text, and the shape of a one-answer grader."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from mos_lab.lessons.exercise import Feedback

T = TypeVar("T")


def plain(text: str) -> str:
    """Unicode sharps and flats as ASCII (``F♯4`` -> ``F#4``), so readers take both."""
    return text.replace("♯", "#").replace("♭", "b")


def check_level(level: int, levels: Collection[int]) -> int:
    """``level`` itself when it is one of ``levels``, else a ValueError naming them."""
    if level in levels:  # the usual case, without sorting
        return level
    allowed = sorted(levels)
    if level not in allowed:
        raise ValueError(f"level {level} is not one of {allowed}")
    return level


def read(response: object, limit: int, reader: Callable[[str], T | str], expected: str
         ) -> T | str:
    """A response read by ``reader`` (which answers a value or a message), or the message
    naming the ``expected`` form: non-text and text over ``limit`` characters go unread
    (so a cached reader never keeps a hostile megabyte)."""
    if not isinstance(response, str) or len(response) > limit:
        return f"expected {expected}"
    return reader(response)


def graded(got: T | str, answer: T, right: str, miss: Callable[[T], Feedback]) -> Feedback:
    """A one-answer grade: an unreadable response (a message) scores 0 with it, one equal
    to ``answer`` is right (``"right: " + right``), anything else is ``miss(got)``."""
    if isinstance(got, str):
        return Feedback(False, 0.0, got)
    if got == answer:
        return Feedback(True, 1.0, f"right: {right}")
    return miss(got)
