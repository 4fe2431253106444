// Piano roll: every rectangle (note, grid line, key, glyph, playhead) is one instance of a
// 4-vertex strip. Instances live in world units (seconds, semitones) or screen pixels per
// axis; only this uniform block changes from frame to frame. geometry.py is the reference.
//
// Speed on software rasterisers (llvmpipe): everything that depends on the instance only
// (screen box, highlight colour, border colour) is resolved in the vertex stage and passed
// flat; the fragment stage is a select between two colours. Clipping to the plot is a
// scissor rectangle set by the renderer (no discard), opaque instances are drawn without
// blending (fs_opaque), and notes have their own, shorter vertex stage (vs_note).

struct Uniforms {
  view: vec4<f32>,      // full width, full height, tile origin x, tile origin y (px)
  tile: vec4<f32>,      // tile width, tile height, portrait (0/1), playhead (s)
  plot: vec4<f32>,      // plot rectangle x0, y0, x1, y1 (px)
  win: vec4<f32>,       // window t0, t1 (s), pitch low, pitch high + 1
  hl_active: vec4<f32>,    // colour of sounding notes (rgb) and mix amount
  hl_selected: vec4<f32>,  // colour of selected notes (rgb) and mix amount
  misc: vec4<f32>,      // border brightness, minimum note length (px), playhead pixels
                        // [z, w) along the time axis (whole pixels, made by geometry.py)
  hl_key: vec4<f32>,    // colour of the keys of sounding notes (rgb) and mix amount
  keys: vec4<u32>,      // bit p set: a note of pitch p sounds (light its key)
};

@group(0) @binding(0) var<uniform> u: Uniforms;
@group(0) @binding(1) var atlas: texture_2d<f32>;

const A_PX: u32 = 1u;
const B_PX: u32 = 2u;
const TEXTURED: u32 = 4u;
const NOTE: u32 = 8u;
const SELECTED: u32 = 16u;
const PLAYHEAD: u32 = 32u;
const BORDER: u32 = 128u;
const KEY: u32 = 512u;
const KEY_ID: u32 = 0xffffff00u;  // the id layer's value for the key of pitch p: KEY_ID + p

struct VOut {
  @builtin(position) pos: vec4<f32>,
  @location(0) @interpolate(flat) color: vec4<f32>,
  @location(1) @interpolate(flat) edge: vec4<f32>,   // border colour (= color without BORDER)
  @location(2) @interpolate(flat) inner: vec4<f32>,  // box minus its 1 px border (tile px)
  @location(3) uv: vec2<f32>,
  @location(4) @interpolate(flat) textured: u32,
};

fn time_px(t: f32) -> f32 {
  let f = (t - u.win.x) / (u.win.y - u.win.x);
  if (u.tile.z > 0.5) {
    return u.plot.w - f * (u.plot.w - u.plot.y);
  }
  return u.plot.x + f * (u.plot.z - u.plot.x);
}

fn pitch_px(p: f32) -> f32 {
  let f = (p - u.win.z) / (u.win.w - u.win.z);
  if (u.tile.z > 0.5) {
    return u.plot.x + f * (u.plot.z - u.plot.x);
  }
  return u.plot.w - f * (u.plot.w - u.plot.y);
}

fn clip_pos(vi: u32, bx0: f32, by0: f32, bx1: f32, by1: f32) -> vec4<f32> {
  let c = vec2<f32>(f32(vi & 1u), f32((vi >> 1u) & 1u));
  let px = vec2<f32>(mix(bx0, bx1, c.x), mix(by0, by1, c.y));
  let local = px - u.view.zw;
  return vec4<f32>(local.x / u.tile.x * 2.0 - 1.0, 1.0 - local.y / u.tile.y * 2.0, 0.0, 1.0);
}

// The colour of a note sounding (``lit``) or not: what the highlight mixes in.
fn lit_color(color: vec4<f32>, flags: u32, lit: bool) -> vec4<f32> {
  var col = color;
  if ((flags & NOTE) != 0u && lit) {
    col = vec4<f32>(mix(col.rgb, u.hl_active.rgb, u.hl_active.a), col.a);
  }
  if ((flags & SELECTED) != 0u) {
    col = vec4<f32>(mix(col.rgb, u.hl_selected.rgb, u.hl_selected.a), col.a);
  }
  return col;
}

fn note_color(color: vec4<f32>, rect: vec4<f32>, flags: u32) -> vec4<f32> {
  return lit_color(color, flags, rect.x <= u.tile.w && u.tile.w < rect.y);
}

fn key_sounds(pitch: f32) -> bool {
  let p = u32(pitch);
  return ((u.keys[p >> 5u] >> (p & 31u)) & 1u) == 1u;
}

// A key of the keyboard strip, lit or not (rect.z is its pitch).
fn key_color(color: vec4<f32>, lit: bool) -> vec4<f32> {
  if (lit) {
    return vec4<f32>(mix(color.rgb, u.hl_key.rgb, u.hl_key.a), color.a);
  }
  return color;
}

fn overlay_color(color: vec4<f32>, rect: vec4<f32>, flags: u32) -> vec4<f32> {
  if ((flags & KEY) != 0u) {
    return key_color(color, key_sounds(rect.z));
  }
  return note_color(color, rect, flags);
}

fn edge_of(col: vec4<f32>, flags: u32) -> vec4<f32> {
  if ((flags & BORDER) != 0u) {
    return vec4<f32>(col.rgb * u.misc.x, col.a);
  }
  return col;
}

fn finish(out: ptr<function, VOut>, col: vec4<f32>, flags: u32, b: vec4<f32>) {
  (*out).color = col;
  (*out).edge = edge_of(col, flags);
  // tile pixels: (box edge +- 1) minus the whole-pixel tile origin, exact in f32, so the
  // test below equals the one in full-image pixels (what cpu.py does)
  (*out).inner = vec4<f32>(b.x + 1.0, b.y + 1.0, b.z - 1.0, b.w - 1.0) - u.view.zwzw;
}

// The screen box of any instance but a note in vs_note (full-image pixels).
fn instance_box(rect: vec4<f32>, offs: vec4<f32>, flags: u32) -> vec4<f32> {
  var a0 = rect.x;
  var a1 = rect.y;
  if ((flags & PLAYHEAD) != 0u) {  // whole pixels, so that live frames can copy it exactly
    a0 = u.misc.z;
    a1 = u.misc.w;
  } else if ((flags & A_PX) == 0u) {
    a0 = time_px(a0);
    a1 = time_px(a1);
  }
  var b0 = rect.z;
  var b1 = rect.w;
  if ((flags & B_PX) == 0u) {
    b0 = pitch_px(b0);
    b1 = pitch_px(b1);
  }
  let lo_a = min(a0, a1);
  var hi_a = max(a0, a1);
  if ((flags & NOTE) != 0u) {
    hi_a = max(hi_a, lo_a + u.misc.y);
  }
  var x0 = lo_a;
  var x1 = hi_a;
  var y0 = min(b0, b1);
  var y1 = max(b0, b1);
  if (u.tile.z > 0.5) {
    x0 = min(b0, b1);
    x1 = max(b0, b1);
    y0 = lo_a;
    y1 = hi_a;
  }
  if ((flags & TEXTURED) != 0u) {  // glyph anchors sit on whole pixels: texels map 1:1
    x0 = floor(x0 + 0.5);
    x1 = x0;
    y0 = floor(y0 + 0.5);
    y1 = y0;
  }
  return vec4<f32>(x0 + offs.x, y0 + offs.y, x1 + offs.z, y1 + offs.w);
}

@vertex
fn vs_main(
  @builtin(vertex_index) vi: u32,
  @location(0) rect: vec4<f32>,
  @location(1) offs: vec4<f32>,
  @location(2) uv: vec4<f32>,
  @location(3) color: vec4<f32>,
  @location(4) flags: u32,
) -> VOut {
  let b = instance_box(rect, offs, flags);
  var out: VOut;
  out.pos = clip_pos(vi, b.x, b.y, b.z, b.w);
  finish(&out, overlay_color(color, rect, flags), flags, b);
  let c = vec2<f32>(f32(vi & 1u), f32((vi >> 1u) & 1u));
  out.uv = vec2<f32>(mix(uv.x, uv.z, c.x), mix(uv.y, uv.w, c.y));
  out.textured = flags & TEXTURED;
  return out;
}

// Notes only (flags NOTE | BORDER, maybe SELECTED): world time by world pitch, no offsets.
// The same arithmetic as vs_main's note path, without its per-flag work.
//
// ``next`` (the uv slot) holds the start and end time of a later note on the same pitch
// (geometry.covering_notes; z = 1 when there is one). That note is drawn after, over this
// one, on the same pixel rows, so the part of this note it covers is left out of the quad (with a 0.5 px overlap:
// both compute that note's edge with the same f32 operations): the pixels are the same,
// the fill (overlapping notes) is smaller. The border still follows the whole box.
fn extent(t0: f32, t1: f32) -> vec2<f32> {
  let a0 = time_px(t0);
  let a1 = time_px(t1);
  let lo = min(a0, a1);
  return vec2<f32>(lo, max(max(a0, a1), lo + u.misc.y));
}

// A note's quad and border box (full-image pixels): (quad, box).
fn note_boxes(rect: vec4<f32>, next: vec4<f32>) -> array<vec4<f32>, 2> {
  let a = extent(rect.x, rect.y);
  let b0 = pitch_px(rect.z);
  let b1 = pitch_px(rect.w);
  var d = a;  // the drawn part along the time axis
  if (next.z > 0.5) {
    let j = extent(next.x, next.y);
    if (j.y >= a.y && j.x <= a.y) {  // the next note covers our end: [j.x, a.y)
      d.y = clamp(j.x + 0.5, a.x, a.y);
    } else if (j.x <= a.x && j.y >= a.x) {  // ... or our start: [a.x, j.y)
      d.x = clamp(j.y - 0.5, a.x, a.y);
    }
  }
  var b = vec4<f32>(a.x, min(b0, b1), a.y, max(b0, b1));
  var q = vec4<f32>(d.x, b.y, d.y, b.w);
  if (u.tile.z > 0.5) {
    b = vec4<f32>(min(b0, b1), a.x, max(b0, b1), a.y);
    q = vec4<f32>(b.x, d.x, b.z, d.y);
  }
  return array<vec4<f32>, 2>(q, b);
}

@vertex
fn vs_note(
  @builtin(vertex_index) vi: u32,
  @location(0) rect: vec4<f32>,
  @location(2) next: vec4<f32>,
  @location(3) color: vec4<f32>,
  @location(4) flags: u32,
) -> VOut {
  let qb = note_boxes(rect, next);
  let q = qb[0];
  var out: VOut;
  out.pos = clip_pos(vi, q.x, q.y, q.z, q.w);
  finish(&out, note_color(color, rect, flags), flags, qb[1]);
  out.uv = vec2<f32>(0.0, 0.0);
  out.textured = 0u;
  return out;
}

fn shade(in: VOut) -> vec4<f32> {
  let p = in.pos.xy;  // pixel centre in the tile
  let i = in.inner;
  let inside = p.x >= i.x && p.x < i.z && p.y >= i.y && p.y < i.w;
  return select(in.edge, in.color, inside);
}

// Opaque instances (alpha 255, no texture): written without blending.
@fragment
fn fs_opaque(in: VOut) -> @location(0) vec4<f32> {
  return shade(in);
}

fn shade_textured(in: VOut) -> vec4<f32> {
  var col = shade(in);
  if (in.textured != 0u) {
    let texel = vec2<i32>(floor(in.uv));
    col.a = col.a * textureLoad(atlas, texel, 0).r;
  }
  return col;
}

// Glyphs and translucent instances: drawn with alpha blending.
@fragment
fn fs_main(in: VOut) -> @location(0) vec4<f32> {
  return shade_textured(in);
}

// -- Layers of a kept page (live frames) -------------------------------------------------
// One pass draws a page into four targets: the frame with no note sounding (0), with every
// note sounding (1), with the playhead over the whole plot (2; only the playhead and what
// is drawn after it write there inside the plot), and which note is on top of each pixel
// (3; instance index + 1, 0 for none). A live frame is then copied together on the CPU
// from these, pixel for pixel what a full render draws (gpu.py, ``_Layers``).

struct LayerOut {
  @builtin(position) pos: vec4<f32>,
  @location(0) @interpolate(flat) color: vec4<f32>,
  @location(1) @interpolate(flat) edge: vec4<f32>,
  @location(2) @interpolate(flat) inner: vec4<f32>,
  @location(5) @interpolate(flat) lit: vec4<f32>,
  @location(6) @interpolate(flat) lit_edge: vec4<f32>,
  @location(7) @interpolate(flat) id: u32,
};

struct Layers {
  @location(0) base: vec4<f32>,
  @location(1) lit: vec4<f32>,
  @location(2) playhead: vec4<f32>,
  @location(3) id: u32,
};

// quad ``q`` drawn, border box ``b``, colours unlit and lit, the id layer's value
fn layer_out(vi: u32, q: vec4<f32>, b: vec4<f32>, off: vec4<f32>, on: vec4<f32>, flags: u32,
             id: u32) -> LayerOut {
  var out: LayerOut;
  out.pos = clip_pos(vi, q.x, q.y, q.z, q.w);
  out.color = off;
  out.edge = edge_of(off, flags);
  out.lit = on;
  out.lit_edge = edge_of(on, flags);
  out.inner = vec4<f32>(b.x + 1.0, b.y + 1.0, b.z - 1.0, b.w - 1.0) - u.view.zwzw;
  out.id = id;
  return out;
}

@vertex
fn vs_note_layers(
  @builtin(vertex_index) vi: u32,
  @builtin(instance_index) ii: u32,
  @location(0) rect: vec4<f32>,
  @location(2) next: vec4<f32>,
  @location(3) color: vec4<f32>,
  @location(4) flags: u32,
) -> LayerOut {
  let qb = note_boxes(rect, next);
  let q = qb[0];
  let b = qb[1];
  return layer_out(vi, q, b, lit_color(color, flags, false), lit_color(color, flags, true),
                   flags, ii + 1u);
}

// Opaque instances but notes: keys lit in the lit layer and named in the id layer (a
// key's pixels depend on whether its notes sound), others 0 (they depend on no note).
@vertex
fn vs_opaque_layers(
  @builtin(vertex_index) vi: u32,
  @location(0) rect: vec4<f32>,
  @location(1) offs: vec4<f32>,
  @location(3) color: vec4<f32>,
  @location(4) flags: u32,
) -> LayerOut {
  let b = instance_box(rect, offs, flags);
  var off = note_color(color, rect, flags);
  var on = off;
  var id = 0u;
  if ((flags & KEY) != 0u) {
    off = key_color(color, false);
    on = key_color(color, true);
    id = KEY_ID + u32(rect.z);
  }
  return layer_out(vi, b, b, off, on, flags, id);
}

@fragment
fn fs_note_layers(in: LayerOut) -> Layers {
  let p = in.pos.xy;
  let i = in.inner;
  let inside = p.x >= i.x && p.x < i.z && p.y >= i.y && p.y < i.w;
  var o: Layers;
  o.base = select(in.edge, in.color, inside);
  o.lit = select(in.lit_edge, in.lit, inside);
  o.playhead = o.base;
  o.id = in.id;
  return o;
}

// Everything but notes: the same colour in the three colour targets (the pipeline's
// write masks leave out the id target, and for the playhead all but target 2).
@fragment
fn fs_opaque_layers(in: VOut) -> Layers {
  let col = shade(in);
  return Layers(col, col, col, 0u);
}

@fragment
fn fs_main_layers(in: VOut) -> Layers {
  let col = shade_textured(in);
  return Layers(col, col, col, 0u);
}
