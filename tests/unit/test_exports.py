"""Each package's ``__all__`` holds what the rest of mos_lab, the README, the notebooks and
the extensions use, and nothing more (tests import everything else from its submodule)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "mos_lab"

# Packages being built when the rule came in (issue 12): their owners bring them under it
# as their notebooks and callers land. Nothing else may join this set.
BEING_BUILT = {
    "mos_lab.lessons",  # its notebooks (notebooks/lessons/) are being written
    "mos_lab.ai.models.notagen",  # exports load, random, NotaGen lazily (no torch import)
}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def exports() -> dict[str, list[str]]:
    """package -> its ``__all__``, for every package below the root."""
    out = {}
    for init in sorted(PKG.rglob("__init__.py")):
        if init.parent == PKG:
            continue
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                    assert node.value is not None
                    out[_module(init)] = list(ast.literal_eval(node.value))
    return out


def uses_in(source: str) -> set[tuple[str, str]]:
    """(package, name) pairs that ``source`` reaches: ``from mos_lab.x import name`` and
    attribute chains such as ``mos_lab.widgets.Player`` (also after ``import ... as``)."""
    found: set[tuple[str, str]] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # prose with code in it (the README): plain patterns
        for m in re.finditer(r"from (mos_lab(?:\.\w+)*) import \(?([\w ,\n]+)\)?", source):
            found |= {(m.group(1), n) for n in re.split(r"[,\s]+", m.group(2)) if n}
        for m in re.finditer(r"mos_lab(?:\.\w+)+", source):
            parts = m.group(0).split(".")
            found |= {(".".join(parts[:i]), parts[i]) for i in range(1, len(parts))}
        return found
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] == "mos_lab"):
            for a in node.names:
                found.add((node.module, a.name))
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "mos_lab":
                    aliases[a.asname or "mos_lab"] = a.name if a.asname else "mos_lab"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain: list[str] = []
            cur: ast.expr = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in aliases:
                parts = aliases[cur.id].split(".") + chain[::-1]
                found |= {(".".join(parts[:i]), parts[i]) for i in range(1, len(parts))}
    return found


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = [line for c in cells if c["cell_type"] == "code"
             for line in "".join(c["source"]).splitlines()]
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)


def sources() -> Iterator[tuple[str, str]]:
    """(where, source) for every place that counts as a user of a package's exports: the
    package's modules (a user of every package but its own), the extensions, the
    notebooks and the README."""
    for p in sorted(PKG.rglob("*.py")):
        yield _module(p), p.read_text(encoding="utf-8")
    for p in sorted((REPO / "extensions").rglob("*.py")):
        yield str(p.relative_to(REPO)), p.read_text(encoding="utf-8")
    for p in sorted((REPO / "notebooks").rglob("*.ipynb")):
        yield str(p.relative_to(REPO)), _notebook_code(p)
    yield "README.md", (REPO / "README.md").read_text(encoding="utf-8")


def test_every_export_is_used_outside_its_package():
    users: dict[tuple[str, str], set[str]] = {}
    for where, src in sources():
        for key in uses_in(src):
            users.setdefault(key, set()).add(where)
    unused = []
    for package, names in exports().items():
        if package in BEING_BUILT:
            continue
        for name in names:
            outside = {w for w in users.get((package, name), ())
                       if w != package and not w.startswith(package + ".")}
            if not outside:
                unused.append(f"{package}.{name}")
    assert not unused, (
        "exported but used by no other layer, README, notebook or extension (import it "
        "from its submodule in tests, or drop it from __all__):\n  " + "\n  ".join(unused))


def test_exports_resolve():
    import importlib

    for package, names in exports().items():
        mod = importlib.import_module(package)
        assert [n for n in names if not hasattr(mod, n)] == [], package


def test_the_use_finder_reads_imports_attribute_chains_and_prose():
    src = ("import mos_lab\nimport mos_lab.theater as th\nfrom mos_lab.audio import Synth\n"
           "def f():\n    mos_lab.widgets.Player(); th.View(1, 2)\n")
    assert uses_in(src) >= {("mos_lab.audio", "Synth"), ("mos_lab", "widgets"),
                            ("mos_lab.widgets", "Player"), ("mos_lab.theater", "View")}
    prose = "Use `from mos_lab.engine import Engine, render` or mos_lab.widgets.TheaterView()."
    assert uses_in(prose) >= {("mos_lab.engine", "Engine"), ("mos_lab.engine", "render"),
                              ("mos_lab.widgets", "TheaterView")}
