"""Can a node accept what its predecessors produce? JSON Schemas compared where both are given.

The check is conservative: it reports only what cannot match (disjoint types, a required
property the producer's closed object cannot have), recursing into shared properties and
array items. Schemas flow through identity, merge, collect and foreach nodes.
"""

from __future__ import annotations

from typing import Any

from .definition import Graph, Node, Problem

Schema = dict[str, Any] | None
JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


def _types(schema: dict[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list) and all(isinstance(t, str) for t in declared):
        types = set(declared)
    elif "const" in schema or isinstance(schema.get("enum"), list):
        values = [schema["const"]] if "const" in schema else schema["enum"]
        types = {_type_of(v) for v in values}
    else:
        return None
    return types


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _accepts(accepted: set[str], produced: set[str]) -> bool:
    """Whether some value of a produced type is of an accepted type (integers are numbers)."""
    widened = set(accepted) | ({"integer"} if "number" in accepted else set())
    return bool(widened & produced) or ("number" in produced and "integer" in accepted)


def mismatch(produced: Schema, accepted: Schema, where: str = "$") -> str | None:
    """Why no value ``produced`` describes can satisfy ``accepted``, or None."""
    if not isinstance(produced, dict) or not isinstance(accepted, dict):
        return None
    made, wanted = _types(produced), _types(accepted)
    if made is not None and wanted is not None and not _accepts(wanted, made):
        return f"at {where} it produces {'/'.join(sorted(made))} where {'/'.join(sorted(wanted))} is expected"
    if (made is None or made == {"object"}) and (wanted is None or "object" in wanted):
        properties = produced.get("properties") if isinstance(produced.get("properties"), dict) else {}
        closed = produced.get("additionalProperties") is False
        for name in accepted.get("required", []) if isinstance(accepted.get("required"), list) else []:
            if closed and name not in properties:
                return f"at {where} it never has the required property {name!r}"
        wanted_properties = accepted.get("properties") if isinstance(accepted.get("properties"), dict) else {}
        for name, schema in wanted_properties.items():
            if name in properties:
                reason = mismatch(properties[name], schema, f"{where}.{name}")
                if reason:
                    return reason
    if (made is None or made == {"array"}) and (wanted is None or "array" in wanted):
        reason = mismatch(produced.get("items"), accepted.get("items"), f"{where}[*]")
        if reason:
            return reason
    return None


def _merged(schemas: list[Schema]) -> Schema:
    if not schemas or any(not isinstance(s, dict) or _types(s) != {"object"} for s in schemas):
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for schema in schemas:
        properties.update(schema.get("properties") or {})
        required.extend(r for r in schema.get("required") or [] if r not in required)
    closed = all(schema.get("additionalProperties") is False for schema in schemas)
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if closed:
        out["additionalProperties"] = False
    return out


def _listed(schemas: list[Schema]) -> Schema:
    return {"type": "array", "prefixItems": [s if isinstance(s, dict) else {} for s in schemas]}


def flow_schemas(
    graph: Graph, workflow_input: Schema, task_schemas: dict[str, tuple[Schema, Schema]]
) -> tuple[dict[str, Schema], dict[str, Schema]]:
    """For each node: the schema of the input it receives and of the result it produces.
    ``task_schemas`` maps a task or foreach node id to its task's (input, output) schemas."""
    incoming: dict[str, Schema] = {}
    outgoing: dict[str, Schema] = {}
    for node_id in graph.order():
        node = graph.node(node_id)
        predecessors = graph.predecessors(node_id)
        produced = [outgoing[p] for p in predecessors]
        if not predecessors:
            incoming[node_id] = workflow_input
        elif node.kind == "merge":
            incoming[node_id] = _merged(produced)
        elif node.kind == "collect" or len(produced) > 1:
            incoming[node_id] = _listed(produced)
        else:
            incoming[node_id] = produced[0]
        if node.kind == "task":
            outgoing[node_id] = task_schemas.get(node_id, (None, None))[1]
        elif node.kind == "foreach":
            item = task_schemas.get(node_id, (None, None))[1]
            outgoing[node_id] = {"type": "array", "items": item} if isinstance(item, dict) else {"type": "array"}
        else:
            outgoing[node_id] = incoming[node_id]
    return incoming, outgoing


def _item_schema(node: Node, schema: Schema) -> Schema:
    if node.items or not isinstance(schema, dict):
        return None
    items = schema.get("items")
    return items if isinstance(items, dict) else None


def schema_problems(
    graph: Graph, workflow_input: Schema, task_schemas: dict[str, tuple[Schema, Schema]]
) -> list[Problem]:
    """Each task or foreach node whose task's input_schema cannot accept what reaches it."""
    incoming, _ = flow_schemas(graph, workflow_input, task_schemas)
    problems = []
    for index, node in enumerate(graph.nodes):
        if node.kind not in ("task", "foreach") or node.id not in task_schemas:
            continue
        accepted = task_schemas[node.id][0]
        received = incoming[node.id] if node.kind == "task" else _item_schema(node, incoming[node.id])
        reason = mismatch(received, accepted)
        if reason:
            source = "the workflow's input_schema" if not graph.predecessors(node.id) else "what reaches it"
            problems.append(
                Problem(
                    f"nodes[{index}].task",
                    f"task {node.task!r} cannot accept {source}: {reason}",
                    node.id,
                )
            )
    return problems
