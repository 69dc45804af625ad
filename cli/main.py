"""Root of the ``cytasks`` command line.

Every command group lives in its own module ``cli/<group>.py`` exposing a Typer object
named ``app``. Adding a group is one line in :data:`COMMAND_GROUPS`. A group whose module
fails to import does not take the other groups down: it is replaced by a stub that
reports the import error when used.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

import typer

from cli import help_format

help_format.install()

COMMAND_GROUPS: dict[str, str] = {
    "cy": "cli.cy_commands",
    "questions": "cli.question_commands",
    "task": "cli.task_commands",
    "runs": "cli.run_commands",
    "schedule": "cli.schedule_commands",
    "keys": "cli.key_commands",
    "audit": "cli.audit_commands",
    "workflow": "cli.workflow_commands",
    "hook": "cli.hook_commands",
    "rule": "cli.rule_commands",
    "alert": "cli.alert_commands",
}
"""Group name -> module defining the group's ``app`` (a ``typer.Typer``)."""

app = typer.Typer(
    name="cytasks",
    help="cytasks: automation Tasks written in Cy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _package_version() -> str:
    try:
        return version("cytasks")
    except PackageNotFoundError:
        return "unknown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"cytasks {_package_version()}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """cytasks: automation Tasks written in Cy."""


def _broken_group(name: str, module: str, error: BaseException) -> typer.Typer:
    group = typer.Typer(help=f"(unavailable: {module} failed to import)")

    @group.callback(invoke_without_command=True)
    def unavailable() -> None:
        typer.echo(f"The '{name}' commands are unavailable: {module}: {error}", err=True)
        raise typer.Exit(1)

    return group


def _register_groups() -> None:
    for name, module in COMMAND_GROUPS.items():
        try:
            group = importlib.import_module(module).app
        except Exception as exc:  # noqa: BLE001 - keep the rest of the CLI usable
            group = _broken_group(name, module, exc)
        app.add_typer(group, name=name)


_register_groups()

TOP_LEVEL_COMMANDS = ("cli.run_commands", "cli.service_commands", "cli.question_commands", "cli.mcp_commands")
"""Modules whose ``register_commands(app)`` adds top-level commands (run, exec, dev, api, ...)."""

for _module in TOP_LEVEL_COMMANDS:
    importlib.import_module(_module).register_commands(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="cytasks")


if __name__ == "__main__":
    sys.exit(main())
