"""``cytasks cy``: run, check and test Cy scripts from the command line.

Host tools for ``run`` and ``check`` come from a Python file given with ``--tools``. The
file may define either or both of:

* ``TOOLS``: a dict mapping a tool name (flat ``name``, ``str::name`` style 2-part or
  ``app::group::name`` 3-part) to a callable, or to a dict with the callable under
  ``"fn"`` and any of ``hi_latency``, ``pure``, ``description``, ``timeout_seconds``,
  ``uses_host`` (the flags of ``ToolRegistry.register``);
* ``register(registry)``: a function receiving the ``cy.tools.ToolRegistry`` to add tools
  to (``registry.register(name, fn, hi_latency=True)`` or the ``@registry.tool(name)``
  decorator).

Async (``async def``) tool functions work as well as plain ones.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import click
import typer

TOOLS_FILE_HELP = "Python file defining host tools (see the tools file format below)."

TOOLS_FILE_EPILOG = (
    "[bold]Tools file format[/bold] (--tools FILE.py): the file may define a module-level "
    "dict TOOLS mapping a tool name (flat 'lookup', 2-part 'str::name', or 3-part "
    "'app::group::name') to a function, or to a dict with the function under 'fn' and any of "
    "'hi_latency', 'pure', 'description', 'timeout_seconds', 'uses_host'; "
    "and/or a function register(registry) that calls registry.register(name, fn, "
    "hi_latency=True, ...). Plain and async functions both work.\n\n"
    "Example: TOOLS = {'app::intel::lookup': lambda ip: {'ip': ip}, "
    "'ask': {'fn': ask, 'hi_latency': True}}"
)

TOOL_FLAGS = frozenset({"hi_latency", "pure", "description", "timeout_seconds", "uses_host", "retry"})

app = typer.Typer(
    help="Run, check and test Cy scripts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class CliFailure(Exception):
    """A problem with the command's own inputs (tools file, input JSON, ...)."""


# ----------------------------------------------------------------------------------------
# Helpers shared by the commands


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliFailure(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliFailure(f"{path} is not UTF-8 text: {exc}") from exc


def parse_json_argument(text: str, what: str) -> Any:
    """``text`` is JSON, ``@file`` (a JSON file) or ``@-`` (JSON on standard input)."""
    origin = what
    if text.startswith("@"):
        target = text[1:]
        if target == "-":
            text = sys.stdin.read()
            origin = f"{what} (stdin)"
        else:
            try:
                text = Path(target).read_text(encoding="utf-8")
            except OSError as exc:
                raise CliFailure(f"cannot read {what} file {target}: {exc.strerror or exc}") from exc
            origin = f"{what} file {target}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliFailure(f"{origin} is not valid JSON: {exc}") from exc


def parse_variables(items: list[str]) -> dict[str, Any] | None:
    """``NAME=JSON`` pairs; a value that is not JSON is taken as a string."""
    if not items:
        return None
    variables: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise CliFailure(f"--var expects NAME=VALUE, got {item!r}")
        try:
            variables[name] = json.loads(raw)
        except json.JSONDecodeError:
            variables[name] = raw
    return variables


def load_tools_file(path: Path, registry: Any) -> list[str]:
    """Import ``path`` and register its tools; returns the names registered via ``TOOLS``."""
    if not path.is_file():
        raise CliFailure(f"tools file not found: {path}")
    module_name = f"cytasks_user_tools_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CliFailure(f"cannot load tools file {path}")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - user code
        raise CliFailure(f"error while importing tools file {path}: {type(exc).__name__}: {exc}") from exc
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass

    tools = getattr(module, "TOOLS", None)
    hook = getattr(module, "register", None)
    if tools is None and not callable(hook):
        raise CliFailure(f"tools file {path} defines neither TOOLS nor register(registry)")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, dict):
            raise CliFailure(f"TOOLS in {path} must be a dict, got {type(tools).__name__}")
        for name, entry in tools.items():
            if callable(entry):
                fn, flags = entry, {}
            elif isinstance(entry, dict) and callable(entry.get("fn")):
                flags = {k: v for k, v in entry.items() if k != "fn"}
                unknown = set(flags) - TOOL_FLAGS
                if unknown:
                    raise CliFailure(
                        f"tool {name!r} in {path}: unknown key(s) {', '.join(sorted(unknown))}; "
                        f"allowed: fn, {', '.join(sorted(TOOL_FLAGS))}"
                    )
                fn = entry["fn"]
            else:
                raise CliFailure(
                    f"tool {name!r} in {path}: expected a callable or a dict with a callable 'fn'"
                )
            try:
                registry.register(name, fn, **flags)
            except (TypeError, ValueError) as exc:
                raise CliFailure(f"tool {name!r} in {path}: {exc}") from exc
            names.append(name)
    if callable(hook):
        try:
            hook(registry)
        except Exception as exc:  # noqa: BLE001 - user code
            raise CliFailure(f"register() in {path} failed: {type(exc).__name__}: {exc}") from exc
    return names


def build_registry(tools_file: Optional[Path], plugins: bool) -> Any:
    """The tools the server knows (natives, built-in tools, and with ``plugins`` the installed
    plugins and ``CYTASKS_PLUGINS``), plus those of ``tools_file``."""
    from integrations.registry import build_registry as server_registry

    try:
        registry = server_registry(plugins=plugins)
    except Exception as exc:  # noqa: BLE001 - third-party code
        raise CliFailure(f"loading tool plugins failed: {type(exc).__name__}: {exc}") from exc
    if tools_file is not None:
        load_tools_file(tools_file, registry)
    return registry


AllowUndefinedOpt = typer.Option(
    False,
    "--allow-undefined",
    help="Accept variables the script reads but never assigns (they are NameErrors only when "
    "read at run time). The server refuses them when a task is saved or an ad-hoc run submitted.",
)


def _undefined(allow: bool) -> str:
    return "runtime" if allow else "error"


def build_options(**values: Any) -> Any:
    from cy import CyOptions

    return CyOptions(**{k: v for k, v in values.items() if v is not None})


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


class HumanAnswerUnavailable(Exception):
    pass


@dataclass
class TerminalHuman:
    """Answers hi-latency calls: first from ``--answer`` values, then by asking on the terminal."""

    answers: list[Any]
    interactive: bool

    def __call__(self, call: Any) -> Any:
        if self.answers:
            return self.answers.pop(0)
        args = call.named_args()
        if not self.interactive:
            raise HumanAnswerUnavailable(
                f"tool '{call.written_name}' needs a human answer but standard input is not a "
                "terminal; pass --answer JSON once per hi-latency call"
            )
        shown = json.dumps(args, ensure_ascii=False, default=repr)
        typer.echo(f"\n'{call.written_name}' needs a human answer. Arguments: {shown}", err=True)
        raw = click.prompt(
            "Answer (JSON, or plain text)", default="", show_default=False, err=True
        )
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw


def make_host(answer_human: Callable[[Any], Any], echo_logs: bool) -> Any:
    from cy.host import LocalHost

    class CliHost(LocalHost):
        def log(self, message: str) -> None:
            super().log(message)
            if echo_logs:
                typer.echo(f"LOG: {message}", err=True)

    return CliHost(answer_human=answer_human)


def report_error(error: Any, source: str) -> None:
    typer.echo(error.report(source), err=True)


# ----------------------------------------------------------------------------------------
# cy run


@app.command("run", epilog=TOOLS_FILE_EPILOG)
def run_command(
    file: Path = typer.Argument(..., help="The Cy script to run.", show_default=False),
    input_json: Optional[str] = typer.Option(
        None,
        "--input",
        "-i",
        metavar="JSON|@FILE",
        help="The run's input: JSON text, @path to a JSON file, or @- to read stdin.",
    ),
    tools: Optional[Path] = typer.Option(None, "--tools", "-t", metavar="TOOLS.PY", help=TOOLS_FILE_HELP),
    stub_tools: bool = typer.Option(
        False, "--stub-tools", help="Unknown tools compile and return null instead of failing."
    ),
    max_iterations: Optional[int] = typer.Option(
        None, "--max-iterations", min=1, help="Loop iteration budget (default 100000)."
    ),
    variables: list[str] = typer.Option(
        [], "--var", metavar="NAME=JSON", help="Predefined variable (repeatable)."
    ),
    answers: list[str] = typer.Option(
        [],
        "--answer",
        metavar="JSON",
        help="Answer for the next hi-latency call, in order (repeatable). Without enough "
        "answers the remaining calls are asked on the terminal, or fail when stdin is not a TTY.",
    ),
    check_types: bool = typer.Option(False, "--check-types", help="Run the static type checker first."),
    allow_undefined: bool = AllowUndefinedOpt,
    logs: bool = typer.Option(True, "--logs/--no-logs", help="Echo log() messages to stderr."),
    plugins: bool = typer.Option(
        True, "--plugins/--no-plugins", help="Load tools from installed plugins (entry points)."
    ),
) -> None:
    """Run a Cy script and print its result as JSON.

    Nothing is printed when the script finishes without executing a return. On an error the formatted report (with source context) goes to stderr and the exit code is 1.

    Hi-latency (human) tools are answered from --answer values, then asked on the terminal; when stdin is not a terminal such a call fails.
    """
    from cy import compile_script
    from cy.errors import CyError

    try:
        source = read_source(file)
        input_value = parse_json_argument(input_json, "--input") if input_json is not None else None
        predefined = parse_variables(variables)
        scripted = [_parse_answer(a) for a in answers]
        registry = build_registry(tools, plugins)
        options = build_options(
            stub_tools=stub_tools,
            max_iterations=max_iterations,
            check_types=check_types,
            undefined_variables=_undefined(allow_undefined),
            predefined=tuple(predefined or ()),
        )
    except CliFailure as exc:
        fail(str(exc), 2)
        return

    human = TerminalHuman(scripted, interactive=sys.stdin.isatty())
    host = make_host(human, logs)
    try:
        program = compile_script(source, registry=registry, options=options)
        outcome = program.run(input_value, host=host, variables=predefined)
    except CyError as error:
        report_error(error, source)
        raise typer.Exit(1)
    except HumanAnswerUnavailable as exc:
        fail(str(exc))
        return
    if not outcome.returned:
        return
    try:
        text = json.dumps(outcome.value)
    except (TypeError, ValueError) as exc:
        typer.echo(f"TypeError: the returned value is not JSON: {exc}", err=True)
        raise typer.Exit(1)
    typer.echo(text)


def _parse_answer(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# ----------------------------------------------------------------------------------------
# cy check


@app.command("check", epilog=TOOLS_FILE_EPILOG)
def check_command(
    files: list[Path] = typer.Argument(..., help="The Cy script(s) to check.", show_default=False),
    tools: Optional[Path] = typer.Option(None, "--tools", "-t", metavar="TOOLS.PY", help=TOOLS_FILE_HELP),
    stub_tools: bool = typer.Option(
        False, "--stub-tools", help="Accept unknown tools (they would return null at run time)."
    ),
    check_types: bool = typer.Option(False, "--check-types", help="Also run the static type checker."),
    allow_undefined: bool = AllowUndefinedOpt,
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON object (a list of objects for several files)."
    ),
    plugins: bool = typer.Option(
        True, "--plugins/--no-plugins", help="Load tools from installed plugins (entry points)."
    ),
) -> None:
    """Report a script's compile-time errors, or print OK with the tools it uses.

    Prints the fully qualified tools used, the external variables and the hi-latency call sites. Several files may be given. Exit code 0 when every script compiles, 1 when any has errors.
    """
    try:
        registry = build_registry(tools, plugins)
        options = build_options(
            stub_tools=stub_tools, check_types=check_types, undefined_variables=_undefined(allow_undefined)
        )
        sources = [(file, read_source(file)) for file in files]
    except CliFailure as exc:
        fail(str(exc), 2)
        return

    results = [_check_one(file, source, registry, options) for file, source in sources]
    failed = any(errors for _, _, errors, _ in results)

    if as_json:
        payloads = []
        for file, _, errors, analysis in results:
            payload: dict[str, Any] = {"ok": not errors, "file": str(file)}
            if errors:
                payload["errors"] = [e.to_dict() for e in errors]
            else:
                payload.update(_analysis_dict(analysis))
            payloads.append(payload)
        typer.echo(json.dumps(payloads[0] if len(payloads) == 1 else payloads, indent=2))
        raise typer.Exit(1 if failed else 0)

    for index, (file, source, errors, analysis) in enumerate(results):
        if index:
            typer.echo("")
        if errors:
            for number, error in enumerate(errors):
                if number:
                    typer.echo("", err=True)
                report_error(error, source)
            count = len(errors)
            typer.echo(f"\n{file}: {count} error{'s' if count != 1 else ''}", err=True)
            continue
        _print_analysis(file, _analysis_dict(analysis))
    if len(results) > 1:
        bad = sum(1 for _, _, errors, _ in results if errors)
        typer.echo(f"\n{len(results) - bad} of {len(results)} files OK")
    raise typer.Exit(1 if failed else 0)


def _check_one(file: Path, source: str, registry: Any, options: Any) -> tuple[Path, str, list, Any]:
    from cy import check_script, compile_script
    from cy.errors import CyError

    errors = list(check_script(source, registry, options))
    analysis = None
    if not errors:
        try:
            analysis = compile_script(source, registry=registry, options=options).analyze()
        except CyError as error:
            errors = [error]
    return file, source, errors, analysis


def _print_analysis(file: Path, data: dict[str, Any]) -> None:
    typer.echo(f"OK {file}")
    typer.echo("Tools used:" + ("" if data["tools_used"] else " none"))
    for fqn in data["tools_used"]:
        typer.echo(f"  {fqn}")
    typer.echo("External variables:" + ("" if data["external_variables"] else " none"))
    for name in data["external_variables"]:
        typer.echo(f"  {name}")
    typer.echo("Hi-latency calls:" + ("" if data["hi_latency_calls"] else " none"))
    for site in data["hi_latency_calls"]:
        typer.echo(f"  {site['name']} ({site['fqn']}) at line {site['line']}, column {site['column']}")


def _analysis_dict(analysis: Any) -> dict[str, Any]:
    return {
        "tools_used": list(analysis.tools_used),
        "external_variables": list(analysis.external_variables),
        "hi_latency_calls": [
            {
                "fqn": site.fqn,
                "name": site.written_name,
                "line": site.line,
                "column": site.column,
            }
            for site in analysis.hi_latency_calls
        ],
    }


# ----------------------------------------------------------------------------------------
# cy conformance


@app.command("conformance")
def conformance_command(
    cases_file: Optional[Path] = typer.Argument(
        None,
        metavar="[CASES.jsonl]",
        help="Corpus in the conformance format (one JSON case per line). "
        "Default: $CYTASKS_CY_CORPUS, else ../shared/cy/conformance.jsonl beside the checkout.",
        show_default=False,
    ),
    emit: bool = typer.Option(
        False,
        "--emit",
        help="Print one JSON line per case ({id, result} or {id, error}, plus pauses/logs) "
        "instead of judging.",
    ),
    only: list[str] = typer.Option(
        [], "--only", metavar="ID", help="Run only these case ids (repeatable, comma-separated, 'prefix*')."
    ),
    feature: list[str] = typer.Option(
        [], "--feature", metavar="TAG", help="Run only cases with this feature tag (repeatable)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show why each failing case failed."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    fail_under: Optional[float] = typer.Option(
        None,
        "--fail-under",
        min=0.0,
        max=1.0,
        metavar="RATE",
        help="Exit 1 when the pass rate of cases not tagged ref_bug is below RATE (0..1).",
    ),
) -> None:
    """Run a conformance corpus and print a summary by feature tag.

    Cases follow the corpus format of LANGUAGE.md §25 (script, input, tools, options, mode, hitl, expectations). Exit code 0 whatever the pass rate (unless --fail-under is given); 1 when the corpus cannot be read.
    """
    from cy import conformance

    ids = [part.strip() for item in only for part in item.split(",") if part.strip()]
    cases_file = cases_file or _default_corpus()
    try:
        cases = conformance.select_cases(conformance.load_cases(cases_file), ids, feature)
    except conformance.CorpusError as exc:
        fail(str(exc))
        return
    if ids:
        known = {c["id"] for c in cases}
        missing = [i for i in ids if not i.endswith("*") and i not in known]
        if missing:
            typer.echo(f"Warning: no case with id {', '.join(missing)}", err=True)

    if emit:
        for case in cases:
            record = conformance.emit_case(case)
            typer.echo(json.dumps(record, default=repr))
        return

    results = conformance.run_cases(cases)
    summary = conformance.summarize(results)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary, verbose)
    if fail_under is not None and summary.non_ref_bug.rate < fail_under:
        raise typer.Exit(1)


CORPUS_ENV = "CYTASKS_CY_CORPUS"


def _corpus_candidates() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    return [Path.cwd().parent / "shared" / "cy" / "conformance.jsonl", here.parent / "shared" / "cy" / "conformance.jsonl"]


def _default_corpus() -> Path:
    """The corpus to run when none is named: $CYTASKS_CY_CORPUS, else the shared reference corpus."""
    import os

    named = os.environ.get(CORPUS_ENV)
    if named:
        return Path(named)
    for candidate in _corpus_candidates():
        if candidate.is_file():
            return candidate
    fail(
        "no corpus given. The Cy conformance corpus (the language's reference cases, format of "
        "LANGUAGE.md §25) is not part of this repository: pass its path, e.g. "
        f"`cytasks cy conformance path/to/conformance.jsonl`, or set {CORPUS_ENV}"
    )


def _print_summary(summary: Any, verbose: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    table = Table(title="Conformance by feature tag", show_lines=False)
    table.add_column("feature")
    table.add_column("passed", justify="right")
    table.add_column("total", justify="right")
    table.add_column("rate", justify="right")
    for tag, tally in sorted(summary.by_feature.items()):
        style = "" if tally.passed == tally.total else "red"
        table.add_row(tag, str(tally.passed), str(tally.total), f"{tally.rate:.1%}", style=style)
    console.print(table)

    def line(label: str, tally: Any) -> str:
        return f"{label}: {tally.passed}/{tally.total} passed ({tally.rate:.2%})"

    console.print(line("Overall", summary.overall))
    console.print(line("Not tagged ref_bug", summary.non_ref_bug))
    if not summary.failing:
        console.print("No failing cases.")
        return
    console.print(f"Failing cases ({len(summary.failing)}):")
    for result in summary.failing:
        marker = " [ref_bug]" if result.ref_bug else ""
        if verbose:
            console.print(f"  {result.id}{marker}: {result.reason}", markup=False)
        else:
            console.print(f"  {result.id}{marker}", markup=False)
