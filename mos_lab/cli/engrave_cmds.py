"""``mos-lab engrave``: staff notation of a score as SVG or PNG pages (verovio, offline).

``-o OUT.svg`` writes ``OUT.svg`` for a one-page score, else ``OUT-1.svg``, ``OUT-2.svg``...;
``-o OUT.png`` the same as PNG. A score that cannot be engraved (no notes, too many
parts, absurd lengths) exits 2 with the reason in one line, as a missing extra does.
"""

from __future__ import annotations

import argparse
from typing import Any

from mos_lab.cli.commands import load_input
from mos_lab.cli.errors import EXIT_OK, CliError, output_file, writing


def register(sub: Any) -> None:
    """Add ``engrave`` to the ``mos-lab`` parser."""
    p = sub.add_parser(
        "engrave", help="engrave staff notation as SVG or PNG pages",
        description="Engrave a score as staff notation (spelled, in bars, voices and staves; "
                    "a performed MIDI file is quantised for the page), one file per page: "
                    "OUT.svg for one page, else OUT-1.svg, OUT-2.svg, ... (.png the same).")
    p.add_argument("file", help="a score (.mid, .musicxml, .mxl, .abc, .json)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="OUT.svg or OUT.png (a number is added per page when there are more)")
    p.add_argument("--width", type=int, default=840, metavar="PX",
                   help="page width in SVG pixels (default 840)")
    p.add_argument("--zoom", type=float, default=1.0, help="staff size (default 1.0)")
    p.add_argument("--scale", type=float, default=2.0,
                   help="PNG pixels per SVG pixel (default 2)")
    p.add_argument("--harmony", choices=["symbols", "roman", "both"], default=None,
                   help="analyse the harmony and print chord symbols and/or Roman numerals "
                        "under the lowest staff")
    p.set_defaults(run=engrave)


def engrave(args: argparse.Namespace) -> int:
    """Write the pages of one score; print the files written."""
    from mos_lab.notation import EngraveError
    from mos_lab.notation import engrave as make

    out = output_file(args.output, (".svg", ".png"), "pages")
    if args.width < 50 or args.zoom <= 0 or args.scale <= 0:
        raise CliError("--width must be at least 50, --zoom and --scale above 0")
    score = load_input(args.file)
    analysis = None
    if args.harmony:
        from mos_lab.theory import analyze

        analysis = analyze(score)
    try:
        engraving = make(score, analysis=analysis, harmony=args.harmony or "none",
                         page_width=args.width, zoom=args.zoom)
        with writing(out):
            paths = engraving.save(out, scale=args.scale)
    except EngraveError as exc:
        raise CliError(f"{args.file}: cannot engrave: {exc}") from None
    pages = f"{len(paths)} page" + ("s" if len(paths) != 1 else "")
    shown = paths[0].name if len(paths) == 1 else f"{paths[0].name} .. {paths[-1].name}"
    print(f"wrote {pages} ({shown}) in {out.parent}")
    return EXIT_OK
