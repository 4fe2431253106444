"""Moving pieces between key signatures: key-normalised training data and its way back.

A small model learns tonal weight (the tonic, the dominant, the leading tone) far more
easily when every piece is written with the same key signature: then each scale degree is
one set of letters. ``key_normalized`` moves a piece so its first signature has no sharps
or flats (majors in C, minors in A, modes on their white-note finals); ``to_signature``
moves a generated piece to the signature a user asked for (``sampling.mode_check`` holds
the model's key line to the mode asked for first). Both move by at most a tritone
and keep the mode the piece has (asking D minor of a piece the model wrote in C major gives
F major, the major of that signature).
"""

from __future__ import annotations

from dataclasses import replace

from mos_lab.score import KeySignature, Score


def to_signature(score: Score, sharps: int) -> Score:
    """``score`` moved (by at most a tritone) so its first key signature has ``sharps``
    sharps (negative: flats); later signatures move with it. A score without a signature
    is taken as written without one."""
    if not -7 <= sharps <= 7:
        raise ValueError(f"key signature: {sharps} sharps is outside -7..7")
    sigs = score.key_signatures
    delta = sharps - (sigs[0].key if sigs else 0)
    if not delta:
        return score
    shift = (7 * delta) % 12
    shift -= 12 if shift > 6 or (shift == 6 and delta < 0) else 0  # a way back is exact
    moved = score.transpose(shift)
    # a later signature pushed past 7 sharps or flats is written enharmonically
    keys = [replace(k, key=(k.key + delta + 7) % 12 - 7 if abs(k.key + delta) > 7
                    else k.key + delta) for k in sigs]
    if not sigs:
        keys = [KeySignature(0, sharps)]
    return moved.replace(key_signatures=keys)  # the notes, heads and voices stay


def key_normalized(score: Score) -> Score:
    """``score`` moved so that its first key signature has no sharps or flats."""
    return to_signature(score, 0)

