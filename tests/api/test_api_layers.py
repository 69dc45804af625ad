"""The API's modules import downward only: routes use services, presenters and dependencies,
never each other or Temporal, and no two modules of api/ import each other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API_DIR = Path(__file__).resolve().parents[2] / "api"
ROUTE_MAY_IMPORT = (
    "api.services",
    "api.presenters",
    "api.deps",
    "api.schemas",
    "api.problems",
    "api.authz",
    "api.route",
    "api.state",
)
ROUTE_MAY_NOT_IMPORT = (
    "temporalio",
    "workflows",
    "activities",
    "cy",
    "hitl",
    "integrations",
    "storage",
    "persistence.repository",
    "schedules.service",
    "schedules.temporal",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(API_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports at run time (imports under ``if TYPE_CHECKING`` left out)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _api_graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in API_DIR.rglob("*.py")}
    return {name: {target for target in _imports(path) if target in modules and target != name}
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_two_api_modules_import_each_other_in_a_cycle() -> None:
    graph = _api_graph()
    for package in [name for name in graph if (API_DIR.parent / name.replace(".", "/") / "__init__.py").exists()]:
        graph[package] = set()  # a package's __init__ importing its modules is not a dependency on them
    assert _cycle(graph) is None


ROUTE_FILES = sorted(path for path in (API_DIR / "routes").glob("*.py") if path.name != "__init__.py")


@pytest.mark.parametrize("path", ROUTE_FILES, ids=lambda path: path.stem)
def test_a_route_module_imports_only_what_lies_below_it(path: Path) -> None:
    imports = _imports(path)
    api_imports = {name for name in imports if name == "api" or name.startswith("api.")}
    wrong = sorted(
        name for name in api_imports
        if not any(name == allowed or name.startswith(allowed + ".") for allowed in ROUTE_MAY_IMPORT)
    )
    assert wrong == []
    forbidden = sorted(
        name for name in imports if any(name == bad or name.startswith(bad + ".") for bad in ROUTE_MAY_NOT_IMPORT)
    )
    assert forbidden == []
