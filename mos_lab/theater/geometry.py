"""Instances, layout and uniforms: what both renderers draw, computed once in numpy.

Everything on screen is an instanced rectangle (``INSTANCE_DTYPE``): notes, grid lines,
keyboard keys, the playhead and glyphs. A rectangle spans ``a0..a1`` along the time
axis and ``b0..b1`` along the pitch axis, each in world units (seconds, semitones) or in
screen pixels (flags ``A_PX``/``B_PX``), plus screen-pixel offsets. The frame-dependent
part (playhead, window, tile) is a small uniform block: note geometry is built once per
score, the overlay once per view, and a new frame changes only the uniforms.
Landscape puts time on x (left to right) and pitch on y (up); portrait puts time on y
(upwards, notes falling onto the keyboard) and pitch on x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mos_lab.theater.roll import note_spans
from mos_lab.theater.scene import SceneState, View

INSTANCE_DTYPE = np.dtype(
    [("rect", "<f4", (4,)), ("offs", "<f4", (4,)), ("uv", "<f4", (4,)),
     ("color", "u1", (4,)), ("flags", "<u4")]
)
A_PX, B_PX, TEXTURED, NOTE, SELECTED, PLAYHEAD, CLIP, BORDER, CLIP_T, KEY = (
    1 << i for i in range(10))
MIN_NOTE_PX = 2.0  # notes shorter than this still show (drums, grace notes)

BACKGROUND = (21, 23, 28, 255)
PALETTE = np.array(
    [(0x4c, 0x9b, 0xe8), (0xf2, 0x8e, 0x2b), (0x5c, 0xc8, 0x6a), (0xe1, 0x57, 0x59),
     (0xb0, 0x7a, 0xe0), (0xed, 0xc9, 0x48), (0x76, 0xd7, 0xd0), (0xff, 0x9d, 0xa7),
     (0x9c, 0xc9, 0x4a), (0xd4, 0xa3, 0x73), (0x86, 0x8f, 0xf0), (0xc0, 0xc0, 0xc0)],
    dtype=np.uint8,
)
_VEL_STOPS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98),
                       (253, 231, 37)], dtype=np.float64)  # viridis, 5 stops
_BLACK_KEYS = frozenset((1, 3, 6, 8, 10))
UNIFORM_FLOATS = 36  # 8 x vec4<f32>, then the sounding keys' bits (4 x u32)
KEY_COLOR = (0.30, 0.70, 1.0, 0.65)  # keys of sounding notes: mix towards light blue


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the plot, keyboard strip and header sit in a view (pixels, x0 y0 x1 y1)."""

    view: View
    plot: tuple[float, float, float, float]
    keys: tuple[float, float, float, float]
    header: tuple[float, float, float, float]
    font_px: int
    line: float = 1.0  # line-width scale: 1 up to 1080 lines, 4 at 8K

    @property
    def portrait(self) -> bool:
        return self.view.orientation == "portrait"


MIN_FONT_PX = 13  # labels below this are hard to read on a screen (8 px showed ~6 px of ink)


def font_px(view: View) -> int:
    """Label size for a view: 1/45 of its shorter side (24 px at 1080p), never below
    ``MIN_FONT_PX``, so labels scale with the view and stay legible in a notebook cell."""
    return int(np.clip(round(min(view.width, view.height) / 45), MIN_FONT_PX, 120))


def make_layout(view: View, state: SceneState) -> Layout:
    """Split the view into header band, keyboard strip and plot.

    The keyboard strip is 7 % of the shorter side, and at least wide enough (landscape)
    or deep enough (portrait) for its note names; the header holds the bar numbers.
    """
    w, h = view.width, view.height
    short = min(w, h)
    font = font_px(view) if state.show_text else 0
    kb = max(round(short * 0.07), round(2.6 * font)) if state.show_keyboard else 0
    line = float(max(1, round(short / 1080)))
    if view.orientation == "landscape":
        hb = font + 6 if font else 0
        return Layout(view, (kb, hb, w, h), (0, hb, kb, h), (kb, 0, w, hb), font, line)
    hb = round(2.5 * font) if font else 0
    return Layout(view, (hb, 0, w, h - kb), (hb, h - kb, w, h), (0, 0, hb, h - kb), font, line)


def velocity_colors(velocity: np.ndarray) -> np.ndarray:
    """RGB for MIDI velocities 1..127 along a viridis ramp."""
    x = (np.asarray(velocity, np.float64) - 1) / 126 * (len(_VEL_STOPS) - 1)
    i = np.clip(np.floor(x).astype(int), 0, len(_VEL_STOPS) - 2)
    f = (x - i)[:, None]
    return np.round(_VEL_STOPS[i] * (1 - f) + _VEL_STOPS[i + 1] * f).astype(np.uint8)


def covering_notes(pitch: np.ndarray, start: np.ndarray, end: np.ndarray,
                   reach: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What later notes on the same pitch cover of each note (notes sorted by start).

    Returns ``(has, t0, t1)``: later notes, drawn over this one, cover ``[t0, t1)``
    without a gap. Preferred: the run of the next notes (up to ``reach``), each starting
    before the run so far ends, from the next note's start to past this note's end;
    else the first of the next ``reach`` notes ending no earlier; else the next note
    (it may cover this note's start, when both start together).
    """
    n = len(pitch)
    has, t0, t1 = np.zeros(n, bool), np.zeros(n), np.zeros(n)
    if n < 2:
        return has, t0, t1
    p = np.asarray(pitch, np.int64)
    order = np.lexsort((np.arange(n), p))  # by pitch, then by start (index)
    ps = p[order]
    ss = np.asarray(start, np.float64)[order]
    es = np.asarray(end, np.float64)[order]
    idx = np.arange(n)
    nxt_ok = np.zeros(n, bool)
    nxt_ok[:-1] = ps[1:] == ps[:-1]
    nxt = np.minimum(idx + 1, n - 1)
    # the run of following notes without a gap, and the first single note ending later
    run_end = np.where(nxt_ok, es[nxt], -np.inf)
    run_ok = nxt_ok.copy()
    run_done = run_ok & (run_end >= es)
    one = np.where(run_done, nxt, -1)
    for o in range(2, reach + 1):
        c = np.minimum(idx + o, n - 1)
        valid = (idx + o < n) & (ps[c] == ps)
        run_ok &= valid & (ss[c] <= run_end)
        run_end = np.where(run_ok, np.maximum(run_end, es[c]), run_end)
        run_done |= run_ok & (run_end >= es)
        one = np.where((one < 0) & valid & (es[c] >= es), c, one)
    cs = np.where(run_done, ss[nxt], np.where(one >= 0, ss[np.maximum(one, 0)], ss[nxt]))
    ce = np.where(run_done, run_end, np.where(one >= 0, es[np.maximum(one, 0)], es[nxt]))
    has[order], t0[order], t1[order] = nxt_ok, cs, ce
    return has, t0, t1


class NoteGeometry:
    """Per-score note instances plus what culling needs (sorted starts, running max end)."""

    def __init__(self, state: SceneState) -> None:
        sc = state.score
        n = len(sc.notes)
        start, end = note_spans(sc)
        inst = np.zeros(n, INSTANCE_DTYPE)
        inst["rect"][:, 0], inst["rect"][:, 1] = start, end
        inst["rect"][:, 2] = sc.notes["pitch"]
        inst["rect"][:, 3] = sc.notes["pitch"].astype(np.float32) + 1
        if state.color_by == "velocity":
            inst["color"][:, :3] = velocity_colors(sc.notes["velocity"])
        else:
            inst["color"][:, :3] = PALETTE[sc.notes["track"] % len(PALETTE)]
        inst["color"][:, 3] = 255
        inst["flags"] = NOTE | CLIP | BORDER
        inst["flags"][state.selection] |= SELECTED
        # ``uv`` (unused by notes otherwise): what later notes on the same pitch, drawn
        # over this one, cover of it. The note shader leaves that part out (cheaper fill,
        # the same pixels); see ``vs_note`` in pianoroll.wgsl.
        has, c0, c1 = covering_notes(sc.notes["pitch"], start, end)
        inst["uv"][has, 0] = c0[has]
        inst["uv"][has, 1] = c1[has]
        inst["uv"][has, 2] = 1.0
        self.instances = inst
        self.start = start
        self.run_end = np.maximum.accumulate(end) if n else np.zeros(0)
        self.revision = state.score_revision

    def visible_range(self, t0: float, t1: float) -> tuple[int, int]:
        """Instance range ``[lo, hi)`` holding every note that overlaps ``[t0, t1)``."""
        lo = int(np.searchsorted(self.run_end, t0, side="right"))
        hi = int(np.searchsorted(self.start, t1, side="left"))
        return lo, max(lo, hi)


def _grid_ticks(state: SceneState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar-line ticks, their bar numbers (1-based) and beat-line ticks."""
    sc = state.score
    end = max(sc.end_tick, 1)
    sigs = sorted(sc.time_signatures, key=lambda t: t.tick) or []
    bars: list[int] = []
    beats: list[int] = []
    tick = 0
    i = 0
    while tick <= end and len(bars) < 20_000:
        while i + 1 < len(sigs) and sigs[i + 1].tick <= tick:
            i += 1
        num, den = (sigs[i].numerator, sigs[i].denominator) if sigs else (4, 4)
        beat = max(sc.tpq * 4 // den, 1)
        bars.append(tick)
        beats.extend(tick + beat * k for k in range(1, num))
        tick += beat * num
    b = np.asarray(bars, np.int64)
    return b, np.arange(1, len(b) + 1), np.asarray(beats, np.int64)


def _rects(n: int) -> np.ndarray:
    out = np.zeros(n, INSTANCE_DTYPE)
    out["color"][:, 3] = 255
    return out


def _screen(lay: Layout, x0: float, y0: float, x1: float, y1: float) -> tuple[float, ...]:
    """A screen rectangle as ``(a0, a1, b0, b1)`` for instances flagged A_PX | B_PX."""
    return (y0, y1, x0, x1) if lay.portrait else (x0, x1, y0, y1)


def _text(lay: Layout, atlas: object, text: str, x: float, y: float, color: tuple[int, ...],
          anchor_a: float | None = None, flags: int = 0) -> np.ndarray:
    """Glyph instances for ``text`` with its top-left at screen ``(x, y)``.

    With ``anchor_a`` the time-axis coordinate is a world time (bar numbers) and
    ``x``/``y`` along that axis become offsets from it.
    """
    from mos_lab.theater.text import GlyphAtlas

    assert isinstance(atlas, GlyphAtlas)
    q = atlas.quads(text)
    g = _rects(len(q))
    if not len(q):
        return g
    if anchor_a is None:  # both axes in pixels: the anchor is the screen origin
        g["rect"][:] = _screen(lay, 0, 0, 0, 0)
        g["flags"] = A_PX | B_PX | TEXTURED | flags
    else:  # the time axis at a world time, the other axis at pixel 0
        g["rect"][:] = (anchor_a, anchor_a, 0, 0)
        g["flags"] = B_PX | TEXTURED | flags
    g["offs"][:] = q[:, :4] + np.array([x, y, x, y], np.float32)
    g["uv"][:] = q[:, 4:]
    g["color"][:] = color
    return g


def overlay_instances(state: SceneState, lay: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per-view instances drawn under the notes (bands, grid) and over them (rest)."""
    from mos_lab.theater.text import glyph_atlas

    lo, hi = state.pitch_range
    px0, py0, px1, py1 = lay.plot
    b_plot = (px0, px1) if lay.portrait else (py0, py1)
    under: list[np.ndarray] = []
    over: list[np.ndarray] = []
    pitches = np.arange(lo, hi + 1)
    black = np.array([p % 12 in _BLACK_KEYS for p in pitches])
    # darker rows for black-key pitches, across the plot
    band = _rects(int(black.sum()))
    a_plot = (py0, py1) if lay.portrait else (px0, px1)
    band["rect"][:, 0], band["rect"][:, 1] = a_plot
    band["rect"][:, 2], band["rect"][:, 3] = pitches[black], pitches[black] + 1
    band["color"][:] = (28, 31, 38, 255)
    band["flags"] = A_PX | CLIP
    under.append(band)
    bars, numbers, beats = _grid_ticks(state)
    tempo = state.score.tempo
    if state.show_grid:
        axis = (0, 1) if lay.portrait else (1, 0)  # thickness goes along the time screen axis
        for ticks, half, color in ((beats, 0.5, (40, 44, 54, 255)), (bars, 1.0, (70, 76, 92, 255))):
            g = _rects(len(ticks))
            t = np.asarray(tempo.ticks_to_seconds(ticks)).reshape(-1)
            g["rect"][:, 0], g["rect"][:, 1] = t, t
            g["rect"][:, 2], g["rect"][:, 3] = b_plot
            half *= lay.line
            g["offs"][:] = (-half * axis[0], -half * axis[1], half * axis[0], half * axis[1])
            g["color"][:] = color
            g["flags"] = B_PX | CLIP
            under.append(g)
    ph = _rects(1)  # along the time axis: the pixels ``playhead_pixels`` gives (uniforms)
    ph["rect"][0] = (0, 0, *b_plot)
    ph["color"][0] = (255, 80, 60, 255)
    ph["flags"] = PLAYHEAD | B_PX | CLIP
    over.append(ph)
    if state.show_keyboard:
        kx0, ky0, kx1, ky1 = lay.keys
        a0, a1 = (ky0, ky1) if lay.portrait else (kx0, kx1)
        depth = (a1 - a0) * 0.6
        for is_black, color, a_end in ((False, (226, 226, 222, 255), a1),
                                       (True, (18, 18, 22, 255), a0 + depth)):
            sel = black == is_black
            k = _rects(int(sel.sum()))
            k["rect"][:, 0], k["rect"][:, 1] = a0, a_end
            k["rect"][:, 2], k["rect"][:, 3] = pitches[sel], pitches[sel] + 1
            k["color"][:] = color
            k["flags"] = A_PX | KEY | (BORDER if not is_black else 0)
            over.append(k)
    atlas = glyph_atlas(lay.font_px) if lay.font_px else None
    if atlas is not None:
        over.extend(_labels(state, lay, atlas, pitches, bars, numbers))
    return np.concatenate(under), np.concatenate(over)


def _labels(state: SceneState, lay: Layout, atlas: object, pitches: np.ndarray,
            bars: np.ndarray, numbers: np.ndarray) -> list[np.ndarray]:
    """Glyphs: note names on the C keys, bar numbers in the header, the track legend."""
    from mos_lab.theater.text import GlyphAtlas

    assert isinstance(atlas, GlyphAtlas)
    out: list[np.ndarray] = []
    fh = atlas.height
    lo, hi = state.pitch_range
    kx0, ky0, kx1, ky1 = lay.keys
    row = ((lay.plot[2] - lay.plot[0]) if lay.portrait else (ky1 - ky0)) / (hi + 1 - lo)
    if state.show_keyboard and (lay.portrait or 12 * row >= 1.5 * fh):  # C rows 12 apart
        for p in pitches[pitches % 12 == 0]:
            name = f"C{p // 12 - 1}"
            w = atlas.measure(name)
            if lay.portrait:
                if w > row:
                    continue
                x = kx0 + (p - lo + 0.5) * row - w / 2
                out.append(_text(lay, atlas, name, x, ky1 - fh - 2, (40, 40, 46, 255)))
            else:
                y = ky1 - (p - lo + 0.5) * row - fh / 2
                out.append(_text(lay, atlas, name, kx1 - w - 3, y, (40, 40, 46, 255)))
    if state.show_grid and len(bars):
        secs = np.asarray(state.score.tempo.ticks_to_seconds(bars)).reshape(-1)
        extent = (lay.plot[3] - lay.plot[1]) if lay.portrait else (lay.plot[2] - lay.plot[0])
        need = (fh + 4) if lay.portrait else atlas.measure(str(numbers[-1])) + 8
        bar_px = extent * (secs[-1] / max(len(bars) - 1, 1)) / state.span  # mean bar width
        step = max(1, int(np.ceil(need / max(bar_px, 1e-9))))
        hx0, hy0 = lay.header[:2]
        for t, n in zip(secs[::step], numbers[::step], strict=True):
            if lay.portrait:
                out.append(_text(lay, atlas, str(n), hx0 + 2, -fh - 1, (150, 156, 170, 255),
                                 anchor_a=float(t), flags=CLIP_T))
            else:
                out.append(_text(lay, atlas, str(n), 3, hy0 + 3, (150, 156, 170, 255),
                                 anchor_a=float(t), flags=CLIP_T))
    out.extend(_legend(state, lay, atlas))
    return out


def _legend(state: SceneState, lay: Layout, atlas: object) -> list[np.ndarray]:
    """Track names with colour swatches in the plot's top-right corner."""
    from mos_lab.theater.text import GlyphAtlas

    assert isinstance(atlas, GlyphAtlas)
    sc = state.score
    used = np.unique(sc.notes["track"]) if len(sc.notes) else np.zeros(0, int)
    if state.color_by != "track" or not len(used):
        return []
    names = [(int(t), (sc.tracks[t].name or f"Track {t + 1}")[:24]) for t in used[:16]]
    fh = atlas.height
    width = max(atlas.measure(n) for _, n in names) + fh + 12
    x0 = lay.plot[2] - width - 8
    y0 = lay.plot[1] + 8
    if x0 < lay.plot[0] + 8 or y0 + len(names) * (fh + 2) + 8 > lay.plot[3]:
        return []
    box = _rects(1)
    box["rect"][0] = _screen(lay, x0, y0, x0 + width, y0 + len(names) * (fh + 2) + 6)
    box["color"][0] = (10, 11, 14, 200)
    box["flags"] = A_PX | B_PX
    out = [box]
    for i, (t, name) in enumerate(names):
        y = y0 + 4 + i * (fh + 2)
        sw = _rects(1)
        sw["rect"][0] = _screen(lay, x0 + 4, y + 2, x0 + 4 + fh - 4, y + fh - 2)
        sw["color"][0, :3] = PALETTE[t % len(PALETTE)]
        sw["flags"] = A_PX | B_PX
        out.append(sw)
        out.append(_text(lay, atlas, name, x0 + fh + 4, y, (220, 222, 228, 255)))
    return out


def background_instance(lay: Layout) -> np.ndarray:
    """One opaque rectangle of the background colour over the whole view.

    A partial redraw (the live path) paints it first inside its scissor rectangle: the
    same pixels a cleared target gives, without clearing the rest of the target.
    """
    bg = _rects(1)
    bg["rect"][0] = _screen(lay, 0, 0, lay.view.width, lay.view.height)
    bg["color"][0] = BACKGROUND
    bg["flags"] = A_PX | B_PX
    return bg


def uniforms(state: SceneState, lay: Layout, tile: tuple[int, int, int, int]) -> np.ndarray:
    """The per-frame uniform block: view, tile, plot, window, highlight colours."""
    t0, t1 = state.window
    lo, hi = state.pitch_range
    u = np.zeros(UNIFORM_FLOATS, np.float32)
    u[0:4] = (lay.view.width, lay.view.height, tile[0], tile[1])
    u[4:8] = (tile[2], tile[3], 1.0 if lay.portrait else 0.0, state.playhead)
    u[8:12] = lay.plot
    u[12:16] = (t0, t1, lo, hi + 1)
    u[16:20] = (1.0, 1.0, 1.0, 0.45)  # active notes: mix towards white
    u[20:24] = (1.0, 0.9, 0.2, 0.7)  # selected notes: mix towards yellow
    u[24:26] = (0.55, MIN_NOTE_PX)  # border brightness, minimum note length (px)
    u[26:28] = playhead_pixels(state.playhead, state.window, lay)
    u[28:32] = KEY_COLOR
    u.view(np.uint32)[32:36] = key_bits(state)
    return u


def key_bits(state: SceneState) -> np.ndarray:
    """The keys to light: bit ``p`` (of four u32 words) set when a note of pitch ``p``
    sounds at the playhead."""
    words = np.zeros(4, np.uint32)
    if state.show_keyboard and len(state.score.notes):
        pitches = np.unique(state.score.notes["pitch"][state.active_notes()]).astype(np.int64)
        pitches = pitches[(pitches >= 0) & (pitches < 128)]
        np.bitwise_or.at(words, pitches >> 5, np.left_shift(1, pitches & 31).astype(np.uint32))
    return words


def playhead_pixels(t: float, window: tuple[float, float], lay: Layout) -> tuple[int, int]:
    """The playhead's pixels ``[p0, p1)`` along the time axis: whole pixels (3 lines wide,
    centred on the time), so that a live frame can copy it exactly where a full render
    draws it; far outside the view when the time is."""
    t0, t1 = window
    x0, y0, x1, y1 = lay.plot
    f = (t - t0) / (t1 - t0) if t1 > t0 and math.isfinite(t) else -1.0
    f = min(max(f, -1.0), 2.0)
    a = y1 - f * (y1 - y0) if lay.portrait else x0 + f * (x1 - x0)
    hw = 1.5 * lay.line
    p0 = math.ceil(a - hw - 0.5)
    return p0, p0 + round(2 * hw)
