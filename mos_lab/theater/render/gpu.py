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
- **Live frames.** A paged view (or one whose window stayed put) draws its page once
  into four layers in one pass (unlit, all lit, playhead over the plot, which note is on
  top of each pixel; ``live.py``) and composes every following frame of that page on
  the CPU from them: no GPU submission, no readback. The result is the image a full
  render gives (tests compare them bit for bit). The playhead covers whole pixels (made
  by ``geometry.playhead_pixels``) so that it can be copied exactly. A playing paged view
  draws its next page ahead (``_maybe_prefetch``), so a page turn does not stall.
  ``live_updates = False`` turns this off.
- Large read-back frames (8K) are copied out of the mapped buffer in row bands by a few
  threads where there are cores to spare.
- Frames are returned in a recycled array when the caller dropped the previous one (a
  live frame then only patches it), so large frames do not pay for fresh pages.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import numpy as np
import wgpu

from mos_lab.theater.cpu import CPURenderer, screen_boxes
from mos_lab.theater.geometry import (
    CLIP,
    CLIP_T,
    INSTANCE_DTYPE,
    KEY,
    PLAYHEAD,
    TEXTURED,
    UNIFORM_FLOATS,
    Layout,
    NoteGeometry,
    background_instance,
    make_layout,
    overlay_instances,
    uniforms,
)
from mos_lab.theater.render.base import RenderStats
from mos_lab.theater.render.device import GPUContext, LossWatch, is_device_lost
from mos_lab.theater.render.live import LivePage, PageLayers, area
from mos_lab.theater.roll import page_index, page_step
from mos_lab.theater.scene import SceneState, View
from mos_lab.theater.text import glyph_atlas

FORMAT = wgpu.TextureFormat.rgba8unorm
MAX_TARGETS = 4  # target sizes kept alive (LRU); each holds a texture and a readback buffer
MAX_OVERLAYS = 8
PIPE_OPAQUE, PIPE_BLEND, PIPE_NOTE = 0, 1, 2
CLIP_NONE, CLIP_PLOT, CLIP_TIME = 0, 1, 2
LIVE_MAX_PIXELS = 3840 * 2160  # views up to 4K keep their page's layers for live frames
LIVE_MAX_BYTES = 512 << 20  # layers kept for live frames, all views together (LRU)
MAX_PREFETCH = 2  # paged views that draw their next page ahead (each with its own target)
UNIFORM_BYTES = UNIFORM_FLOATS * 4
ID_FORMAT = wgpu.TextureFormat.r32uint  # which note is on top of each pixel (live layers)
PIPE_PLAYHEAD = 3  # the playhead in the layers pass (it writes the playhead layer only)
COPY_SPLIT_PIXELS = 4_000_000  # read-back frames this large are copied out in row bands
# by several threads (one core cannot move 8K's 132 MB at the memory's speed)

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


def _intersect(a: Rect, b: Rect) -> Rect | None:
    r = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return r if r[0] < r[2] and r[1] < r[3] else None


def copy_threads() -> int:
    """Threads that copy a large read-back frame: one per core up to 8, none on 2 cores
    (there one thread already saturates the memory bus)."""
    n = os.cpu_count() or 1
    return min(8, n) if n >= 4 else 1


@dataclass
class _Target:
    texture: Any
    view: Any
    readback: Any | None  # persistent MAP_READ buffer for this size (made on first use)
    bytes_per_row: int
    bands: list[tuple[Any, int, int]] | None = None  # banded read-back: (buffer, y0, y1)


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


@dataclass
class _LayerTarget:
    """The four targets of the layers pass (base, lit, playhead, ids) and one readback
    buffer holding all four."""

    textures: list[Any]
    views: list[Any]
    readback: Any
    bytes_per_row: int


@dataclass
class _Prefetch:
    """A paged view's next page, drawn ahead into a target of its own."""

    target: _LayerTarget
    key: tuple[Any, ...] | None = None  # the page on its way (None: nothing in flight)
    future: Future[LivePage] | None = None


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
        self._frames: OrderedDict[View, LivePage] = OrderedDict()  # kept pages (live frames)
        self._filled: dict[tuple[int, int], LivePage | None] = {}  # whose frame a spare holds
        self._last_keys: OrderedDict[View, tuple[Any, ...]] = OrderedDict()  # last full render
        self.live_updates = True  # False: every frame is a full render (tests, benchmarks)
        self._copier: ThreadPoolExecutor | None = None  # copies large frames (made on use)
        self.readback_bands = 4  # large frames read back in this many overlapping bands
        self.prefetch = True  # paged views draw their next page ahead (see _maybe_prefetch)
        self._prefetcher: ThreadPoolExecutor | None = None
        self._prefetches: OrderedDict[View, _Prefetch] = OrderedDict()  # by paged view
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
        opaque_attrs = [a for a in attrs if a["shader_location"] in (0, 1, 3, 4)]
        blend = {"color": {"src_factor": "src-alpha", "dst_factor": "one-minus-src-alpha",
                           "operation": "add"},
                 "alpha": {"src_factor": "one", "dst_factor": "one-minus-src-alpha",
                           "operation": "add"}}
        layout = dev.create_pipeline_layout(bind_group_layouts=[self._bgl])

        def pipeline(vs: str, fs: str, attributes: list[dict[str, Any]],
                     targets: list[dict[str, Any]]) -> Any:
            return dev.create_render_pipeline(
                layout=layout,
                vertex={"module": module, "entry_point": vs, "buffers": [
                    {"array_stride": INSTANCE_DTYPE.itemsize, "step_mode": "instance",
                     "attributes": attributes}]},
                primitive={"topology": wgpu.PrimitiveTopology.triangle_strip},
                fragment={"module": module, "entry_point": fs, "targets": targets},
            )

        opaque, blended = {"format": FORMAT}, {"format": FORMAT, "blend": blend}
        self._pipes = {PIPE_OPAQUE: pipeline("vs_main", "fs_opaque", attrs, [opaque]),
                       PIPE_BLEND: pipeline("vs_main", "fs_main", attrs, [blended]),
                       PIPE_NOTE: pipeline("vs_note", "fs_opaque", note_attrs, [opaque])}

        def layer_pipes() -> dict[int, Any]:
            """The layers pass's pipelines (made on first use: stills never need them)."""
            def targets(color: dict[str, Any], *, note: bool = False,
                        playhead: bool = False) -> list[dict[str, Any]]:
                out = [dict(color), dict(color), dict(color), {"format": ID_FORMAT}]
                if playhead:  # the playhead writes the playhead layer alone
                    out[0]["write_mask"] = out[1]["write_mask"] = 0
                if not note:  # only opaque instances say which note or key is on top
                    out[3]["write_mask"] = 0
                return out

            return {
                PIPE_OPAQUE: pipeline("vs_opaque_layers", "fs_note_layers", opaque_attrs,
                                     targets(opaque, note=True)),
                PIPE_BLEND: pipeline("vs_main", "fs_main_layers", attrs, targets(blended)),
                PIPE_NOTE: pipeline("vs_note_layers", "fs_note_layers", note_attrs,
                                    targets(opaque, note=True)),
                PIPE_PLAYHEAD: pipeline("vs_main", "fs_opaque_layers", attrs,
                                        targets(opaque, playhead=True))}

        self._make_layer_pipes = layer_pipes
        self._layer_pipes: dict[int, Any] | None = None
        self._uniform = self._buffer(UNIFORM_BYTES,
                                     wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST)
        self._blank_atlas = self._texture_from(np.zeros((1, 1), np.uint8))
        self._atlases: dict[int, Any] = {}
        self._notes: tuple[Any, int, Any, NoteGeometry] | None = None
        self._overlays: OrderedDict[tuple[Any, ...], _Overlay] = OrderedDict()
        self._targets: OrderedDict[tuple[int, int], _Target] = OrderedDict()
        self._layer_targets: OrderedDict[tuple[int, int], _LayerTarget] = OrderedDict()

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
        # the score itself, not its id: a cached entry keeps it alive, so a new score can
        # never take a dead one's id and be drawn with the dead one's notes
        key = (state.score, state.score_revision)
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
        key = (view, state.score, state.score_revision, state.pitch_range, state.span,
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
        t = _Target(tex, tex.create_view(), None, bpr)
        self._targets[(w, h)] = t
        while len(self._targets) > MAX_TARGETS:
            self._free_target(self._targets.popitem(last=False)[1])
        return t

    def _free_target(self, t: _Target) -> None:
        self._destroy("textures", t.texture)
        if t.readback is not None:
            self._destroy("buffers", t.readback)
        for buf, _, _ in t.bands or ():
            self._destroy("buffers", buf)

    def _layer_target(self, w: int, h: int) -> _LayerTarget:
        """The layers pass's targets for one size (the two sizes used last are kept)."""
        t = self._layer_targets.get((w, h))
        if t is not None:
            self._layer_targets.move_to_end((w, h))
            return t
        t = self._layer_targets[(w, h)] = self._new_layer_target(w, h)
        while len(self._layer_targets) > 2:
            self._free_layer_target(self._layer_targets.popitem(last=False)[1])
        return t

    def _new_layer_target(self, w: int, h: int) -> _LayerTarget:
        assert self._ctx is not None
        dev = self._ctx.device
        usage = wgpu.TextureUsage.RENDER_ATTACHMENT | wgpu.TextureUsage.COPY_SRC
        texs = [dev.create_texture(size=(w, h, 1), format=f, usage=usage)
                for f in (FORMAT, FORMAT, FORMAT, ID_FORMAT)]
        self.live["textures"] += len(texs)
        bpr = (w * 4 + 255) // 256 * 256
        rb = self._buffer(4 * bpr * h, wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST)
        return _LayerTarget(texs, [x.create_view() for x in texs], rb, bpr)

    def _free_layer_target(self, t: _LayerTarget) -> None:
        for tex in t.textures:
            self._destroy("textures", tex)
        self._destroy("buffers", t.readback)

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
        for lt in self._layer_targets.values():
            self._free_layer_target(lt)
        self._drop_prefetches(None)
        if self._ctx is not None:
            self._destroy("buffers", self._uniform)
            self.live["textures"] -= 1 + len(self._atlases)  # atlas views die with the device
        self._notes, self._atlases, self._layer_pipes = None, {}, None
        self._overlays, self._targets = OrderedDict(), OrderedDict()
        self._layer_targets = OrderedDict()
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
                {"binding": 0, "resource": {"buffer": self._uniform, "offset": 0,
                                            "size": UNIFORM_BYTES}},
                {"binding": 1, "resource": ov.atlas}])
        W, H, m = view.width, view.height, self.max_texture
        single = max(W, H) <= m
        key = (ov.key, state.score, state.score_revision, state.window, m)
        # a paged view, or a view whose window stayed put, is drawn from its page's layers
        again = state.paged or self._last_keys.get(view) == key
        self._last_keys[view] = key
        self._last_keys.move_to_end(view)
        while len(self._last_keys) > MAX_TARGETS:
            self._last_keys.popitem(last=False)
        if single and self.live_updates and W * H <= LIVE_MAX_PIXELS and again:
            return self._live_frame(state, view, key, ov, geo, notes)
        self._frames.pop(view, None)
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
                if self.readback_bands > 1 and tw * th >= COPY_SPLIT_PIXELS \
                        and copy_threads() > 1:
                    self._banded_readback(enc, t, out[ty:ty + th, tx:tx + tw])
                    continue
                rb = t.readback
                if rb is None:
                    rb = t.readback = self._buffer(
                        t.bytes_per_row * th, wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST)
                enc.copy_texture_to_buffer(
                    {"texture": t.texture},
                    {"buffer": rb, "offset": 0, "bytes_per_row": t.bytes_per_row,
                     "rows_per_image": th}, (tw, th, 1))
                dev.queue.submit([enc.finish()])
                rb.map_sync(wgpu.MapMode.READ)
                try:
                    raw = np.frombuffer(rb.read_mapped(copy=False), np.uint8)
                    self._copy_out(out[ty:ty + th, tx:tx + tw],
                                   raw.reshape(th, t.bytes_per_row)[:, :tw * 4]
                                   .reshape(th, tw, 4))
                finally:
                    rb.unmap()
        s = self.stats
        s.draw_calls, s.note_draw_calls, s.tiles, s.notes_drawn = calls, tiles, tiles, hi - lo
        s.live = False
        s.pixels_drawn = W * H
        self._filled[(H, W)] = None  # ``out`` holds no kept page's frame
        return out

    def _banded_readback(self, enc: Any, t: _Target, dst: np.ndarray) -> None:
        """Read ``t`` back into ``dst`` in row bands, one buffer each: band k+1 travels
        from the GPU while threads copy band k out of its mapped buffer, so the transfer
        and the copy overlap (wgpu-py's map waits for every submission made so far, hence
        one submission per band, made after the previous band is mapped)."""
        assert self._ctx is not None
        dev = self._ctx.device
        th, tw = dst.shape[:2]
        if t.bands is None:
            k = self.readback_bands
            cuts = [th * i // k for i in range(k + 1)]
            t.bands = [(self._buffer(t.bytes_per_row * (b - a),
                                     wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST),
                        a, b) for a, b in itertools.pairwise(cuts)]
        mapped: list[Any] = []
        jobs: list[Any] = []
        try:
            for i, (buf, y0, y1) in enumerate(t.bands):
                e = enc if i == 0 else dev.create_command_encoder()
                e.copy_texture_to_buffer(
                    {"texture": t.texture, "origin": (0, y0, 0)},
                    {"buffer": buf, "offset": 0, "bytes_per_row": t.bytes_per_row,
                     "rows_per_image": y1 - y0}, (tw, y1 - y0, 1))
                dev.queue.submit([e.finish()])
                buf.map_sync(wgpu.MapMode.READ)
                mapped.append(buf)
                raw = np.frombuffer(buf.read_mapped(copy=False), np.uint8)
                jobs += self._copy_jobs(dst[y0:y1], raw.reshape(y1 - y0, t.bytes_per_row)
                                        [:, :tw * 4].reshape(y1 - y0, tw, 4))
        finally:
            for job in jobs:
                job.result()
            for buf in mapped:
                buf.unmap()

    def _copy_jobs(self, dst: np.ndarray, src: np.ndarray) -> list[Any]:
        """Start copying ``src`` into ``dst`` in row bands on the copy threads."""
        if self._copier is None:
            self._copier = ThreadPoolExecutor(copy_threads(), "mos-lab-theater-copy")
        h, n = dst.shape[0], copy_threads()

        def band(a: int, b: int) -> None:
            dst[a:b] = src[a:b]

        return [self._copier.submit(band, h * i // n, h * (i + 1) // n) for i in range(n)]

    def _copy_out(self, dst: np.ndarray, src: np.ndarray) -> None:
        """``dst[...] = src``; large frames in row bands on the renderer's copy threads
        (numpy releases the GIL while it copies)."""
        if dst.shape[0] * dst.shape[1] < COPY_SPLIT_PIXELS or copy_threads() < 2:
            dst[...] = src
            return
        for job in self._copy_jobs(dst, src):
            job.result()

    def _draw(self, rp: Any, draws: list[tuple[Any, Run]], clips: dict[int, Rect],
              region: Rect, origin: tuple[int, int] = (0, 0),
              pipes: dict[int, Any] | None = None) -> int:
        """Issue ``draws`` (buffer, run) scissored to their clip within ``region`` (full
        image pixels; the target starts at ``origin``); returns the draw calls made."""
        calls = 0
        cur_pipe = cur_buf = None
        for buf, (pipe, clip, first, count) in draws:
            r = _intersect(clips[clip], region) if count > 0 else None
            if r is None:
                continue
            if pipe != cur_pipe:
                rp.set_pipeline((pipes or self._pipes)[pipe])
                cur_pipe = pipe
            if buf is not cur_buf:
                rp.set_vertex_buffer(0, buf)
                cur_buf = buf
            ox, oy = origin
            rp.set_scissor_rect(r[0] - ox, r[1] - oy, r[2] - r[0], r[3] - r[1])
            rp.draw(4, count, 0, first)
            calls += 1
        return calls

    def _live_frame(self, state: SceneState, view: View, key: tuple[Any, ...], ov: _Overlay,
                    geo: NoteGeometry, notes: Any) -> np.ndarray:
        """A frame of a kept page: composed on the CPU from the page's layers (``live``);
        the page's first frame draws the layers (one GPU pass)."""
        W, H = view.width, view.height
        rec = self._frames.get(view)
        page = rec is None or rec.key != key
        if page:
            self._frames.pop(view, None)
            rec = self._page(state, view, key, ov, geo, notes)
        assert rec is not None
        rects = rec.update(uniforms(state, ov.layout, (0, 0, W, H)))
        out = self._live_output(view, rec, H, W, rects or [])
        if state.paged and self.prefetch:
            self._maybe_prefetch(state, view, key, ov, geo, notes)
        s = self.stats
        s.live = not page
        if not page:
            s.draw_calls = s.note_draw_calls = s.tiles = 0
            s.notes_drawn = 0
            s.pixels_drawn = sum(area(r) for r in rects or [])
        return out

    def _page(self, state: SceneState, view: View, key: tuple[Any, ...], ov: _Overlay,
              geo: NoteGeometry, notes: Any) -> LivePage:
        """Draw a page's layers now (or take them from the prefetch made for it) and keep
        them for the view's live frames."""
        rec = self._take_prefetch(view, key)
        if rec is None:
            rec = self._start_page(state, view, key, ov, geo, notes,
                                   self._layer_target(view.width, view.height))()
        else:
            self.stats.prefetched_pages += 1
        self._frames[view] = rec
        self._frames.move_to_end(view)
        while len(self._frames) > 1 and (len(self._frames) > MAX_TARGETS or sum(
                r.nbytes for r in self._frames.values()) > LIVE_MAX_BYTES):
            self._frames.popitem(last=False)
        s = self.stats
        s.draw_calls, s.note_draw_calls, s.tiles, s.notes_drawn = 0, 1, 1, rec.hi - rec.lo
        s.pixels_drawn = view.width * view.height
        return rec

    def _start_page(self, state: SceneState, view: View, key: tuple[Any, ...], ov: _Overlay,
                    geo: NoteGeometry, notes: Any, lt: _LayerTarget) -> Callable[[], LivePage]:
        """Submit a page's four layers, drawn in one pass into ``lt`` (see ``live.py``);
        returns what waits for them, reads them back in one copy and makes the page. The
        submission needs the renderer's lock, the rest does not (a prefetch runs it on
        its own thread)."""
        assert self._ctx is not None
        dev = self._ctx.device
        if self._layer_pipes is None:
            self._layer_pipes = self._make_layer_pipes()
        W, H = view.width, view.height
        lay = ov.layout
        clips = clip_rects(lay)
        plot = clips[CLIP_PLOT]
        u = uniforms(state, lay, (0, 0, W, H))
        # the playhead over the whole plot: it draws the playhead layer
        u[26:28] = (plot[1], plot[3]) if lay.portrait else (plot[0], plot[2])
        dev.queue.write_buffer(self._uniform, 0, u.tobytes())
        bg = (21 / 255, 23 / 255, 28 / 255, 1.0)
        enc = dev.create_command_encoder()
        rp = enc.begin_render_pass(color_attachments=[
            {"view": v, "load_op": "clear", "store_op": "store",
             "clear_value": bg if i < 3 else (0, 0, 0, 0)} for i, v in enumerate(lt.views)])
        rp.set_bind_group(0, ov.bind)
        lo, hi = geo.visible_range(*state.window)
        draws = [(ov.buffer, r) for r in ov.under]
        draws.append((notes, (PIPE_NOTE, CLIP_PLOT, lo, hi - lo)))
        for r in ov.over:  # the playhead instance with the playhead pipeline
            pipe, clip, first, count = r
            if first <= ov.playhead < first + count:
                k = ov.playhead - first
                draws += [(ov.buffer, (pipe, clip, first, k)),
                          (ov.buffer, (PIPE_PLAYHEAD, clip, ov.playhead, 1)),
                          (ov.buffer, (pipe, clip, ov.playhead + 1, count - k - 1))]
            else:
                draws.append((ov.buffer, r))
        self._draw(rp, draws, clips, (0, 0, W, H), pipes=self._layer_pipes)
        rp.end()
        size = lt.bytes_per_row * H
        for i, tex in enumerate(lt.textures):
            enc.copy_texture_to_buffer(
                {"texture": tex},
                {"buffer": lt.readback, "offset": i * size, "bytes_per_row": lt.bytes_per_row,
                 "rows_per_image": H}, (W, H, 1))
        dev.queue.submit([enc.finish()])
        inst = geo.instances[lo:hi]
        note_rects = pixel_rects(screen_boxes(inst, u), W, H)
        starts = np.ascontiguousarray(inst["rect"][:, 0], np.float32)
        ends = np.ascontiguousarray(inst["rect"][:, 1], np.float32)
        keys = self._key_rects(ov, u, W, H)

        def finish() -> LivePage:
            lt.readback.map_sync(wgpu.MapMode.READ)
            try:
                raw = np.frombuffer(lt.readback.read_mapped(copy=False), np.uint8)

                def layer(i: int) -> np.ndarray:
                    rows = raw[i * size:(i + 1) * size].reshape(H, lt.bytes_per_row)[:, :W * 4]
                    return rows.reshape(H, W, 4).copy()

                base, lit, php, ids = (layer(i) for i in range(4))
            finally:
                lt.readback.unmap()
            return LivePage(key, PageLayers(base, lit, php, ids.view(np.uint32)[..., 0]),
                            lo, hi, note_rects, starts, ends, plot, lay.portrait, *keys)

        return finish

    # -- prefetch: the next page of a playing paged view, drawn while this one shows ------
    def _maybe_prefetch(self, state: SceneState, view: View, key: tuple[Any, ...],
                        ov: _Overlay, geo: NoteGeometry, notes: Any) -> None:
        """Past half of a page, submit the next page's layers and let a thread wait for
        them and copy them out: the page turn then draws nothing (no stall in a stream).
        Each paged view (two at most) has a target of its own for this."""
        step = page_step(state.span, state.lead)
        if step <= 0:
            return
        page = page_index(state.playhead, step)
        nxt = replace(state, playhead=(page + 1) * step)
        nkey = (*key[:3], nxt.window, *key[4:])
        pf = self._prefetches.get(view)
        if pf is not None and pf.future is not None:
            if pf.key == nkey:
                return  # the next page is on its way
            if not pf.future.done():
                return  # a stale one still runs: its target is busy
            # stale (another score or overlay, or a page a seek left behind): only the page
            # that follows this one counts; a later window of another score used to block
            # this score's prefetches until the playhead passed that window
            pf.key = pf.future = None
        if state.playhead - page * step < step / 2:  # not yet half-way through this page
            return
        W, H = view.width, view.height
        if pf is None:
            while len(self._prefetches) >= MAX_PREFETCH:
                self._drop_prefetches(next(iter(self._prefetches)))
            pf = self._prefetches[view] = _Prefetch(self._new_layer_target(W, H))
        self._prefetches.move_to_end(view)
        finish = self._start_page(nxt, view, nkey, ov, geo, notes, pf.target)
        if self._prefetcher is None:
            self._prefetcher = ThreadPoolExecutor(1, "mos-lab-theater-prefetch")
        pf.key, pf.future = nkey, self._prefetcher.submit(finish)

    def _take_prefetch(self, view: View, key: tuple[Any, ...]) -> LivePage | None:
        """The prefetched page for ``view`` and ``key`` (waiting for it if need be)."""
        pf = self._prefetches.get(view)
        if pf is None or pf.future is None or pf.key != key:
            return None
        future, pf.key, pf.future = pf.future, None, None
        try:
            return future.result()
        except Exception as exc:  # e.g. the device was lost meanwhile: draw it now
            self.stats.error(f"prefetched page failed: {str(exc)[:200]}")
            return None

    @staticmethod
    def _settled(pf: _Prefetch) -> bool:
        """Wait for ``pf``'s thread (it may be reading a mapped buffer); whether it ended."""
        if pf.future is None:
            return True
        with contextlib.suppress(Exception):  # its failure is reported where it is taken
            pf.future.result(timeout=10)
        return pf.future.done()

    def settle(self) -> None:
        """Wait for background work in flight (a next page being drawn): before the
        device is destroyed under it, and for benchmarks and tests that run frames faster
        than playback would ask for them."""
        for pf in self._prefetches.values():
            self._settled(pf)

    def _drop_prefetches(self, view: View | None) -> None:
        """Forget the prefetch of ``view`` (all when None) and free its target once its
        thread is done with it (one that did not end in time keeps its target: leaked
        rather than freed under a reader)."""
        for v in [v for v in self._prefetches if view is None or v == view]:
            pf = self._prefetches.pop(v)
            if self._settled(pf):
                self._free_layer_target(pf.target)

    @staticmethod
    def _key_rects(ov: _Overlay, u: np.ndarray, W: int, H: int) -> tuple[np.ndarray, np.ndarray]:
        """Pitch and pixel rectangle of each key of the keyboard strip."""
        keys = ov.data[(ov.data["flags"] & KEY) != 0]
        pitches = keys["rect"][:, 2].astype(np.int64)
        return pitches, pixel_rects(screen_boxes(keys, u), W, H)

    def _live_output(self, view: View, rec: LivePage, H: int, W: int,
                     rects: list[Rect]) -> np.ndarray:
        """The kept page's frame in an output array: the one handed out last time when its
        caller let go of it (it still holds the previous frame: only ``rects`` are copied),
        else a full copy."""
        out = self._out(H, W)
        frame = rec.frame
        if rec.mirror is not None and out is rec.mirror() and self._filled.get((H, W)) is rec:
            for x0, y0, x1, y1 in rects:
                out[y0:y1, x0:x1] = frame[y0:y1, x0:x1]
        else:
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
        with self._lock:
            self.settle()  # prefetch threads may be reading mapped buffers
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
            for size in [s for s in self._layer_targets if view is None or s not in keep]:
                self._free_layer_target(self._layer_targets.pop(size))
            self._drop_prefetches(view)
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
            if self._copier is not None:
                self._copier.shutdown()
                self._copier = None
            if self._prefetcher is not None:
                self._prefetcher.shutdown()
                self._prefetcher = None
