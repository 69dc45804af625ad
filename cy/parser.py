"""Parser stage of the Cy front end: tokens to the syntax tree of ``cy.syntax``.

Pipeline: scanner -> **parser (+ interpolation)** -> resolver -> typecheck -> codegen ->
program. Imports only ``syntax``, ``errors``, ``scanner`` and ``interpolation`` (to which
it hands itself as the callback that parses placeholder expressions).

A recursive-descent parser.
Keywords are contextual, as in the reference grammar: a word is a keyword only where
that keyword can appear; anywhere else it is an ordinary identifier (``a.if`` is a
field access, ``True = 1`` an assignment the resolver rejects).
"""

from __future__ import annotations

import re

from . import syntax
from .errors import CySyntaxError
from .interpolation import compile_string
from .scanner import DQ, EOF, ERROR, NUMBER, OP, SQ, TQ, WORD, Token, process_escapes, scan

ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%="})
STATEMENT_KEYWORDS = frozenset({"if", "while", "for", "return", "break", "continue", "try"})
EXPRESSION_KEYWORDS = frozenset({"if", "True", "False", "null"})
LITERAL_WORDS = {"True": True, "False": False, "null": None}
BINARY_PRECEDENCE = {
    "==": 1,
    "!=": 1,
    "<": 1,
    ">": 1,
    "<=": 1,
    ">=": 1,
    "+": 2,
    "-": 2,
    "*": 3,
    "/": 3,
    "%": 3,
}

DOLLAR_MESSAGE = (
    "Dollar signs ($) are only allowed inside string interpolations.\n"
    "Use simple variable names like 'x = 5' instead of '$x = 5'.\n"
    'For string interpolation, use ${variable} syntax: "Hello ${name}!"'
)
MIXED_BRACKET_DOT = (
    "Mixed bracket and dot notation is not supported.\n"
    "Use consistent notation throughout:\n"
    "  All dot notation: obj.user.data.name\n"
    "  All bracket notation: obj['user']['data']['name']"
)
MIXED_DOT_BRACKET = (
    "Mixed dot and bracket notation is not supported.\n"
    "Use consistent notation throughout:\n"
    "  All dot notation: obj.user.data.name\n"
    "  All bracket notation: obj['user']['data']['name']"
)


class Parser:
    def __init__(self, source: str, max_depth: int = 100) -> None:
        self.source = source
        self.tokens = scan(source)
        self.i = 0
        self.depth = 0
        self.max_depth = max_depth

    # -- token helpers ----------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_op(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == OP and tok.text == text

    def at_word(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == WORD and tok.text == text

    def expect_op(self, text: str) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != OP or tok.text != text:
            self.error(tok, f"'{text}'")
        self.i += 1
        return tok

    def expect_word(self, text: str) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != WORD or tok.text != text:
            self.error(tok, f"'{text}'")
        self.i += 1
        return tok

    def expect_name(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != WORD:
            self.error(tok, "an identifier")
        self.i += 1
        return tok

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise CySyntaxError(
                f"Nesting too deep: more than {self.max_depth} nested blocks or expressions",
                tok.line,
                tok.col,
            )

    # -- errors -----------------------------------------------------------------------

    def error(self, tok: Token, expected: str = "", *, column_shift: int = 0) -> None:
        if tok.kind == EOF and self.i > 0:
            last = self.tokens[self.i - 1]
            line, col = last.line, last.col
        else:
            line, col = tok.line, tok.col + column_shift
        if tok.kind == ERROR:
            if tok.text == "$":
                raise CySyntaxError(DOLLAR_MESSAGE, line, col)
            message = f"Unexpected character '{tok.text}'"
        elif tok.kind == EOF:
            message = "Unexpected end of input"
        else:
            message = f"Unexpected {_describe(tok)}"
        if expected:
            message += f"; expected {expected}"
        hint = python_hint(self.source, line)
        if hint is None and tok.kind != ERROR:
            previous = self.tokens[self.i - 1] if self.i > 0 else None
            if tok.kind == OP and tok.text == "." and previous is not None and previous.text == "]":
                hint = MIXED_BRACKET_DOT
            elif tok.kind == OP and tok.text == "[":
                hint = MIXED_DOT_BRACKET
        raise CySyntaxError(hint or message, line, col)

    # -- program and statements -------------------------------------------------------

    def program(self) -> syntax.Program:
        body = []
        tokens = self.tokens
        while tokens[self.i].kind != EOF:
            body.append(self.statement())
        return syntax.Program(body, self.source)

    def block(self) -> list:
        start = self.expect_op("{")
        self.enter(start)
        body = []
        tokens = self.tokens
        while True:
            tok = tokens[self.i]
            if tok.kind == OP and tok.text == "}":
                self.i += 1
                break
            body.append(self.statement())
        self.depth -= 1
        return body

    def statement(self):
        tok = self.tokens[self.i]
        if tok.kind != WORD:
            self.error(tok, "a statement")
        word = tok.text
        if word in STATEMENT_KEYWORDS:
            if word == "if":
                return self.if_statement()
            if word == "while":
                self.i += 1
                self.expect_op("(")
                condition = self.expression()
                self.expect_op(")")
                return syntax.While(tok.line, tok.col, condition, self.block())
            if word == "for":
                self.i += 1
                self.expect_op("(")
                name = self.expect_name().text
                self.expect_word("in")
                iterable = self.expression()
                self.expect_op(")")
                return syntax.For(tok.line, tok.col, name, iterable, self.block())
            if word == "return":
                self.i += 1
                return syntax.Return(tok.line, tok.col, self.expression())
            if word == "break":
                self.i += 1
                return syntax.Break(tok.line, tok.col)
            if word == "continue":
                self.i += 1
                return syntax.Continue(tok.line, tok.col)
            return self.try_statement()
        return self.word_statement()

    def if_statement(self) -> syntax.If:
        tok = self.advance()
        branches = []
        self.expect_op("(")
        condition = self.expression()
        self.expect_op(")")
        branches.append((condition, self.block()))
        otherwise = None
        while self.at_word("elif"):
            self.i += 1
            self.expect_op("(")
            condition = self.expression()
            self.expect_op(")")
            branches.append((condition, self.block()))
        if self.at_word("else"):
            self.i += 1
            otherwise = self.block()
        return syntax.If(tok.line, tok.col, branches, otherwise)

    def try_statement(self) -> syntax.Try:
        tok = self.advance()
        body = self.block()
        catches = []
        while True:
            catch = self.peek()
            if catch.kind == WORD and catch.text == "catch":
                self.i += 1
            elif catches:
                break
            else:
                self.error(catch, "'catch'")
            self.expect_op("(")
            name = self.expect_name().text
            self.expect_op(")")
            catches.append((name, self.block(), catch))
        final = None
        if self.at_word("finally"):
            self.i += 1
            final = self.block()
        name, catch_body, catch = catches[0]
        return syntax.Try(tok.line, tok.col, body, name, catch_body, final, catch.line, catch.col)

    def word_statement(self):
        tok = self.advance()
        nxt = self.tokens[self.i]
        if nxt.kind == OP and nxt.text in ("(", "::"):
            target = self.call(tok)
        else:
            target = syntax.Var(tok.line, tok.col, tok.text)
        target = self.postfix(target)
        op = self.tokens[self.i]
        if op.kind == OP and op.text in ASSIGN_OPS and not isinstance(target, syntax.Call):
            self.i += 1
            value = self.expression()
            if isinstance(target, syntax.Var):
                return syntax.Assign(tok.line, tok.col, target.name, op.text, value)
            if isinstance(target, syntax.Field):
                return syntax.FieldAssign(tok.line, tok.col, target, op.text, value)
            return syntax.IndexAssign(tok.line, tok.col, target, op.text, value)
        if isinstance(target, syntax.Call):
            return syntax.ExprStmt(target.line, target.col, target)
        if isinstance(target, syntax.Var) and op.kind == OP and op.text == "==":
            self.error(op, "'='", column_shift=1)
        self.error(op, "an assignment operator")

    # -- expressions ------------------------------------------------------------------

    def expression(self):
        start = self.tokens[self.i]
        first = self.or_expr()
        if self.at_op("??"):
            operands = [first]
            while self.at_op("??"):
                self.i += 1
                operands.append(self.or_expr())
            first = syntax.Logical(start.line, start.col, "??", operands)
        return first

    def or_expr(self):
        start = self.tokens[self.i]
        first = self.and_expr()
        if self.at_word("or"):
            operands = [first]
            while self.at_word("or"):
                self.i += 1
                operands.append(self.and_expr())
            return syntax.Logical(start.line, start.col, "or", operands)
        return first

    def and_expr(self):
        start = self.tokens[self.i]
        first = self.not_expr()
        if self.at_word("and"):
            operands = [first]
            while self.at_word("and"):
                self.i += 1
                operands.append(self.not_expr())
            return syntax.Logical(start.line, start.col, "and", operands)
        return first

    def not_expr(self):
        tok = self.tokens[self.i]
        if tok.kind == WORD and tok.text == "not":
            self.i += 1
            return syntax.Unary(tok.line, tok.col, "not", self.binary(1))
        return self.binary(1)

    def binary(self, min_prec: int):
        start = self.tokens[self.i]
        left = self.unary()
        tokens = self.tokens
        while True:
            tok = tokens[self.i]
            if tok.kind == OP:
                prec = BINARY_PRECEDENCE.get(tok.text)
                if prec is None:
                    return left
            elif tok.kind == WORD and tok.text == "in":
                prec = 1
            else:
                return left
            if prec < min_prec:
                return left
            self.i += 1
            right = self.binary(prec + 1)
            left = syntax.Binary(start.line, start.col, tok.text, left, right)

    def unary(self):
        tok = self.tokens[self.i]
        if tok.kind == OP and tok.text in ("-", "+"):
            self.i += 1
            self.enter(tok)
            operand = self.unary()
            self.depth -= 1
            return syntax.Unary(tok.line, tok.col, tok.text, operand)
        return self.primary()

    def primary(self):
        tok = self.advance()
        kind = tok.kind
        if kind == WORD:
            word = tok.text
            if word in EXPRESSION_KEYWORDS:
                if word == "if":
                    return self.if_expression(tok)
                return syntax.Literal(tok.line, tok.col, LITERAL_WORDS[word])
            nxt = self.tokens[self.i]
            if nxt.kind == OP and nxt.text in ("(", "::"):
                node = self.call(tok)
            else:
                node = syntax.Var(tok.line, tok.col, word)
            return self.postfix(node)
        if kind == NUMBER:
            text = tok.text
            value = float(text) if "." in text else int(text)
            return syntax.Literal(tok.line, tok.col, value)
        if kind == DQ:
            return self.string(tok, tok.text[1:-1])
        if kind == TQ:
            return self.string(tok, tok.text[3:-3])
        if kind == SQ:
            return syntax.Literal(tok.line, tok.col, process_escapes(tok.text[1:-1]))
        if kind == OP:
            text = tok.text
            if text == "(":
                self.enter(tok)
                inner = self.expression()
                self.expect_op(")")
                self.depth -= 1
                return inner
            if text == "[":
                return self.list_or_comprehension(tok)
            if text == "{":
                return self.dictionary(tok)
        self.i -= 1
        self.error(tok, "an expression")

    def string(self, tok: Token, content: str):
        return compile_string(content, tok.line, tok.col, self.parse_nested)

    def parse_nested(self, source: str) -> syntax.Program:
        """Parse ``source`` as a program with this parser's nesting limit (placeholders)."""
        return Parser(source, self.max_depth).program()

    def postfix(self, node):
        tokens = self.tokens
        tok = tokens[self.i]
        if tok.kind == OP and tok.text == ".":
            while tok.kind == OP and tok.text == ".":
                self.i += 1
                name = self.expect_name()
                node = syntax.Field(node.line, node.col, node, name.text)
                tok = tokens[self.i]
        while tok.kind == OP and tok.text == "[":
            self.i += 1
            index = self.expression()
            self.expect_op("]")
            node = syntax.Index(node.line, node.col, node, index)
            tok = tokens[self.i]
        return node

    def call(self, name_tok: Token) -> syntax.Call:
        parts = [name_tok.text]
        while self.at_op("::"):
            if len(parts) == 3:
                self.error(self.peek(), "'('")
            self.i += 1
            parts.append(self.expect_name().text)
        open_tok = self.expect_op("(")
        self.enter(open_tok)
        args: list = []
        kwargs: list = []
        tokens = self.tokens
        if not self.at_op(")"):
            while True:
                tok = tokens[self.i]
                nxt = tokens[self.i + 1] if tok.kind != EOF else tok
                if (
                    tok.kind == WORD
                    and tok.text not in EXPRESSION_KEYWORDS
                    and tok.text != "not"
                    and nxt.kind == OP
                    and nxt.text == "="
                ):
                    self.i += 2
                    kwargs.append((tok.text, self.expression()))
                elif kwargs:
                    if tok.kind == WORD and tok.text not in EXPRESSION_KEYWORDS and tok.text != "not":
                        self.i += 1
                        self.error(self.peek(), "'='")
                    self.error(tok, "a named argument")
                else:
                    args.append(self.expression())
                if self.at_op(","):
                    self.i += 1
                    continue
                self.expect_op(")")
                break
        else:
            self.i += 1
        self.depth -= 1
        return syntax.Call(name_tok.line, name_tok.col, "::".join(parts), args, kwargs)

    def list_or_comprehension(self, open_tok: Token):
        self.enter(open_tok)
        if self.at_op("]"):
            self.i += 1
            self.depth -= 1
            return syntax.ListLit(open_tok.line, open_tok.col, [])
        first = self.expression()
        if self.at_word("for"):
            self.i += 1
            self.expect_op("(")
            name = self.expect_name().text
            self.expect_word("in")
            iterable = self.expression()
            self.expect_op(")")
            condition = None
            if self.at_word("if"):
                self.i += 1
                self.expect_op("(")
                condition = self.expression()
                self.expect_op(")")
            self.expect_op("]")
            self.depth -= 1
            return syntax.Comprehension(open_tok.line, open_tok.col, first, name, iterable, condition)
        items = [first]
        while self.at_op(","):
            self.i += 1
            if self.at_op("]"):
                break
            items.append(self.expression())
        self.expect_op("]")
        self.depth -= 1
        return syntax.ListLit(open_tok.line, open_tok.col, items)

    def dictionary(self, open_tok: Token):
        self.enter(open_tok)
        pairs = []
        while not self.at_op("}"):
            key_tok = self.peek()
            if key_tok.kind != DQ:
                self.error(key_tok, "a double-quoted key")
            self.i += 1
            key = self.string(key_tok, key_tok.text[1:-1])
            self.expect_op(":")
            pairs.append((key, self.expression()))
            if self.at_op(","):
                self.i += 1
                continue
            if not self.at_op("}"):
                self.error(self.peek(), "',' or '}'")
        self.i += 1
        self.depth -= 1
        return syntax.DictLit(open_tok.line, open_tok.col, pairs)

    def if_expression(self, tok: Token) -> syntax.IfExpr:
        self.enter(tok)
        branches = []
        while True:
            self.expect_op("(")
            condition = self.expression()
            self.expect_op(")")
            self.expect_op("{")
            value = self.expression()
            self.expect_op("}")
            branches.append((condition, value))
            if self.at_word("elif"):
                self.i += 1
                continue
            break
        self.expect_word("else")
        self.expect_op("{")
        otherwise = self.expression()
        self.expect_op("}")
        self.depth -= 1
        return syntax.IfExpr(tok.line, tok.col, branches, otherwise)


def _describe(tok: Token) -> str:
    if tok.kind == WORD:
        return f"word '{tok.text}'"
    if tok.kind == NUMBER:
        return f"number {tok.text}"
    if tok.kind in (DQ, SQ, TQ):
        return "string"
    return f"'{tok.text}'"


def parse(source: str, max_depth: int = 100) -> syntax.Program:
    """Parse a whole program; raises ``CySyntaxError``."""
    try:
        return Parser(source, max_depth).program()
    except RecursionError:
        raise CySyntaxError("Program is nested too deeply to parse", 1, 1) from None


# -- hints for code written in Python or JavaScript style ------------------------------

_SIMPLE_HINTS = [
    (re.compile(r"^def\s+\w+\s*\("), "Python function definition is not supported in Cy.\n"
     "Write the logic directly in the script; there are no user-defined functions."),
    (re.compile(r"^class\s+\w+"), "Python class definition is not supported in Cy.\n"
     "Cy is a scripting language: write the logic directly as a script."),
    (re.compile(r"^import\s+\w+"), "Python import statement is not supported in Cy.\n"
     "Scripts reach the outside world only through tools."),
    (re.compile(r"^from\s+\S+\s+import\s+"), "Python 'from ... import' statement is not "
     "supported in Cy.\nScripts reach the outside world only through tools."),
    (re.compile(r"^raise\s+"), "Python 'raise' is not supported in Cy.\n"
     "Use try { ... } catch (e) { ... } to handle errors."),
    (re.compile(r"^assert\s+"), "Python 'assert' is not supported in Cy.\n"
     'Use an if statement: if (x != 2) { return "validation failed" }'),
    (re.compile(r"\blambda\s+\w"), "Python lambda functions are not supported in Cy.\n"
     "Write the logic inline or use a for loop."),
    (re.compile(r"(?<![\"'])\bf[\"']"), "Python f-strings are not supported in Cy.\n"
     'Use interpolation inside double quotes: "Hello ${name}"'),
    (re.compile(r"\*\*"), "The exponentiation operator ** is not supported in Cy.\n"
     "Multiply explicitly: x * x"),
    (re.compile(r"//"), "The floor division operator // is not supported in Cy "
     "(and // does not start a comment; use #).\nUse int(x / 3) instead."),
    (re.compile(r"&&"), "The operator && is not supported in Cy; use 'and'."),
    (re.compile(r"\|\|"), "The operator || is not supported in Cy; use 'or'."),
    (re.compile(r";\s*(#.*)?$|;\s*\w"), "Semicolons are not used in Cy: put statements "
     "on separate lines (or separate them with spaces)."),
    (re.compile(r"^(\w+\s*,\s*)+\w+\s*="), "Tuple unpacking is not supported in Cy.\n"
     "Assign each variable on its own line."),
    (re.compile(r"\bnot\s+not\b"), "'not not x' is not allowed; write 'not (not x)'."),
    (re.compile(r"\bnot\s+in\b"), "There is no 'not in' operator; write 'not (x in c)'."),
    (re.compile(r"}\s*else\s+if\b"), "'else if' is not valid Cy; use 'elif (...) { ... }'."),
    (re.compile(r"(^|[^=!<>])!(?!=)"), "The operator ! is not supported in Cy; use 'not'."),
]

_COLON_HINTS = [
    (re.compile(r"^for\s+\(?(\w+)\s+in\s+(.+?)\)?\s*$"), "Python-style for loop detected. "
     "In Cy, use parentheses and curly braces:\n  for ({0} in {1}) {{ ... }}"),
    (re.compile(r"^if\s+(.+)$"), "Python-style if statement detected. "
     "In Cy, wrap the condition in parentheses and use curly braces:\n  if ({0}) {{ ... }}"),
    (re.compile(r"^elif\s+(.+)$"), "Python-style elif detected. "
     "In Cy, wrap the condition in parentheses and use curly braces:\n  }} elif ({0}) {{"),
    (re.compile(r"^while\s+(.+)$"), "Python-style while loop detected. "
     "In Cy, wrap the condition in parentheses and use curly braces:\n  while ({0}) {{ ... }}"),
    (re.compile(r"^else\s*$"), "Python-style else detected. In Cy, use curly braces:\n"
     "  } else {"),
    (re.compile(r"^with\s+"), "Python 'with' statement is not supported in Cy."),
    (re.compile(r"^except\b"), "Python 'except' is not valid Cy; use '} catch (e) {'."),
]


def python_hint(source: str, line: int) -> str | None:
    """An explanation when the failing line looks like Python or JavaScript."""
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1].strip()
    for pattern, message in _SIMPLE_HINTS:
        if pattern.search(text):
            return message
    if re.search(r"^\S.+\s+if\s+\S.+\s+else\s+\S", text) and not re.match(r"^if\s", text):
        return (
            "The Python conditional expression 'x if cond else y' is not supported.\n"
            "Use a Cy conditional expression: if (cond) { x } else { y }"
        )
    if re.search(r"\?[^?]*:", text) and "??" not in text:
        return "The ternary operator 'c ? a : b' is not supported; use if (c) { a } else { b }."
    if text == "pass" or any(
        lines[k].strip() == "pass" for k in range(max(line - 3, 0), line - 1)
    ):
        return "Python 'pass' is not needed in Cy: blocks can be empty."
    if not text.endswith(":"):
        return None
    inner = text[:-1].rstrip().lstrip("}").strip()
    for pattern, message in _COLON_HINTS:
        m = pattern.match(inner)
        if m:
            groups = [g.strip() for g in m.groups()]
            if groups and groups[-1].startswith("(") and groups[-1].endswith(")"):
                groups[-1] = groups[-1][1:-1]
            return message.format(*groups)
    return None
