"""Scanner stage of the Cy front end: source text to tokens, and string escapes.

Pipeline: **scanner** -> parser (+ interpolation) -> resolver -> typecheck -> codegen ->
program. The first stage: imports nothing from ``cy``.

``process_escapes`` resolves the escape sequences of a string literal's content; the
parser uses it for strings that do not interpolate.

Words are not split into keywords and identifiers here: whether ``in`` or ``not`` is a
keyword depends on where it appears, so the parser decides.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

WORD = "WORD"
NUMBER = "NUMBER"
DQ = "DQ"  # "..."
TQ = "TQ"  # """..."""
SQ = "SQ"  # '...'
OP = "OP"
ERROR = "ERROR"
EOF = "EOF"


class Token(NamedTuple):
    kind: str
    text: str
    line: int
    col: int


_PATTERN = re.compile(
    r"""
    (?:[ \t\r\n]+|\#[^\n]*)*
    (?:
     (?P<TQ>\"\"\"(?:.|\n)*?\"\"\")
    |(?P<DQ>"(?:[^"\\]|\\.)*")
    |(?P<SQ>'(?:[^'\\]|\\.)*')
    |(?P<NUMBER>[0-9]+(?:\.[0-9]+)?)
    |(?P<WORD>[a-zA-Z][a-zA-Z0-9_]*)
    |(?P<OP>\?\?|::|==|!=|<=|>=|\+=|-=|\*=|/=|%=|[()\[\]{},:.=<>+\-*/%])
    |(?P<ERROR>.)
    |(?P<EOF>\Z)
    )
    """,
    re.VERBOSE,
)
_NEWLINE = re.compile("\n")
_LITERAL_ESCAPES = (("\\$", "$"), ("\\{", "{"), ("\\}", "}"), ("\\n", "\n"), ("\\t", "\t"), ("\\r", "\r"), ('\\"', '"'))


def scan(source: str) -> list[Token]:
    """Tokenize ``source``. An unrecognised character ends the list with an ERROR token."""
    newlines = [m.start() for m in _NEWLINE.finditer(source)]
    tokens: list[Token] = []
    append = tokens.append
    new = tuple.__new__
    for m in _PATTERN.finditer(source):
        kind = m.lastgroup
        start, end = m.span(kind)
        line = bisect_right(newlines, start)
        col = start - newlines[line - 1] if line else start + 1
        append(new(Token, (kind, source[start:end], line + 1, col)))
        if kind == "ERROR" or kind == "EOF":
            break
    if tokens[-1].kind == ERROR:
        last = tokens[-1]
        append(Token(EOF, "", last.line, last.col))
    return tokens


def process_escapes(text: str) -> str:
    """Resolve the escapes of a non-interpolated string literal's content."""
    if "\\" not in text:
        return text
    protected = text.replace("\\\\", "\x00")
    for sequence, char in _LITERAL_ESCAPES:
        protected = protected.replace(sequence, char)
    return protected.replace("\x00", "\\")
