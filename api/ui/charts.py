"""An inline SVG chart of runs over time, stacked by status (no script, no external asset)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUS_COLORS = {"completed": "#2e7d32", "failed": "#c62828", "timed_out": "#ef6c00", "cancelled": "#757575"}
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM = 720, 180, 36, 20


@dataclass
class Bar:
    x: float
    width: float
    segments: list[tuple[float, float, str, str]]  # y, height, color, title
    label: str | None


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    top: int
    baseline: float
    legend: dict[str, str]


def series_chart(series: list[dict[str, Any]], period: str) -> Chart:
    top = max([point["total"] for point in series] + [1])
    plot_width = WIDTH - PAD_LEFT
    plot_height = HEIGHT - PAD_BOTTOM
    step = plot_width / max(len(series), 1)
    bars = []
    every = max(1, len(series) // 8)
    for index, point in enumerate(series):
        y = float(plot_height)
        segments = []
        for status, color in STATUS_COLORS.items():
            count = point["by_status"].get(status, 0)
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            segments.append((round(y, 1), round(height, 1), color, f"{count} {status}"))
        start = point["start"]
        label = None
        if index % every == 0:
            label = start.strftime("%H:%M") if period == "hour" else start.strftime("%m-%d")
        bars.append(Bar(round(PAD_LEFT + index * step + 1, 1), round(max(step - 2, 1), 1), segments, label))
    return Chart(WIDTH, HEIGHT, bars, top, plot_height, STATUS_COLORS)
