"""The product's imports run one way and close no circle (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("core", "web", "jobs")
# Which top-level packages each layer must never import.
FORBIDDEN = {"core": {"web", "jobs", "sim"}, "jobs": {"web", "sim"}, "web": {"sim"}}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """Every module named by an import anywhere in the tree: ``from a import b`` names ``a.b``
    when that is a module, else ``a``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                names.add(dotted if dotted in known else node.module)
    return names


def _graph() -> dict[str, set[str]]:
    """Who imports whom. A package that loads its own modules to register their routes (a
    Flask blueprint's package) is left out: it defines what they import before loading them,
    so none of them ever sees it half made."""
    known = _modules()
    graph = {}
    for name, path in known.items():
        targets = _imported(ast.parse(path.read_text()), known)
        if path.name == "__init__.py":
            targets = {target for target in targets if not target.startswith(name + ".")}
        graph[name] = targets
    return graph


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports that leads from ``start`` back to it, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, path = stack.pop()
        for nxt in sorted(graph.get(name, ())):
            if nxt == start:
                return [*path, start]
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_module_of_core_web_or_jobs_imports_itself_through_others():
    """No chain of imports in core/, web/ and jobs/ leads from a module back to itself."""
    graph = _graph()
    assert len(graph) > 50  # the walk found the product
    cycles = [cycle for name in sorted(graph) if (cycle := _cycle_from(name, graph))]
    assert cycles == []


def test_imports_run_one_way_between_the_layers():
    """core/ imports neither web/ nor jobs/, jobs/ never imports web/, and nothing imports sim/."""
    wrong = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN[name.split(".")[0]]
    ]
    assert wrong == []


def test_pages_import_nothing_from_the_json_api():
    """What pages and the JSON API share lives outside web/api/ (web/reports.py, web/listings.py)."""
    graph = _graph()
    pages = {name: graph[name] for name in graph if name.startswith("web.pages")}
    assert pages and {
        name: {t for t in targets if t.startswith("web.api")} for name, targets in pages.items()
    } == {name: set() for name in pages}
