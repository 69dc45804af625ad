"""What flows along a graph's edges: node inputs, merges and the envelope around a node's result.

Deterministic and free of I/O: the workflow run computes every node input with it.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpointer

from .definition import Graph, Node


MAX_FOREACH_ITEMS = 1000
"""A foreach node runs at most this many items (each is a child run in the run's history)."""


class ItemsRefused(ValueError):
    """A foreach node's items cannot be run; ``error_type`` names why in the run's error."""

    error_type = "ForeachItemsRefused"


class ItemsNotAList(ItemsRefused):
    error_type = "ForeachItemsNotAList"


class TooManyItems(ItemsRefused):
    error_type = "ForeachTooManyItems"


def deep_merge(results: list[Any]) -> Any:
    """Objects merge key by key, recursively, later results winning on other values; a merge
    of anything but objects is the last result."""
    merged: Any = None
    for result in results:
        if isinstance(merged, dict) and isinstance(result, dict):
            merged = _merge_two(merged, result)
        else:
            merged = copy.deepcopy(result)
    return merged


def _merge_two(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    out = dict(left)
    for key, value in right.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge_two(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def node_input(graph: Graph, node: Node, run_input: Any, results: dict[str, Any]) -> Any:
    """The entry node gets the run's input; a node with one predecessor its result; a merge
    node the deep merge and a collect node the list of its predecessors' results (in edge
    order); any other node with several predecessors the list of their results."""
    predecessors = graph.predecessors(node.id)
    if not predecessors:
        return run_input
    values = [results[p] for p in predecessors]
    if node.kind == "merge":
        return deep_merge(values)
    if node.kind == "collect" or len(values) > 1:
        return values
    return values[0]


def foreach_items(node: Node, value: Any) -> list[Any]:
    try:
        items = jsonpointer.resolve_pointer(value, node.items) if node.items else value
    except jsonpointer.JsonPointerException as error:
        raise ItemsNotAList(f"node {node.id!r}: items {node.items!r} does not resolve in its input: {error}") from None
    if not isinstance(items, list):
        raise ItemsNotAList(
            f"node {node.id!r}: items {node.items or '(the input)'} is {type(items).__name__}, not a list"
        )
    if len(items) > MAX_FOREACH_ITEMS:
        raise TooManyItems(f"node {node.id!r}: {len(items)} items; a foreach node runs at most {MAX_FOREACH_ITEMS}")
    return items


def envelope(
    node: Node,
    result: Any,
    *,
    duration_ms: int,
    llm_usage: dict[str, int] | None = None,
    error: dict[str, Any] | None = None,
    task_run_id: str | None = None,
) -> dict[str, Any]:
    """A node's output as its successors' and the run's records see it."""
    out: dict[str, Any] = {
        "node_id": node.id,
        "description": node.description,
        "context": {"llm_usage": llm_usage or {}, "duration_ms": duration_ms},
        "result": result,
    }
    if task_run_id is not None:
        out["task_run_id"] = task_run_id
    if error is not None:
        out["error"] = error
    return out


def run_output(graph: Graph, results: dict[str, Any]) -> Any:
    """The result of the one sink node; with several sinks, their results in definition order."""
    sinks = graph.sinks
    if len(sinks) == 1:
        return results.get(sinks[0].id)
    return [results.get(sink.id) for sink in sinks]
