"""The house rules of docs/architecture.md, checked on the source: the package map, paths named in
prose, the transaction rules, the migration chain, and a repository that needs nothing beside it."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PRODUCT = ("core", "jobs", "web")
# A request through an HTTP client's own module, or through a variable named like the sessions
# that hold one (``http``, ``self.http``, ``self._http``), reaches another service.
HTTP_MODULES = {"requests", "aiohttp", "urllib", "httpx"}
HTTP_HOLDERS = {"http", "_http"}
HTTP_VERBS = {"get", "post", "put", "patch", "delete", "head", "request", "urlopen"}
# Names too common to resolve a method call by name alone (SQLAlchemy sessions, dicts, lists).
COMMON_METHODS = {"get", "add", "execute", "scalar", "scalars", "close", "flush", "merge"}


def _tracked() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in names.stdout.splitlines() if (ROOT / name).is_file()]


def _text_files() -> list[tuple[Path, str]]:
    """Every tracked text file but this one, whose own checks spell out what they look for."""
    found = []
    for path in _tracked():
        if path.suffix in {".gz", ".png", ".ico", ".body"} or path == Path(__file__).resolve():
            continue
        try:
            found.append((path, path.read_text()))
        except UnicodeDecodeError:
            continue
    return found


def _python_files(*tops: str) -> list[Path]:
    return [path for top in tops for path in sorted((ROOT / top).rglob("*.py"))]


# ---- the package map ---------------------------------------------------------------------------


def _core_packages() -> list[str]:
    return sorted(path.parent.name for path in (ROOT / "core").glob("*/__init__.py"))


def _documented(init: Path) -> bool:
    """A package's __init__.py says what it owns (a docstring) and what it exports (__all__)."""
    tree = ast.parse(init.read_text())
    names_all = any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
        for node in tree.body
    )
    return bool(ast.get_docstring(tree)) and names_all


def test_every_package_of_core_is_in_the_map_with_a_docstring_and_entry_points():
    """docs/architecture.md names every package of core/, and each says what it owns and what
    other packages may import (a module docstring and __all__)."""
    mapped = set(re.findall(r"^\| `(\w+)/` \|", ARCHITECTURE.read_text(), flags=re.M))
    packages = set(_core_packages()) | {"migrations"}
    assert packages - mapped == set()
    assert mapped - packages == set()  # nothing mapped that is gone
    assert [
        package for package in _core_packages() if not _documented(ROOT / "core" / package / "__init__.py")
    ] == []


def test_every_package_of_web_and_jobs_says_what_it_owns_and_exports():
    """The packages above core/ have a docstring and __all__ too."""
    inits = [
        ROOT / "web" / "__init__.py",
        ROOT / "jobs" / "__init__.py",
        *(ROOT / "web").glob("*/__init__.py"),
    ]
    assert [str(init.relative_to(ROOT)) for init in sorted(inits) if not _documented(init)] == []


def test_the_flat_top_of_core_is_infrastructure_only():
    """At most a dozen flat modules in core/, each named in the map."""
    flat = sorted(path.stem for path in (ROOT / "core").glob("*.py") if path.stem != "__init__")
    mapped = set(re.findall(r"^\| `(\w+)` \|", ARCHITECTURE.read_text(), flags=re.M))
    assert len(flat) <= 12
    assert set(flat) == mapped


# A path of the repository's own in prose: no path character right before or after it.
PATH_IN_PROSE = re.compile(
    r"(?<![\w/.-])((?:core|web|jobs|sim|bench|tests)/[\w/-]*\w\.(?:py|json|md|html|js))(?![\w.])"
)


def _generated(named: str) -> bool:
    """A file the build writes (git ignores it), such as bench/results.json."""
    return subprocess.run(["git", "check-ignore", "-q", named], cwd=ROOT).returncode == 0


def test_every_path_named_in_docstrings_docs_and_the_readme_exists():
    """A path such as core/counts/billed.py named anywhere in the repository's text (docstrings,
    comments, docs/, the README) is a file that exists (or one the build writes)."""
    named = {(path, name) for path, text in _text_files() for name in PATH_IN_PROSE.findall(text)}
    missing = sorted(
        f"{path.relative_to(ROOT)} names {name}"
        for path, name in named
        if not (ROOT / name).exists() and not _generated(name)
    )
    assert missing == []


def test_the_path_check_finds_a_path_that_is_gone():
    """The pattern picks out a path from prose as docstrings write it, and only whole paths."""
    assert PATH_IN_PROSE.findall("kept incrementally (core/counts/timings.py), filled here") == [
        "core/counts/timings.py"
    ]
    assert PATH_IN_PROSE.findall("see `core/failures.py`.") == ["core/failures.py"]
    assert PATH_IN_PROSE.findall("tests/fixtures/shopify/admin-schema/admin_2026-10.json.gz") == []
    assert not (ROOT / "core/failures.py").exists()


# ---- no reference folder at run time -----------------------------------------------------------

# The reference folder's relative path, spelt in two pieces so this file does not name it itself.
BESIDE = "../" + "shared"
SHARED = re.compile(
    r"\.\./" + "shared" + r"\b|[\"']shared[\"']\s*[,/)]"
)  # built so this file names it nowhere


def _names_the_reference_folder(path: Path, text: str) -> bool:
    """True when a file names the team's reference folder beside the repository, except a
    vendored copy's README under tests/fixtures/ saying where the copy came from."""
    if path.name == "README.md" and ROOT / "tests" / "fixtures" in path.parents:
        return False
    return bool(SHARED.search(text))


def test_no_tracked_file_names_the_reference_folder_beside_the_repository():
    """A clone of the repository alone builds, runs and tests: nothing reads the team's reference
    folder beside it (a vendored copy says where it came from in the README beside it, under
    tests/fixtures/)."""
    naming = [
        str(path.relative_to(ROOT)) for path, text in _text_files() if _names_the_reference_folder(path, text)
    ]
    assert naming == []


def test_the_reference_folder_check_sees_both_spellings():
    """A relative path in prose and a path built from parts are both caught; a fixture README is not."""
    here = ROOT / "tests" / "test_x.py"
    assert _names_the_reference_folder(here, f"see {BESIDE}/DESIGN.md")
    assert _names_the_reference_folder(here, 'Path(x).parent / "shared" / "fixtures"')
    assert _names_the_reference_folder(here, 'os.path.join(root, "..", "shared", "fixtures")')
    assert not _names_the_reference_folder(here, "a shared family phone")
    assert not _names_the_reference_folder(ROOT / "tests" / "fixtures" / "meta" / "README.md", f"{BESIDE}/x")


# ---- transactions ------------------------------------------------------------------------------


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _own_transaction_calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Calls in a function taking ``session`` that would end or open a transaction."""
    found = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        ends = isinstance(func, ast.Attribute) and func.attr in {"commit", "rollback"}
        if ends and isinstance(func.value, ast.Name) and func.value.id == "session":
            found.append(f"session.{func.attr}()")
        if isinstance(func, ast.Name) and func.id == "session_scope":
            found.append("session_scope()")
    return found


def test_a_session_parameter_means_the_callers_transaction():
    """A function that takes ``session`` never commits, rolls back or opens its own transaction
    (docs/architecture.md, Transactions)."""
    wrong = []
    for path in _python_files("core", "jobs"):
        if "migrations" in path.parts:
            continue
        for function in _functions(ast.parse(path.read_text())):
            if "session" in {arg.arg for arg in function.args.args + function.args.kwonlyargs}:
                wrong += [
                    f"{path.relative_to(ROOT)}:{function.name} {call}"
                    for call in _own_transaction_calls(function)
                ]
    assert wrong == []


class CallGraph:
    """Which functions of the product reach another service over HTTP, directly or through the
    functions they call. Calls are resolved by the names a module imports or defines, ``self.``
    inside a class, and by method name for methods of the product that reach out."""

    def __init__(self) -> None:
        self.bodies: dict[str, ast.AST] = {}
        self.resolve: dict[str, dict[str, str]] = {}  # per module: a local name -> a function key
        self.modules: dict[str, str] = {}  # a function key -> its module
        for path in _python_files(*PRODUCT):
            self._index(path)
        self.outbound = self._outbound()

    def _index(self, path: Path) -> None:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        names = self.resolve.setdefault(module, {})
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self._add(module, node.name, node)
                names[node.name] = f"{module}:{node.name}"
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        self._add(module, f"{node.name}.{item.name}", item)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}:{alias.name}"

    def _add(self, module: str, name: str, node: ast.AST) -> None:
        key = f"{module}:{name}"
        self.bodies[key], self.modules[key] = node, module

    def callees(self, key_or_module: str, node: ast.AST) -> set[str]:
        """The keys of product functions (or markers of an HTTP client) called in ``node``."""
        module = self.modules.get(key_or_module, key_or_module)
        _, _, qualname = key_or_module.partition(":")
        cls = qualname.split(".")[0] if "." in qualname else None
        names = self.resolve.get(module, {})
        found = set()
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            func = call.func
            if isinstance(func, ast.Name) and func.id in names:
                found.add(names[func.id])
            elif isinstance(func, ast.Attribute):
                found |= self._attribute_callees(func, names, module, cls)
        return found

    def _attribute_callees(self, func: ast.Attribute, names: dict, module: str, cls: str | None) -> set[str]:
        # What the method is called on, ``(http or requests).post`` included.
        holders = {getattr(node, "id", getattr(node, "attr", None)) for node in ast.walk(func.value)}
        if func.attr in HTTP_VERBS and holders & (HTTP_MODULES | HTTP_HOLDERS):
            return {"<http>"}
        root = func.value
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name):
            if root.id == "self" and cls and isinstance(func.value, ast.Name):
                return {f"{module}:{cls}.{func.attr}"}
            if root.id in names and isinstance(func.value, ast.Name):  # an imported module
                target = names[root.id].replace(":", ".")
                return {f"{target}:{func.attr}"}
        if func.attr in COMMON_METHODS or func.attr.startswith("__"):
            return set()
        return {key for key in self.bodies if key.endswith(f".{func.attr}") and ":" in key}

    def _outbound(self) -> set[str]:
        calls = {key: self.callees(key, body) for key, body in self.bodies.items()}
        outbound = {key for key, targets in calls.items() if "<http>" in targets}
        grew = True
        while grew:
            grew = False
            for key, targets in calls.items():
                if key not in outbound and targets & outbound:
                    outbound.add(key)
                    grew = True
        return outbound


def _session_scope_blocks(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "session_scope":
                    yield node


@pytest.fixture(scope="module")
def call_graph() -> CallGraph:
    return CallGraph()


def test_no_transaction_is_held_around_a_call_to_meta_or_shopify(call_graph):
    """Nothing called inside ``with session_scope()`` reaches another service over HTTP."""
    wrong = []
    for path in _python_files(*PRODUCT):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for block in _session_scope_blocks(ast.parse(path.read_text())):
            body = ast.Module(body=block.body, type_ignores=[])
            reached = call_graph.callees(module, body) & (call_graph.outbound | {"<http>"})
            wrong += [f"{path.relative_to(ROOT)}:{block.lineno} calls {key}" for key in sorted(reached)]
    assert wrong == []


def test_the_call_graph_knows_the_calls_that_reach_out(call_graph):
    """The check can fail: the Graph API, the Admin API client and the send lane are outbound,
    the ratchet and the settings are not."""
    assert {
        "core.whatsapp.graph:phone_number",
        "core.whatsapp.send:MessageSender.send",
    } <= call_graph.outbound
    assert "core.shopify.admin:AdminClient.query" in call_graph.outbound
    assert "core.shopify.oauth:refresh_offline_token" in call_graph.outbound
    assert not any(key.startswith(("core.rules.", "core.settings:")) for key in call_graph.outbound)


# ---- the migration chain -----------------------------------------------------------------------


def _chain() -> list[str]:
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_the_documented_migration_chain_is_alembics_and_new_revisions_are_numbered_by_place():
    """docs/architecture.md lists the revisions in chain order, and every revision after the
    fourteenth has the id of its place in the chain (0015_..., 0016_...)."""
    text = ARCHITECTURE.read_text()
    listed = text[text.index("<!-- migration-chain") : text.index("<!-- end migration-chain")]
    documented = re.findall(r"^\d+\. `([\w]+)`", listed, flags=re.M)
    chain = _chain()
    assert documented == chain
    late = [(place, revision) for place, revision in enumerate(chain, start=1) if place > 14]
    assert [revision for place, revision in late if not revision.startswith(f"{place:04d}_")] == []
