"""No import cycles: a module may only import what does not, through any path, import it back.

The graph is read from the source with `ast`, so imports inside functions (lazy imports) count:
a lazy import hides a cycle from Python, not from the reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("plugin", "connectors")

#: The house rule for size: a module longer than this is split by what its parts are for.
MAX_MODULE_LINES = 400


def module_files() -> dict[str, Path]:
    """Every module of our packages by dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def resolve_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from … import` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def nearest_module(name: str, modules: Mapping[str, Path]) -> str | None:
    """`name` if it is one of our modules, else its nearest enclosing one of ours."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """Our modules that `module` imports anywhere in its body (functions included).

    `from a.b import c` is an edge to `a.b.c` when that is a module, else to `a.b`."""
    is_package = path.name == "__init__.py"
    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(nearest_module(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve_base(node, module, is_package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else nearest_module(base, modules))
    return {target for target in targets if target is not None and target != module}


def import_graph() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports."""
    modules = module_files()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """The groups of modules that reach each other (Tarjan), iteratively: no recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups


def cycle_through(
    graph: Mapping[str, Iterable[str]], group: set[str], start: str | None = None
) -> list[str]:
    """One concrete cycle inside a strongly connected group: the shortest from `start` (default:
    the group's first module) back to itself, so a failure names the imports to untangle."""
    start = start or min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node]):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target in group and target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(group)} is not strongly connected")


def cycle_groups(graph: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or through others."""
    return [group for group in strongly_connected(graph) if len(group) > 1]


def import_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One named cycle for each group of modules that import each other."""
    return sorted(cycle_through(graph, group) for group in cycle_groups(graph))


def describe(cycles: Iterable[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_no_import_cycle_anywhere() -> None:
    """No module of plugin/ or connectors/ imports, through any path, what imports it back: the
    scheduler's job tables, the blueprints and the command group stay leaves of what they list."""
    cycles = import_cycles(import_graph())
    assert not cycles, f"import cycles:\n{describe(cycles)}"


def test_no_module_is_longer_than_the_house_rule() -> None:
    """A module past the limit holds more than one thing; split it by what its parts are for."""
    long = {
        name: lines
        for name, path in module_files().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_the_graph_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The reader itself: a lazy import inside a function and a relative import are edges."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("def later():\n    from pkg.b import thing\n")
    (package / "b.py").write_text("from .a import later\nthing = 1\n")
    modules = {"pkg": package / "__init__.py", "pkg.a": package / "a.py", "pkg.b": package / "b.py"}
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]


def top_level_imports(path: Path) -> set[str]:
    """The first part of every module `path` imports anywhere in its body (flask, sqlalchemy…)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_connectors_speak_to_platforms_only() -> None:
    """A connector turns a platform's API into plain records: it knows neither the web app nor
    the database, so it can be tested against the platform alone and reused by any caller."""
    leaks = {
        name: sorted(found)
        for name, path in module_files().items()
        if name.startswith("connectors")
        and (found := top_level_imports(path) & {"flask", "sqlalchemy", "plugin"})
    }
    assert leaks == {}


def test_guards_read_only_their_facts() -> None:
    """Guards judge `Facts` and nothing else; what they read is loaded once per batch by
    plugin/engine/preload.py, so a guard cannot query the database row by row."""
    path = module_files()["plugin.engine.guards"]
    assert not top_level_imports(path) & {"sqlalchemy", "flask", "requests", "urllib3"}
    assert "plugin.db" not in imports_of("plugin.engine.guards", path, module_files())


#: Where a request or a command begins, the only modules that may read the Flask app (and
#: plugin.db, which keeps the request's session on it).
EDGES = ("plugin.cli.", "plugin.web.", "plugin.db")
EDGE_MODULES = ("routes", "storefront", "embedded")


def reads_the_app(path: Path) -> bool:
    """Whether the module imports `flask.current_app` (anywhere in its body)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "flask"
        and any(alias.name == "current_app" for alias in node.names)
        for node in ast.walk(tree)
    )


def test_only_routes_and_commands_read_the_app() -> None:
    """Library modules receive their settings and database as arguments, so they run the same
    from a request, a command, a job or a test, with no application context to set up."""
    readers = {
        name
        for name, path in module_files().items()
        if reads_the_app(path)
        and not name.startswith(EDGES)
        and name.rpartition(".")[2] not in EDGE_MODULES
    }
    assert readers == set()
