"""The product's imports run one way and close no circle (imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("core", "web", "jobs")
# Which top-level packages each layer must never import.
FORBIDDEN = {"core": {"web", "jobs", "sim"}, "jobs": {"web", "sim"}, "web": {"sim"}}

# The layers of core/, bottom to top (docs/architecture.md): a unit (a flat module or a package)
# imports only units of lower layers. ONLY narrows a unit further.
LAYERS = [
    {"rules", "settings"},
    {"db", "redis", "crypto", "bulk"},
    {"models"},
    {"inbox", "templates", "outcomes", "migrations"},
    {"counts", "whatsapp", "experiments"},
    {"meta_webhooks", "reconcile", "shopify"},
    {"campaigns"},
    {"dispatch", "reports"},
    {"ops"},
]
ONLY = {"rules": set(), "settings": set(), "models": {"rules"}}
# Who may import a package's modules not named in its __all__: the package itself, and tests.
IMPORTERS_CHECKED = ("core", "web", "jobs", "bench", "sim")


def _modules(packages: tuple[str, ...] = PRODUCT) -> dict[str, Path]:
    found = {}
    for package in packages:
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


def _graph(packages: tuple[str, ...] = PRODUCT) -> dict[str, set[str]]:
    """Who imports whom. A package that loads its own modules to register their routes (a
    Flask blueprint's package) is left out: it defines what they import before loading them,
    so none of them ever sees it half made."""
    known = _modules(packages)
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


def _unit(module: str) -> str | None:
    """The unit of core/ a module belongs to: ``core.counts.billed`` -> ``counts``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "core" and len(parts) > 1 else None


def _layer_of(unit: str) -> int:
    return next(index for index, units in enumerate(LAYERS) if unit in units)


def _layer_breach(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when the layers allow it."""
    mine, theirs = _unit(importer), _unit(imported)
    if mine is None or theirs is None or mine == theirs:
        return None
    if mine in ONLY:
        allowed = ONLY[mine]
        return None if theirs in allowed else f"{mine} may import only {sorted(allowed) or 'nothing of core'}"
    if _layer_of(theirs) >= _layer_of(mine):
        mine_at, theirs_at = f"{mine} (layer {_layer_of(mine)})", f"{theirs} (layer {_layer_of(theirs)})"
        return f"{mine_at} may import only lower layers, not {theirs_at}"
    return None


def test_every_unit_of_core_has_a_layer():
    """Each flat module and package of core/ sits in exactly one layer of the table."""
    units = {path.stem for path in (ROOT / "core").glob("*.py") if path.stem != "__init__"}
    units |= {path.parent.name for path in (ROOT / "core").glob("*/__init__.py")}
    units.add("migrations")
    placed = [unit for layer in LAYERS for unit in layer]
    assert sorted(placed) == sorted(set(placed))  # none twice
    assert units == set(placed)


def test_core_imports_only_lower_layers():
    """No module of core/ imports a unit of its own layer or above (docs/architecture.md)."""
    breaches = sorted(
        f"{name} imports {target}: {why}"
        for name, targets in _graph(("core",)).items()
        for target in targets
        if target.startswith("core.") and (why := _layer_breach(name, target))
    )
    assert breaches == []


def test_the_layer_rule_names_what_an_upward_import_broke():
    """The check itself: an upward or sideways import is named with its rule, a downward one passes."""
    assert _layer_breach("core.counts.billed", "core.rules.statuses") is None
    assert "layer 4" in _layer_breach("core.counts.billed", "core.campaigns.monitor")
    assert "layer 4" in _layer_breach("core.whatsapp.send", "core.counts.billed")  # same layer
    assert "only ['rules']" in _layer_breach("core.models.message", "core.db")
    assert "nothing of core" in _layer_breach("core.rules.phones", "core.settings")


def _entry_points(package: str) -> list[str]:
    tree = ast.parse((ROOT / "core" / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return ast.literal_eval(node.value)
    return []


def test_packages_meet_through_their_entry_points():
    """A module of another package (or of web/, jobs/, bench/, sim/) imports only the modules a
    package names in its __all__; core.models is imported whole (its __all__ names the models)."""
    graph = _graph(IMPORTERS_CHECKED)
    wrong = []
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            parts = target.split(".")
            if parts[0] != "core" or len(parts) < 3 or _unit(name) == parts[1]:
                continue
            if not (ROOT / "core" / parts[1] / "__init__.py").exists():
                continue
            if parts[1] == "models" or parts[2] not in _entry_points(parts[1]):
                wrong.append(f"{name} imports {target}, not an entry point of core.{parts[1]}")
    assert wrong == []


def test_every_entry_point_is_a_module_of_its_package():
    """Each name in a package's __all__ is one of its modules (or, for core.models, a model)."""
    missing = [
        f"core.{package}.{entry}"
        for package in sorted(path.parent.name for path in (ROOT / "core").glob("*/__init__.py"))
        if package not in ("models", "migrations")
        for entry in _entry_points(package)
        if not (ROOT / "core" / package / f"{entry}.py").exists()
    ]
    import core.models

    assert missing == [] and all(hasattr(core.models, name) for name in core.models.__all__)
