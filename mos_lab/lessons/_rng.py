"""A small seeded generator (SplitMix64): the same exercise for the same seed on every
machine and Python version, and ~20x cheaper to start than ``random.Random(seed)``
(14 us), which matters when a drill makes thousands of exercises.

Each method mixes its own 64 bits inline (no call to ``next64``): a drill draws a few
numbers per exercise, and Python's call overhead is most of a draw's cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_START = 0x632BE59BD9B4E019
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


class Rng:
    """SplitMix64 seeded by an int; ``randrange``, ``randint``, ``choice``, ``random``."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = (int(seed) * _GAMMA + _START) & _MASK

    def next64(self) -> int:
        """The next 64 random bits."""
        self.state = z = (self.state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return z ^ (z >> 31)

    def randrange(self, n: int) -> int:
        """0 <= k < n (n >= 1; the bias is below 2**-50 for the small n used here)."""
        self.state = z = (self.state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return ((z ^ (z >> 31)) * n) >> 64

    def randint(self, a: int, b: int) -> int:
        """a <= k <= b."""
        self.state = z = (self.state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return a + (((z ^ (z >> 31)) * (b - a + 1)) >> 64)

    def choice(self, seq: Sequence[T]) -> T:
        """One item of a non-empty sequence."""
        self.state = z = (self.state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return seq[((z ^ (z >> 31)) * len(seq)) >> 64]

    def random(self) -> float:
        """0 <= x < 1."""
        self.state = z = (self.state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * _M1) & _MASK
        z = ((z ^ (z >> 27)) * _M2) & _MASK
        return ((z ^ (z >> 31)) >> 11) * (1.0 / (1 << 53))


def pick(seed: int, seq: Sequence[T]) -> T:
    """``Rng(seed).choice(seq)`` without making the generator: a seed's first draw, which
    is all most generators need."""
    z = (int(seed) * _GAMMA + _START + _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * _M1) & _MASK
    z = ((z ^ (z >> 27)) * _M2) & _MASK
    return seq[((z ^ (z >> 31)) * len(seq)) >> 64]
