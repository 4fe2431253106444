"""Imports only go downward, as docs/architecture.md's table says (checked on the source).

Every ``import`` in every module counts, wherever it stands: at module level, inside a
function or under ``if TYPE_CHECKING:``. From them the tests build the module graph and
check that no package imports a layer above it, that no relative import climbs out of its
package, that only the top layers import the root package (``import mos_lab``), and that
no modules import each other in a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
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
    "notation": {"score", "theory"},
    "theater": {"score", "bus"},
    "ai": {"score", "theory", "notation", "bus", "audio", "engine"},
    "plugins": {"bus"},
    "widgets": {"score", "theory", "notation", "bus", "audio", "engine", "theater", "ai",
                "plugins"},
    # corpus: per-file jobs; render needs engine (and so bus, audio), as ai's do
    "corpus": {"score", "theory", "notation", "ai", "bus", "audio", "engine"},
    "lessons": {"score", "theory", "notation", "bus", "audio", "engine", "widgets"},
    "kernel": {
        "score", "theory", "notation", "bus", "audio", "engine", "theater", "ai", "plugins",
        "widgets", "lessons",
    },
    "cli": {"score", "theory", "notation", "bus", "audio", "engine", "theater", "ai",
            "plugins", "corpus"},
    "testing": {"score", "bus", "audio", "engine"},
}

# Modules directly in mos_lab/ that are no layer of the table:
BELOW_ALL = {"_jit"}  # imports nothing from mos_lab; every layer may import it
ENTRY = {"__main__"}  # ``python -m mos_lab``: may import anything, imported by nothing
# The entry points, the only layers that may import the root package (``import mos_lab``,
# ``from mos_lab import load``): it reaches the kernel and loads the IPython extension.
TOP = {"kernel", "cli"}
ROOT = "mos_lab"


def _name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    return {_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _package_of(module: str) -> str:
    return module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]


def _known(name: str) -> str:
    """The longest prefix of ``name`` that is one of our modules (what importing it runs)."""
    while name not in modules():
        name = name.rpartition(".")[0]
    return name


def imports_in(source: str, module: str) -> list[tuple[str, int, int]]:
    """(imported mos_lab module, line, relative level) for every import in ``source``,
    read as the text of ``module``."""
    found: list[tuple[str, int, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(_known(a.name), node.lineno, 0) for a in node.names
                      if a.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module).split(".")
                base = base[: max(len(base) - (node.level - 1), 0)]
                target = ".".join(base + ([node.module] if node.module else [])) or ROOT
            elif node.module and node.module.split(".")[0] == ROOT:
                target = node.module
            else:
                continue
            for alias in node.names:  # ``from pkg import submodule`` imports the submodule
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in modules() else _known(target), node.lineno,
                              node.level))
    return found


@cache
def imports(module: str) -> tuple[tuple[str, int, int], ...]:
    return tuple(imports_in(modules()[module].read_text(encoding="utf-8"), module))


def layer_of(module: str) -> str:
    """The table row a module belongs to (``mos_lab`` for the root package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _edges() -> Iterator[tuple[str, str, int, int]]:
    for mod in modules():
        for target, line, level in imports(mod):
            yield mod, target, line, level


def _where(mod: str, line: int) -> str:
    return f"{modules()[mod].relative_to(PKG.parent)}:{line}"


def layer_problem(mod: str, target: str, level: int = 0) -> str | None:
    """Why ``mod`` may not import ``target`` (None when it may)."""
    if level > 1:
        return f"a relative import ({'.' * level}) climbs out of its package to {target}"
    src, dst = layer_of(mod), layer_of(target)
    if src in (dst, ROOT) or src in ENTRY or dst in BELOW_ALL:
        return None
    if src in BELOW_ALL:
        return f"mos_lab.{src} is below every layer but imports {target}"
    if dst == ROOT:
        if src in TOP:
            return None
        return f"mos_lab.{src} imports the root package (import mos_lab), which only " \
               f"{sorted(TOP)} may"
    if dst not in ALLOWED.get(src, set()):
        return f"mos_lab.{src} imports {target}"
    return None


def test_imports_only_go_downward_and_relative_imports_stay_in_their_package():
    bad = [f"{_where(mod, line)}: {why}" for mod, target, line, level in _edges()
           if (why := layer_problem(mod, target, level))]
    assert not bad, "\n".join(bad)


def test_the_rules_catch_upward_relative_root_and_unknown_imports():
    def problems(source: str, module: str) -> list[str | None]:
        return [layer_problem(module, t, lvl) for t, _, lvl in imports_in(source, module)]

    assert problems("from mos_lab.bus import EventBus", "mos_lab.engine.engine") == [None]
    assert problems("def f():\n    from mos_lab.engine import Engine", "mos_lab.audio.synth") \
        == ["mos_lab.audio imports mos_lab.engine"]
    assert problems("from ..engine import Engine", "mos_lab.audio.synth") == [
        "a relative import (..) climbs out of its package to mos_lab.engine"]
    assert problems("from .. import scene", "mos_lab.theater.render.gpu") == [
        "a relative import (..) climbs out of its package to mos_lab.theater.scene"]
    assert problems("from . import cpu", "mos_lab.theater.scene") == [None]
    for bare in ("import mos_lab", "from mos_lab import load", "import mos_lab.score.io"):
        found = problems(bare, "mos_lab.engine.loader")
        assert found == ([None] if bare.endswith("io") else [
            "mos_lab.engine imports the root package (import mos_lab), which only "
            "['cli', 'kernel'] may"]), bare
    assert problems("import mos_lab", "mos_lab.cli.commands") == [None]
    assert problems("from mos_lab.score import Score", "mos_lab._jit") == [
        "mos_lab._jit is below every layer but imports mos_lab.score"]
    assert problems("from mos_lab.widgets import Player", "mos_lab.testing") == [
        "mos_lab.testing imports mos_lab.widgets"]


def test_every_package_and_top_level_module_is_in_the_layer_table():
    top = {layer_of(m) for m in modules()} - {ROOT}
    assert top <= set(ALLOWED) | BELOW_ALL | ENTRY, top - set(ALLOWED) - BELOW_ALL - ENTRY


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for mod, target, _, _ in _edges():
        graph[mod].add(target)
    return graph


def test_no_modules_import_each_other_in_a_circle():
    graph = module_graph()
    found = []
    for comp in _cycles(graph):
        members = set(comp)
        lines = sorted({f"  {_where(m, line)} imports {t}" for m in comp
                        for t, line, _ in imports(m) if t in members})
        found.append(" <-> ".join(comp) + "\n" + "\n".join(lines))
    assert not found, "import circles (function-level and TYPE_CHECKING imports count):\n" + (
        "\n".join(found))


def test_the_cycle_finder_sees_a_circle_through_three_modules_and_a_self_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c"], ["e"]]


def test_the_graph_sees_function_level_type_checking_relative_and_submodule_imports():
    engine = dict((t, lvl) for t, _, lvl in imports("mos_lab.engine.engine"))
    assert "mos_lab.engine.transport" in engine  # ``from mos_lab.engine import transport``
    assert "mos_lab.score" in engine  # ``from mos_lab.score import Score`` runs the package
    bus = {t: lvl for t, _, lvl in imports("mos_lab.bus")}
    assert bus.get("mos_lab.bus._bus") == 1  # ``from ._bus import EventBus``
    root = {t for t, _, _ in imports("mos_lab")}
    assert "mos_lab.kernel" in root  # imported inside session()
    assert layer_of("mos_lab") == ROOT and layer_of("mos_lab.theater.render.gpu") == "theater"
