"""``python -m mos_lab`` runs the command line."""

from mos_lab.cli import main

raise SystemExit(main())
