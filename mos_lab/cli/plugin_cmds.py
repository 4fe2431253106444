"""``mos-lab plugins``: the plugins a session would load, each with its state and why."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mos_lab.bus import EventBus
from mos_lab.plugins import PluginRegistry, default_folders, status_table

EXIT_OK, EXIT_USAGE = 0, 2


def register(sub: Any) -> None:
    """Add the ``plugins`` sub-command to the CLI's sub-parsers."""
    p = sub.add_parser(
        "plugins", help="list installed plugins and plugins folders, with their state",
        description="List the plugins a mos_lab session would load: installed packages "
        "(entry point group mos_lab.plugins) and plugins folders. States: ready (would "
        "start), blocked (a requirement or the sandbox is missing), refused (API version, "
        "duplicate or dependency cycle), error (could not be loaded); with --start: "
        "started or failed. Exit 0 when listed, 2 when a --folder is not a folder.")
    p.add_argument("--folder", action="append", metavar="DIR",
                   help="a plugins folder (repeatable); default: $MOS_LAB_PLUGIN_PATH or "
                   "~/.config/mos_lab/plugins")
    p.add_argument("--start", action="store_true",
                   help="start them (untrusted ones in the sandbox), report, then stop them")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.set_defaults(run=plugins)


def plugins(args: argparse.Namespace) -> int:
    """List (and with ``--start`` try) every plugin; 2 if a folder given is not one."""
    folders = [Path(f) for f in args.folder] if args.folder else default_folders()
    missing = [str(f) for f in folders if not f.is_dir()]
    if args.folder and missing:
        print(f"mos-lab plugins: not a folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    with EventBus() as bus:
        reg = PluginRegistry(bus)
        reg.discover(folders=[f for f in folders if f.is_dir()])
        if args.start:
            reg.start()
            rows = reg.status()
            reg.stop()
        else:
            reg.resolve()
            rows = reg.status()
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    elif rows:
        print(status_table(rows))
    else:
        where = ", ".join(map(str, folders)) or "no plugins folder"
        print(f"no plugins (entry points: none; folders: {where})")
    return EXIT_OK
