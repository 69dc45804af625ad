"""bench/stats_at_scale.py loads, builds the rollups and measures end to end on a small history
(no timing asserted): every request answers 200 and the rollups count every finished run."""

from __future__ import annotations

import argparse
import json

import pytest

from bench import stats_at_scale


@pytest.mark.stack
@pytest.mark.timeout(180)
async def test_the_stats_benchmark_runs_on_a_small_history(capsys) -> None:
    args = argparse.Namespace(runs=600, days=3, tasks=5, samples=2, data_dir=None, driver="asyncpg", json=True)
    await stats_at_scale.run(args)
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["cases"]) == 9
    for name, figures in summary["cases"].items():
        assert figures["statuses"] == {"200": 2}, (name, figures)  # JSON keys are text
    assert summary["task_runs"] == 600
    assert summary["rollup_rows"]["hour"] > 0 and summary["rollup_rows"]["day"] > 0
    assert summary["error_rollup_rows"] > 0
