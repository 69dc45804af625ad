"""``cytasks cy run | check | conformance`` driven through Typer's CliRunner."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def script(tmp_path):
    def write(source: str, name: str = "script.cy") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source).lstrip("\n"))
        return str(path)

    return write


TOOLS_FILE = '''
import asyncio

def lookup(ip, days=30):
    return {"ip": ip, "days": days, "risk": "low"}

async def slow_double(x):
    await asyncio.sleep(0)
    return x * 2

def confirm(question):
    raise AssertionError("hi-latency tools are answered by the host, never called")

TOOLS = {
    "app::intel::lookup": lookup,
    "double": {"fn": slow_double, "description": "doubles"},
    "confirm": {"fn": confirm, "hi_latency": True},
}

def register(registry):
    registry.register("shout", lambda text: text.upper() + "!")
'''


@pytest.fixture
def tools_file(tmp_path):
    path = tmp_path / "tools.py"
    path.write_text(TOOLS_FILE)
    return str(path)


# ----------------------------------------------------------------------------------------
# run


def test_run_prints_json(script):
    result = invoke("cy", "run", script('x = 6 / 2\nreturn {"x": x, "s": "h\u00e9"}'))
    assert result.exit_code == 0, result.output
    assert result.stdout == '{"x": 3.0, "s": "h\\u00e9"}\n'


def test_run_input_inline_and_from_file(script, tmp_path):
    path = script('return input.a + 1')
    result = invoke("cy", "run", path, "--input", '{"a": 41}')
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "42"
    data = tmp_path / "input.json"
    data.write_text('{"a": 1.5}')
    result = invoke("cy", "run", path, "--input", f"@{data}")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2.5"
    result = invoke("cy", "run", path, "--input", "@-", input='{"a": 9}')
    assert result.stdout.strip() == "10"


def test_run_bad_input_is_a_usage_error(script):
    result = invoke("cy", "run", script("return input"), "--input", "{nope")
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr


def test_run_without_return_prints_nothing(script):
    result = invoke("cy", "run", script("while (False) { return 1 }"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_run_error_reports_position_and_context(script):
    result = invoke("cy", "run", script("x = 1\ny = x / 0\nreturn y"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "RuntimeError at line 2, column 5" in result.stderr
    assert "2 | y = x / 0" in result.stderr
    assert "Division by zero" in result.stderr


def test_run_compile_error(script):
    result = invoke("cy", "run", script("x = 1\nreturn nosuchtool(x)"))
    assert result.exit_code == 1
    assert "ToolResolutionError at line 2, column 8" in result.stderr


def test_run_logs_go_to_stderr(script):
    result = invoke("cy", "run", script('log("hello")\nreturn 1'))
    assert result.stdout == "1\n"
    assert "LOG: hello" in result.stderr
    quiet = invoke("cy", "run", script('log("hello")\nreturn 1'), "--no-logs")
    assert "hello" not in quiet.stderr


def test_run_with_tools_file(script, tools_file):
    source = 'r = app::intel::lookup("1.2.3.4", days=7)\nreturn [r, double(21), shout("hi"), lookup("x").days]'
    result = invoke("cy", "run", script(source), "--tools", tools_file)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"ip": "1.2.3.4", "days": 7, "risk": "low"},
        42,
        "HI!",
        30,
    ]


def test_run_hi_latency_answers(script, tools_file):
    path = script('a = confirm("Block?")\nb = confirm("Sure?")\nreturn [a, b]')
    result = invoke("cy", "run", path, "--tools", tools_file, "--answer", "yes", "--answer", '{"n": 1}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ["yes", {"n": 1}]
    missing = invoke("cy", "run", path, "--tools", tools_file, "--answer", "yes")
    assert missing.exit_code == 1
    assert "needs a human answer" in missing.stderr
    assert "not a terminal" in missing.stderr


def test_run_stub_tools(script):
    path = script('x = app::foo::bar(1)\nreturn [x, unknown_tool() ?? "stub"]')
    assert invoke("cy", "run", path).exit_code == 1
    result = invoke("cy", "run", path, "--stub-tools")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [None, "stub"]


def test_run_max_iterations(script):
    path = script("n = 0\nwhile (n < 10) { n += 1 }\nreturn n")
    assert invoke("cy", "run", path).stdout.strip() == "10"
    result = invoke("cy", "run", path, "--max-iterations", "5")
    assert result.exit_code == 1
    assert "maximum total iterations (5)" in result.stderr


def test_run_variables(script):
    result = invoke("cy", "run", script("return [env, limit]"), "--var", "env=prod", "--var", "limit=5")
    assert json.loads(result.stdout) == ["prod", 5]


def test_run_bad_tools_file(script, tmp_path):
    path = script("return 1")
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    result = invoke("cy", "run", path, "--tools", str(empty))
    assert result.exit_code == 2
    assert "neither TOOLS nor register" in result.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("TOOLS = {'x': {'fn': print, 'colour': 'red'}}\n")
    result = invoke("cy", "run", path, "--tools", str(broken))
    assert result.exit_code == 2
    assert "unknown key(s) colour" in result.stderr


def test_run_missing_file():
    result = invoke("cy", "run", "/nonexistent/script.cy")
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


# ----------------------------------------------------------------------------------------
# check


def test_check_ok_lists_tools_variables_and_hi_latency(script, tools_file):
    source = 'x = len(items)\ny = app::intel::lookup(ip)\na = confirm("ok?")\nreturn [x, y, a, input]'
    result = invoke("cy", "check", script(source), "--tools", tools_file, "--allow-undefined")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("OK ")
    assert "native::tools::len" in out
    assert "app::intel::lookup" in out
    assert "items" in out and "ip" in out
    assert "confirm (native::tools::confirm) at line 3, column 5" in out


def test_check_json(script, tools_file):
    result = invoke("cy", "check", script('a = confirm("q")\nreturn a'), "--tools", tools_file, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert "native::tools::confirm" in data["tools_used"]
    assert data["hi_latency_calls"] == [
        {"fqn": "native::tools::confirm", "name": "confirm", "line": 1, "column": 5}
    ]


def test_check_knows_the_built_in_tools_and_refuses_undefined_variables(script):
    built_ins = 'sleep(1)\nr = app::http::request("GET", "http://127.0.0.1:1/")\nreturn [llm_run("x"), app::human::ask("ok?")]'
    result = invoke("cy", "check", script(built_ins))
    assert result.exit_code == 0, result.output
    python_spelling = invoke("cy", "check", script("x = 1\nreturn true"))
    assert python_spelling.exit_code == 1
    assert "line 2" in python_spelling.output.lower() and "Cy spells it True" in python_spelling.output


def test_check_reports_errors_with_positions(script):
    result = invoke("cy", "check", script("x = 1\ny = nosuch(x)\nreturn y"))
    assert result.exit_code == 1
    assert "ToolResolutionError at line 2, column 5" in result.stderr
    assert "2 | y = nosuch(x)" in result.stderr
    data = json.loads(invoke("cy", "check", script("return nosuch(1)"), "--json").stdout)
    assert data["ok"] is False
    assert data["errors"][0]["type"] == "ToolResolutionError"
    assert (data["errors"][0]["line"], data["errors"][0]["column"]) == (1, 8)


def test_check_syntax_error(script):
    result = invoke("cy", "check", script("x = 1\nif x > 1:\n    return x\nreturn 0"))
    assert result.exit_code == 1
    assert "SyntaxError at line 2" in result.stderr


def test_check_stub_tools(script):
    path = script("return app::vt::lookup(1) ?? llm_run(prompt=\"x\")")
    assert invoke("cy", "check", path).exit_code == 1
    result = invoke("cy", "check", path, "--stub-tools")
    assert result.exit_code == 0, result.output


def test_check_several_files(script):
    good = script("return 1", "good.cy")
    bad = script("return nosuch()", "bad.cy")
    result = invoke("cy", "check", good, bad)
    assert result.exit_code == 1
    assert "1 of 2 files OK" in result.stdout
    data = json.loads(invoke("cy", "check", good, bad, "--json").stdout)
    assert [d["ok"] for d in data] == [True, False]


# ----------------------------------------------------------------------------------------
# conformance


CORPUS = [
    {"id": "ok-1", "script": "return 1 + 1", "input": None, "features": ["arith"],
     "expected": 2, "expected_raw": "2"},
    {"id": "ok-2", "script": "return input.x", "input": {"x": "y"}, "features": ["input"],
     "expected": "y", "expected_raw": "\"y\""},
    {"id": "bad-1", "script": "return 1", "input": None, "features": ["arith"],
     "expected": 1.0, "expected_raw": "1.0"},
    {"id": "err-1", "script": "return 1 / 0", "input": None, "features": ["runtime_error"],
     "expected_error": "Division by zero", "error_class": "RuntimeError", "error_line": 1, "error_col": 8},
    {"id": "hitl-1", "script": "a = ask(\"q\", level=2)\nreturn a", "input": None, "features": ["hitl"],
     "tools": {"ask": {"fn": "lambda q, level=1: 'unused'", "hi_latency": True}},
     "hitl": {"answers": ["fine"]}, "expected": "fine", "expected_raw": "\"fine\"",
     "expected_pauses": [{"tool": "ask", "args": {"arg_0": "q", "level": 2}}]},
    {"id": "bug-1", "script": "return 5", "input": None, "features": ["ref_bug"],
     "expected": 6, "expected_raw": "6"},
]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in CORPUS) + "\n")
    return str(path)


def test_conformance_summary(corpus):
    result = invoke("cy", "conformance", corpus, "--verbose")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Overall: 4/6 passed" in out
    assert "Not tagged ref_bug: 4/5 passed (80.00%)" in out
    assert "bad-1" in out and "bug-1 [ref_bug]" in out
    assert "expected 1.0, got 1" in out
    assert "runtime_error" in out


def test_conformance_json_summary_and_fail_under(corpus):
    result = invoke("cy", "conformance", corpus, "--json")
    data = json.loads(result.stdout)
    assert data["non_ref_bug"] == {"passed": 4, "total": 5, "rate": 0.8}
    assert data["by_feature"]["arith"] == {"passed": 1, "total": 2, "rate": 0.5}
    assert invoke("cy", "conformance", corpus, "--fail-under", "0.9").exit_code == 1
    assert invoke("cy", "conformance", corpus, "--fail-under", "0.8").exit_code == 0


def test_conformance_emit(corpus):
    result = invoke("cy", "conformance", corpus, "--emit")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_id = {r["id"]: r for r in records}
    assert [r["id"] for r in records] == [c["id"] for c in CORPUS]
    assert by_id["ok-1"] == {"id": "ok-1", "result": 2}
    assert by_id["bad-1"] == {"id": "bad-1", "result": 1}
    assert by_id["err-1"]["error"]["type"] == "RuntimeError"
    assert (by_id["err-1"]["error"]["line"], by_id["err-1"]["error"]["column"]) == (1, 8)
    assert by_id["hitl-1"] == {
        "id": "hitl-1",
        "result": "fine",
        "pauses": [{"tool": "ask", "args": {"arg_0": "q", "level": 2}}],
    }


def test_conformance_only_and_feature(corpus):
    only = invoke("cy", "conformance", corpus, "--emit", "--only", "ok-1,err-1", "--only", "bug-1")
    assert [json.loads(l)["id"] for l in only.stdout.splitlines()] == ["ok-1", "err-1", "bug-1"]
    feature = invoke("cy", "conformance", corpus, "--emit", "--feature", "arith")
    assert [json.loads(l)["id"] for l in feature.stdout.splitlines()] == ["ok-1", "bad-1"]


def test_conformance_unreadable_corpus(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("{not json\n")
    result = invoke("cy", "conformance", str(path))
    assert result.exit_code == 1
    assert "invalid JSON" in result.stderr


# ----------------------------------------------------------------------------------------
# the installed console script


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("cytasks")
    if beside.exists():
        return str(beside)
    return shutil.which("cytasks")


def test_installed_console_script(script):
    exe = _console_script()
    if exe is None:
        pytest.skip("the cytasks console script is not installed")
    path = script('return {"sum": input.a + input.b}')
    done = subprocess.run(
        [exe, "cy", "run", path, "--input", '{"a": 1, "b": 2}'],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == '{"sum": 3}\n'
    failed = subprocess.run(
        [exe, "cy", "run", script("return 1 % 0", "bad.cy")],
        capture_output=True, text=True, timeout=60,
    )
    assert failed.returncode == 1
    assert "RuntimeError at line 1, column 8" in failed.stderr


def test_conformance_corpus_defaults_to_cytasks_cy_corpus(corpus, monkeypatch):
    monkeypatch.setenv("CYTASKS_CY_CORPUS", corpus)
    result = invoke("cy", "conformance", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["overall"]["total"] == len(CORPUS)


def test_conformance_without_a_corpus_says_where_it_comes_from(monkeypatch):
    from cli import cy_commands

    monkeypatch.delenv("CYTASKS_CY_CORPUS", raising=False)
    monkeypatch.setattr(cy_commands, "_corpus_candidates", lambda: [])
    result = invoke("cy", "conformance")
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "not part of this repository" in result.output and "CYTASKS_CY_CORPUS" in result.output
