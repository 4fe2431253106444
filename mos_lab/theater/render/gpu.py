"""The wgpu renderer: offscreen targets, one instanced draw for all notes, tiles, recovery.

Note instances are uploaded once per score revision, overlays once per view; a frame
writes one uniform block per tile and draws: overlay-under, notes (ONE instanced call,
culled to the visible range with ``first_instance``), overlay-over. Each target size owns
one persistent MAP_READ buffer. A lost device (exception or ``wgpu`` ERROR record) is
rebuilt from scratch and the frame re-rendered at the same playhead; any other native
error yields a CPU-drawn frame instead of an exception escaping to the kernel.

Speed (software adapters render on the CPU, so cost follows the pixels touched):

- Opaque instances (notes, grid, keys, playhead) are drawn without blending, clipping is
  a scissor rectangle, and the fragment stage only picks the fill or the border colour.
  Notes have their own vertex stage, which leaves out the part of a note that later
  notes on the same pitch cover (``geometry.covering_notes``): same pixels, less fill.
- **Live frames.** A view keeps its last frame (pixels on the CPU side) when it is paged
  or two full renders in a row had the same window. When the next frame differs only in
  what the playhead moves (the playhead line, the highlight of notes starting or
  stopping to sound), only those rectangles are redrawn (every layer, in order, under a
  scissor) and read back; the rest is the previous frame. The result is the image a
  full render gives (tests compare them bit for bit), for a fraction of the pixels.
  ``live_updates = False`` turns this off. A live frame is one upload (uniforms and the
  instances touching the rectangles), one pass (a scissor per rectangle, a draw per run
  of one pipeline), one submit and one map of the readback (without wgpu-py's extra
  empty submit); rectangles close together are read back in one copy, and a frame whose
  playhead did not move is the kept frame (nothing drawn).
- Frames are returned in a recycled array when the caller dropped the previous one (a
  live frame then only patches it), so large frames do not pay for fresh pages.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import wgpu

from mos_lab.theater.cpu import CPURenderer, screen_boxes
from mos_lab.theater.geometry import (
    CLIP,
    CLIP_T,
    INSTANCE_DTYPE,
    PLAYHEAD,
    TEXTURED,
    Layout,
    NoteGeometry,
    background_instance,
    make_layout,
    overlay_instances,
    uniforms,
)
from mos_lab.theater.render.base import RenderStats
from mos_lab.theater.render.device import GPUContext, LossWatch, is_device_lost
from mos_lab.theater.scene import SceneState, View
from mos_lab.theater.text import glyph_atlas

FORMAT = wgpu.TextureFormat.rgba8unorm
MAX_TARGETS = 4  # target sizes kept alive (LRU); each holds a texture and a readback buffer
MAX_OVERLAYS = 8
PIPE_OPAQUE, PIPE_BLEND, PIPE_NOTE = 0, 1, 2
CLIP_NONE, CLIP_PLOT, CLIP_TIME = 0, 1, 2
LIVE_MAX_PIXELS = 3840 * 2160  # views up to 4K keep their last frame for live updates
LIVE_MAX_RECTS = 8  # more changed rectangles than this are merged into their bounding box
LIVE_MAX_AREA = 0.3  # a larger changed fraction of the frame is rendered in full
LIVE_HEAD = 256  # live uploads: the uniform block, padded to the uniform offset alignment
LIVE_COPY_SLACK = 16384  # live rectangles are read back in one copy of their bounding box
# when it adds at most this many pixels (a copy costs about as much as that many pixels)

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-image pixels (x1, y1 excluded)
Run = tuple[int, int, int, int]  # pipeline, clip, first instance, count


def shader_source() -> str:
    """The WGSL source, shipped as package data."""
    return (resources.files("mos_lab.theater.render") / "shaders" / "pianoroll.wgsl").read_text()


def instance_classes(inst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per instance: the pipeline (opaque or blended) and the clip rectangle it needs."""
    fl = inst["flags"]
    blend = ((fl & TEXTURED) != 0) | (inst["color"][:, 3] < 255)
    pipe = np.where(blend, PIPE_BLEND, PIPE_OPAQUE)
    clip = np.where((fl & CLIP) != 0, CLIP_PLOT,
                    np.where((fl & CLIP_T) != 0, CLIP_TIME, CLIP_NONE))
    return pipe.astype(np.int64), clip.astype(np.int64)


def runs(pipe: np.ndarray, clip: np.ndarray, first: int) -> list[Run]:
    """Consecutive instances sharing pipeline and clip: one draw each, order kept."""
    n = len(pipe)
    if not n:
        return []
    code = pipe * 4 + clip
    cuts = np.flatnonzero(code[1:] != code[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [n]])
    return [(int(pipe[s]), int(clip[s]), first + int(s), int(e - s))
            for s, e in zip(starts, ends, strict=True)]


def clip_rects(lay: Layout) -> dict[int, Rect]:
    """Scissor rectangles (full-image pixels) of the clip classes: the same pixels the
    per-pixel plot test kept, as the plot's edges are whole pixels."""
    w, h = lay.view.width, lay.view.height
    x0, y0, x1, y1 = (round(v) for v in lay.plot)
    time_band = (0, y0, w, y1) if lay.portrait else (x0, 0, x1, h)
    return {CLIP_NONE: (0, 0, w, h), CLIP_PLOT: (x0, y0, x1, y1), CLIP_TIME: time_band}


def pixel_rects(boxes: np.ndarray, w: int, h: int) -> np.ndarray:
    """Integer rectangles holding every pixel of float boxes, with a 1 px safety margin
    (the GPU's float maths may differ in the last bit), clipped to the image."""
    r = np.empty((len(boxes), 4), np.int64)
    with np.errstate(invalid="ignore"):
        r[:, 0] = np.clip(np.floor(boxes[:, 0]) - 1, 0, w)
        r[:, 1] = np.clip(np.floor(boxes[:, 1]) - 1, 0, h)
        r[:, 2] = np.clip(np.ceil(boxes[:, 2]) + 1, 0, w)
        r[:, 3] = np.clip(np.ceil(boxes[:, 3]) + 1, 0, h)
    return r


def _area(r: Rect) -> int:
    return (r[2] - r[0]) * (r[3] - r[1])


def _bbox(a: Rect, b: Rect) -> Rect:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def merge_rects(rects: list[Rect], slack: int = 4096) -> list[Rect]:
    """Fewer rectangles covering ``rects``: two are merged into their bounding box when it
    adds at most ``slack`` pixels (each rectangle costs draw calls and a readback)."""
    if len(rects) == 2:  # the usual case (old and new playhead), without the search
        box = _bbox(rects[0], rects[1])
        return [box] if _area(box) <= _area(rects[0]) + _area(rects[1]) + slack else list(rects)
    out = list(rects)
    merged = True
    while merged and len(out) > 1:
        merged = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                box = _bbox(out[i], out[j])
                if _area(box) <= _area(out[i]) + _area(out[j]) + slack:
                    out[i] = box
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    if len(out) > LIVE_MAX_RECTS:
        box = out[0]
        for r in out[1:]:
            box = _bbox(box, r)
        out = [box]
    return out


def _clip_rect(box: tuple[float, ...], clip: tuple[float, ...]) -> Rect:
    """Integer pixels holding the float ``box`` with a 1 px margin (the GPU's float maths
    may differ in the last bit), within ``clip`` (whole pixels)."""
    return (max(math.floor(box[0]) - 1, int(clip[0])),
            max(math.floor(box[1]) - 1, int(clip[1])),
            min(math.ceil(box[2]) + 1, int(clip[2])),
            min(math.ceil(box[3]) + 1, int(clip[3])))


def _intersect(a: Rect, b: Rect) -> Rect | None:
    r = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return r if r[0] < r[2] and r[1] < r[3] else None


def _hits(rects: np.ndarray, r: Rect) -> np.ndarray:
    return ((rects[:, 0] < r[2]) & (rects[:, 2] > r[0])
            & (rects[:, 1] < r[3]) & (rects[:, 3] > r[1]))


@dataclass
class _Target:
    texture: Any
    view: Any
    readback: Any  # persistent MAP_READ buffer for this size
    bytes_per_row: int


@dataclass
class _Overlay:
    buffer: Any  # [background, under..., over...]
    n_under: int
    n_over: int
    atlas: Any  # texture view
    layout: Layout
    data: np.ndarray  # the instances of ``buffer``
    pipe: np.ndarray
    clip: np.ndarray
    under: list[Run]
    over: list[Run]
    playhead: int  # index of the playhead instance in ``data``
    key: tuple[Any, ...]
    bind: Any = None  # bind group: uniforms and this overlay's atlas
    ph_consts: tuple[Any, ...] | None = None  # what ``_playhead_rect`` needs (made once)
    live_bind: tuple[Any, Any] | None = None  # live redraws: (their buffer, bind group)


@dataclass
class _Pick:
    """What live updates of one kept frame pick their instances from."""

    source: np.ndarray  # the overlay's instances, then notes lo..hi
    pipe: np.ndarray  # their pipelines
    overlay_rects: np.ndarray  # pixel rectangles of the overlay's instances
    note_rects: np.ndarray  # pixel rectangles of notes lo..hi
    starts: np.ndarray  # start and end times of notes lo..hi (for the highlight)
    ends: np.ndarray


@dataclass
class _Live:
    """A view's last frame and what in it depends on the playhead."""

    key: tuple[Any, ...]  # everything but the playhead: a different key means a full render
    frame: np.ndarray  # the pixels (ours; callers get copies)
    playhead_rect: Rect
    active: np.ndarray  # highlighted (sounding) note indices in ``frame``
    lo: int
    hi: int
    pick: _Pick | None = None  # made on the first live update
    mirror: weakref.ref[np.ndarray] | None = None  # the output last handed out (= frame)
    uniforms: bytes = b""  # the uniform block ``frame`` was drawn with


class GPURenderer:
    """Scene snapshots to RGBA images on a wgpu device (lavapipe counts)."""

    name = "wgpu"

    def __init__(self, open_context: Callable[[], GPUContext], *,
                 max_texture: int | None = None) -> None:
        self._open_context = open_context
        self._lock = threading.RLock()
        self.stats = RenderStats()
        self.live: Counter[str] = Counter()
        self._watch = LossWatch().attach()
        self._fallback = CPURenderer()
        self._max_texture_override = max_texture
        self._ctx: GPUContext | None = None
        self._spare: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._frames: OrderedDict[View, _Live] = OrderedDict()
        self._filled: dict[tuple[int, int], _Live | None] = {}  # whose frame a spare holds
        self._last_keys: OrderedDict[View, tuple[Any, ...]] = OrderedDict()  # last full render
        self.live_updates = True  # False: every frame is a full render (tests, benchmarks)
        try:
            self._build()
        except BaseException:
            self._watch.detach()  # no renderer: leave the wgpu logger as it was
            raise

    # -- device and resources -------------------------------------------------------------
    def _build(self) -> None:
        ctx = self._open_context()
        dev = ctx.device
        self._ctx = ctx
        self.description = ctx.describe()
        self.max_texture = min(ctx.max_texture, self._max_texture_override or ctx.max_texture)
        module = dev.create_shader_module(code=shader_source())
        entries = [
            {"binding": 0, "visibility": wgpu.ShaderStage.VERTEX | wgpu.ShaderStage.FRAGMENT,
             "buffer": {"type": wgpu.BufferBindingType.uniform}},
            {"binding": 1, "visibility": wgpu.ShaderStage.FRAGMENT,
             "texture": {"sample_type": wgpu.TextureSampleType.float}},
        ]
        self._bgl = dev.create_bind_group_layout(entries=entries)
        attrs = [
            {"format": wgpu.VertexFormat.float32x4, "offset": 0, "shader_location": 0},
            {"format": wgpu.VertexFormat.float32x4, "offset": 16, "shader_location": 1},
            {"format": wgpu.VertexFormat.float32x4, "offset": 32, "shader_location": 2},
            {"format": wgpu.VertexFormat.unorm8x4, "offset": 48, "shader_location": 3},
            {"format": wgpu.VertexFormat.uint32, "offset": 52, "shader_location": 4},
        ]
        note_attrs = [a for a in attrs if a["shader_location"] in (0, 2, 3, 4)]
        blend = {"color": {"src_factor": "src-alpha", "dst_factor": "one-minus-src-alpha",
                           "operation": "add"},
                 "alpha": {"src_factor": "one", "dst_factor": "one-minus-src-alpha",
                           "operation": "add"}}
        layout = dev.create_pipeline_layout(bind_group_layouts=[self._bgl])

        def pipeline(vs: str, fs: str, attributes: list[dict[str, Any]],
                     blending: dict[str, Any] | None) -> Any:
            target: dict[str, Any] = {"format": FORMAT}
            if blending is not None:
                target["blend"] = blending
            return dev.create_render_pipeline(
                layout=layout,
                vertex={"module": module, "entry_point": vs, "buffers": [
                    {"array_stride": INSTANCE_DTYPE.itemsize, "step_mode": "instance",
                     "attributes": attributes}]},
                primitive={"topology": wgpu.PrimitiveTopology.triangle_strip},
                fragment={"module": module, "entry_point": fs, "targets": [target]},
            )

        self._pipes = {PIPE_OPAQUE: pipeline("vs_main", "fs_opaque", attrs, None),
                       PIPE_BLEND: pipeline("vs_main", "fs_main", attrs, blend),
                       PIPE_NOTE: pipeline("vs_note", "fs_opaque", note_attrs, None)}
        self._uniform = self._buffer(112, wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST)
        self._blank_atlas = self._texture_from(np.zeros((1, 1), np.uint8))
        self._atlases: dict[int, Any] = {}
        self._notes: tuple[int, int, Any, NoteGeometry] | None = None
        self._overlays: OrderedDict[tuple[Any, ...], _Overlay] = OrderedDict()
        self._targets: OrderedDict[tuple[int, int], _Target] = OrderedDict()
        self._dynamic: tuple[Any, int] | None = None  # vertex buffer of live redraws, size

    def _buffer(self, size: int, usage: int, data: np.ndarray | None = None) -> Any:
        assert self._ctx is not None
        dev = self._ctx.device
        if data is not None:
            buf = dev.create_buffer_with_data(data=data.tobytes(), usage=usage)
        else:
            buf = dev.create_buffer(size=size, usage=usage)
        self.live["buffers"] += 1
        return buf

    def _texture_from(self, alpha: np.ndarray) -> Any:
        assert self._ctx is not None
        dev = self._ctx.device
        h, w = alpha.shape
        usage = wgpu.TextureUsage.TEXTURE_BINDING | wgpu.TextureUsage.COPY_DST
        tex = dev.create_texture(size=(w, h, 1), format=wgpu.TextureFormat.r8unorm, usage=usage)
        dev.queue.write_texture({"texture": tex}, np.ascontiguousarray(alpha).tobytes(),
                                {"bytes_per_row": w, "rows_per_image": h}, (w, h, 1))
        self.live["textures"] += 1
        return tex.create_view()

    def _destroy(self, kind: str, obj: Any) -> None:
        self.live[kind] -= 1
        with contextlib.suppress(Exception):  # a lost device must not stop cleanup
            obj.destroy()

    def _note_buffer(self, state: SceneState) -> tuple[Any, NoteGeometry]:
        key = (id(state.score), state.score_revision)
        if self._notes is None or self._notes[:2] != key:
            if self._notes is not None:
                self._destroy("buffers", self._notes[2])
                self._notes = None
            geo = NoteGeometry(state)
            data = geo.instances if len(geo.instances) else np.zeros(1, INSTANCE_DTYPE)
            buf = self._buffer(0, wgpu.BufferUsage.VERTEX, data)
            self._notes = (key[0], key[1], buf, geo)
        return self._notes[2], self._notes[3]

    def _overlay(self, state: SceneState, view: View) -> _Overlay:
        key = (view, id(state.score), state.score_revision, state.pitch_range, state.span,
               state.show_keyboard, state.show_grid, state.show_text)
        ov = self._overlays.get(key)
        if ov is not None:
            self._overlays.move_to_end(key)
            return ov
        lay = make_layout(view, state)
        under, over = overlay_instances(state, lay)
        data = np.concatenate([background_instance(lay), under, over])
        buf = self._buffer(0, wgpu.BufferUsage.VERTEX, data)
        atlas = glyph_atlas(lay.font_px) if lay.font_px else None
        tex = self._blank_atlas
        if atlas is not None:
            if atlas.height not in self._atlases:
                self._atlases[atlas.height] = self._texture_from(atlas.image)
            tex = self._atlases[atlas.height]
        pipe, clip = instance_classes(data)
        nu = len(under)
        ph = 1 + nu + int(np.flatnonzero((over["flags"] & PLAYHEAD) != 0)[0])
        ov = _Overlay(buf, nu, len(over), tex, lay, data, pipe, clip,
                      runs(pipe[1:1 + nu], clip[1:1 + nu], 1),
                      runs(pipe[1 + nu:], clip[1 + nu:], 1 + nu), ph, key)
        self._overlays[key] = ov
        for k in [k for k in self._overlays if k[0] == view and k != key]:
            self._destroy("buffers", self._overlays.pop(k).buffer)  # the view's old overlay
        while len(self._overlays) > MAX_OVERLAYS:
            self._destroy("buffers", self._overlays.popitem(last=False)[1].buffer)
        return ov

    def _target(self, w: int, h: int) -> _Target:
        t = self._targets.get((w, h))
        if t is not None:
            self._targets.move_to_end((w, h))
            return t
        assert self._ctx is not None
        tex = self._ctx.device.create_texture(
            size=(w, h, 1), format=FORMAT,
            usage=wgpu.TextureUsage.RENDER_ATTACHMENT | wgpu.TextureUsage.COPY_SRC)
        self.live["textures"] += 1
        bpr = (w * 4 + 255) // 256 * 256
        rb = self._buffer(bpr * h, wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST)
        t = _Target(tex, tex.create_view(), rb, bpr)
        self._targets[(w, h)] = t
        while len(self._targets) > MAX_TARGETS:
            self._free_target(self._targets.popitem(last=False)[1])
        return t

    def _free_target(self, t: _Target) -> None:
        self._destroy("textures", t.texture)
        self._destroy("buffers", t.readback)

    def _dynamic_buffer(self, nbytes: int) -> Any:
        """The buffer live redraws upload to, in one write: their uniform block, then at
        ``LIVE_HEAD`` their few instances (grown, never new per frame)."""
        nbytes += LIVE_HEAD
        if self._dynamic is None or self._dynamic[1] < nbytes:
            if self._dynamic is not None:
                self._destroy("buffers", self._dynamic[0])
                self._dynamic = None
            size = max(1 << 16, 1 << (nbytes - 1).bit_length())
            usage = wgpu.BufferUsage.VERTEX | wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST
            self._dynamic = (self._buffer(size, usage), size)
        return self._dynamic[0]

    def _out(self, h: int, w: int) -> np.ndarray:
        """An output array: the previous one of this size when its caller let go of it
        (nothing but this cache refers to it), else a new one."""
        arr = self._spare.get((h, w))
        # references: the cache, ``arr`` and getrefcount's argument; a caller's copy or view
        # adds one
        if arr is None or sys.getrefcount(arr) > 3:
            arr = np.empty((h, w, 4), np.uint8)
            self._spare[(h, w)] = arr
        self._spare.move_to_end((h, w))
        while len(self._spare) > MAX_TARGETS:
            self._spare.popitem(last=False)
        return arr

    # -- frames -----------------------------------------------------------------------------
    def render(self, state: SceneState, view: View) -> np.ndarray:
        """One frame; never raises for GPU trouble (recovers or draws on the CPU)."""
        with self._lock:
            for attempt in (0, 1):
                try:
                    self._watch.take()
                    img = self._render(state, view)
                    lost = [m for m in self._watch.take() if is_device_lost(RuntimeError(m))]
                    if not lost:
                        self.stats.frames += 1
                        return img
                    self.stats.error(f"device lost (wgpu log): {lost[0][:200]}")
                except Exception as exc:
                    self._frames.pop(view, None)  # its last frame may be half updated
                    if not is_device_lost(exc):
                        return self._fallback_frame(state, view, exc)
                    self.stats.error(f"device lost: {str(exc)[:200]}")
                if attempt == 0 and not self._recover():
                    break
            return self._fallback_frame(state, view, None)

    def _fallback_frame(self, state: SceneState, view: View, exc: Exception | None) -> np.ndarray:
        if exc is not None:
            self.stats.error(f"{type(exc).__name__}: {str(exc)[:300]}")
        self.stats.fallback_frames += 1
        return self._fallback.render(state, view)

    def _recover(self) -> bool:
        """Rebuild device, pipeline, buffers and targets (all state is re-derivable)."""
        self._forget()
        try:
            self._build()
        except Exception as exc:
            self.stats.error(f"device recreation failed: {exc}")
            self._ctx = None
            return False
        self.stats.recoveries += 1
        return True

    def _forget(self) -> None:
        """Drop every resource of the current device (it may already be gone)."""
        if self._notes is not None:
            self._destroy("buffers", self._notes[2])
        for ov in self._overlays.values():
            self._destroy("buffers", ov.buffer)
        for t in self._targets.values():
            self._free_target(t)
        if self._ctx is not None:
            self._destroy("buffers", self._uniform)
            if self._dynamic is not None:
                self._destroy("buffers", self._dynamic[0])
            self.live["textures"] -= 1 + len(self._atlases)  # atlas views die with the device
        self._notes, self._atlases, self._dynamic = None, {}, None
        self._overlays, self._targets = OrderedDict(), OrderedDict()
        self._frames, self._last_keys = OrderedDict(), OrderedDict()

    def _render(self, state: SceneState, view: View) -> np.ndarray:
        if self._ctx is None and not self._recover():
            raise RuntimeError("no wgpu device")
        assert self._ctx is not None
        dev = self._ctx.device
        notes, geo = self._note_buffer(state)
        ov = self._overlay(state, view)
        bind = ov.bind
        if bind is None:  # one per overlay (its atlas), made on first use
            bind = ov.bind = dev.create_bind_group(layout=self._bgl, entries=[
                {"binding": 0, "resource": {"buffer": self._uniform, "offset": 0, "size": 112}},
                {"binding": 1, "resource": ov.atlas}])
        W, H, m = view.width, view.height, self.max_texture
        single = max(W, H) <= m
        key = (ov.key, id(state.score), state.score_revision, state.window, m)
        if single and self.live_updates:
            img = self._live_frame(state, view, key, ov, geo)
            if img is not None:
                return img
        lo, hi = geo.visible_range(*state.window)
        clips = clip_rects(ov.layout)
        out = self._out(H, W)
        calls = tiles = 0
        for ty in range(0, H, m):
            for tx in range(0, W, m):
                tw, th = min(m, W - tx), min(m, H - ty)
                tile = (tx, ty, tx + tw, ty + th)
                t = self._target(tw, th)
                u = uniforms(state, ov.layout, (tx, ty, tw, th))
                dev.queue.write_buffer(self._uniform, 0, u.tobytes())
                enc = dev.create_command_encoder()
                rp = enc.begin_render_pass(color_attachments=[{
                    "view": t.view, "load_op": "clear", "store_op": "store",
                    "clear_value": (21 / 255, 23 / 255, 28 / 255, 1.0)}])
                rp.set_bind_group(0, bind)
                draws = [(ov.buffer, r) for r in ov.under]
                draws.append((notes, (PIPE_NOTE, CLIP_PLOT, lo, hi - lo)))
                draws += [(ov.buffer, r) for r in ov.over]
                calls += self._draw(rp, draws, clips, tile, (tx, ty))
                rp.end()
                tiles += 1
                enc.copy_texture_to_buffer(
                    {"texture": t.texture},
                    {"buffer": t.readback, "offset": 0, "bytes_per_row": t.bytes_per_row,
                     "rows_per_image": th}, (tw, th, 1))
                dev.queue.submit([enc.finish()])
                t.readback.map_sync(wgpu.MapMode.READ)
                try:
                    raw = np.frombuffer(t.readback.read_mapped(copy=False), np.uint8)
                    out[ty:ty + th, tx:tx + tw] = raw.reshape(th, t.bytes_per_row)[:, :tw * 4] \
                        .reshape(th, tw, 4)
                finally:
                    t.readback.unmap()
        s = self.stats
        s.draw_calls, s.note_draw_calls, s.tiles, s.notes_drawn = calls, tiles, tiles, hi - lo
        s.live = False
        s.pixels_drawn = W * H
        # keep this frame for live updates when the view is paged or the previous frame of
        # this view had the same key (a still view): a scrolling view (a new window every
        # frame) never pays for the copy
        again = state.paged or self._last_keys.get(view) == key
        self._last_keys[view] = key
        self._last_keys.move_to_end(view)
        while len(self._last_keys) > MAX_TARGETS:
            self._last_keys.popitem(last=False)
        if single and self.live_updates and W * H <= LIVE_MAX_PIXELS and again:
            self._frames[view] = _Live(key, out.copy(), self._playhead_rect(ov, u),
                                       self._active(geo, lo, hi, u), lo, hi,
                                       mirror=weakref.ref(out), uniforms=u.tobytes())
            self._frames.move_to_end(view)
            while len(self._frames) > MAX_TARGETS:
                self._frames.popitem(last=False)
        else:
            self._frames.pop(view, None)
        self._filled[(H, W)] = self._frames.get(view)  # what ``out`` now holds
        return out

    def _draw(self, rp: Any, draws: list[tuple[Any, Run]], clips: dict[int, Rect],
              region: Rect, origin: tuple[int, int] = (0, 0)) -> int:
        """Issue ``draws`` (buffer, run) scissored to their clip within ``region`` (full
        image pixels; the target starts at ``origin``); returns the draw calls made."""
        calls = 0
        cur_pipe = cur_buf = None
        for buf, (pipe, clip, first, count) in draws:
            r = _intersect(clips[clip], region) if count > 0 else None
            if r is None:
                continue
            if pipe != cur_pipe:
                rp.set_pipeline(self._pipes[pipe])
                cur_pipe = pipe
            if buf is not cur_buf:
                rp.set_vertex_buffer(0, buf)
                cur_buf = buf
            ox, oy = origin
            rp.set_scissor_rect(r[0] - ox, r[1] - oy, r[2] - r[0], r[3] - r[1])
            rp.draw(4, count, 0, first)
            calls += 1
        return calls

    @staticmethod
    def _active(geo: NoteGeometry, lo: int, hi: int, u: np.ndarray) -> np.ndarray:
        """Notes the shader highlights (``start <= playhead < end`` in f32), lo..hi only."""
        r = geo.instances["rect"][lo:hi]
        ph = u[7]
        return lo + np.flatnonzero((r[:, 0] <= ph) & (ph < r[:, 1]))

    @staticmethod
    def _playhead_rect(ov: _Overlay, u: np.ndarray) -> Rect:
        """Pixels the playhead line may touch (1 px margin), within the plot: where it
        changes anything (it is clipped to the plot)."""
        c = ov.ph_consts
        if c is None:
            lay = ov.layout
            ph = ov.data[ov.playhead]
            c = ov.ph_consts = (
                [float(v) for v in ph["offs"]], float(ph["rect"][2]), float(ph["rect"][3]),
                tuple(float(v) for v in lay.plot), lay.portrait, lay.plot)
        o, b0, b1, (x0, y0, x1, y1), portrait, plot = c
        f = (float(u[7]) - float(u[12])) / (float(u[13]) - float(u[12]))
        if portrait:
            a = y1 - f * (y1 - y0)
            box = (b0 + o[0], a + o[1], b1 + o[2], a + o[3])
        else:
            a = x0 + f * (x1 - x0)
            box = (a + o[0], b0 + o[1], a + o[2], b1 + o[3])
        return _clip_rect(box, plot)

    def _live_frame(self, state: SceneState, view: View, key: tuple[Any, ...], ov: _Overlay,
                    geo: NoteGeometry) -> np.ndarray | None:
        """The view's previous frame with only what the playhead changed redrawn, or None
        when a full render is due (first frame, anything but the playhead changed, or too
        much changed).

        What the playhead changes (the playhead line, the highlight of sounding notes) is
        clipped to the plot, so the changed rectangles are clipped to it too and one
        scissor per rectangle stands for every clip rule. Each rectangle is redrawn
        completely, in the frame's order: background, bands and grid, the notes touching
        it, the overlay over the notes; all rectangles in one pass (a scissor each) from
        one upload, then they alone are read back (one submit, one map). A frame whose
        uniforms did not change at all is the kept frame: nothing is drawn.
        """
        rec = self._frames.get(view)
        if rec is None or rec.key != key:
            return None
        assert self._ctx is not None
        W, H = view.width, view.height
        u = uniforms(state, ov.layout, (0, 0, W, H))
        ub = u.tobytes()
        if ub == rec.uniforms:  # the playhead did not move: the kept frame is this frame
            return self._kept_frame(view, rec, H, W)
        lo = rec.lo
        pk = rec.pick
        if pk is None:  # once per kept frame
            notes = geo.instances[lo:rec.hi]
            pk = rec.pick = _Pick(
                np.concatenate([ov.data, notes]),
                np.concatenate([ov.pipe, np.full(len(notes), PIPE_NOTE)]),
                pixel_rects(screen_boxes(ov.data, u), W, H),
                pixel_rects(screen_boxes(notes, u), W, H),
                np.ascontiguousarray(notes["rect"][:, 0]),
                np.ascontiguousarray(notes["rect"][:, 1]))
        ph = u[7]
        active = lo + np.flatnonzero((pk.starts <= ph) & (ph < pk.ends))  # as ``_active``
        ph_rect = self._playhead_rect(ov, u)
        rects: list[Rect] = [rec.playhead_rect, ph_rect]
        if len(active) != len(rec.active) or (active != rec.active).any():
            changed = np.setxor1d(rec.active, active, assume_unique=True) - lo
            plot = ov.layout.plot
            rects += [_clip_rect(tuple(r), plot) for r in pk.note_rects[changed].tolist()]
        rects = [r for r in dict.fromkeys(rects) if r[0] < r[2] and r[1] < r[3]]
        if len(rects) > 1:
            rects = merge_rects(rects)
        elif not rects:  # nothing visible changed (the playhead is outside the plot)
            rec.playhead_rect, rec.active, rec.uniforms = ph_rect, active, ub
            return self._kept_frame(view, rec, H, W)
        area = sum(_area(r) for r in rects)
        if area > LIVE_MAX_AREA * W * H:
            return None
        t = self._target(W, H)
        regions = rects  # what is copied to the readback buffer
        if len(rects) > 1:
            box = rects[0]
            for r in rects[1:]:
                box = _bbox(box, r)
            if _area(box) <= area + LIVE_COPY_SLACK:
                regions = [box]
        pitches: list[int] = []
        offsets: list[int] = []
        total = 0
        for r in regions:
            pitches.append(((r[2] - r[0]) * 4 + 255) // 256 * 256)
            offsets.append(total)
            total += pitches[-1] * (r[3] - r[1])
        if total > t.bytes_per_row * H:
            return None
        # the instances touching each rectangle, in drawing order (overlay under the notes,
        # notes, overlay over them), as indices into ``pk.source``
        nu, n_ov = 1 + ov.n_under, len(ov.data)
        ov_rects, note_rects = pk.overlay_rects, pk.note_rects
        parts: list[np.ndarray] = []
        bounds: list[int] = []  # where each rectangle's instances end
        n = n_notes = 0
        for r in rects:
            hit = _hits(ov_rects, r)
            hit[0] = True  # the background: the "clear" of this rectangle
            hit[ov.playhead] = _intersect(ph_rect, r) is not None
            io = np.flatnonzero(hit)
            k = int(np.searchsorted(io, nu))
            jn = np.flatnonzero(_hits(note_rects, r)) + n_ov
            parts += [io[:k], jn, io[k:]]
            n += len(io) + len(jn)
            n_notes += len(jn)
            bounds.append(n)
        idx = np.concatenate(parts)
        data = pk.source[idx]
        # draws: runs of one pipeline within one rectangle (the scissor clips all)
        pipes = pk.pipe[idx]
        cut = np.empty(n, bool)
        cut[0] = True
        np.not_equal(pipes[1:], pipes[:-1], out=cut[1:])
        cut[bounds[:-1]] = True
        starts = np.flatnonzero(cut)
        run_pipes = pipes[starts].tolist()
        run_starts = starts.tolist()
        run_starts.append(n)
        dev = self._ctx.device
        buf = self._dynamic_buffer(data.nbytes)
        if ov.live_bind is None or ov.live_bind[0] is not buf:  # uniforms from ``buf``
            ov.live_bind = (buf, dev.create_bind_group(layout=self._bgl, entries=[
                {"binding": 0, "resource": {"buffer": buf, "offset": 0, "size": len(ub)}},
                {"binding": 1, "resource": ov.atlas}]))
        dev.queue.write_buffer(buf, 0, b"".join(
            (ub, bytes(LIVE_HEAD - len(ub)), data.tobytes())))
        enc = dev.create_command_encoder()
        rp = enc.begin_render_pass(color_attachments=[{
            "view": t.view, "load_op": "load", "store_op": "store"}])
        rp.set_bind_group(0, ov.live_bind[1])
        rp.set_vertex_buffer(0, buf, LIVE_HEAD)
        cur = ri = -1
        end = 0
        for i, pipe_i in enumerate(run_pipes):
            first = run_starts[i]
            if first >= end:  # the first run of the next rectangle
                ri += 1
                r, end = rects[ri], bounds[ri]
                rp.set_scissor_rect(r[0], r[1], r[2] - r[0], r[3] - r[1])
            if pipe_i != cur:
                rp.set_pipeline(self._pipes[pipe_i])
                cur = pipe_i
            rp.draw(4, run_starts[i + 1] - first, 0, first)
        rp.end()
        for r, off, bpr in zip(regions, offsets, pitches, strict=True):
            enc.copy_texture_to_buffer(
                {"texture": t.texture, "origin": (r[0], r[1], 0)},
                {"buffer": t.readback, "offset": off, "bytes_per_row": bpr,
                 "rows_per_image": r[3] - r[1]}, (r[2] - r[0], r[3] - r[1], 1))
        dev.queue.submit([enc.finish()])
        t.readback.map_sync(wgpu.MapMode.READ, 0, total)
        try:
            raw = np.frombuffer(t.readback.read_mapped(0, total, copy=False), np.uint8)
            patches = []
            for g, off, bpr in zip(regions, offsets, pitches, strict=True):
                gw, gh = g[2] - g[0], g[3] - g[1]
                px = raw[off:off + bpr * gh].reshape(gh, bpr)[:, :gw * 4].reshape(gh, gw, 4)
                if len(regions) == len(rects):  # each rectangle copied on its own
                    patches.append((g, px))
                else:  # all in their bounding box
                    patches += [(r, px[r[1] - g[1]:r[3] - g[1], r[0] - g[0]:r[2] - g[0]])
                                for r in rects]
            out = self._live_output(view, rec, H, W, patches)
        finally:
            t.readback.unmap()
        rec.playhead_rect, rec.active, rec.uniforms = ph_rect, active, ub
        s = self.stats
        s.draw_calls, s.note_draw_calls, s.tiles, s.notes_drawn = len(run_pipes), 1, 1, n_notes
        s.live = True
        s.pixels_drawn = area
        return out

    def _kept_frame(self, view: View, rec: _Live, H: int, W: int) -> np.ndarray:
        """The kept frame as it is (nothing drawn)."""
        s = self.stats
        s.draw_calls = s.note_draw_calls = s.tiles = s.notes_drawn = s.pixels_drawn = 0
        s.live = True
        return self._live_output(view, rec, H, W, [])

    def _live_output(self, view: View, rec: _Live, H: int, W: int,
                     patches: list[tuple[Rect, np.ndarray]]) -> np.ndarray:
        """Patch the read-back rectangles (pixels ``px`` for rectangle ``r``) into the kept
        frame and into the output array: the one handed out last time when its caller let
        go of it (it still holds the previous frame: patch it too), else a full copy of the
        kept frame."""
        out = self._out(H, W)
        patch_out = (rec.mirror is not None and out is rec.mirror()
                     and self._filled.get((H, W)) is rec)
        frame = rec.frame
        for r, px in patches:
            frame[r[1]:r[3], r[0]:r[2]] = px
            if patch_out:
                out[r[1]:r[3], r[0]:r[2]] = px
        if not patch_out:
            np.copyto(out, frame)
        rec.mirror, self._filled[(H, W)] = weakref.ref(out), rec
        self._frames.move_to_end(view)
        return out

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def context(self) -> GPUContext | None:
        """The adapter and device in use (None while none could be made)."""
        return self._ctx

    def lose_device(self) -> None:
        """Destroy the device, as a driver reset would (for tests and drills)."""
        if self._ctx is not None:
            self._ctx.device.destroy()

    def release(self, view: View | None = None) -> None:
        """Free overlays of ``view`` (all when None) and targets no other view uses."""
        with self._lock:
            for k in [k for k in self._overlays if view is None or k[0] == view]:
                self._destroy("buffers", self._overlays.pop(k).buffer)
            for v in [v for v in self._frames if view is None or v == view]:
                del self._frames[v]
            for v in [v for v in self._last_keys if view is None or v == view]:
                del self._last_keys[v]
            keep = {ts for k in self._overlays for ts in self._tile_sizes(k[0])}
            for size in [s for s in self._targets if view is None or s not in keep]:
                self._free_target(self._targets.pop(size))
            if view is None:
                self._spare.clear()
            else:
                self._spare.pop((view.height, view.width), None)

    def _tile_sizes(self, view: View) -> set[tuple[int, int]]:
        m = self.max_texture
        return {(min(m, view.width - x), min(m, view.height - y))
                for y in range(0, view.height, m) for x in range(0, view.width, m)}

    def resources(self) -> dict[str, int]:
        """Live GPU objects made by this renderer by kind, plus targets and overlays held."""
        out = {k: v for k, v in self.live.items() if v}
        out.update(targets=len(self._targets), overlays=len(self._overlays))
        return out

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                self._forget()
                self._ctx = None
            self._spare.clear()
            self._watch.detach()
