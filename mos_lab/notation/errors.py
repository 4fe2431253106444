"""The one error type of the notation layer: a score that cannot be engraved, and why."""

from __future__ import annotations


class EngraveError(ValueError):
    """A score cannot be engraved (no notes, too many parts, absurd lengths, engraver failure);
    the message names what is wrong and the limit it broke."""
