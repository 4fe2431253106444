"""Imports only go downward, as docs/architecture.md's table says (checked on the source)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "mos_lab"

# package -> mos_lab packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "score": set(),
    "bus": set(),
    "share": {"bus"},
    "audio": {"bus"},
    "engine": {"score", "bus", "audio"},
    "theory": {"score"},
    "theater": {"score", "bus"},
    "ai": {"score", "theory", "bus", "audio", "engine"},
    "plugins": {"bus"},
    "widgets": {"score", "theory", "bus", "audio", "engine", "theater", "ai", "plugins"},
    "kernel": {
        "score", "theory", "bus", "audio", "engine", "theater", "ai", "plugins", "widgets",
    },
    "cli": {"score", "theory", "bus", "audio", "engine", "theater", "ai", "plugins"},
    "testing": {"score", "bus", "audio", "engine"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "mos_lab" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_imports_only_go_downward():
    bad = []
    for sub in sorted(p for p in PKG.iterdir() if p.is_dir() and p.name in ALLOWED):
        for py in sub.rglob("*.py"):
            for dep in imported_packages(py) - ALLOWED[sub.name] - {sub.name}:
                if dep in ALLOWED:
                    bad.append(f"{py.relative_to(PKG.parent)} imports mos_lab.{dep}")
    assert not bad, "\n".join(bad)


def test_every_package_is_in_the_layer_table():
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)
