"""`cytasks hook create|list|show|delete|rotate`: inbound webhooks of tasks and workflows."""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

import typer

from .output import api_call, client, console, err_console, print_json, short_time, table

app = typer.Typer(
    name="hook",
    help="Inbound webhooks: a signed POST to a hook's URL starts a run (see docs/webhooks.md).",
    no_args_is_help=True,
)

JsonOpt = typer.Option(False, "--json", help="Print the raw JSON")
WorkflowOpt = typer.Option(False, "--workflow", "-w", help="TARGET is a workflow (id or name), not a task")


def _target_path(target: str, workflow: bool) -> str:
    return f"/v1/{'workflows' if workflow else 'tasks'}/{quote(target, safe='')}/hooks"


def _print_secret(hook: dict[str, Any], verb: str) -> None:
    err_console.print(f"{verb} hook {hook['id']}", highlight=False)
    err_console.print(f"  URL   {hook['url']}", highlight=False)
    err_console.print(f"  auth  {hook['auth']}", highlight=False)
    if hook["auth"] == "signature":
        err_console.print("[bold]The signing secret below is shown only now:[/]")
        console.print(hook["secret"], highlight=False, soft_wrap=True)


@app.command("create")
def create_hook(
    target: str = typer.Argument(..., help="The task (id or cy_name), or with --workflow the workflow"),
    workflow: bool = WorkflowOpt,
    name: Optional[str] = typer.Option(None, "--name", help="A label for people"),
    header: list[str] = typer.Option([], "--header", "-H", help="A request header to pass into the run input; repeat"),
    dedup_key: Optional[str] = typer.Option(None, "--dedup-key", help="JSON pointer into the body, e.g. /event/id"),
    auth: str = typer.Option("signature", "--auth", help="signature (HMAC) or api_key"),
    replay_window: Optional[int] = typer.Option(None, "--replay-window", help="Seconds a signature stays valid (default 300)"),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a hook. Its secret is printed once: give it to the sender, it cannot be shown again."""
    body: dict[str, Any] = {"auth": auth, "headers": header, "enabled": not disabled}
    if name is not None:
        body["name"] = name
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if replay_window is not None:
        body["replay_window_seconds"] = replay_window
    with api_call(), client() as api:
        created = api.request("POST", _target_path(target, workflow), json=body)
    if as_json:
        print_json(created)
        return
    _print_secret(created, "Created")


@app.command("list")
def list_hooks(target: str = typer.Argument(..., help="The task, or with --workflow the workflow"), workflow: bool = WorkflowOpt, as_json: bool = JsonOpt) -> None:
    """List a task's (or workflow's) hooks, never their secrets."""
    with api_call(), client() as api:
        hooks = api.request("GET", _target_path(target, workflow))["items"]
    if as_json:
        print_json(hooks)
        return
    out = table("id", "name", "enabled", "auth", "headers", "dedup key", "created", "url")
    for hook in hooks:
        out.add_row(
            hook["id"],
            hook.get("name") or "",
            "yes" if hook["enabled"] else "no",
            hook["auth"],
            ", ".join(hook["headers"]),
            hook.get("dedup_key") or "",
            short_time(hook.get("created_at")),
            hook["url"],
        )
    console.print(out)


@app.command("show")
def show_hook(hook_id: str = typer.Argument(..., help="The hook's id")) -> None:
    """Show a hook's settings (as JSON)."""
    with api_call(), client() as api:
        print_json(api.request("GET", f"/v1/hooks/{quote(hook_id, safe='')}"))


@app.command("delete")
def delete_hook(hook_id: str = typer.Argument(..., help="The hook's id (see `cytasks hook list`)")) -> None:
    """Delete a hook: deliveries to its URL are answered 404 from now on."""
    with api_call(), client() as api:
        api.request("DELETE", f"/v1/hooks/{quote(hook_id, safe='')}")
    err_console.print(f"Deleted hook {hook_id}", highlight=False)


@app.command("rotate")
def rotate_secret(hook_id: str = typer.Argument(..., help="The hook's id"), as_json: bool = JsonOpt) -> None:
    """Give a hook a new signing secret (printed once); the old one stops working at once."""
    with api_call(), client() as api:
        rotated = api.request("POST", f"/v1/hooks/{quote(hook_id, safe='')}/rotate-secret")
    if as_json:
        print_json(rotated)
        return
    _print_secret(rotated, "Rotated the secret of")
