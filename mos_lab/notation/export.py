"""Pages as files: one SVG or PNG per page, named ``OUT.svg`` or ``OUT-1.svg``, ``OUT-2.svg``.

PNG goes through CairoSVG (the ``notation`` extra): a small, long-kept converter on the
cairo library that verovio's SVG (glyphs as paths, text in serif fonts) needs no more for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from mos_lab.score import MissingDependencyError

SUFFIXES = (".svg", ".png")


class Pages(Protocol):
    """What is written: a count of pages and their SVG (an ``Engraving``)."""

    @property
    def page_count(self) -> int: ...

    def pages(self) -> Iterator[str]: ...


def page_paths(path: Path, count: int) -> list[Path]:
    """``OUT.svg`` for one page, else ``OUT-1.svg`` .. ``OUT-n.svg`` (any suffix)."""
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, count + 1)]


def cairosvg_module() -> Any:
    """The cairosvg module, or a MissingDependencyError naming the extra (and the cairo
    system library when that is what is missing)."""
    try:
        import cairosvg
    except ImportError:
        raise MissingDependencyError("cairosvg", "notation", "PNG export") from None
    except OSError as exc:  # cairocffi found no libcairo
        raise MissingDependencyError("cairosvg", "notation",
                                     f"PNG export (the cairo library: {exc})") from None
    return cairosvg


def svg_to_png(svg: str, scale: float = 2.0) -> bytes:
    """A PNG of an SVG page on a white ground, ``scale`` times its pixel size."""
    data = cairosvg_module().svg2png(bytestring=svg.encode("utf-8"), scale=scale,
                                     background_color="white")
    return bytes(data)


def save_pages(engraving: Pages, path: Path, *, scale: float = 2.0) -> list[Path]:
    """Write every page of an engraving as SVG or PNG (by ``path``'s suffix)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path.name}: pages are written as .svg or .png, not "
                         f"{suffix or 'a file without suffix'}")
    paths = page_paths(path, engraving.page_count)
    for target, svg in zip(paths, engraving.pages(), strict=True):
        if suffix == ".svg":
            target.write_text(svg, encoding="utf-8")
        else:
            target.write_bytes(svg_to_png(svg, scale))
    return paths
