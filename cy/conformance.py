"""Conformance runner: execute a corpus of Cy cases and judge them against expectations.

Runs after the pipeline: imports ``program`` and the support modules it needs, each from
its defining module (never the package ``cy``).

The corpus format is one JSON object per line (see §25 of the Cy reference, LANGUAGE.md
in the shared design docs). Each case carries a ``script``, an ``input`` and either an
expected value (``expected_raw``: the exact JSON text ``Cy.run()`` returned), an expected
error (``error_class``, ``expected_error`` as a message substring, optionally
``error_line``/``error_col``) or ``expected_no_output``.
Optional fields configure the run: ``tools`` (Python lambda sources), ``options``,
``mode: "async"``, ``hitl`` (answers for hi-latency calls, in order) and expectations on
``expected_pauses`` and ``expected_logs``.

The runner is split in three steps so each can be used on its own:

* :func:`execute_case` runs one case and returns an :class:`Execution` (what happened);
* :func:`judge` compares an execution with the case's expectations;
* :func:`summarize` aggregates judged results overall, for cases not tagged ``ref_bug``
  and per feature tag.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import dataclasses
import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

REF_BUG = "ref_bug"

# Options a case may carry that this implementation accepts but does not act upon:
# runs are sequential, so the parallel scheduler's knobs have no effect.
IGNORED_OPTIONS = frozenset({"enable_parallel", "parallel_threshold"})
# Options passed to ``run`` rather than to ``CyOptions``.
RUN_OPTIONS = frozenset({"variables"})


class CorpusError(Exception):
    """The corpus file itself is unreadable or malformed."""


class HumanAnswersExhausted(Exception):
    """A hi-latency call was reached after every scripted answer was used.

    This mirrors the reference interpreter's ``ExecutionPaused``: the run stops at the
    call. If the script swallows it (a ``try`` around the call) the run continues.
    """

    def __init__(self, tool: str, args: dict[str, Any]) -> None:
        super().__init__(f"Execution paused at hi-latency tool '{tool}'")
        self.tool = tool
        self.tool_args = args


# ----------------------------------------------------------------------------------------
# Loading


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL corpus; blank lines are skipped. Raises :class:`CorpusError`."""
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{number}: invalid JSON: {exc}") from exc
        if not isinstance(case, dict) or "script" not in case:
            raise CorpusError(f"{path}:{number}: a case must be an object with a 'script'")
        case.setdefault("id", f"line-{number}")
        if case["id"] in seen:
            raise CorpusError(f"{path}:{number}: duplicate case id {case['id']!r}")
        seen.add(case["id"])
        cases.append(case)
    return cases


def select_cases(
    cases: Iterable[dict[str, Any]],
    only: Iterable[str] | None = None,
    features: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Filter by id (exact ids, or prefixes ending in ``*``) and by feature tag (any of)."""
    wanted_ids = [i for i in (only or []) if i]
    wanted_tags = {t for t in (features or []) if t}
    selected = []
    for case in cases:
        if wanted_ids and not any(_id_matches(case["id"], pattern) for pattern in wanted_ids):
            continue
        if wanted_tags and not wanted_tags.intersection(case.get("features") or []):
            continue
        selected.append(case)
    return selected


def _id_matches(case_id: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return case_id.startswith(pattern[:-1])
    return case_id == pattern


# ----------------------------------------------------------------------------------------
# Building the registry, options and host of a case

_BASE_REGISTRY = None


def base_registry():
    """The native registry, built once; each case gets its own copy."""
    global _BASE_REGISTRY
    if _BASE_REGISTRY is None:
        from .natives.registry import default_registry

        _BASE_REGISTRY = default_registry()
    return _BASE_REGISTRY.copy()


def compile_tool(source: str) -> Callable[..., Any]:
    """Evaluate a tool's Python source (a lambda expression) into a callable."""
    try:
        fn = eval(source, {"__builtins__": builtins})  # noqa: S307 - corpus tools are trusted test data
    except Exception as exc:  # noqa: BLE001
        raise CorpusError(f"tool source does not compile: {source!r}: {exc}") from exc
    if not callable(fn):
        raise CorpusError(f"tool source does not evaluate to a callable: {source!r}")
    return fn


def as_async(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a synchronous callable in a coroutine function keeping its signature."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def build_registry(tools: dict[str, Any] | None):
    """Natives plus the case's host tools (``{"name": src}`` or ``{"name": {"fn": src, ...}}``)."""
    registry = base_registry()
    for name, spec in (tools or {}).items():
        if isinstance(spec, str):
            spec = {"fn": spec}
        if not isinstance(spec, dict) or "fn" not in spec:
            raise CorpusError(f"tool {name!r}: expected a lambda source or an object with 'fn'")
        fn = compile_tool(spec["fn"])
        if spec.get("async"):
            fn = as_async(fn)
        try:
            registry.register(name, fn, hi_latency=bool(spec.get("hi_latency")))
        except (TypeError, ValueError) as exc:
            raise CorpusError(f"tool {name!r}: {exc}") from exc
    return registry


def _option_fields() -> set[str] | None:
    from .options import CyOptions

    if dataclasses.is_dataclass(CyOptions):
        return {f.name for f in dataclasses.fields(CyOptions)}
    return None


def build_options(options: dict[str, Any] | None):
    """``CyOptions`` from a case's ``options`` (run-level and ignored keys left out)."""
    from .options import CyOptions

    known = _option_fields()
    kwargs = {}
    for key, value in (options or {}).items():
        if key in IGNORED_OPTIONS or key in RUN_OPTIONS:
            continue
        if key == "max_iterations" and value is None:
            continue
        if known is not None and key not in known:
            raise CorpusError(f"unsupported option {key!r}")
        kwargs[key] = value
    return CyOptions(**kwargs)


class ScriptedHuman:
    """Answers hi-latency calls from a list, in order, recording each call as a pause."""

    def __init__(self, answers: Iterable[Any] = ()) -> None:
        self.answers = list(answers)
        self.pauses: list[dict[str, Any]] = []
        self.pending: HumanAnswersExhausted | None = None

    def __call__(self, call: Any) -> Any:
        args = _jsonable(call.named_args())
        if not self.answers:
            self.pending = HumanAnswersExhausted(call.written_name, args)
            raise self.pending
        self.pauses.append({"tool": call.written_name, "args": args})
        return copy.deepcopy(self.answers.pop(0))


def _jsonable(value: Any) -> Any:
    """A JSON round-trip of ``value`` (as a checkpoint would store it); repr for the rest."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=repr))


# ----------------------------------------------------------------------------------------
# Executing


@dataclass
class Execution:
    """What running one case produced."""

    id: str
    returned: bool = False
    value: Any = None
    raw: str | None = None
    """``json.dumps`` of the returned value (``""`` when nothing was returned)."""
    error: dict[str, Any] | None = None
    pauses: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    paused: bool = False
    """The run stopped at a hi-latency call with no answer left."""
    elapsed_ms: float = 0.0

    def emit(self, case: dict[str, Any]) -> dict[str, Any]:
        """The ``--emit`` record: result or error, plus pauses/logs where the case has them."""
        record: dict[str, Any] = {"id": self.id}
        if self.error is not None:
            record["error"] = {
                "type": self.error["type"],
                "message": self.error["message"],
                "line": self.error["line"],
                "column": self.error["column"],
            }
        elif self.returned:
            record["result"] = self.value
        else:
            record["result"] = None
            record["no_output"] = True
        if "hitl" in case or "expected_pauses" in case:
            record["pauses"] = self.pauses
        if "expected_logs" in case:
            record["logs"] = self.logs
        return record


def _error_dict(exc: BaseException) -> dict[str, Any]:
    from .errors import CyError

    if isinstance(exc, CyError):
        data = exc.to_dict()
        return {
            "type": data.get("type", exc.type),
            "message": data.get("message", exc.message),
            "line": data.get("line") or 0,
            "column": data.get("column", data.get("col")) or 0,
        }
    if isinstance(exc, HumanAnswersExhausted):
        return {"type": "ExecutionPaused", "message": str(exc), "line": 0, "column": 0}
    return {"type": type(exc).__name__, "message": str(exc), "line": 0, "column": 0}


def _caused_by_pause(exc: BaseException) -> bool:
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, HumanAnswersExhausted):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def execute_case(case: dict[str, Any]) -> Execution:
    """Compile and run one case. Never raises for script errors (they are recorded)."""
    from .program import compile_script
    from .host import AsyncLocalHost, LocalHost

    execution = Execution(id=case["id"])
    options = case.get("options") or {}
    registry = build_registry(case.get("tools"))
    cy_options = build_options(options)
    hitl = case.get("hitl") or {}
    human = ScriptedHuman(hitl.get("answers") or [])
    is_async = case.get("mode") == "async"
    host_class = AsyncLocalHost if is_async else LocalHost
    host = host_class(seed=0, answer_human=human)
    variables = copy.deepcopy(options.get("variables")) if "variables" in options else None
    input_value = copy.deepcopy(case.get("input"))

    started = time.perf_counter()
    try:
        program = compile_script(case["script"], registry=registry, options=cy_options)
        if is_async:
            outcome = asyncio.run(program.run_async(input_value, host=host, variables=variables))
        else:
            outcome = program.run(input_value, host=host, variables=variables)
        execution.returned = bool(outcome.returned)
        if execution.returned:
            # Python TypeError here (non-JSON value) is what the reference's run() raises.
            execution.raw = json.dumps(outcome.value)
            execution.value = json.loads(execution.raw)
        else:
            execution.raw = ""
    except Exception as exc:  # noqa: BLE001 - every failure is part of the result
        if human.pending is not None and (
            _caused_by_pause(exc) or str(human.pending) in str(exc)
        ):
            execution.paused = True
            execution.pauses.append({"tool": human.pending.tool, "args": human.pending.tool_args})
            execution.error = _error_dict(human.pending)
        else:
            execution.error = _error_dict(exc)
        execution.returned = False
        execution.value = None
    finally:
        execution.elapsed_ms = (time.perf_counter() - started) * 1000
    execution.pauses[:0] = human.pauses
    execution.logs = [str(entry) for entry in host.logs]
    return execution


# ----------------------------------------------------------------------------------------
# Judging


@dataclass
class CaseResult:
    id: str
    features: list[str]
    passed: bool
    reason: str
    execution: Execution

    @property
    def ref_bug(self) -> bool:
        return REF_BUG in self.features


def _describe_outcome(execution: Execution) -> str:
    if execution.error is not None:
        e = execution.error
        return f"{e['type']} at {e['line']}:{e['column']}: {e['message']}"
    if not execution.returned:
        return "no output"
    return f"returned {execution.raw}"


def judge(case: dict[str, Any], execution: Execution) -> tuple[bool, str]:
    """``(passed, reason)``; ``reason`` is empty when the case passed."""
    problems: list[str] = []
    if "error_class" in case:
        if execution.error is None:
            problems.append(
                f"expected {case['error_class']} but {_describe_outcome(execution)}"
            )
        else:
            error = execution.error
            if error["type"] != case["error_class"]:
                problems.append(f"expected {case['error_class']}, got {_describe_outcome(execution)}")
            line, col = case.get("error_line"), case.get("error_col")
            if line is not None and error["line"] != line:
                problems.append(f"expected error line {line}, got {error['line']}")
            if col is not None and error["column"] != col:
                problems.append(f"expected error column {col}, got {error['column']}")
            wanted = case.get("expected_error") or ""
            if wanted and wanted not in (error["message"] or ""):
                problems.append(f"expected message containing {wanted!r}, got {error['message']!r}")
    elif case.get("expected_no_output"):
        if execution.error is not None or execution.returned:
            problems.append(f"expected no output but {_describe_outcome(execution)}")
    elif "expected_raw" in case or "expected" in case:
        wanted_raw = case.get("expected_raw")
        if wanted_raw is None:
            wanted_raw = json.dumps(case["expected"])
        if execution.error is not None or not execution.returned:
            problems.append(f"expected {wanted_raw} but {_describe_outcome(execution)}")
        elif execution.raw != wanted_raw:
            problems.append(f"expected {wanted_raw}, got {execution.raw}")
    if "expected_pauses" in case and execution.pauses != case["expected_pauses"]:
        problems.append(
            f"expected pauses {json.dumps(case['expected_pauses'])}, got {json.dumps(execution.pauses)}"
        )
    if "expected_logs" in case and execution.logs != case["expected_logs"]:
        problems.append(
            f"expected logs {json.dumps(case['expected_logs'])}, got {json.dumps(execution.logs)}"
        )
    return (not problems, "; ".join(problems))


def run_case(case: dict[str, Any]) -> CaseResult:
    """Execute and judge one case. A malformed case fails with the reason."""
    try:
        execution = execute_case(case)
    except CorpusError as exc:
        execution = Execution(id=case["id"])
        execution.error = {"type": "CorpusError", "message": str(exc), "line": 0, "column": 0}
        return CaseResult(case["id"], list(case.get("features") or []), False, str(exc), execution)
    passed, reason = judge(case, execution)
    return CaseResult(case["id"], list(case.get("features") or []), passed, reason, execution)


def run_cases(
    cases: Iterable[dict[str, Any]],
    progress: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    results = []
    for case in cases:
        result = run_case(case)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def emit_case(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case and return its ``--emit`` record (no judging)."""
    try:
        execution = execute_case(case)
    except CorpusError as exc:
        return {
            "id": case["id"],
            "error": {"type": "CorpusError", "message": str(exc), "line": 0, "column": 0},
        }
    return execution.emit(case)


# ----------------------------------------------------------------------------------------
# Summarising


@dataclass
class Tally:
    passed: int = 0
    total: int = 0

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 1.0

    def add(self, passed: bool) -> None:
        self.total += 1
        self.passed += int(passed)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "total": self.total, "rate": round(self.rate, 4)}


@dataclass
class Summary:
    overall: Tally
    non_ref_bug: Tally
    by_feature: dict[str, Tally]
    failing: list[CaseResult]

    @property
    def failing_ids(self) -> list[str]:
        return [r.id for r in self.failing]

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "non_ref_bug": self.non_ref_bug.to_dict(),
            "by_feature": {tag: t.to_dict() for tag, t in sorted(self.by_feature.items())},
            "failing": [
                {"id": r.id, "ref_bug": r.ref_bug, "reason": r.reason} for r in self.failing
            ],
        }


def summarize(results: Iterable[CaseResult]) -> Summary:
    overall, non_ref_bug = Tally(), Tally()
    by_feature: dict[str, Tally] = {}
    failing = []
    for result in results:
        overall.add(result.passed)
        if not result.ref_bug:
            non_ref_bug.add(result.passed)
        for tag in result.features:
            by_feature.setdefault(tag, Tally()).add(result.passed)
        if not result.passed:
            failing.append(result)
    return Summary(overall, non_ref_bug, by_feature, failing)
