// Piano roll: every rectangle (note, grid line, key, glyph, playhead) is one instance of a
// 4-vertex strip. Instances live in world units (seconds, semitones) or screen pixels per
// axis; only this uniform block changes from frame to frame. geometry.py is the reference.

struct Uniforms {
  view: vec4<f32>,      // full width, full height, tile origin x, tile origin y (px)
  tile: vec4<f32>,      // tile width, tile height, portrait (0/1), playhead (s)
  plot: vec4<f32>,      // plot rectangle x0, y0, x1, y1 (px)
  win: vec4<f32>,       // window t0, t1 (s), pitch low, pitch high + 1
  hl_active: vec4<f32>,    // colour of sounding notes (rgb) and mix amount
  hl_selected: vec4<f32>,  // colour of selected notes (rgb) and mix amount
  misc: vec4<f32>,      // border brightness, minimum note length (px)
};

@group(0) @binding(0) var<uniform> u: Uniforms;
@group(0) @binding(1) var atlas: texture_2d<f32>;

const A_PX: u32 = 1u;
const B_PX: u32 = 2u;
const TEXTURED: u32 = 4u;
const NOTE: u32 = 8u;
const SELECTED: u32 = 16u;
const PLAYHEAD: u32 = 32u;
const CLIP: u32 = 64u;
const BORDER: u32 = 128u;
const CLIP_T: u32 = 256u;

struct VOut {
  @builtin(position) pos: vec4<f32>,
  @location(0) color: vec4<f32>,
  @location(1) uv: vec2<f32>,
  @location(2) @interpolate(flat) flags: u32,
  @location(3) @interpolate(flat) box: vec4<f32>,
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

@vertex
fn vs_main(
  @builtin(vertex_index) vi: u32,
  @location(0) rect: vec4<f32>,
  @location(1) offs: vec4<f32>,
  @location(2) uv: vec4<f32>,
  @location(3) color: vec4<f32>,
  @location(4) flags: u32,
) -> VOut {
  var a0 = rect.x;
  var a1 = rect.y;
  if ((flags & PLAYHEAD) != 0u) {
    a0 = u.tile.w;
    a1 = u.tile.w;
  }
  if ((flags & A_PX) == 0u) {
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
  let bx0 = x0 + offs.x;
  let by0 = y0 + offs.y;
  let bx1 = x1 + offs.z;
  let by1 = y1 + offs.w;
  let c = vec2<f32>(f32(vi & 1u), f32((vi >> 1u) & 1u));
  let px = vec2<f32>(mix(bx0, bx1, c.x), mix(by0, by1, c.y));
  let local = px - u.view.zw;
  var out: VOut;
  out.pos = vec4<f32>(local.x / u.tile.x * 2.0 - 1.0, 1.0 - local.y / u.tile.y * 2.0, 0.0, 1.0);
  var col = color;
  if ((flags & NOTE) != 0u && rect.x <= u.tile.w && u.tile.w < rect.y) {
    col = vec4<f32>(mix(col.rgb, u.hl_active.rgb, u.hl_active.a), col.a);
  }
  if ((flags & SELECTED) != 0u) {
    col = vec4<f32>(mix(col.rgb, u.hl_selected.rgb, u.hl_selected.a), col.a);
  }
  out.color = col;
  out.uv = vec2<f32>(mix(uv.x, uv.z, c.x), mix(uv.y, uv.w, c.y));
  out.flags = flags;
  out.box = vec4<f32>(bx0, by0, bx1, by1);
  return out;
}

@fragment
fn fs_main(in: VOut) -> @location(0) vec4<f32> {
  let p = in.pos.xy + u.view.zw;  // pixel centre in full-image coordinates
  if ((in.flags & CLIP) != 0u
      && (p.x < u.plot.x || p.x >= u.plot.z || p.y < u.plot.y || p.y >= u.plot.w)) {
    discard;
  }
  if ((in.flags & CLIP_T) != 0u) {
    if (u.tile.z > 0.5 && (p.y < u.plot.y || p.y >= u.plot.w)) {
      discard;
    }
    if (u.tile.z < 0.5 && (p.x < u.plot.x || p.x >= u.plot.z)) {
      discard;
    }
  }
  var col = in.color;
  if ((in.flags & TEXTURED) != 0u) {
    let texel = vec2<i32>(floor(in.uv));
    col.a = col.a * textureLoad(atlas, texel, 0).r;
  }
  if ((in.flags & BORDER) != 0u) {
    let b = in.box;
    if (p.x < b.x + 1.0 || p.x >= b.z - 1.0 || p.y < b.y + 1.0 || p.y >= b.w - 1.0) {
      col = vec4<f32>(col.rgb * u.misc.x, col.a);
    }
  }
  return col;
}
