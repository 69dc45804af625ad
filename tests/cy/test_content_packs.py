"""The Analysi content packs' task scripts pass ``cytasks cy check --stub-tools``.

The scripts come from the public repository ``open-analysi/analysi-app``
(``content/foundation/tasks/*.cy`` and ``content/examples/tasks/*.cy``). That repository
is AGPL-3.0-or-later, so its files are not copied into this one: the test reads them from
a checkout given by the ``ANALYSI_APP_DIR`` environment variable, or from
``<repo>/../analysi-app`` (a clone beside this repository, like ``../shared``), and is
skipped when neither exists.

Two examples are not valid Cy (they are written in a Python-like syntax) and must be
rejected: ``hello_world`` and ``ip_enrichment_example``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cy import CyOptions, check_script
from cy.natives import default_registry

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = Path(os.environ.get("ANALYSI_APP_DIR") or REPO_ROOT.parent / "analysi-app")
FOLDERS = ("content/foundation/tasks", "content/examples/tasks")
INVALID = {"hello_world", "ip_enrichment_example"}


def task_scripts() -> list[Path]:
    scripts: list[Path] = []
    for folder in FOLDERS:
        scripts.extend(sorted((CHECKOUT / folder).glob("*.cy")))
    return scripts


SCRIPTS = task_scripts()
VALID = [p for p in SCRIPTS if p.stem not in INVALID]
INVALID_SCRIPTS = [p for p in SCRIPTS if p.stem in INVALID]
needs_checkout = pytest.mark.skipif(not SCRIPTS, reason=f"no Analysi task scripts under {CHECKOUT}")


def _id(path: Path) -> str:
    return f"{path.parent.parent.name}/{path.stem}"


def check(path: Path):
    return check_script(path.read_text(encoding="utf-8"), default_registry(), CyOptions(stub_tools=True))


@needs_checkout
@pytest.mark.parametrize("path", VALID, ids=_id)
def test_task_script_checks(path: Path):
    errors = check(path)
    source = path.read_text(encoding="utf-8")
    assert errors == [], "\n\n".join(e.report(source) for e in errors)


@needs_checkout
@pytest.mark.parametrize("path", INVALID_SCRIPTS, ids=_id)
def test_invalid_examples_are_rejected(path: Path):
    errors = check(path)
    assert errors, f"{path.name} should not compile"
    assert errors[0].type == "SyntaxError"


@needs_checkout
def test_cli_check_accepts_every_valid_script():
    result = CliRunner().invoke(
        app, ["cy", "check", "--stub-tools", "--no-plugins", *map(str, VALID)]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(VALID)} of {len(VALID)} files OK" in result.stdout


@needs_checkout
def test_every_expected_invalid_example_is_present():
    assert {p.stem for p in INVALID_SCRIPTS} == INVALID
