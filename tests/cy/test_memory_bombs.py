"""Memory and CPU bombs are refused before the work, in a process with a memory limit.

Each script runs in a child process whose address space is capped: if a check regressed,
the child dies (and the test fails) instead of the machine swapping.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 1536 * 1024**2

DOUBLED = 's = "x"\ni = 0\nwhile (i < 19) { s = s + s\n i += 1 }\nt = "y"\nj = 0\nwhile (j < 12) { t = t + t\n j += 1 }\n'
DAG = "a = [1]\ni = 0\nwhile (i < 40) { a = [a, a]\n i += 1 }\n"

BOMBS = {
    "replace": DOUBLED + 'return str::replace(t, "", s)',
    "join": DOUBLED + "return str::join(range(3000), s)",
    "url_encode": DOUBLED + 'return url_encode(str::replace(s, "x", "€"))',
    "to_json with indent": "return to_json(range(7000), 1000000)",
    "range": "return range(9000000)",
    "text of a shared graph": DAG + "return str(a)",
    "uppercase of a shared graph": DAG + "return uppercase(a)",
    "log of a shared graph": DAG + "log(a)\nreturn 1",
    "interpolation of a shared graph": DAG + 'return "${a}"',
    "json interpolation of a shared graph": DAG + 'return "${a|json}"',
    "to_json of a shared graph": DAG + "return to_json(a)",
    "join of shared graphs": DAG + "return str::join([a, a])",
    "equality of shared graphs": DAG + "b = [1]\nk = 0\nwhile (k < 40) { b = [b, b]\n k += 1 }\nreturn a == b",
    "inequality of shared graphs": DAG + "b = [1]\nk = 0\nwhile (k < 40) { b = [b, b]\n k += 1 }\nreturn a != b",
    "membership of a shared graph": DAG + "b = [1]\nk = 0\nwhile (k < 40) { b = [b, b]\n k += 1 }\nreturn a in [1, b]",
    "index_of a shared graph": DAG + "b = [1]\nk = 0\nwhile (k < 40) { b = [b, b]\n k += 1 }\nreturn list::index_of([b], a)",
    "sort of shared graphs": DAG + "b = [1]\nk = 0\nwhile (k < 40) { b = [b, b]\n k += 1 }\nreturn list::sort([a, b])",
    "unique of shared graphs": DAG + "return list::unique([a, [a]])",
    "max of shared graphs": DAG + "return list::max([a, [a]])",
}

CHILD = """
import json, sys
from cy import CyOptions, compile_script
from cy.errors import CyError
results = {}
for name, script in json.loads(sys.stdin.read()).items():
    try:
        compile_script(script, options=CyOptions(max_value_size=1_000_000)).run()
        results[name] = "no error"
    except CyError as error:
        results[name] = error.type
print(json.dumps(results))
"""


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, str]:
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=json.dumps(BOMBS),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        preexec_fn=_limit,
        timeout=120,
    )
    assert child.returncode == 0, f"the child died: {child.stderr[-2000:]}"
    return json.loads(child.stdout)


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_bomb_is_refused_before_the_work(outcomes, bomb):
    assert outcomes[bomb] == "ValueTooLarge"
