"""Glyph atlas: printable ASCII rasterised once per pixel size, drawn as textured quads.

Text stays inside the same instanced GPU path as the notes: each glyph is one instance
whose quad samples its cell of the atlas texture (exact texels, no filtering). The CPU
fallback blends the same cells. Glyphs are rasterised with Pillow (a matplotlib
dependency) from matplotlib's DejaVu Sans; without either, text is simply not drawn.
"""

from __future__ import annotations

import functools
import os

import numpy as np

CHARS = "".join(chr(c) for c in range(32, 127))


class GlyphAtlas:
    """Printable ASCII at one pixel height: an alpha image plus one cell per character."""

    def __init__(self, image: np.ndarray, cells: dict[str, tuple[int, int, int]], height: int):
        self.image = image  # (H, W) uint8 coverage
        self.cells = cells  # char -> (x, y, width) of its cell in ``image``
        self.height = height  # cell height in pixels (every cell)
        self.revision = id(self)  # the GPU uploads one texture per atlas

    def measure(self, text: str) -> int:
        """Width of ``text`` in pixels."""
        return sum(self.cells.get(c, self.cells[" "])[2] for c in text)

    def quads(self, text: str) -> np.ndarray:
        """One row per visible glyph: ``dx0, dy0, dx1, dy1, u0, v0, u1, v1`` (pixels).

        Offsets are from the text's top-left corner; ``u, v`` are atlas texel coordinates.
        """
        rows = []
        x = 0
        for c in text:
            cx, cy, w = self.cells.get(c, self.cells["?"])
            if c != " ":
                rows.append((x, 0, x + w, self.height, cx, cy, cx + w, cy + self.height))
            x += w
        return np.asarray(rows, dtype=np.float32).reshape(-1, 8)


def _font_path() -> str | None:
    try:
        import matplotlib
    except ImportError:
        return None
    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    return path if os.path.exists(path) else None


@functools.lru_cache(maxsize=8)
def glyph_atlas(px: int) -> GlyphAtlas | None:
    """The atlas for text ``px`` pixels high (cached), or None when no rasteriser exists."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return None
    px = max(6, min(int(px), 256))
    path = _font_path()
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    try:
        font = ImageFont.truetype(path, size=max(4, round(px * 0.78))) if path else (
            ImageFont.load_default(size=max(4, round(px * 0.78))))
    except OSError:
        return None
    widths = [max(1, round(font.getlength(c))) for c in CHARS]
    per_row = 16
    rows = (len(CHARS) + per_row - 1) // per_row
    cell_w = max(widths)
    img = Image.new("L", (cell_w * per_row, px * rows), 0)
    draw = ImageDraw.Draw(img)
    cells: dict[str, tuple[int, int, int]] = {}
    for i, (c, w) in enumerate(zip(CHARS, widths, strict=True)):
        x, y = (i % per_row) * cell_w, (i // per_row) * px
        draw.text((x, y + px * 0.08), c, fill=255, font=font)
        cells[c] = (x, y, w)
    return GlyphAtlas(np.asarray(img, dtype=np.uint8).copy(), cells, px)
