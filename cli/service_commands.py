"""Processes: ``cytasks dev`` (the whole stack), ``cytasks api``, ``cytasks worker``, ``cytasks db``."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, soft_wrap=True)  # lines are meant to be copied whole

# Longer than the longest long poll (GET /v1/task-runs/{id}?wait=60), so clients can keep
# their connections between polls.
KEEP_ALIVE_SECONDS = 75

db_app = typer.Typer(help="Database schema and maintenance.", no_args_is_help=True)


def dev(
    data_dir: Path = typer.Option(Path(".data"), "--data-dir", help="Where Postgres, Temporal and blobs keep their state."),
    api_port: int = typer.Option(8000, "--api-port"),
    temporal_port: int = typer.Option(7233, "--temporal-port"),
    ui_port: int = typer.Option(8233, "--ui-port"),
) -> None:
    """Run the whole stack in the foreground: Postgres, the Temporal dev server and UI, a worker and the API.

    The API key is CYTASKS_API_KEY, or a random one printed at start. Ctrl-C stops everything.
    """
    from devstack import TemporalBinaryNotFound, TemporalStartError

    api_key = os.environ.get("CYTASKS_API_KEY") or secrets.token_urlsafe(24)
    try:
        asyncio.run(_run_dev(data_dir.resolve(), api_port, temporal_port, ui_port, api_key))
    except KeyboardInterrupt:
        pass
    except (TemporalStartError, TemporalBinaryNotFound) as err:
        console.print(f"[bold red]Error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


async def _run_dev(data_dir: Path, api_port: int, temporal_port: int, ui_port: int, api_key: str) -> None:
    import uvicorn

    from devstack import DevStack

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    data_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"Starting Postgres and the Temporal dev server in {data_dir} ...")
    async with DevStack(data_dir, temporal_port, ui_port, migrate=True) as stack:
        for note in stack.notes:
            console.print(f"[yellow]Note:[/] {escape(note)}", highlight=False)
        os.environ.update(stack.env())
        os.environ["CYTASKS_API_KEY"] = api_key
        os.environ["CYTASKS_API_PORT"] = str(api_port)
        if stack.ui_url and not os.environ.get("CYTASKS_TEMPORAL_UI_URL"):
            os.environ["CYTASKS_TEMPORAL_UI_URL"] = stack.ui_url
        from settings import get_settings

        get_settings.cache_clear()
        settings = get_settings()

        import worker as worker_module
        from activities.runs import RunActivities
        from api.main import create_app
        from taskrun.search_attributes import ensure_search_attributes

        client = await worker_module.connect(settings)
        await ensure_search_attributes(client, settings.TEMPORAL_NAMESPACE)
        activities = await RunActivities.create(settings)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, temporal_client=client),
                host=settings.API_HOST,
                port=api_port,
                log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
        )
        server.install_signal_handlers = lambda: None
        async with worker_module.build_worker(client, settings, activities):
            duties = await worker_module.start_duties(client, settings)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():
                await asyncio.sleep(0.05)
            if serving.done():
                serving.result()
            _print_running(stack, settings.API_HOST, api_port, api_key)
            console.print("Press Ctrl-C to stop.")
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            console.print("Stopping ...")
            server.should_exit = True
            await serving
            stopping.cancel()
            duties.cancel()
        await activities.close()
    console.print("Stopped.")


def _print_running(stack, host: str, api_port: int, api_key: str) -> None:
    """The addresses, then the exports one per line and never wrapped, so each copies whole."""
    url = f"http://{host}:{api_port}"
    lines = [
        "",
        "[bold green]cytasks is running[/]",
        f"  API          {url}  (docs at /docs, console at /ui)",
        f"  Temporal UI  {stack.ui_url}",
        f"  Temporal     {stack.temporal_address}",
        f"  API key      {api_key}",
        "",
        f"  export CYTASKS_URL={url}",
        f"  export CYTASKS_API_KEY={api_key}",
        "",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def api(
    host: str = typer.Option(None, "--host", help="Defaults to CYTASKS_API_HOST."),
    port: int = typer.Option(None, "--port", help="Defaults to CYTASKS_API_PORT."),
) -> None:
    """Serve the HTTP API (configured by CYTASKS_* variables)."""
    import uvicorn

    from settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.API_HOST,
        port=port or settings.API_PORT,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def worker() -> None:
    """Run a worker: hosts TaskRunWorkflow and every tool activity. Run more to scale."""
    import worker as worker_module

    worker_module.main()


DbDataDirOpt = typer.Option(
    None,
    "--data-dir",
    help="The dev stack's data dir (default .data, used when CYTASKS_DATABASE_URL is not set).",
)


def _database(data_dir: Path | None):
    """The settings naming the database to work on, or a one-line error and exit 1."""
    from cli.db_target import NoDatabase, resolve
    from settings import get_settings

    try:
        return resolve(get_settings(), data_dir)
    except NoDatabase as err:
        console.print(f"[bold red]Error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


HOW = "set CYTASKS_DATABASE_URL, or pass --data-dir of a running `cytasks dev`"


def _unreachable(where: str, err: BaseException) -> typer.Exit:
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    console.print(
        f"[bold red]Error:[/] cannot reach {escape(where)}: {escape(reason)} ({HOW})",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head"), data_dir: Optional[Path] = DbDataDirOpt) -> None:
    """Apply the schema migrations (and create the upcoming run partitions)."""
    from sqlalchemy.exc import OperationalError

    from persistence.migrate import upgrade

    settings, where = _database(data_dir)
    try:
        upgrade(settings.DATABASE_URL, revision)
    except (OperationalError, OSError) as err:
        raise _unreachable(where, err) from None
    console.print(f"Database upgraded to {revision} ({where}).", highlight=False)


@db_app.command("maintain")
def db_maintain(data_dir: Optional[Path] = DbDataDirOpt) -> None:
    """Create upcoming day partitions and drop runs (and their blobs) past the retention period.

    `cytasks dev` and every worker already do this every 10 minutes; this runs it once now."""
    from sqlalchemy.exc import OperationalError

    settings, where = _database(data_dir)
    try:
        report = asyncio.run(_maintain(settings))
    except (OperationalError, OSError) as err:
        raise _unreachable(where, err) from None
    console.print(
        f"Maintenance done on {where} (retention {settings.RUN_RETENTION_DAYS} days, "
        f"partitions {settings.PARTITION_DAYS_AHEAD} days ahead):",
        highlight=False,
    )
    for line in report.lines():
        console.print(f"  {line}", highlight=False, markup=False)


async def _maintain(settings):
    from persistence.db import dispose_engines, get_engine
    from persistence.maintenance import run_maintenance
    from storage.blobs import make_blob_store

    store = make_blob_store(settings)
    try:
        return await run_maintenance(
            get_engine(settings.DATABASE_URL),
            retention_days=settings.RUN_RETENTION_DAYS,
            days_ahead=settings.PARTITION_DAYS_AHEAD,
            delete_blob=store.delete,
        )
    finally:
        await dispose_engines()


def register_commands(app: typer.Typer) -> None:
    app.command("dev")(dev)
    app.command("api")(api)
    app.command("worker")(worker)
    app.add_typer(db_app, name="db")
