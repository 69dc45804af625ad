"""A workflow's graph drawn as inline SVG: a layered layout, each node in the column of its
depth from the entry node (the longest path to it, so every edge points right), boxes joined
by arrows. No script and no external asset; the picture scales with its viewBox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOX_WIDTH, BOX_HEIGHT = 168, 54
GAP_X, GAP_Y, PAD = 56, 22, 12
STATUS_FILL = {
    "pending": "#eceff1",
    "running": "#bbdefb",
    "paused": "#e1bee7",
    "completed": "#c8e6c9",
    "failed": "#ffcdd2",
    "cancelled": "#e0e0e0",
    "timed_out": "#ffe0b2",
    "skipped": "#f5f5f5",
}
PLAIN_FILL = "#ffffff"
LABEL_CHARS = 22


@dataclass
class Box:
    id: str
    x: int
    y: int
    title: str
    subtitle: str
    fill: str
    status: str | None = None
    href: str | None = None
    tooltip: str = ""


@dataclass
class Arrow:
    x1: int
    y1: int
    x2: int
    y2: int
    state: str = ""


@dataclass
class Drawing:
    width: int
    height: int
    box_width: int = BOX_WIDTH
    box_height: int = BOX_HEIGHT
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def depths(node_ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the length of the longest path from an entry node (a node without a
    predecessor) to it. Nodes on a cycle, which a checked definition never has, stay where the
    relaxation leaves them after as many rounds as there are nodes."""
    depth = {node: 0 for node in node_ids}
    known = [(a, b) for a, b in edges if a in depth and b in depth and a != b]
    for _ in range(len(node_ids)):
        changed = False
        for source, target in known:
            if depth[target] < depth[source] + 1:
                depth[target] = depth[source] + 1
                changed = True
        if not changed:
            break
    return depth


def draw(
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    *,
    task_label: dict[str, str] | None = None,
    status: dict[str, str] | None = None,
    links: dict[str, str] | None = None,
) -> Drawing:
    """The drawing of ``nodes`` (``{"id", "kind", "task"}``) and ``edges`` (``{"from", "to"}``);
    with ``status``, each box is filled by its node's status; ``links`` make boxes links."""
    ids = [str(node["id"]) for node in nodes]
    pairs = [(str(edge.get("from")), str(edge.get("to"))) for edge in edges]
    depth = depths(ids, pairs)
    rows: dict[int, int] = {}
    position: dict[str, tuple[int, int]] = {}
    boxes = []
    for node in nodes:
        node_id = str(node["id"])
        column = depth[node_id]
        row = rows.get(column, 0)
        rows[column] = row + 1
        x = PAD + column * (BOX_WIDTH + GAP_X)
        y = PAD + row * (BOX_HEIGHT + GAP_Y)
        position[node_id] = (x, y)
        kind = str(node.get("kind") or "task")
        task = node.get("task")
        label = (task_label or {}).get(str(task), str(task)) if task else ""
        node_status = (status or {}).get(node_id)
        subtitle = f"{kind} · {label}" if label else kind
        boxes.append(
            Box(
                id=node_id,
                x=x,
                y=y,
                title=_short(node_id),
                subtitle=_short(subtitle),
                fill=STATUS_FILL.get(node_status or "", PLAIN_FILL) if status is not None else PLAIN_FILL,
                status=node_status,
                href=(links or {}).get(node_id),
                tooltip=f"{node_id}: {subtitle}" + (f" ({node_status})" if node_status else ""),
            )
        )
    arrows = []
    ended = {"completed", "failed", "cancelled", "skipped", "timed_out"}
    for source, target in pairs:
        if source not in position or target not in position:
            continue
        (sx, sy), (tx, ty) = position[source], position[target]
        state = ""
        if status is not None:
            state = "taken" if status.get(source) in ended else "waiting"
        if tx > sx:
            arrows.append(Arrow(sx + BOX_WIDTH, sy + BOX_HEIGHT // 2, tx - 4, ty + BOX_HEIGHT // 2, state))
        else:  # not left to right (a cycle): from the bottom of one box to the top of the other
            arrows.append(Arrow(sx + BOX_WIDTH // 2, sy + BOX_HEIGHT, tx + BOX_WIDTH // 2, ty - 4, state))
    columns = max(depth.values(), default=0) + 1
    tallest = max(rows.values(), default=1)
    width = PAD * 2 + columns * BOX_WIDTH + (columns - 1) * GAP_X
    height = PAD * 2 + tallest * BOX_HEIGHT + (tallest - 1) * GAP_Y
    return Drawing(width=width, height=height, boxes=boxes, arrows=arrows)
