"""The wgpu renderer: offscreen targets, one instanced draw for all notes, tiles, recovery.

Note instances are uploaded once per score revision, overlays once per view; a frame
writes one uniform block per tile and draws: overlay-under, notes (ONE instanced call,
culled to the visible range with ``first_instance``), overlay-over. Each target size owns
one persistent MAP_READ buffer. A lost device (exception or ``wgpu`` ERROR record) is
rebuilt from scratch and the frame re-rendered at the same playhead; any other native
error yields a CPU-drawn frame instead of an exception escaping to the kernel.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import wgpu

from mos_lab.theater.cpu import CPURenderer
from mos_lab.theater.geometry import (
    INSTANCE_DTYPE,
    Layout,
    NoteGeometry,
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


def shader_source() -> str:
    """The WGSL source, shipped as package data."""
    return (resources.files("mos_lab.theater.render") / "shaders" / "pianoroll.wgsl").read_text()


@dataclass
class _Target:
    texture: Any
    view: Any
    readback: Any  # persistent MAP_READ buffer for this size
    bytes_per_row: int


@dataclass
class _Overlay:
    buffer: Any
    n_under: int
    n_over: int
    atlas: Any  # texture view
    layout: Layout


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
        blend = {"color": {"src_factor": "src-alpha", "dst_factor": "one-minus-src-alpha",
                           "operation": "add"},
                 "alpha": {"src_factor": "one", "dst_factor": "one-minus-src-alpha",
                           "operation": "add"}}
        self._pipeline = dev.create_render_pipeline(
            layout=dev.create_pipeline_layout(bind_group_layouts=[self._bgl]),
            vertex={"module": module, "entry_point": "vs_main", "buffers": [
                {"array_stride": INSTANCE_DTYPE.itemsize, "step_mode": "instance",
                 "attributes": attrs}]},
            primitive={"topology": wgpu.PrimitiveTopology.triangle_strip},
            fragment={"module": module, "entry_point": "fs_main",
                      "targets": [{"format": FORMAT, "blend": blend}]},
        )
        self._uniform = self._buffer(112, wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST)
        self._blank_atlas = self._texture_from(np.zeros((1, 1), np.uint8))
        self._atlases: dict[int, Any] = {}
        self._notes: tuple[int, int, Any, NoteGeometry] | None = None
        self._overlays: OrderedDict[tuple[Any, ...], _Overlay] = OrderedDict()
        self._targets: OrderedDict[tuple[int, int], _Target] = OrderedDict()

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
        data = np.concatenate([under, over])
        buf = self._buffer(0, wgpu.BufferUsage.VERTEX, data)
        atlas = glyph_atlas(lay.font_px) if lay.font_px else None
        tex = self._blank_atlas
        if atlas is not None:
            if atlas.height not in self._atlases:
                self._atlases[atlas.height] = self._texture_from(atlas.image)
            tex = self._atlases[atlas.height]
        ov = _Overlay(buf, len(under), len(over), tex, lay)
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
            self.live["textures"] -= 1 + len(self._atlases)  # atlas views die with the device
        self._notes, self._atlases = None, {}
        self._overlays, self._targets = OrderedDict(), OrderedDict()

    def _render(self, state: SceneState, view: View) -> np.ndarray:
        if self._ctx is None and not self._recover():
            raise RuntimeError("no wgpu device")
        assert self._ctx is not None
        dev = self._ctx.device
        notes, geo = self._note_buffer(state)
        ov = self._overlay(state, view)
        lo, hi = geo.visible_range(*state.window)
        bind = dev.create_bind_group(layout=self._bgl, entries=[
            {"binding": 0, "resource": {"buffer": self._uniform, "offset": 0, "size": 112}},
            {"binding": 1, "resource": ov.atlas}])
        W, H, m = view.width, view.height, self.max_texture
        out = np.empty((H, W, 4), np.uint8)
        calls = tiles = 0
        for ty in range(0, H, m):
            for tx in range(0, W, m):
                tw, th = min(m, W - tx), min(m, H - ty)
                t = self._target(tw, th)
                dev.queue.write_buffer(self._uniform, 0, uniforms(state, ov.layout,
                                                                  (tx, ty, tw, th)).tobytes())
                enc = dev.create_command_encoder()
                rp = enc.begin_render_pass(color_attachments=[{
                    "view": t.view, "load_op": "clear", "store_op": "store",
                    "clear_value": (21 / 255, 23 / 255, 28 / 255, 1.0)}])
                rp.set_pipeline(self._pipeline)
                rp.set_bind_group(0, bind)
                rp.set_vertex_buffer(0, ov.buffer)
                rp.draw(4, ov.n_under, 0, 0)
                rp.set_vertex_buffer(0, notes)
                rp.draw(4, hi - lo, 0, lo)  # every visible note: one instanced call
                rp.set_vertex_buffer(0, ov.buffer)
                rp.draw(4, ov.n_over, 0, ov.n_under)
                rp.end()
                calls += 3
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
            keep = {ts for k in self._overlays for ts in self._tile_sizes(k[0])}
            for size in [s for s in self._targets if view is None or s not in keep]:
                self._free_target(self._targets.pop(size))

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
            self._watch.detach()
