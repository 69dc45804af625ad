"""Testing a task on 100 samples: the time of `POST /v1/tasks/{id}/test` end to end.

The task is the enrichment-plus-LLM example of docs/testing.md: each sample calls
`app::vt::lookup`-like enrichment (`app::http::request`), `llm_run` and `sleep`, all answered
from canned results, and is checked against an exact expectation and the output_schema.
Every sample runs in the API process with the Cy interpreter: no run row, no workflow, no
Temporal round trip per sample.

    .venv/bin/python bench/task_tests.py                 # 100 samples, best of 5, through the API
    .venv/bin/python bench/task_tests.py --samples 500 --repeat 3
    .venv/bin/python bench/task_tests.py --in-process    # tasktests.run_samples alone, no stack
    .venv/bin/python bench/task_tests.py --json

With the API, an embedded Postgres and Temporal dev server are started first (not timed); the
timed part is one HTTP request (in-process ASGI transport) that loads the task, parses and
runs the samples and answers the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPT = """alert = input.alert
ip = alert.source_ip
lookup = app::http::request("GET", "https://enrich.example/ip/${ip}", auth="credential:ENRICH")
score = lookup.body.score ?? 0
sleep(1)
verdict = llm_run("Alert ${alert.title} from ${ip} scores ${score}. Answer malicious or benign.")
log("${ip}: ${score} -> ${verdict}")
return {"ip": ip, "score": score, "verdict": str::lowercase(verdict), "escalate": score >= 70}
"""
OUTPUT_SCHEMA = {
    "type": "object",
    "required": ["ip", "score", "verdict", "escalate"],
    "properties": {"verdict": {"enum": ["malicious", "benign"]}, "escalate": {"type": "boolean"}},
}


def samples(count: int) -> list[dict]:
    made = []
    for n in range(count):
        score = (n * 37) % 100
        verdict = "Malicious" if score >= 70 else "Benign"
        ip = f"10.0.{n // 256}.{n % 256}"
        made.append(
            {
                "name": f"alert {n}",
                "input": {"alert": {"title": f"Login burst {n}", "source_ip": ip}},
                "expected_output": {"ip": ip, "score": score, "verdict": verdict.lower(), "escalate": score >= 70},
                "tool_results": {
                    "app::http::request": {"result": {"status": 200, "headers": {}, "body": {"score": score}}},
                    "llm_run": {"result": verdict},
                },
            }
        )
    return made


def in_process(count: int, repeat: int) -> list[float]:
    from integrations.registry import get_registry
    from tasktests import parse_samples, run_samples

    raw = samples(count)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        reports = run_samples(SCRIPT, parse_samples(raw, get_registry()), OUTPUT_SCHEMA)
        times.append(time.perf_counter() - started)
        assert all(report.passed for report in reports), [r.reason for r in reports if not r.passed][:3]
    return times


async def through_api(count: int, repeat: int) -> list[float]:
    import httpx

    from api.main import create_app
    from devstack import DevStack
    from settings import Settings

    key = "bench-" + uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as data_dir:
        async with DevStack(Path(data_dir), headless=True, migrate=True) as stack:
            settings = Settings(
                DATA_DIR=Path(data_dir),
                DATABASE_URL=stack.database_url,
                TEMPORAL_ADDRESS=stack.temporal_address,
                BLOB_DIR=Path(data_dir) / "blobs",
                API_KEY=key,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {key}"}, timeout=120
                ) as client:
                    created = await client.post(
                        "/v1/tasks",
                        json={"name": "Triage alert", "script": SCRIPT, "output_schema": OUTPUT_SCHEMA, "data_samples": samples(count)},
                    )
                    created.raise_for_status()
                    task_id = created.json()["id"]
                    await client.post(f"/v1/tasks/{task_id}/test", json={})  # warm-up (first compile)
                    times = []
                    for _ in range(repeat):
                        started = time.perf_counter()
                        response = await client.post(f"/v1/tasks/{task_id}/test", json={})
                        times.append(time.perf_counter() - started)
                        response.raise_for_status()
                        summary = response.json()["summary"]
                        assert summary == {"total": count, "passed": count, "failed": 0}, summary
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--in-process", action="store_true", help="time tasktests.run_samples alone (no stack)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.in_process:
        in_process(args.samples, 1)  # warm-up (first compile)
        times = in_process(args.samples, args.repeat)
    else:
        times = asyncio.run(through_api(args.samples, args.repeat))
    result = {
        "mode": "in-process" if args.in_process else "api",
        "samples": args.samples,
        "best_ms": round(min(times) * 1000, 1),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "per_sample_ms": round(min(times) * 1000 / args.samples, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['samples']} samples ({result['mode']}): best {result['best_ms']} ms, "
            f"median {result['median_ms']} ms, {result['per_sample_ms']} ms per sample"
        )


if __name__ == "__main__":
    main()
