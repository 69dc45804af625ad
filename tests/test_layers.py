"""The product's imports point one way: no import cycle between modules, no package importing a
package above it. Computed from the code itself (every ``import``, also inside functions), so
the structure the README's layout section describes cannot drift."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Top to bottom; a package may import its own modules and packages of lower layers only.
LAYERS: list[tuple[str, set[str]]] = [
    ("command line", {"cli"}),
    ("processes", {"api", "worker", "devstack"}),
    ("task tests", {"tasktests"}),
    ("workflow definitions", {"workflows"}),
    ("activities", {"activities"}),
    ("task schedules", {"schedules"}),
    ("tools", {"integrations"}),
    ("human questions", {"hitl"}),
    ("blob storage", {"storage"}),
    ("database", {"persistence"}),
    ("foundations", {"cy", "validation", "taskrun", "graphs"}),
    ("settings", {"settings"}),
]
NOT_PRODUCT = {"tests", "bench", "docs", "docker", "migrations"}


def product_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for entry in sorted(ROOT.iterdir()):
        if entry.name.startswith((".", "_")) or entry.name in NOT_PRODUCT:
            continue
        if entry.is_file() and entry.suffix == ".py":
            modules[entry.stem] = entry
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            for path in entry.rglob("*.py"):
                parts = list(path.relative_to(ROOT).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                modules[".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package[: len(package) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
                targets = submodules if len(submodules) == len(node.names) else [base, *submodules]
            else:
                continue
            for target in targets:
                resolved = known(target)
                if resolved and resolved != name:
                    graph[name].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


MODULES = product_modules()
GRAPH = import_graph(MODULES)
LAYER_OF = {package: depth for depth, (_, packages) in enumerate(LAYERS) for package in packages}


def test_every_package_has_a_layer():
    packages = {name.split(".")[0] for name in MODULES}
    assert packages - set(LAYER_OF) == set(), "place the new package in LAYERS (and the README's layout section)"


def test_no_import_cycle_between_modules():
    assert cycles(GRAPH) == []


def test_no_package_imports_one_above_it_or_beside_it():
    violations = []
    for importer, imported in sorted(GRAPH.items()):
        for target in sorted(imported):
            source, dest = importer.split(".")[0], target.split(".")[0]
            if source != dest and LAYER_OF[dest] <= LAYER_OF[source]:
                violations.append(f"{importer} -> {target}")
    assert violations == []


def test_the_checks_see_what_they_claim():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert "taskrun.contract" in GRAPH["persistence.repository.runs"]
    assert any(target.startswith("activities.") for target in GRAPH["workflows.task_run"])


def test_the_contract_is_a_leaf():
    assert GRAPH.get("taskrun.contract", set()) == set()
