"""Cy interpreter speed: the same algorithms in Cy and in plain Python, in one process.

Run from the repository root::

    python bench/cy_speed.py            # table
    python bench/cy_speed.py --json     # machine-readable

Each Cy timing includes parsing, checking and compiling the script (a fresh
``compile_script`` per repetition) plus running it; each Python timing is a plain call
of the equivalent function. Both sides report the best of N repetitions and the Cy
result is checked against the Python result before any figure is printed.

A second measurement times ``check_script`` (parse + compile-time checks) of a
realistic ~200-line script.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cy import CyOptions, check_script, compile_script  # noqa: E402
from cy.host import LocalHost  # noqa: E402
from cy.natives import default_registry  # noqa: E402

# ----------------------------------------------------------------------------------------
# Algorithms

PRIMES_CY = """
limit = input.limit
count = 0
n = 2
while (n < limit) {
    is_prime = True
    d = 2
    while (d * d <= n) {
        if (n % d == 0) {
            is_prime = False
            break
        }
        d += 1
    }
    if (is_prime) {
        count += 1
    }
    n += 1
}
return count
"""


def primes_py(data: dict[str, Any]) -> int:
    limit = data["limit"]
    count = 0
    n = 2
    while n < limit:
        is_prime = True
        d = 2
        while d * d <= n:
            if n % d == 0:
                is_prime = False
                break
            d += 1
        if is_prime:
            count += 1
        n += 1
    return count


HISTOGRAM_CY = """
words = split(input.text, " ")
total = len(words)
counts = {}
for (w in words) {
    counts[w] = (counts[w] ?? 0) + 1
}
report = []
for (w in sort(keys(counts))) {
    c = counts[w]
    report += ["${w}: ${c} (${c * 100 / total}%)"]
}
longest = ""
for (w in keys(counts)) {
    if (len(w) > len(longest)) {
        longest = w
    }
}
frequent = [w for(w in keys(counts)) if(counts[w] >= 20)]
return {"distinct": len(counts), "longest": longest, "frequent": len(frequent), "report": report}
"""


def histogram_py(data: dict[str, Any]) -> dict[str, Any]:
    words = data["text"].split(" ")
    total = len(words)
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    report: list[str] = []
    for w in sorted(counts):
        c = counts[w]
        report += [f"{w}: {c} ({c * 100 / total}%)"]
    longest = ""
    for w in counts:
        if len(w) > len(longest):
            longest = w
    frequent = [w for w in counts if counts[w] >= 20]
    return {"distinct": len(counts), "longest": longest, "frequent": len(frequent), "report": report}


def generate_text(words: int, seed: int = 7) -> str:
    """Deterministic pseudo-English text: a Zipf-like draw from a syllable vocabulary."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "po", "zu", "an", "er"]
    vocabulary = sorted(
        {"".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(600)}
    )
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    return " ".join(rng.choices(vocabulary, weights=weights, k=words))


# ----------------------------------------------------------------------------------------
# A realistic ~200-line script for the parse + check measurement

BLOCK = """
# --- source {i}: enrichment step ---
source_{i} = input.sources[{i}] ?? {{}}
name_{i} = source_{i}.name ?? "source-{i}"
score_{i} = 0
if (source_{i}.kind == "ip" and is_ipv4(source_{i}.value ?? "")) {{
    report_{i} = app::intel::lookup_ip(ip=source_{i}.value, days={i})
    score_{i} = (report_{i}.score ?? 0) * 2 + {i}
}} elif (source_{i}.kind == "domain") {{
    report_{i} = app::intel::lookup_domain(domain=lowercase(source_{i}.value ?? ""))
    score_{i} = len(report_{i}.tags ?? []) * 10
}} else {{
    log("skipping ${{name_{i}}}")
}}
tags_{i} = [uppercase(t) for(t in source_{i}.tags ?? []) if(len(t) > 2)]
try {{
    parsed_{i} = from_json(source_{i}.raw ?? "{{}}")
    findings["{i}"] = {{"name": name_{i}, "score": score_{i}, "tags": tags_{i}, "parsed": parsed_{i}}}
}} catch (e) {{
    errors += ["source {i}: ${{e}}"]
}}
summary = summary + "- ${{name_{i}}}: ${{score_{i}}}\\n"
"""

SCRIPT_HEAD = """# Realistic enrichment task used to time parsing and checking
alert = input
findings = {}
errors = []
summary = ""
threshold = input.threshold ?? 50
severity = lowercase(alert.severity ?? "unknown")
title = alert.title ?? alert.rule_name ?? "untitled"
observables = alert.observables ?? []
ip_count = len([o for(o in observables) if(o.type == "ip")])
log("analysing ${title} (${severity}) with ${ip_count} IPs")
"""

SCRIPT_TAIL = """
total = 0
for (key in findings) {
    entry = findings[key]
    total += entry.score ?? 0
}
verdict = if (total > threshold) { "malicious" } elif (total > 0) { "suspicious" } else { "benign" }
analysis = llm_run(prompt=\"\"\"Summarise these findings:
${summary}
Verdict so far: ${verdict} (${total})\"\"\")
return {"verdict": verdict, "total": total, "errors": errors, "analysis": analysis, "findings": findings}
"""


def realistic_script(target_lines: int = 200) -> str:
    parts = [SCRIPT_HEAD]
    lines = SCRIPT_HEAD.count("\n") + SCRIPT_TAIL.count("\n")
    i = 0
    while lines + BLOCK.count("\n") <= target_lines:
        parts.append(BLOCK.format(i=i))
        lines += BLOCK.count("\n")
        i += 1
    parts.append(SCRIPT_TAIL)
    return "".join(parts)


# ----------------------------------------------------------------------------------------
# Timing


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        best = min(best, elapsed)
    return best, result


def measure(name: str, source: str, py_fn: Callable[[Any], Any], data: Any, repeat: int) -> dict[str, Any]:
    registry = default_registry()
    options = CyOptions(max_iterations=100_000_000, max_operations=1_000_000_000)

    def run_cy() -> Any:
        program = compile_script(source, registry=registry, options=options)
        outcome = program.run(data, host=LocalHost())
        return outcome.value

    run_cy()  # warm-up (imports, caches)
    cy_seconds, cy_result = best_of(repeat, run_cy)
    py_seconds, py_result = best_of(repeat, lambda: py_fn(data))
    if json.dumps(cy_result) != json.dumps(py_result):
        raise SystemExit(
            f"{name}: Cy and Python disagree:\n  Cy:     {json.dumps(cy_result)[:300]}\n"
            f"  Python: {json.dumps(py_result)[:300]}"
        )
    return {
        "name": name,
        "cy_ms": cy_seconds * 1000,
        "python_ms": py_seconds * 1000,
        "ratio": cy_seconds / py_seconds,
    }


def measure_check(repeat: int) -> dict[str, Any]:
    """Best ``check_script`` time with the script's tools registered, and with stubs."""
    source = realistic_script()
    registered = default_registry()
    for name in ("app::intel::lookup_ip", "app::intel::lookup_domain", "llm_run"):
        registered.register(name, lambda *args, **kwargs: None)
    setups = {
        "check_ms": (registered, CyOptions()),
        "check_stub_tools_ms": (default_registry(), CyOptions(stub_tools=True)),
    }
    figures: dict[str, Any] = {"lines": source.count("\n") + 1, "target_ms": 5.0}
    for key, (registry, options) in setups.items():
        errors = check_script(source, registry, options)
        if errors:
            raise SystemExit(
                "the generated script does not check:\n" + "\n".join(e.report(source) for e in errors)
            )
        seconds, _ = best_of(repeat, lambda: check_script(source, registry, options))
        figures[key] = seconds * 1000
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per measurement (best is kept)")
    parser.add_argument("--limit", type=int, default=3000, help="count primes below this number")
    parser.add_argument("--words", type=int, default=5000, help="words in the generated text")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    rows = [
        measure("primes", PRIMES_CY, primes_py, {"limit": args.limit}, args.repeat),
        measure("histogram", HISTOGRAM_CY, histogram_py, {"text": generate_text(args.words)}, args.repeat),
    ]
    cy_total = sum(r["cy_ms"] for r in rows)
    py_total = sum(r["python_ms"] for r in rows)
    check = measure_check(max(args.repeat, 20))
    report = {
        "algorithms": rows,
        "total": {"cy_ms": cy_total, "python_ms": py_total, "ratio": cy_total / py_total},
        "check": check,
        "target_ratio": 10.0,
        "repeat": args.repeat,
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0

    print(f"Cy vs plain Python (best of {args.repeat}; Cy time includes parse + compile)")
    print(f"{'benchmark':<12} {'Cy ms':>10} {'Python ms':>10} {'Cy/Python':>10}")
    for r in rows + [{"name": "total", **report["total"]}]:
        print(f"{r['name']:<12} {r['cy_ms']:>10.2f} {r['python_ms']:>10.2f} {r['ratio']:>9.1f}x")
    print(f"target: <= {report['target_ratio']:.0f}x (reference implementation: ~365x)")
    print(
        f"parse + check of a {check['lines']}-line script: {check['check_ms']:.2f} ms with its tools "
        f"registered, {check['check_stub_tools_ms']:.2f} ms with --stub-tools "
        f"(target < {check['target_ms']:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
