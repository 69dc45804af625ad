"""Which database the ``cytasks db`` commands work on: CYTASKS_DATABASE_URL, else the dev stack's."""

from __future__ import annotations

import warnings
from pathlib import Path

from settings import Settings

DEFAULT_DEV_DATA_DIR = Path(".data")


class NoDatabase(Exception):
    """No database to work on; the message says how to point the command at one."""


HOW = "set CYTASKS_DATABASE_URL, or pass --data-dir of a running `cytasks dev`"


def dev_database_url(data_dir: Path) -> str:
    """The URL of the running embedded Postgres of the dev stack kept in ``data_dir``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver warns about XDG_RUNTIME_DIR on import
        from pgserver.utils import PostmasterInfo

    from devstack.postgres import DEFAULT_DATABASE, sqlalchemy_url_for_socket

    pgdata = data_dir.expanduser().resolve() / "postgres"
    if not (pgdata / "PG_VERSION").exists():
        raise NoDatabase(f"CYTASKS_DATABASE_URL is not set and there is no dev stack in {data_dir} ({HOW})")
    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        info = None
    if info is None or not info.is_running() or info.socket_dir is None:
        raise NoDatabase(
            f"the dev stack's Postgres in {data_dir} is not running "
            f"(start `cytasks dev --data-dir {data_dir}`, or set CYTASKS_DATABASE_URL)"
        )
    return sqlalchemy_url_for_socket(info.socket_dir, DEFAULT_DATABASE)


def resolve(settings: Settings, data_dir: Path | None) -> tuple[Settings, str]:
    """Settings for the chosen database, and a phrase naming it.

    An explicit ``--data-dir`` wins; then CYTASKS_DATABASE_URL (environment or .env); then the
    dev stack in ``.data/``. With the dev stack, blobs are those of its data dir too."""
    if data_dir is None and "DATABASE_URL" in settings.model_fields_set:
        return settings, "the database of CYTASKS_DATABASE_URL"
    chosen = data_dir if data_dir is not None else DEFAULT_DEV_DATA_DIR
    url = dev_database_url(chosen)
    where = chosen.expanduser().resolve()
    update = {"DATABASE_URL": url, "DATA_DIR": where, "BLOB_BACKEND": "file", "BLOB_DIR": where / "blobs"}
    return settings.model_copy(update=update), f"the dev stack's database in {where}"
