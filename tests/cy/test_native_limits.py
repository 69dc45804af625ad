"""Natives cannot be used to exhaust memory or hang the process."""

from __future__ import annotations

import pytest

from cy import compile_script
from cy.errors import LimitExceeded


def test_huge_range_is_refused_not_built():
    with pytest.raises(LimitExceeded, match="range\\(\\) would build 1000000000 numbers"):
        compile_script("return len(range(1000000000))").run()


def test_catastrophic_regex_gives_up_with_a_clear_error():
    script = 'return regex_match("(x+x+)+y", input)'
    with pytest.raises(LimitExceeded, match="backtracks too much"):
        compile_script(script).run("x" * 5000)


def test_limit_errors_cannot_be_caught_by_the_script():
    script = 'try { x = range(1000000000) } catch (e) { return "caught" }\nreturn "no"'
    with pytest.raises(LimitExceeded):
        compile_script(script).run()


def test_regex_keeps_re_semantics_and_messages():
    program = compile_script('return [regex_match("\\\\d+", input), regex_extract("(\\\\w+)@", input)]')
    assert program.run("mail bob@example.com 42").value == [True, "bob"]
    with pytest.raises(Exception, match="Invalid regex pattern '\\[': unterminated character set at position 0"):
        compile_script('return regex_match("[", "x")').run()
