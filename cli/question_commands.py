"""`cytasks questions list|show` and `cytasks respond RUN_ID --answer VALUE [--question ID]`."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer

from .client import CytasksClient
from .output import api_call, client, console, err_console, format_time, print_json, short_time, styled_status, table

app = typer.Typer(name="questions", help="Questions paused runs ask people, and their answers.", no_args_is_help=True)
"""The `questions` command group."""

JsonOpt = typer.Option(False, "--json", help="Print the raw JSON")


def register_commands(root: typer.Typer) -> None:
    """Add the top-level `respond` command to the root CLI."""
    root.command("respond")(respond)


def parse_answer(value: str) -> Any:
    """JSON when the text parses as JSON (`true`, `3`, `{"a": 1}`, `"quoted"`), else the text itself."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def describe_question(question: dict[str, Any]) -> str:
    """A few lines saying what is asked and how to answer it."""
    lines = [f"[bold]{question['question']}[/]"]
    if question.get("responses"):
        lines.append("answers: " + ", ".join(json.dumps(r) for r in question["responses"]))
    if question.get("form"):
        lines.append("answer: a JSON value matching " + json.dumps(question["form"]))
    if question.get("assignees"):
        lines.append("assignees: " + ", ".join(question["assignees"]))
    if question.get("timeout_at"):
        default = f" (then: {json.dumps(question['default'])})" if question.get("has_default") else ""
        lines.append(f"expires: {format_time(question['timeout_at'])}{default}")
    lines.append(
        f"[dim]answer with: cytasks respond {question['run_id']} --answer VALUE --question {question['id']}[/]"
    )
    return "\n".join(lines)


def pending_question(api: CytasksClient, run_id: str) -> dict[str, Any] | None:
    items = api.request("GET", f"/v1/task-runs/{run_id}/questions").get("items", [])
    pending = [q for q in items if q.get("status") == "pending"]
    return pending[-1] if pending else None


@app.command("list")
def list_questions(
    status: Optional[str] = typer.Option(None, "--status", help="pending, answered or expired"),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task id or cy_name"),
    run: Optional[str] = typer.Option(None, "--run", "-r", help="Run id"),
    assignee: Optional[str] = typer.Option(None, "--assignee", "-a", help="API key name or role"),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
    as_json: bool = JsonOpt,
) -> None:
    """List questions, newest first."""
    filters = {"status": status, "task": task, "run": run, "assignee": assignee}
    with api_call(), client() as api:
        questions = list(api._iterate("/v1/questions", limit, filters))
    if as_json:
        print_json(questions)
        return
    out = table("id", "run", "status", "question", "answers", "asked", wrap=("question", "answers"))
    for q in questions:
        answers = ", ".join(str(r) for r in q["responses"]) if q.get("responses") else ("form" if q.get("form") else "")
        if q.get("status") == "answered":
            answers = f"→ {json.dumps(q.get('answer'))} by {q.get('answered_by')}"
        out.add_row(
            q["id"], q["run_id"], styled_status(q["status"]), q["question"], answers, short_time(q.get("created_at"))
        )
    console.print(out)
    if not questions:
        console.print("[dim]No questions.[/]")


@app.command("show")
def show_question(question_id: str = typer.Argument(..., help="Question id"), as_json: bool = JsonOpt) -> None:
    """Show a question."""
    with api_call(), client() as api:
        question = api.request("GET", f"/v1/questions/{question_id}")
    if as_json:
        print_json(question)
        return
    console.print(f"question {question['id']}  [bold]{question['status']}[/]  run {question['run_id']}", highlight=False)
    console.print(describe_question(question), highlight=False)
    if question.get("status") == "answered":
        console.print(
            f"answered {json.dumps(question.get('answer'))} by {question.get('answered_by')} "
            f"at {format_time(question.get('answered_at'))}",
            highlight=False,
        )


def respond(
    run_id: str = typer.Argument(..., help="The paused run"),
    answer: str = typer.Option(..., "--answer", "-a", help="The answer: JSON when it parses as JSON, else text"),
    question: Optional[str] = typer.Option(None, "--question", "-q", help="Question id (default: the open one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Answer the question a paused run is waiting on."""
    body: dict[str, Any] = {"answer": parse_answer(answer)}
    if question:
        body["question_id"] = question
    with api_call(), client() as api:
        answered = api.request("POST", f"/v1/task-runs/{run_id}/respond", json=body)
    if as_json:
        print_json(answered)
        return
    err_console.print(
        f"Answered question {answered['id']} with {json.dumps(answered['answer'])}; run {run_id} resumes",
        highlight=False,
    )


app.command("respond")(respond)
