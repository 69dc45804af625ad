"""Running a script on samples, or on a recorded run, in-process and with canned tool results.

The script is compiled as a worker compiles it (``workflows.host.compiled_program``: the
server's registry, the workflow limits on operations and value sizes) and run with
``CannedHost``; nothing is stored and no workflow starts. Functions here block (the
interpreter runs synchronously): callers on an event loop run them in a thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cy.errors import CyError
from cy.values import exported, printable
from validation import SchemaFault, failures_of
from workflows.host import MAX_EXPORT_CHARS, compiled_program

MAX_ERROR_MESSAGE_CHARS = 4_000
TIME_BUDGET_SECONDS = 30.0
"""A test of many samples stops starting new ones after this long (each sample is bounded by
the workflow operation budget, so a request is bounded by roughly this plus one sample)."""

from .diff import json_diff
from .host import REPLAY, SAMPLE, CannedHost, MissingToolResult
from .samples import CannedAnswers, Sample


@dataclass
class Execution:
    """What one run of the script did."""

    returned: bool = False
    output: Any = None
    error: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def execute(script: str, input: Any, answers: dict[str, CannedAnswers], *, replay: bool = False) -> Execution:
    host = CannedHost(answers, where=REPLAY if replay else SAMPLE)
    done = Execution(logs=host.logs, tool_calls=host.tool_calls)
    try:
        outcome = compiled_program(script, None).run(input, host=host)
        if outcome.returned:
            done.output = exported(outcome.value, "output", MAX_EXPORT_CHARS)
        done.returned = outcome.returned
    except CyError as error:
        done.error = error.to_dict()
    except MissingToolResult as missing:
        done.error = missing.to_dict()
    if done.error is not None and isinstance(done.error.get("message"), str):
        done.error["message"] = printable(done.error["message"], MAX_ERROR_MESSAGE_CHARS)
    return done


def _schema_failures(schema: Any, value: Any, label: str) -> list[dict[str, Any]]:
    try:
        failures = failures_of(schema, value)
    except SchemaFault as fault:
        return [{"path": "$", "message": f"{label} could not be checked at {fault.schema_path}: {fault.message}", "validator": fault.validator}]
    return [{"path": failure.path, "message": failure.message, "validator": failure.validator} for failure in failures]


@dataclass
class SampleReport:
    index: int
    name: str | None
    passed: bool
    output: Any
    error: dict[str, Any] | None
    reason: str | None
    """Why the sample failed, in one line (None when it passed)."""
    diff: list[dict[str, Any]]
    """Differences from an exact ``expected_output``: ``{path, kind, expected?, actual?}``."""
    expectation_failures: list[dict[str, Any]]
    """Where the output fails an ``expected_output`` that is a JSON Schema."""
    output_schema_failures: list[dict[str, Any]]
    logs: list[str]
    tool_calls: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "status": "passed" if self.passed else "failed",
            "passed": self.passed,
            "output": self.output,
            "error": self.error,
            "reason": self.reason,
            "diff": self.diff,
            "expectation_failures": self.expectation_failures,
            "output_schema_failures": self.output_schema_failures,
            "logs": self.logs,
            "tool_calls": self.tool_calls,
        }


def _where(error: dict[str, Any]) -> str:
    return f" at line {error['line']}, column {error['column']}" if error.get("line") else ""


def check_sample(index: int, sample: Sample, done: Execution, output_schema: Any) -> SampleReport:
    diff: list[dict[str, Any]] = []
    expectation: list[dict[str, Any]] = []
    output_failures: list[dict[str, Any]] = []
    reason = None
    if done.error is not None:
        reason = f"the script failed: {done.error['type']}{_where(done.error)}: {done.error['message']}"
    else:
        if output_schema is not None:
            output_failures = _schema_failures(output_schema, done.output, "output_schema")
        if sample.expects_schema:
            expectation = _schema_failures(sample.expected_output, done.output, "expected_output")
        elif sample.has_expectation:
            diff = json_diff(sample.expected_output, done.output)
        if diff:
            reason = f"the output differs from expected_output at {diff[0]['path']}" + (
                f" (and {len(diff) - 1} more)" if len(diff) > 1 else ""
            )
        elif expectation:
            reason = f"the output does not match expected_output's schema at {expectation[0]['path']}: {expectation[0]['message']}"
        elif output_failures:
            reason = f"the output does not match the task's output_schema at {output_failures[0]['path']}: {output_failures[0]['message']}"
    return SampleReport(
        index=index,
        name=sample.name,
        passed=reason is None,
        output=done.output,
        error=done.error,
        reason=reason,
        diff=diff,
        expectation_failures=expectation,
        output_schema_failures=output_failures,
        logs=done.logs,
        tool_calls=done.tool_calls,
    )


def _not_run(index: int, sample: Sample, budget: float) -> SampleReport:
    reason = f"not run: the test used up its time budget of {budget:g} seconds on the samples before it"
    return SampleReport(index, sample.name, False, None, None, reason, [], [], [], [], [])


def run_samples(
    script: str, samples: list[Sample], output_schema: Any = None, *, budget_seconds: float = TIME_BUDGET_SECONDS
) -> list[SampleReport]:
    """Each sample's report, in order. Samples left when ``budget_seconds`` have passed are not
    run (and fail, saying so)."""
    deadline = time.monotonic() + budget_seconds
    reports = []
    for index, sample in enumerate(samples):
        if time.monotonic() > deadline:
            reports.append(_not_run(index, sample, budget_seconds))
            continue
        reports.append(check_sample(index, sample, execute(script, sample.input, sample.tool_results), output_schema))
    return reports


def summary(reports: list[SampleReport]) -> dict[str, int]:
    passed = sum(1 for report in reports if report.passed)
    return {"total": len(reports), "passed": passed, "failed": len(reports) - passed}


def replay_run(
    script: str,
    input: Any,
    answers: dict[str, CannedAnswers],
    recorded_output: Any,
    output_schema: Any = None,
) -> dict[str, Any]:
    """Run ``script`` on a recorded run's input with its recorded tool answers: ``outcome`` is
    ``same`` (the output equals the recorded one), ``different`` (with ``diff``, from the
    recorded output to the new one) or ``failed`` (the script failed, asked for a call the
    run did not make, or its output breaks the output_schema)."""
    done = execute(script, input, answers, replay=True)
    result: dict[str, Any] = {
        "outcome": "failed",
        "output": done.output,
        "recorded_output": recorded_output,
        "diff": [],
        "error": done.error,
        "output_schema_failures": [],
        "logs": done.logs,
        "tool_calls": done.tool_calls,
    }
    if done.error is not None:
        return result
    if output_schema is not None:
        result["output_schema_failures"] = _schema_failures(output_schema, done.output, "output_schema")
        if result["output_schema_failures"]:
            return result
    result["diff"] = json_diff(recorded_output, done.output)
    result["outcome"] = "different" if result["diff"] else "same"
    return result
