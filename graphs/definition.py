"""A workflow definition's nodes and edges, parsed and checked for structure."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

NODE_KINDS = ("task", "identity", "merge", "collect", "foreach")
TASK_KINDS = ("task", "foreach")
ON_ERROR = ("fail", "continue")
MAX_NODES = 200
MAX_FOREACH_CONCURRENCY = 50
DEFAULT_FOREACH_CONCURRENCY = 4
NODE_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")
"""Node ids name node runs too (``node[3]`` for a foreach item), so they hold no brackets."""
NODE_FIELDS = {"id", "kind", "task", "version", "description", "on_error", "items", "concurrency"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: where (``nodes[2].task``), which node, and what."""

    field: str
    message: str
    node_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, **({"node_id": self.node_id} if self.node_id else {})}


class GraphInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


@dataclass(frozen=True)
class Node:
    id: str
    kind: str = "task"
    task: str | None = None
    """A saved task, by cy_name or id (task and foreach nodes)."""
    version: int | None = None
    """A pinned version of the task; None: the task's current version when the run starts."""
    description: str = ""
    on_error: str = "fail"
    items: str = ""
    """foreach: a JSON pointer to the list in the node's input ("" is the input itself)."""
    concurrency: int = DEFAULT_FOREACH_CONCURRENCY

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.task is not None:
            out["task"] = self.task
        if self.version is not None:
            out["version"] = self.version
        if self.description:
            out["description"] = self.description
        if self.on_error != "fail":
            out["on_error"] = self.on_error
        if self.kind == "foreach":
            out["items"] = self.items
            out["concurrency"] = self.concurrency
        return out


@dataclass(frozen=True)
class Edge:
    source: str
    target: str

    def to_dict(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target}


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    _by_id: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({node.id: node for node in self.nodes})

    def node(self, node_id: str) -> Node:
        return self._by_id[node_id]

    def predecessors(self, node_id: str) -> list[str]:
        """In edge order: the order in which a node with several predecessors sees their results."""
        return [edge.source for edge in self.edges if edge.target == node_id]

    def successors(self, node_id: str) -> list[str]:
        return [edge.target for edge in self.edges if edge.source == node_id]

    @property
    def entry(self) -> Node:
        return next(node for node in self.nodes if not self.predecessors(node.id))

    @property
    def sinks(self) -> list[Node]:
        return [node for node in self.nodes if not self.successors(node.id)]

    def order(self) -> list[str]:
        """The node ids in a topological order (definition order among independent nodes)."""
        waiting = {node.id: len(self.predecessors(node.id)) for node in self.nodes}
        ready = deque(node.id for node in self.nodes if waiting[node.id] == 0)
        ordered: list[str] = []
        while ready:
            current = ready.popleft()
            ordered.append(current)
            for successor in self.successors(current):
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    ready.append(successor)
        return ordered

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [n.to_dict() for n in self.nodes], "edges": [e.to_dict() for e in self.edges]}


def _node(raw: Any, index: int, problems: list[Problem]) -> Node | None:
    where = f"nodes[{index}]"
    if not isinstance(raw, dict):
        problems.append(Problem(where, "a node must be an object"))
        return None
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not NODE_ID.fullmatch(node_id):
        problems.append(
            Problem(f"{where}.id", "a node needs an id: 1 to 100 letters, digits, '_', '-' or '.'")
        )
        return None
    before = len(problems)
    for unknown in sorted(set(raw) - NODE_FIELDS):
        problems.append(Problem(f"{where}.{unknown}", f"unknown node field; expected {', '.join(sorted(NODE_FIELDS))}", node_id))
    kind = raw.get("kind", "task")
    if kind not in NODE_KINDS:
        problems.append(Problem(f"{where}.kind", f"must be one of {', '.join(NODE_KINDS)}, got {kind!r}", node_id))
        return None
    task = raw.get("task")
    if kind in TASK_KINDS:
        if not isinstance(task, str) or not task.strip():
            problems.append(Problem(f"{where}.task", f"a {kind} node names a saved task (cy_name or id)", node_id))
    elif task is not None:
        problems.append(Problem(f"{where}.task", f"a {kind} node runs no task", node_id))
    version = raw.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        problems.append(Problem(f"{where}.version", "a pinned version is a positive integer", node_id))
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        problems.append(Problem(f"{where}.description", "must be a string of at most 2000 characters", node_id))
    on_error = raw.get("on_error", "fail")
    if on_error not in ON_ERROR:
        problems.append(Problem(f"{where}.on_error", f"must be 'fail' or 'continue', got {on_error!r}", node_id))
    items = raw.get("items", "")
    concurrency = raw.get("concurrency", DEFAULT_FOREACH_CONCURRENCY)
    if kind == "foreach":
        if not isinstance(items, str) or (items and not items.startswith("/")):
            problems.append(Problem(f"{where}.items", "a JSON pointer ('' or '/field/...') to the list in the input", node_id))
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_FOREACH_CONCURRENCY:
            problems.append(
                Problem(f"{where}.concurrency", f"an integer from 1 to {MAX_FOREACH_CONCURRENCY}", node_id)
            )
    else:
        for name in ("items", "concurrency"):
            if name in raw:
                problems.append(Problem(f"{where}.{name}", f"only foreach nodes have {name}", node_id))
    if len(problems) > before:
        return None
    return Node(
        id=node_id,
        kind=kind,
        task=task.strip() if isinstance(task, str) else None,
        version=version,
        description=description,
        on_error=on_error,
        items=items if kind == "foreach" else "",
        concurrency=concurrency if kind == "foreach" else DEFAULT_FOREACH_CONCURRENCY,
    )


def parse_graph(nodes: Any, edges: Any) -> Graph:
    """The graph of a definition, or GraphInvalid listing every problem found."""
    problems: list[Problem] = []
    if not isinstance(nodes, list) or not nodes:
        raise GraphInvalid([Problem("nodes", "a workflow needs a list of at least one node")])
    if len(nodes) > MAX_NODES:
        raise GraphInvalid([Problem("nodes", f"at most {MAX_NODES} nodes, got {len(nodes)}")])
    if not isinstance(edges, list):
        raise GraphInvalid([Problem("edges", "must be a list of {\"from\", \"to\"} objects")])
    parsed: list[Node] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(nodes):
        node = _node(raw, index, problems)
        if node is None:
            continue
        if node.id in seen:
            problems.append(Problem(f"nodes[{index}].id", f"duplicate node id (also nodes[{seen[node.id]}])", node.id))
            continue
        seen[node.id] = index
        parsed.append(node)
    parsed_edges: list[Edge] = []
    pairs: set[tuple[str, str]] = set()
    for index, raw in enumerate(edges):
        where = f"edges[{index}]"
        if not isinstance(raw, dict) or set(raw) != {"from", "to"}:
            problems.append(Problem(where, 'an edge is {"from": node id, "to": node id}'))
            continue
        source, target = raw["from"], raw["to"]
        bad = False
        for end, value in (("from", source), ("to", target)):
            if value not in seen:
                problems.append(Problem(f"{where}.{end}", f"no node with id {value!r}"))
                bad = True
        if bad:
            continue
        if source == target:
            problems.append(Problem(where, f"node {source!r} cannot follow itself", source))
            continue
        if (source, target) in pairs:
            problems.append(Problem(where, f"duplicate edge {source!r} -> {target!r}", target))
            continue
        pairs.add((source, target))
        parsed_edges.append(Edge(source, target))
    if problems:
        raise GraphInvalid(problems)
    graph = Graph(tuple(parsed), tuple(parsed_edges))
    problems.extend(structure_problems(graph, seen))
    if problems:
        raise GraphInvalid(problems)
    return graph


def structure_problems(graph: Graph, index_of: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    entries = [node.id for node in graph.nodes if not graph.predecessors(node.id)]
    if len(entries) != 1:
        if not entries:
            problems.append(Problem("edges", "no entry node: every node has a predecessor (the graph has a cycle)"))
        else:
            problems.append(
                Problem("edges", f"more than one entry node (nodes without a predecessor): {', '.join(entries)}", entries[1])
            )
    ordered = set(graph.order())
    for node in graph.nodes:
        if node.id not in ordered:
            problems.append(Problem(f"nodes[{index_of[node.id]}]", f"node {node.id!r} is on a cycle", node.id))
    if entries and not problems:
        reachable = {entries[0]}
        frontier = [entries[0]]
        while frontier:
            for successor in graph.successors(frontier.pop()):
                if successor not in reachable:
                    reachable.add(successor)
                    frontier.append(successor)
        for node in graph.nodes:
            if node.id not in reachable:
                problems.append(
                    Problem(f"nodes[{index_of[node.id]}]", f"node {node.id!r} is unreachable from the entry node", node.id)
                )
    for node in graph.nodes:
        if node.kind in ("merge", "collect") and len(graph.predecessors(node.id)) < 1:
            problems.append(Problem(f"nodes[{index_of[node.id]}].kind", f"a {node.kind} node needs predecessors", node.id))
    return problems
