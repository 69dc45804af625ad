"""`cytasks keys create|list|revoke`: API keys (an admin key is needed)."""

from __future__ import annotations

from typing import Optional

import typer

from .output import api_call, client, console, err_console, print_json, short_time, table

app = typer.Typer(name="keys", help="API keys and their roles (needs an admin key).", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print the raw JSON")


@app.command("create")
def create_key(
    name: str = typer.Argument(..., help="A unique name (it is who the audit log says acted)"),
    role: list[str] = typer.Option(..., "--role", "-r", help="admin, editor, runner, approver, viewer or payloads; repeat for several"),
    expires_at: Optional[str] = typer.Option(None, "--expires-at", help="ISO 8601 instant after which the key stops working"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a key. Its secret is printed once: keep it, it cannot be shown again."""
    body = {"name": name, "roles": role}
    if expires_at:
        body["expires_at"] = expires_at
    with api_call(), client() as api:
        created = api.request("POST", "/v1/api-keys", json=body)
    if as_json:
        print_json(created)
        return
    err_console.print(f"Created key {created['name']} ({', '.join(created['roles'])}), id {created['id']}", highlight=False)
    err_console.print("[bold]The secret below is shown only now:[/]")
    console.print(created["key"], highlight=False, soft_wrap=True)


@app.command("list")
def list_keys(as_json: bool = JsonOpt) -> None:
    """List keys (never their secrets)."""
    with api_call(), client() as api:
        keys = api.request("GET", "/v1/api-keys")["items"]
    if as_json:
        print_json(keys)
        return
    out = table("name", "roles", "created", "by", "expires", "id")
    for key in keys:
        out.add_row(
            key["name"],
            ", ".join(key["roles"]),
            short_time(key.get("created_at")),
            key.get("created_by") or "",
            short_time(key.get("expires_at")) if key.get("expires_at") else "never",
            key["id"],
        )
    console.print(out)


@app.command("revoke")
def revoke_key(key_id: str = typer.Argument(..., help="The key's id (see `cytasks keys list`)")) -> None:
    """Revoke a key: it stops working at once on every API process."""
    with api_call(), client() as api:
        api.request("DELETE", f"/v1/api-keys/{key_id}")
    err_console.print(f"Revoked key {key_id}", highlight=False)
