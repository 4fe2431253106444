"""Pixel loops of the live composition (``live``), compiled: a frame moves a few thousand
pixels in thin strips (the playhead is ~3 pixels wide and a plot tall), where numpy's
cost per row, not per pixel, dominates. Images are ``(H, W)`` uint32 views of RGBA.
"""

from __future__ import annotations

import numpy as np

from mos_lab._jit import jit

_jit = jit()


@_jit
def copy_rect(dst: np.ndarray, src: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """``dst[y0:y1, x0:x1] = src[y0:y1, x0:x1]``."""
    for y in range(y0, y1):
        for x in range(x0, x1):
            dst[y, x] = src[y, x]


@_jit
def copy_where(dst: np.ndarray, src: np.ndarray, ids: np.ndarray, value: int,
               x0: int, y0: int, x1: int, y1: int) -> None:
    """Copy the pixels of the rectangle where ``ids == value`` (one note's pixels)."""
    for y in range(y0, y1):
        for x in range(x0, x1):
            if ids[y, x] == value:
                dst[y, x] = src[y, x]


@_jit
def restore(dst: np.ndarray, base: np.ndarray, lit: np.ndarray, ids: np.ndarray,
            on: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Each pixel of the rectangle from ``lit`` where its note is on, else ``base``."""
    n = on.shape[0]
    for y in range(y0, y1):
        for x in range(x0, x1):
            i = ids[y, x]
            dst[y, x] = lit[y, x] if i < n and on[i] else base[y, x]
