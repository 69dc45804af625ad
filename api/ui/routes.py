"""The operator console's pages under `/ui`: sign-in, dashboard, runs, approvals and tasks.

Pages are rendered on the server (Jinja2) and refreshed in place with htmx polling. Every action
goes through the services the HTTP API uses (same validation, same audit), as the signed-in
key; what a page offers follows the key's roles (``authz.may``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..authz import Permission, may, may_cancel, sees_payloads
from ..deps import SessionDep, StateDep
from ..presenters import run_resource, version_diff_resource
from ..problems import ProblemError
from ..route import CytasksRoute, read_body
from ..schemas import RunStatus, Trigger
from ..services import questions as question_service
from ..services import schedules as schedule_service
from ..services import reruns, run_cancellation, run_history
from ..services import stats as run_stats
from ..services import tasks as task_service
from ..services.api_keys import find_key
from ..services.schema_checks import validate_input_off_loop
from ..services.submission import submit_run
from ..services.task_lookup import ensure_runnable, load_task, task_names
from ..services.task_versions import version_to_run
from ..state import AppState, Principal, current_address, current_principal
from . import forms
from .charts import series_chart
from .session import (
    CSRF_FIELD,
    ConsoleSession,
    check_csrf,
    check_login_token,
    current_session,
    end_session,
    new_login_token,
    set_login_cookie,
    start_session,
)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
ACTIVE = ("pending", "running", "paused")
PAGE_SIZE = 50
REFRESH_SECONDS = 3
WindowParam = Annotated[str, Query(pattern="^(24h|7d|30d)$")]

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=CytasksRoute)


def _age(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = max(0, (datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f} %"


TEMPLATES.env.filters.update(age=_age, duration=_duration, percent=_percent, pretty=forms.pretty, tojson_attr=json.dumps)


async def signed_in(request: Request, state: StateDep) -> ConsoleSession:
    """The console session of the request (a redirect to the sign-in page when there is none);
    the audit log sees its key as the actor."""
    console = await current_session(state, request)
    current_principal.set(console.principal)
    current_address.set(request.client.host if request.client else None)
    return console


ConsoleDep = Annotated[ConsoleSession, Depends(signed_in)]


def render(request: Request, name: str, console: ConsoleSession | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    principal = console.principal if console else None

    def can(permission: str) -> bool:
        return principal is not None and may(principal, Permission(permission))

    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "console": console,
            "principal": principal,
            "csrf_field": CSRF_FIELD,
            "csrf_token": console.csrf_token if console else None,
            "can": can,
            "refresh_seconds": REFRESH_SECONDS,
            **context,
        },
        status_code=status_code,
    )


def _require(request: Request, console: ConsoleSession, permission: Permission) -> HTMLResponse | None:
    if may(console.principal, permission):
        return None
    return render(
        request,
        "error.html",
        console,
        403,
        title="Not allowed",
        message=f"The key '{console.principal.name}' may not do this: it needs {permission.value}.",
    )


async def _form(request: Request) -> dict[str, str]:
    """The submitted form's text fields, the body read within MAX_BODY_BYTES (413 beyond)."""
    await read_body(request, request.app.state.settings.MAX_BODY_BYTES)
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# Sign-in


@router.get("/login")
async def login_page(request: Request, state: StateDep, next: Annotated[str, Query(max_length=2048)] = "/ui") -> HTMLResponse:
    return _login_form(request, state, _safe_next(next), None, 200)


def _login_form(request: Request, state: AppState, next_page: str, error: str | None, status_code: int) -> HTMLResponse:
    token = new_login_token()
    response = render(request, "login.html", None, status_code, next=next_page, error=error, login_token=token)
    set_login_cookie(state, request, response, token)
    return response


def _safe_next(target: str | None) -> str:
    """Only a path of the console itself: never another site."""
    if not target or not target.startswith("/ui") or target.startswith("//"):
        return "/ui"
    return target


@router.post("/login")
async def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=512)] = "",
    csrf_token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/ui",
) -> Response:
    check_login_token(state, request, csrf_token)
    found = await find_key(session, api_key.strip()) if api_key.strip() else None
    if found is None:
        return _login_form(request, state, _safe_next(next), "That API key is not valid.", 401)
    principal = Principal(key_id=str(found.id), name=found.name, roles=tuple(found.roles or ()))
    response = _see_other(_safe_next(next))
    start_session(state, request, response, principal)
    return response


@router.post("/logout")
async def logout(console: ConsoleDep, csrf_token: Annotated[str, Form(max_length=512)] = "") -> Response:
    check_csrf(console, csrf_token)
    response = _see_other("/ui/login")
    end_session(response)
    return response


# Dashboard


@router.get("")
async def dashboard(
    request: Request, console: ConsoleDep, session: SessionDep, window: WindowParam = "24h"
) -> HTMLResponse:
    denied = _require(request, console, Permission.RUNS_READ)
    if denied:
        return denied
    stats = await run_stats.run_stats(session, window)
    return render(
        request,
        "dashboard.html",
        console,
        stats=stats,
        window=window,
        windows=list(run_stats.WINDOWS),
        chart=series_chart(stats.series, stats.window.period),
    )


# Runs


async def _runs_page(session, task: str | None, status: str | None, trigger: str | None, cursor: str | None,
                     after: datetime | None = None, before: datetime | None = None):
    page = await run_history.list_runs(
        session,
        task=task or None,
        status=status or None,
        trigger=trigger or None,
        created_after=after,
        created_before=before,
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )
    names = await task_names(session, {run.task_id for run in page.items if run.task_id})
    return page, names


def _filters(task: str | None, status: str | None, trigger: str | None, after: str | None = None,
             before: str | None = None) -> dict[str, str]:
    pairs = (("task", task), ("status", status), ("trigger", trigger), ("after", after), ("before", before))
    return {key: value for key, value in pairs if value}


def _utc_moment(raw: str | None, label: str) -> datetime | None:
    """A ``datetime-local`` value (``2026-12-02T14:30``, seconds optional) read as UTC; None when
    empty; FieldError naming ``label`` when it is not a date and time or carries an offset."""
    if raw is None or not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise forms.FieldError(label, f"is not a date and time (YYYY-MM-DDTHH:MM, UTC): {raw!r}") from None
    if moment.tzinfo is not None:
        raise forms.FieldError(label, "is read as UTC; leave out the offset")
    return moment.replace(tzinfo=UTC)


def time_range(after: str | None, before: str | None) -> tuple[datetime | None, datetime | None]:
    """The created-after and created-before bounds of the runs filter; FieldError when a bound
    is unreadable or the range is empty."""
    start = _utc_moment(after, "Created after")
    end = _utc_moment(before, "Created before")
    if start is not None and end is not None and start >= end:
        raise forms.FieldError("Created before", "must be later than Created after")
    return start, end


StatusFilter = Annotated[RunStatus | None, Query()]
TriggerFilter = Annotated[Trigger | None, Query()]
TaskFilter = Annotated[str | None, Query(max_length=200)]
CursorParam = Annotated[str | None, Query(max_length=500)]
MomentParam = Annotated[str | None, Query(max_length=40)]


@router.get("/runs")
async def runs_page(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    task: TaskFilter = None,
    status: StatusFilter = None,
    trigger: TriggerFilter = None,
    cursor: CursorParam = None,
    after: MomentParam = None,
    before: MomentParam = None,
) -> HTMLResponse:
    return await _runs(request, console, session, task, status, trigger, cursor, "runs.html", after, before)


@router.get("/runs/table")
async def runs_table(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    task: TaskFilter = None,
    status: StatusFilter = None,
    trigger: TriggerFilter = None,
    cursor: CursorParam = None,
    after: MomentParam = None,
    before: MomentParam = None,
) -> HTMLResponse:
    return await _runs(request, console, session, task, status, trigger, cursor, "runs_table.html", after, before)


async def _runs(request, console, session, task, status, trigger, cursor, template: str,
                after: str | None = None, before: str | None = None) -> HTMLResponse:
    denied = _require(request, console, Permission.RUNS_READ)
    if denied:
        return denied
    status_value = status.value if status else None
    trigger_value = trigger.value if trigger else None
    filters = _filters(task, status_value, trigger_value, after, before)
    shared = {"filters": filters, "statuses": [s.value for s in RunStatus], "triggers": [t.value for t in Trigger]}
    try:
        start, end = time_range(after, before)
    except forms.FieldError as error:
        return render(request, template, console, 422, runs=[], names={}, query="", older=None, live=False,
                      filter_error=str(error), **shared)
    try:
        page, names = await _runs_page(session, task, status_value, trigger_value, cursor, start, end)
    except ProblemError as problem:
        if problem.status == 422:
            return render(request, template, console, 422, runs=[], names={}, query="", older=None, live=False,
                          filter_error=problem.detail, **shared)
        return render(request, "error.html", console, problem.status, title="Cannot list runs", message=problem.detail)
    return render(
        request,
        template,
        console,
        runs=page.items,
        names=names,
        filters=filters,
        query=urlencode({**filters, **({"cursor": cursor} if cursor else {})}),
        older=urlencode({**filters, "cursor": page.next_cursor}) if page.next_cursor else None,
        live=cursor is None,
        **{key: value for key, value in shared.items() if key != "filters"},
    )


async def _run_context(state: AppState, session, console: ConsoleSession, run_id: str) -> dict[str, Any]:
    run = await run_history.read_run(state, session, run_id, 0)
    resource = await run_resource(state, run)
    names = await task_names(session, {run.task_id} if run.task_id else set())
    task = names.get(run.task_id) if run.task_id else None
    script = await run_history.run_script(session, run)
    _, questions = await question_service.run_questions(session, str(run.id))
    pending = next((q for q in questions if q.status == "pending"), None)
    logs: list[Any] = []
    if sees_payloads(console.principal, run):
        _, logs = await run_history.run_logs(session, console.principal, str(run.id), after_seq=0, limit=1000)
    error = run.error or {}
    calls, calls_unavailable = await run_history.tool_calls(state, run)
    return {
        "run": run,
        "tool_calls": calls,
        "tool_calls_unavailable": calls_unavailable,
        "temporal_link": run_history.temporal_ui_link(state, run.workflow_id),
        "may_rerun": may(console.principal, Permission.RUNS_EXECUTE) and sees_payloads(console.principal, run)
        and (run.task_id is not None or run.cy_script is not None),
        "resource": resource,
        "task": task,
        "script_lines": (script or "").splitlines(),
        "error_line": error.get("line") if isinstance(error, dict) else None,
        "questions": questions,
        "pending": pending,
        "answer_form": _answer_form(pending) if pending else None,
        "logs": logs,
        "may_cancel": run.status in ACTIVE and may_cancel(console.principal, run),
        "may_answer": pending is not None and may(console.principal, Permission.QUESTIONS_ANSWER),
        "active": run.status in ACTIVE,
    }


def _answer_form(question) -> dict[str, Any]:
    fields = forms.fields_of(question.form) if question.form else None
    return {
        "responses": [(json.dumps(value), str(value)) for value in (question.responses or [])],
        "fields": fields,
        "raw": forms.pretty(question.default) if question.has_default else "",
    }


@router.get("/runs/{run_id}")
async def run_page(request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, run_id: str) -> HTMLResponse:
    return await _run(request, console, session, state, run_id, "run.html")


@router.get("/runs/{run_id}/live")
async def run_live(request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, run_id: str) -> HTMLResponse:
    return await _run(request, console, session, state, run_id, "run_body.html")


async def _run(request, console, session, state, run_id: str, template: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    denied = _require(request, console, Permission.RUNS_READ)
    if denied:
        return denied
    try:
        context = await _run_context(state, session, console, run_id)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="No such run", message=problem.detail)
    return render(request, template, console, status_code, **context, **extra)


@router.post("/runs/{run_id}/cancel")
async def cancel(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    state: StateDep,
    run_id: str,
    csrf_token: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    check_csrf(console, csrf_token)
    try:
        await run_cancellation.cancel_run(state, session, console.principal, run_id)
    except ProblemError as problem:
        return await _run(request, console, session, state, run_id, "run.html", action_error=problem.detail)
    return _see_other(f"/ui/runs/{quote(run_id)}")


@router.post("/runs/{run_id}/rerun")
async def rerun(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    state: StateDep,
    run_id: str,
    csrf_token: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    check_csrf(console, csrf_token)
    try:
        run = await run_history.load_run(session, run_id)
        submission = await reruns.rerun(state, session, console.principal, run, trigger=Trigger.ui.value)
    except ProblemError as problem:
        if problem.status == 404:
            return render(request, "error.html", console, 404, title="No such run", message=problem.detail)
        return await _run(request, console, session, state, run_id, "run.html", problem.status if problem.status < 500 else 503,
                          action_error=_problem_text(problem))
    return _see_other(f"/ui/runs/{submission.run.id}")


def _problem_text(problem: ProblemError) -> str:
    details = [f"{e.get('path') or e.get('field') or ''} {e.get('message', '')}".strip() for e in problem.errors or []]
    return (problem.detail or problem.title) + ("" if not details else " — " + "; ".join(details))


async def _answer(
    state: AppState, session, console: ConsoleSession, request: Request, run_id: str, question_id: str | None
) -> str | None:
    """Answer the run's question from the submitted form; the error to show, or None."""
    form = await _form(request)
    check_csrf(console, form.get(CSRF_FIELD))
    try:
        wanted = uuid.UUID(question_id) if question_id else None
    except ValueError:
        return "That question does not exist."
    try:
        run, questions = await question_service.run_questions(session, run_id)
    except ProblemError as problem:
        return problem.detail
    question = next((q for q in questions if (q.id == wanted if wanted else q.status == "pending")), None)
    if question is None:
        return "This run has no open question."
    try:
        if "response" in form:
            answer = forms.parse_json(form["response"], "answer")
        elif form.get("mode") == "fields" and question.form:
            fields = forms.fields_of(question.form) or []
            answer = forms.value_from_fields(fields, form)
        else:
            answer = forms.parse_json(form.get("raw"), "answer")
    except forms.FieldError as error:
        return str(error)
    try:
        await question_service.answer(
            state,
            session,
            console.principal,
            run_id,
            answer=answer,
            question_id=question.id,
            source="ui",
            address=request.client.host if request.client else None,
        )
    except ProblemError as problem:
        return problem.detail
    return None


@router.post("/runs/{run_id}/answer")
async def answer_from_run(
    request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, run_id: str
) -> Response:
    problem = await _answer(state, session, console, request, run_id, None)
    if problem is not None:
        return await _run(request, console, session, state, run_id, "run.html", action_error=problem)
    return _see_other(f"/ui/runs/{quote(run_id)}")


# Approvals

HISTORY_ROWS = 20


async def _approvals(request, console, session, errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    denied = _require(request, console, Permission.QUESTIONS_READ)
    if denied:
        return denied
    page = await question_service.list_questions(
        session, status="pending", task=None, run=None, assignee=None, cursor=None, limit=200
    )
    names = await task_names(session, {q.task_id for q in page.items if q.task_id})
    items = [{"question": q, "form": _answer_form(q), "task": names.get(q.task_id)} for q in page.items]
    items.sort(key=lambda item: item["question"].created_at)
    history = []
    for status in ("answered", "expired"):
        ended = await question_service.list_questions(
            session, status=status, task=None, run=None, assignee=None, cursor=None, limit=HISTORY_ROWS
        )
        history.extend(ended.items)
    history.sort(key=lambda q: q.answered_at or q.closed_at or q.created_at, reverse=True)
    return render(
        request,
        "approvals.html",
        console,
        status_code,
        items=items,
        history=history[:HISTORY_ROWS],
        errors=errors or {},
        may_answer=may(console.principal, Permission.QUESTIONS_ANSWER),
    )


@router.get("/approvals")
async def approvals(request: Request, console: ConsoleDep, session: SessionDep) -> HTMLResponse:
    return await _approvals(request, console, session)


@router.post("/approvals/{run_id}/answer")
async def answer_from_approvals(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    state: StateDep,
    run_id: str,
    question_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    problem = await _answer(state, session, console, request, run_id, question_id)
    if problem is not None:
        key = question_id or run_id
        return await _approvals(request, console, session, {key: problem}, 422)
    return _see_other("/ui/approvals")


# Tasks


@router.get("/tasks")
async def tasks_page(
    request: Request, console: ConsoleDep, session: SessionDep, cursor: CursorParam = None
) -> HTMLResponse:
    denied = _require(request, console, Permission.TASKS_READ)
    if denied:
        return denied
    try:
        page = await task_service.list_tasks(
            session, name=None, cy_name=None, function=None, scope=None, status=None, cursor=cursor, limit=PAGE_SIZE
        )
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="Cannot list tasks", message=problem.detail)
    summaries = await run_stats.task_list_summaries(session, list(page.items))
    return render(
        request, "tasks.html", console, tasks=page.items, summaries=summaries, window=run_stats.LIST_WINDOW,
        older=urlencode({"cursor": page.next_cursor}) if page.next_cursor else None,
    )


def _run_form(task, input_text: str | None = None) -> dict[str, Any]:
    first = task.data_samples[0] if isinstance(task.data_samples, list) and task.data_samples else None
    sample = first.get("input") if isinstance(first, dict) else None  # {"input": ..., "expected_output": ...}
    return {
        "fields": forms.fields_of(task.input_schema, sample),
        "raw": input_text if input_text is not None else forms.pretty(sample if sample is not None else {}),
    }


async def _task(request, console, session, state, task_id: str, status_code: int = 200, **extra: Any) -> HTMLResponse:
    denied = _require(request, console, Permission.TASKS_READ)
    if denied:
        return denied
    try:
        task = await load_task(session, task_id)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="No such task", message=problem.detail)
    versions = await task_service.list_versions(session, task)
    recent: list[Any] = []
    if may(console.principal, Permission.RUNS_READ):
        recent = (await run_history.list_runs(
            session, task=str(task.id), status=None, trigger=None, created_after=None, created_before=None,
            cursor=None, limit=10,
        )).items
    stats = await run_stats.run_stats(session, "7d", task) if may(console.principal, Permission.RUNS_READ) else None
    extra.setdefault("run_form", _run_form(task))
    extra.setdefault("schedule", await _schedule(state, task))
    return render(
        request,
        "task.html",
        console,
        status_code,
        task=task,
        versions=sorted(versions, key=lambda v: -v.version),
        recent=recent,
        stats=stats,
        chart=series_chart(stats.series, stats.window.period) if stats else None,
        may_run=may(console.principal, Permission.RUNS_EXECUTE) and task.status == "enabled",
        **extra,
    )


FIRE_TIMES_SHOWN = 5
FIRE_TIMES_AHEAD = timedelta(days=366)


async def _schedule(state: AppState, task) -> dict[str, Any] | None:
    """The task's schedule as the page shows it: its spec, whether it is paused (and why), and its
    next fire times in its time zone, as ``GET /v1/tasks/{id}/schedule/fire-times`` computes them."""
    if task.schedule is None:
        return None
    spec = schedule_service.spec_of(task)
    paused, reason, note = schedule_service.pause_state(spec, task.status)
    zone = ZoneInfo(spec.timezone)
    now = datetime.now(UTC)
    times: list[str] = []
    unavailable = None
    try:
        _, found = await schedule_service.fire_times(state, task, now, now + FIRE_TIMES_AHEAD)
        times = [moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)") for moment in found[:FIRE_TIMES_SHOWN]]
    except ProblemError as problem:
        unavailable = problem.detail
    return {"spec": spec, "paused": paused, "reason": reason, "note": note, "times": times, "unavailable": unavailable}


@router.get("/tasks/{task_id}/diff")
async def task_diff(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    task_id: str,
    a: Annotated[str | None, Query(max_length=12)] = None,
    b: Annotated[str | None, Query(max_length=12)] = None,
) -> HTMLResponse:
    denied = _require(request, console, Permission.TASKS_READ)
    if denied:
        return denied
    try:
        task = await load_task(session, task_id)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="No such task", message=problem.detail)
    versions = sorted((v.version for v in await task_service.list_versions(session, task)), reverse=True)
    context: dict[str, Any] = {"task": task, "versions": versions, "a": a, "b": b, "diff": None, "lines": []}
    try:
        first, second = _version_number(a, "a", task.version), _version_number(b, "b", task.version)
        old, new = await task_service.versions_to_compare(session, task, first, second)
    except forms.FieldError as error:
        return render(request, "task_diff.html", console, 422, diff_error=str(error), **context)
    except ProblemError as problem:
        return render(request, "task_diff.html", console, 422 if problem.status == 404 else problem.status,
                      diff_error=problem.detail, **context)
    diff = version_diff_resource(task, first, second, old, new)
    lines = [(_diff_class(line), line) for line in diff["script_diff"].splitlines()]
    changes = {field: {"from": forms.pretty(change["from"]), "to": forms.pretty(change["to"])} for field, change in diff["changes"].items()}
    context.update(a=str(first), b=str(second), diff=diff, lines=lines, changes=changes)
    return render(request, "task_diff.html", console, **context)


def _version_number(raw: str | None, name: str, latest: int) -> int:
    if raw is None or not raw.strip():
        raise forms.FieldError(name, f"choose a version (1 to {latest})")
    try:
        number = int(raw.strip())
    except ValueError:
        raise forms.FieldError(name, f"must be a version number (1 to {latest}), got {raw!r}") from None
    if not 1 <= number <= latest:
        raise forms.FieldError(name, f"no such version (1 to {latest})")
    return number


def _diff_class(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "added"
    if line.startswith("-"):
        return "removed"
    return ""


@router.get("/tasks/{task_id}")
async def task_page(request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, task_id: str) -> HTMLResponse:
    return await _task(request, console, session, state, task_id)


@router.post("/tasks/{task_id}/run")
async def run_task(
    request: Request, console: ConsoleDep, session: SessionDep, state: StateDep, task_id: str
) -> Response:
    form = await _form(request)
    check_csrf(console, form.get(CSRF_FIELD))
    if not may(console.principal, Permission.RUNS_EXECUTE):
        return _require(request, console, Permission.RUNS_EXECUTE)  # type: ignore[return-value]
    try:
        task = await load_task(session, task_id)
    except ProblemError as problem:
        return render(request, "error.html", console, problem.status, title="No such task", message=problem.detail)
    raw = form.get("raw")
    try:
        if form.get("mode") == "fields":
            value = forms.value_from_fields(forms.fields_of(task.input_schema) or [], form)
        else:
            value = forms.parse_json(raw, "input")
        ensure_runnable(task)
        pinned = await version_to_run(session, task, None, None)
        await validate_input_off_loop(state.settings, pinned.input_schema, value)
        submission = await submit_run(
            state,
            session,
            console.principal,
            trigger=Trigger.ui.value,
            input=value,
            idempotency_key=None,
            request_fingerprint={"target": str(task.id), "version": pinned.version, "input": value, "trigger": "ui"},
            task=task,
            pinned=pinned,
        )
    except forms.FieldError as error:
        return await _task(request, console, session, state, task_id, 422, run_error=str(error), run_form=_run_form(task, raw))
    except ProblemError as problem:
        message = _problem_text(problem)
        return await _task(
            request, console, session, state, task_id, problem.status if problem.status < 500 else 422,
            run_error=message, run_form=_run_form(task, raw),
        )
    return _see_other(f"/ui/runs/{submission.run.id}")

