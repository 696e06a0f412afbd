"""The package's shape: the definitions load with every resource, no module grows
past 400 lines, and lib/ imports only downwards (config/errors < pg < archive < backup < moves <
tiering < imports < daily < voice < monitoring), so a lower layer never asks a higher one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import dagster as dg

from persys_pipelines.definitions import build_definitions
from persys_pipelines.defs.resources import resources

PACKAGE = Path(__file__).resolve().parent.parent / "persys_pipelines"
LIB = PACKAGE / "lib"
MAX_LINES = 400
# over the limit, split on the branches that own them (their files are being edited there)
KNOWN_LONG: set[str] = set()

ORDER = ["base", "pg", "archive", "backup", "moves", "tiering", "imports", "insight", "daily",
         "voice", "monitoring", "household", "deploy", "cicd", "onboarding"]  # `persys init` on top
# lib/<module>.py at the top: base, except provision (it plans and sizes the tiers) and
# sample_data (it writes rows into tables)
TOP_LEVEL = {"provision": "tiering", "sample_data": "pg"}
BASE_PACKAGES = {"config"}  # lib/config/ sits with the base modules


def _layer(path: Path) -> str:
    rel = path.relative_to(LIB)
    if len(rel.parts) == 1:
        return TOP_LEVEL.get(rel.stem, "base")
    return "base" if rel.parts[0] in BASE_PACKAGES else rel.parts[0]


def _imported_layers(path: Path) -> set[str]:
    """Layers of lib/ a module imports, at any depth (function-level imports included)."""
    parts = path.relative_to(LIB).parts[:-1]  # the package the module sits in
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = list(parts[:len(parts) - (node.level - 1)]) if node.level > 1 else list(parts)
        if node.level - 1 > len(parts):
            continue  # above lib/ (not a lib import)
        target = base + (node.module.split(".") if node.module else [])
        names = target if target else [a.name for a in node.names]
        if not names:
            continue
        head = names[0] if target else names[0]
        candidate = LIB / head
        if candidate.is_dir():
            found.add("base" if head in BASE_PACKAGES else head)
        elif (LIB / f"{head}.py").is_file():
            found.add(TOP_LEVEL.get(head, "base"))
    return found


def test_definitions_load_with_all_resources(cfg, config_path):
    defs = build_definitions(cfg, str(config_path))
    expected = set(resources(str(config_path)))
    assert expected <= set(defs.resources or {})
    for name in expected - {"progress"}:  # progress: the CLI's bar, a plain callable
        assert isinstance(defs.resources[name], dg.ConfigurableResource)
    assert defs.resolve_all_job_defs()  # every asset's required resource is bound


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= KNOWN_LONG, f"split these by concern: {long}"


def test_lib_imports_only_downwards():
    wrong = []
    for path in LIB.rglob("*.py"):
        mine = _layer(path)
        for other in _imported_layers(path):
            if ORDER.index(other) > ORDER.index(mine):
                wrong.append(f"{path.relative_to(LIB)} ({mine}) imports {other}")
    assert not wrong, "lower layers must be told, not ask: " + "; ".join(sorted(wrong))


CATALOG = re.compile(r"\b(pg_(class|attribute|namespace|inherits|constraint|index|roles|trigger"
                     r"|rewrite|policy|publication|publication_rel|depend|type|proc|default_acl"
                     r"|db_role_setting)|information_schema)\b")
# Catalog readers outside lib/pg/: adopt's own inventory of a table, onboarding's look at the
# person's database, doctor's checks, the archive's type mapping (what a column is stored as).
CATALOG_READERS = {"moves/adopt_catalog.py", "onboarding/inspect.py", "archive/columns.py",
                   "archive/reader.py", "monitoring/doctor/database.py",
                   "monitoring/doctor/imports.py", "monitoring/doctor/privacy.py",
                   "monitoring/keepalive.py", "moves/adopt_swap.py"}


def test_the_catalog_is_read_in_few_places():
    """PostgreSQL's catalog is read in lib/pg/ (catalog.py: the shared lookups) and in the
    few modules whose subject it is; a route or a report asks lib/pg/ instead."""
    readers = {str(p.relative_to(LIB)) for p in LIB.rglob("*.py")
               if p.relative_to(LIB).parts[0] != "pg" and CATALOG.search(p.read_text())}
    assert readers <= CATALOG_READERS, f"ask lib/pg/catalog.py: {sorted(readers - CATALOG_READERS)}"


def test_lib_top_level_stays_small():
    """Grouped by concern: at most a dozen plain modules beside the subpackages."""
    modules = sorted(p.stem for p in LIB.glob("*.py") if p.stem != "__init__")
    assert len(modules) <= 12, f"group these into a subpackage: {modules}"


def test_every_exception_derives_from_persys_error():
    """One error root: every exception class defined under persys_pipelines/ is a PersysError."""
    import importlib
    import inspect

    from persys_pipelines.lib.errors import PersysError

    strays = []
    for path in PACKAGE.rglob("*.py"):
        if "class " not in path.read_text():
            continue
        name = ".".join(("persys_pipelines", *path.relative_to(PACKAGE).with_suffix("").parts))
        module = importlib.import_module(name.removesuffix(".__init__"))
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (cls.__module__ == module.__name__ and issubclass(cls, BaseException)
                    and not issubclass(cls, PersysError)):
                strays.append(f"{cls.__module__}.{cls.__qualname__}")
    assert not strays, f"derive these from PersysError: {strays}"


def test_only_public_dagster_names():
    """No `dagster._…` import (private, may change in any release), in the code or the tests."""
    private = []
    for root in (PACKAGE, PACKAGE.parent / "persys_pipelines_tests"):
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                private += [f"{path.name}: {n}" for n in names if n.startswith("dagster._")]
    assert not private, private


def _runtime_imports(tree: ast.AST) -> list[ast.ImportFrom]:
    """Relative imports that run (function-level included; `if TYPE_CHECKING:` blocks not)."""
    found: list[ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _module_graph() -> dict[str, set[str]]:
    """lib module → lib modules it imports (`a.b` for lib/a/b.py, `a` for lib/a/__init__.py)."""
    def name_of(p: Path) -> str:
        parts = list(p.relative_to(LIB).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(p): p for p in LIB.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" and name else name.split(".")[:-1]
        deps: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            if node.level - 1 > len(package):
                continue
            base = package[:len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            for alias in node.names:
                whole = ".".join([*target, alias.name])
                deps.add(whole if whole in modules else ".".join(target))
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_no_import_circle_in_lib():
    """No two lib modules import each other, directly or round about (function-level imports
    count: they only hide a circle)."""
    graph, circles = _module_graph(), []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                circles.append(" → ".join([*path[path.index(dep):], dep]))
            elif dep not in state:
                walk(dep, [*path, dep])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert not circles, circles
