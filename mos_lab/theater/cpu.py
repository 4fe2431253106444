"""The CPU renderer: the same instances and uniforms as the wgpu path, drawn with numpy.

It mirrors ``render/shaders/pianoroll.wgsl`` step by step (f32 maths, pixel-centre
coverage, the same clip, border and highlight rules), so the two agree within a few
edge pixels. It is the fallback when no adapter exists, when the adapter is too slow or
lacks a feature, and the frame drawn when a native GPU error cannot be recovered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mos_lab.theater.geometry import (
    A_PX,
    B_PX,
    BACKGROUND,
    BORDER,
    CLIP,
    CLIP_T,
    KEY,
    NOTE,
    PLAYHEAD,
    SELECTED,
    TEXTURED,
    NoteGeometry,
    make_layout,
    overlay_instances,
    uniforms,
)
from mos_lab.theater.render.base import RenderStats
from mos_lab.theater.scene import SceneState, View
from mos_lab.theater.text import glyph_atlas

F32 = np.float32


def screen_boxes(inst: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Screen boxes ``(n, 4)`` = x0, y0, x1, y1 of instances, as the vertex shader makes them."""
    portrait = u[6] > 0.5
    t0, t1, p0, p1 = u[12], u[13], u[14], u[15]
    px0, py0, px1, py1 = u[8], u[9], u[10], u[11]
    fl = inst["flags"]
    r = inst["rect"].astype(F32)

    def time_px(t: np.ndarray) -> np.ndarray:
        f = (t - t0) / (t1 - t0)
        return py1 - f * (py1 - py0) if portrait else px0 + f * (px1 - px0)

    def pitch_px(p: np.ndarray) -> np.ndarray:
        f = (p - p0) / (p1 - p0)
        return px0 + f * (px1 - px0) if portrait else py1 - f * (py1 - py0)

    ph = (fl & PLAYHEAD) != 0  # whole pixels from the uniforms
    a0 = np.where(ph, u[26], r[:, 0]).astype(F32)
    a1 = np.where(ph, u[27], r[:, 1]).astype(F32)
    apx = ((fl & A_PX) != 0) | ph
    a0, a1 = np.where(apx, a0, time_px(a0)), np.where(apx, a1, time_px(a1))
    bpx = (fl & B_PX) != 0
    b0, b1 = np.where(bpx, r[:, 2], pitch_px(r[:, 2])), np.where(bpx, r[:, 3], pitch_px(r[:, 3]))
    lo_a, hi_a = np.minimum(a0, a1), np.maximum(a0, a1)
    hi_a = np.where((fl & NOTE) != 0, np.maximum(hi_a, lo_a + u[25]), hi_a)
    lo_b, hi_b = np.minimum(b0, b1), np.maximum(b0, b1)
    if portrait:
        x0, x1, y0, y1 = lo_b, hi_b, lo_a, hi_a
    else:
        x0, x1, y0, y1 = lo_a, hi_a, lo_b, hi_b
    tx = (fl & TEXTURED) != 0
    x0 = np.where(tx, np.floor(x0 + F32(0.5)), x0)
    y0 = np.where(tx, np.floor(y0 + F32(0.5)), y0)
    x1, y1 = np.where(tx, x0, x1), np.where(tx, y0, y1)
    o = inst["offs"].astype(F32)
    return np.stack([x0 + o[:, 0], y0 + o[:, 1], x1 + o[:, 2], y1 + o[:, 3]], axis=1)


def _cover(lo: float, hi: float) -> tuple[int, int]:
    """Pixels whose centre lies in ``[lo, hi)``."""
    return int(np.ceil(lo - 0.5)), int(np.ceil(hi - 0.5))


def draw_instances(img: np.ndarray, inst: np.ndarray, u: np.ndarray, atlas: Any = None,
                   active: np.ndarray | None = None) -> None:
    """Rasterise instances into ``img`` (H, W, 4 uint8) in order, alpha-blended."""
    if not len(inst):
        return
    H, W = img.shape[:2]
    boxes = screen_boxes(inst, u)
    plot = tuple(int(v) for v in u[8:12])
    portrait = u[6] > 0.5
    cols = inst["color"].astype(np.float64) / 255
    fl = inst["flags"]
    if active is not None and active.any():
        cols[active, :3] += (u[16:19] - cols[active, :3]) * u[19]
    sel = (fl & SELECTED) != 0
    cols[sel, :3] += (u[20:23] - cols[sel, :3]) * u[23]
    key = np.flatnonzero((fl & KEY) != 0)
    if len(key):  # keys of sounding notes (bits in the uniforms, as the shader reads them)
        bits = u.view(np.uint32)[32:36]
        p = inst["rect"][key, 2].astype(np.int64)
        lit = key[((bits[p >> 5] >> (p & 31)) & 1).astype(bool)]
        cols[lit, :3] += (u[28:31] - cols[lit, :3]) * u[31]
    for i in range(len(inst)):
        f = int(fl[i])
        bx0, by0, bx1, by1 = (float(v) for v in boxes[i])
        x0, x1 = _cover(bx0, bx1)
        y0, y1 = _cover(by0, by1)
        cx0, cy0, cx1, cy1 = 0, 0, W, H
        if f & CLIP:
            cx0, cy0 = max(cx0, plot[0]), max(cy0, plot[1])
            cx1, cy1 = min(W, plot[2]), min(H, plot[3])
        if f & CLIP_T:
            if portrait:
                cy0, cy1 = max(cy0, plot[1]), min(cy1, plot[3])
            else:
                cx0, cx1 = max(cx0, plot[0]), min(cx1, plot[2])
        X0, X1, Y0, Y1 = max(x0, cx0), min(x1, cx1), max(y0, cy0), min(y1, cy1)
        if X0 >= X1 or Y0 >= Y1:
            continue
        rgb, a = cols[i, :3], float(cols[i, 3])
        if f & TEXTURED:
            if atlas is None:
                continue
            u0, v0 = int(inst["uv"][i, 0]) + X0 - x0, int(inst["uv"][i, 1]) + Y0 - y0
            cov = atlas.image[v0:v0 + (Y1 - Y0), u0:u0 + (X1 - X0)].astype(np.float64) / 255
            _blend(img[Y0:Y1, X0:X1], rgb, a * cov[..., None])
            continue
        if f & BORDER:
            _blend(img[Y0:Y1, X0:X1], rgb * u[24], a)
            ix0, ix1 = _cover(bx0 + 1, bx1 - 1)
            iy0, iy1 = _cover(by0 + 1, by1 - 1)
            ix0, ix1, iy0, iy1 = max(ix0, X0), min(ix1, X1), max(iy0, Y0), min(iy1, Y1)
            if ix0 < ix1 and iy0 < iy1:
                _blend(img[iy0:iy1, ix0:ix1], rgb, a)
            continue
        _blend(img[Y0:Y1, X0:X1], rgb, a)


def _blend(dst: np.ndarray, rgb: np.ndarray, a: float | np.ndarray) -> None:
    """``dst = src * a + dst * (1 - a)`` on colour, ``a + dst_a * (1 - a)`` on alpha."""
    if isinstance(a, float) and a >= 1.0:
        dst[..., :3] = np.round(rgb * 255)
        dst[..., 3] = 255
        return
    alpha = np.asarray(a, dtype=np.float64)
    d = dst.astype(np.float64) / 255
    out_rgb = rgb * alpha + d[..., :3] * (1 - alpha)
    out_a = alpha + d[..., 3:4] * (1 - alpha)
    dst[..., :3] = np.round(out_rgb * 255)
    dst[..., 3:4] = np.round(np.broadcast_to(out_a, d[..., 3:4].shape) * 255)


class CPURenderer:
    """Scene snapshots to RGBA images with numpy: no GPU needed."""

    name = "cpu"

    def __init__(self, reason: str = "") -> None:
        self.description = "numpy CPU renderer" + (f" ({reason})" if reason else "")
        self.reason = reason
        self.stats = RenderStats()
        self._geo: tuple[Any, int, NoteGeometry] | None = None
        self._overlays: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}

    def _geometry(self, state: SceneState) -> NoteGeometry:
        # keyed by the score itself (kept alive while cached): a new score allocated where a
        # dead one was would share its id() and be drawn with the dead one's notes
        if self._geo is None or self._geo[:2] != (state.score, state.score_revision):
            self._geo = (state.score, state.score_revision, NoteGeometry(state))
        return self._geo[2]

    def render(self, state: SceneState, view: View) -> np.ndarray:
        lay = make_layout(view, state)
        key = (view, state.score, state.score_revision, state.pitch_range, state.span,
               state.show_keyboard, state.show_grid, state.show_text)
        if key not in self._overlays:
            for k in [k for k in self._overlays if k[0] == view]:
                del self._overlays[k]
            self._overlays[key] = overlay_instances(state, lay)
        under, over = self._overlays[key]
        geo = self._geometry(state)
        u = uniforms(state, lay, (0, 0, view.width, view.height))
        atlas = glyph_atlas(lay.font_px) if lay.font_px else None
        img = np.empty((view.height, view.width, 4), np.uint8)
        img[:] = BACKGROUND
        draw_instances(img, under, u, atlas)
        lo, hi = geo.visible_range(*state.window)
        act = state.active_notes()
        mask = np.zeros(hi - lo, bool)
        act = act[(act >= lo) & (act < hi)]
        mask[act - lo] = True
        draw_instances(img, geo.instances[lo:hi], u, atlas, active=mask)
        draw_instances(img, over, u, atlas)
        s = self.stats
        s.frames += 1
        s.draw_calls, s.note_draw_calls, s.tiles, s.notes_drawn = 3, 1, 1, hi - lo
        return img

    def release(self, view: View | None = None) -> None:
        for k in [k for k in self._overlays if view is None or k[0] == view]:
            del self._overlays[k]

    def resources(self) -> dict[str, int]:
        return {"targets": 0, "overlays": len(self._overlays)}

    def close(self) -> None:
        self.release()
        self._geo = None
