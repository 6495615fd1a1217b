"""The import graph of the project's own modules, read with `ast` (nothing is imported).

`check(root, dirs, floors)` parses every .py file under `dirs`, resolves its imports
(absolute and relative, at module level or inside functions) to the project's modules,
places each module on a floor with the `floors` table (rows of (path pattern, floor, why),
first match wins) and returns what breaks the rule "each floor imports only from the
floors below it": upward imports, import cycles between modules (strongly connected
components of the graph) and pairs of apps that import each other.

An import names the module it reads: `from apps.x.services.send import f` depends on
apps.x.services.send, not on the package apps.x.services whose __init__ runs first.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str
    path: str  # the importer's file, relative to the root
    line: int


@dataclass
class Report:
    floor: dict[str, int]  # module -> floor
    imports: list[Import]
    upward: dict[tuple[str, str], list[Import]] = field(default_factory=dict)
    cycles: list[frozenset[str]] = field(default_factory=list)
    app_pairs: set[frozenset[str]] = field(default_factory=set)


class Unplaced(Exception):
    """A module that no row of the floors table matches."""


def find_modules(root: Path, dirs) -> dict[str, tuple[str, bool]]:
    """Dotted name -> (path relative to root, is a package's __init__)."""
    found = {}
    for top in dirs:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join(parts)] = (rel.as_posix(), is_package)
    return found


def _known(name: str | None, modules) -> str | None:
    """The module `name` reads: itself, or its nearest enclosing module of ours."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node, module: str, is_package: bool, modules) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:  # relative: from . import x, from ..models import y
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module
        # `from package import name`: name is a submodule, or something defined in package.
        names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix
                 for alias in node.names]
    return [target for target in (_known(name, modules) for name in names) if target]


def _import_statements(tree):
    """Every import statement, also those inside functions, classes, if/try/with blocks
    (an import is a statement: expressions need not be visited)."""
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        for block in ("body", "orelse", "finalbody", "handlers", "cases"):
            statements.extend(getattr(node, block, ()))


def _parse(source: bytes, path: str) -> ast.Module:
    """ast.parse, tried again when CPython 3.11 raises "AST constructor recursion depth
    mismatch": its AST conversion keeps one recursion count per interpreter, which
    another thread's parse (3.11's traceback module parses source lines to place its
    carets, e.g. a server thread of an earlier test logging an error) can change under
    this one."""
    for attempt in range(5):
        try:
            return ast.parse(source, filename=path)
        except SystemError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def read_imports(root: Path, modules) -> list[Import]:
    found = set()
    for module, (path, is_package) in modules.items():
        tree = _parse((root / path).read_bytes(), path)
        for node in _import_statements(tree):
            for target in _targets(node, module, is_package, modules):
                if target != module:
                    found.add(Import(module, target, path, node.lineno))
    return sorted(found, key=lambda imp: (imp.path, imp.line, imp.target))


def place(path: str, floors) -> int:
    for pattern, floor, _why in floors:
        if fnmatchcase(path, pattern):
            return floor
    raise Unplaced(f"{path} is on no floor: add a row for it to FLOORS")


def app_of(module: str) -> str:
    """apps.<app>.… -> <app>; any other top-level package is its own app. Test code,
    wherever it lives, is one unit of its own ("tests")."""
    parts = module.split(".")
    if "tests" in parts:
        return "tests"
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else parts[0]


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return components


def cycle_path(component, imports: list[Import]) -> list[Import]:
    """One shortest cycle inside a component, as the imports that close it."""
    edges = defaultdict(dict)
    for imp in imports:
        if imp.importer in component and imp.target in component:
            edges[imp.importer].setdefault(imp.target, imp)
    start = min(component)
    came_from = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, imp in sorted(edges[node].items()):
            if target == start:
                path = [imp]
                while came_from[path[0].importer] is not None:
                    path.insert(0, came_from[path[0].importer])
                return path
            if target not in came_from:
                came_from[target] = imp
                queue.append(target)
    return []


def check(root: Path, dirs, floors) -> Report:
    modules = find_modules(root, dirs)
    floor = {module: place(path, floors) for module, (path, _) in modules.items()}
    imports = read_imports(root, modules)
    report = Report(floor=floor, imports=imports)
    graph = {module: set() for module in modules}
    app_edges = set()
    for imp in imports:
        graph[imp.importer].add(imp.target)
        if floor[imp.importer] < floor[imp.target]:
            report.upward.setdefault((imp.importer, imp.target), []).append(imp)
        importer_app, target_app = app_of(imp.importer), app_of(imp.target)
        if importer_app != target_app:
            app_edges.add((importer_app, target_app))
    report.cycles = [frozenset(component) for component in strongly_connected(graph)]
    report.app_pairs = {frozenset(pair) for pair in app_edges if pair[::-1] in app_edges}
    return report


def _listed(modules) -> str:
    return ", ".join(sorted(modules))


def problems(report: Report, *, allowed_upward, allowed_cycles, allowed_app_pairs,
             floor_names) -> list[str]:
    """What differs from the allow-lists, one sentence each: new upward imports, cycles
    and app pairs, and allow-listed ones that no longer exist."""
    def floor(module):
        number = report.floor[module]
        return f"floor {number} ({floor_names.get(number, '?')})"

    found = []
    for (importer, target), imports in sorted(report.upward.items()):
        if (importer, target) not in allowed_upward:
            found += [f"{imp.path}:{imp.line} imports {target}: {importer} is on "
                      f"{floor(importer)}, which may import only from the floors below it, "
                      f"and {target} is on {floor(target)}" for imp in imports]
    for importer, target in sorted(set(allowed_upward) - report.upward.keys()):
        found.append(f"{importer} no longer imports {target} (an allow-listed upward import): "
                     f"remove it from the allow-list ALLOWED_UPWARD")
    current = set(report.cycles)
    for cycle in sorted(current - set(allowed_cycles), key=sorted):
        steps = "; ".join(f"{imp.path}:{imp.line} imports {imp.target}"
                          for imp in cycle_path(cycle, report.imports))
        message = (f"import cycle between {len(cycle)} modules ({_listed(cycle)}), one loop: "
                   f"{steps}. A cycle is a design error: break it")
        for old in allowed_cycles:
            if old & cycle:
                joined, left = _listed(cycle - old) or "-", _listed(old - cycle) or "-"
                message += (f". It differs from an allow-listed cycle (joined: {joined}; "
                            f"left: {left}): if modules only left it, put the new set in its "
                            f"place in ALLOWED_CYCLES")
        found.append(message)
    for cycle in sorted(set(allowed_cycles) - current, key=sorted):
        found.append(f"the allow-listed cycle ({_listed(cycle)}) no longer exists: "
                     f"remove it from the allow-list ALLOWED_CYCLES")
    for pair in sorted(report.app_pairs - set(allowed_app_pairs), key=sorted):
        one, other = sorted(pair)
        examples = [next(f"{imp.path}:{imp.line} imports {imp.target}" for imp in report.imports
                         if (app_of(imp.importer), app_of(imp.target)) == (a, b))
                    for a, b in ((one, other), (other, one))]
        found.append(f"apps {one} and {other} import each other ({'; '.join(examples)}): "
                     f"two apps depend one way only, the higher floor on the lower")
    for pair in sorted(set(allowed_app_pairs) - report.app_pairs, key=sorted):
        one, other = sorted(pair)
        found.append(f"apps {one} and {other} no longer import each other: "
                     f"remove the pair from the allow-list ALLOWED_APP_PAIRS")
    return found
