"""Which ganforge modules import which, read with ast (no import runs), and the cycles among them."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

SRC = REPO / "src" / "ganforge"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(root: Path, path: Path, known: set[str]) -> set[str]:
    """The known modules a file imports, at module level or inside functions; `from pkg import x` names pkg too."""
    me = module_name(root, path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # a.b.function -> a.b
                name = name.rpartition(".")[0]
            if name and name != me:
                found.add(name)
    return found


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """{module: the modules of the same top package it imports} for every .py file under `root`."""
    files = sorted(root.rglob("*.py"))
    known = {module_name(root, f) for f in files}
    return {module_name(root, f): imported_modules(root, f, known) for f in files}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of two or more modules that import each other in a circle (Tarjan's strongly connected parts)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def within(graph: dict[str, set[str]], package: str) -> dict[str, set[str]]:
    """The part of the graph among `package` and its modules."""
    def inside(name: str) -> bool:
        return name == package or name.startswith(package + ".")

    return {m: {d for d in deps if inside(d)} for m, deps in graph.items() if inside(m)}
