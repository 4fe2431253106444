"""Live frames of a kept page: composed on the CPU from layers the GPU drew once.

While a paged view plays, only the playhead line and the highlight of notes starting or
stopping to sound change from frame to frame. The GPU draws the page once into four
layers (``PageLayers``): the frame with no note sounding, the frame with every note
sounding, the frame with the playhead over the whole plot, and which note is on top of
each pixel. A frame is then copied together from them: a note that starts or stops takes
its pixels (those where it is on top) from the lit or the unlit layer, the playhead's
old columns are restored pixel by pixel from the layer each pixel's note is in now, and
its new columns come from the playhead layer. The result is, bit for bit, what a full
render draws (tests compare them), for the cost of copying a few thousand pixels: no
GPU submission, no readback, no wait on the device.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mos_lab.theater.render.compose import copy_rect, copy_where, restore

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-image pixels (x1, y1 excluded)
KEY_ID = 0xFFFFFF00  # the id layer's value for the key of pitch p: KEY_ID + p (the shader's)


@dataclass
class PageLayers:
    """What the GPU drew once for a page (all ``(H, W, 4)`` uint8 but ``ids``)."""

    base: np.ndarray  # no note sounding, no playhead
    lit: np.ndarray  # every note sounding, no playhead
    playhead: np.ndarray  # the playhead over the whole plot (and what is drawn over it)
    ids: np.ndarray  # (H, W) uint32: index + 1 of the note on top of each pixel, 0 for none

    @property
    def nbytes(self) -> int:
        return self.base.nbytes + self.lit.nbytes + self.playhead.nbytes + self.ids.nbytes


def playhead_rect(u: np.ndarray, plot: Rect, portrait: bool) -> Rect | None:
    """The pixels the playhead covers: ``[u[26], u[27])`` along the time axis (whole
    pixels, see ``geometry.playhead_pixels``) across the plot, clipped to the plot."""
    p0, p1 = int(u[26]), int(u[27])
    x0, y0, x1, y1 = plot
    r = (x0, max(p0, y0), x1, min(p1, y1)) if portrait else (max(p0, x0), y0, min(p1, x1), y1)
    return r if r[0] < r[2] and r[1] < r[3] else None


def _pixels(rgba: np.ndarray) -> np.ndarray:
    """An ``(H, W, 4)`` uint8 image seen as ``(H, W)`` uint32 pixels (same memory)."""
    return rgba.view(np.uint32)[..., 0]


def area(r: Rect) -> int:
    return (r[2] - r[0]) * (r[3] - r[1])


@dataclass
class LivePage:
    """A view's kept page: its layers, the frame shown last and what in it is lit."""

    key: tuple[Any, ...]  # everything but the playhead: another key means a new page
    layers: PageLayers
    lo: int  # notes lo..hi are drawn on this page
    hi: int
    note_rects: np.ndarray  # (hi - lo, 4): pixel rectangles holding each note (1 px margin)
    starts: np.ndarray  # start and end times of notes lo..hi, f32 as the shader sees them
    ends: np.ndarray
    plot: Rect  # the plot's pixels (the scissor every playhead change is clipped to)
    portrait: bool
    key_pitches: np.ndarray  # the keyboard strip's keys: pitch and pixel rectangle
    key_rects: np.ndarray
    frame: np.ndarray = field(init=False)  # the pixels shown last (ours; callers get copies)
    on: np.ndarray = field(init=False)  # by note index + 1: drawn lit in ``frame``
    active: np.ndarray = field(init=False)  # note indices lit in ``frame``
    keys: np.ndarray = field(init=False)  # the lit keys' bits in ``frame`` (4 x u32)
    playhead: Rect | None = None  # the playhead's pixels in ``frame``
    uniforms: bytes = b""  # the uniform block ``frame`` shows
    mirror: weakref.ref[np.ndarray] | None = None  # the output last handed out (= frame)

    def __post_init__(self) -> None:
        self.frame = self.layers.base.copy()
        self.on = np.zeros(self.hi + 1, bool)
        self.active = np.zeros(0, np.int64)
        self.keys = np.zeros(4, np.uint32)
        # One uint32 per RGBA pixel: copies move a pixel per element, and a mask needs
        # no broadcasting over the channels (4x fewer, contiguous elements).
        L = self.layers
        self._px = tuple(_pixels(a) for a in (self.frame, L.base, L.lit, L.playhead))

    @property
    def nbytes(self) -> int:
        return self.layers.nbytes + self.frame.nbytes

    def update(self, u: np.ndarray) -> list[Rect] | None:
        """Bring ``frame`` to the uniform block ``u`` (same page, another playhead);
        returns the rectangles that changed (None: nothing did)."""
        ub = u.tobytes()
        if ub == self.uniforms:
            return None
        ph = u[7]  # f32, the time the shader compares note starts and ends with
        active = self.lo + np.flatnonzero((self.starts <= ph) & (ph < self.ends))
        ids, on = self.layers.ids, self.on
        frame, base, lit, php = self._px
        rects: list[Rect] = []
        if len(active) != len(self.active) or (active != self.active).any():
            changed = np.setxor1d(self.active, active, assume_unique=True)
            on[changed + 1] = ~on[changed + 1]
            px0, py0, px1, py1 = self.plot
            for n, r in zip(changed.tolist(), self.note_rects[changed - self.lo].tolist(),
                            strict=True):
                x0, y0, x1, y1 = max(r[0], px0), max(r[1], py0), min(r[2], px1), min(r[3], py1)
                if x0 >= x1 or y0 >= y1:
                    continue
                # its pixels: those where it is on top
                copy_where(frame, lit if on[n + 1] else base, ids, n + 1, x0, y0, x1, y1)
                rects.append((x0, y0, x1, y1))
        keys = u.view(np.uint32)[32:36]
        if (keys != self.keys).any():  # keys whose notes started or stopped sounding
            p = self.key_pitches
            flip = ((keys ^ self.keys)[p >> 5] >> (p & 31)) & 1
            for i in np.flatnonzero(flip).tolist():
                pitch = int(p[i])
                x0, y0, x1, y1 = self.key_rects[i].tolist()
                src = lit if (keys[pitch >> 5] >> (pitch & 31)) & 1 else base
                copy_where(frame, src, ids, KEY_ID + pitch, x0, y0, x1, y1)
                rects.append((x0, y0, x1, y1))
            self.keys = keys.copy()
        old, new = self.playhead, playhead_rect(u, self.plot, self.portrait)
        if old is not None and old != new:  # each pixel as its note is now
            x0, y0, x1, y1 = old
            restore(frame, base, lit, ids, on, x0, y0, x1, y1)
            rects.append(old)
        if new is not None:
            x0, y0, x1, y1 = new
            copy_rect(frame, php, x0, y0, x1, y1)
            if new != old or rects:
                rects.append(new)
        self.playhead, self.active, self.uniforms = new, active, ub
        return rects
