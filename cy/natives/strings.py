"""String natives: case, join/split/replace/trim, prefixes, markdown, base64, URL, regex."""

import base64
import re
from typing import Any
from urllib.parse import quote, unquote

import regex

from ..errors import LimitExceeded
from ..formatting import to_text
from ..values import build_limit, refuse_build
from .spec import Native, type_name


def _require_str(value: Any, message: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{message}, got {type_name(value)}")


def uppercase(text: str) -> str:
    return to_text(text).upper()


def lowercase(text: str) -> str:
    return to_text(text).lower()


def join(items: list, separator: str = ", ") -> str:
    glue = separator.join
    if not hasattr(items, "__iter__"):
        return glue(to_text(item) for item in items)
    texts = [to_text(item) for item in items]
    if isinstance(separator, str):
        size = sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0)
        if size > build_limit():
            refuse_build("str::join", size)
    return glue(texts)


def split(text: str, delimiter: str = " ") -> list:
    _require_str(text, "split() requires string")
    _require_str(delimiter, "split() delimiter must be string")
    return text.split(delimiter)


def replace(text: str, old: str, new: str) -> str:
    _require_str(text, "replace() requires string")
    _require_str(old, "replace() old must be string")
    _require_str(new, "replace() new must be string")
    if len(new) > len(old):
        count = text.count(old) if old else len(text) + 1
        size = len(text) + count * (len(new) - len(old))
        if size > build_limit():
            refuse_build("str::replace", size)
    return text.replace(old, new)


def trim(text: str) -> str:
    _require_str(text, "trim() requires string")
    return text.strip()


def startswith(text: str, prefix: str) -> bool:
    _require_str(text, "startswith() text must be string")
    _require_str(prefix, "startswith() prefix must be string")
    return text.startswith(prefix)


def endswith(text: str, suffix: str) -> bool:
    _require_str(text, "endswith() text must be string")
    _require_str(suffix, "endswith() suffix must be string")
    return text.endswith(suffix)


_FENCE_OPEN = re.compile(r"```[a-zA-Z]*\n")
_INLINE_CODE = re.compile(r"`([^`]+)`")


def strip_markdown(text: str) -> str:
    _require_str(text, "strip_markdown() requires string")
    text = _FENCE_OPEN.sub("", text).replace("```", "")
    return _INLINE_CODE.sub(r"\1", text)


def base64_encode(text: str) -> str:
    _require_str(text, "base64_encode() requires a string")
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def base64_decode(text: str) -> str:
    _require_str(text, "base64_decode() requires a string")
    try:
        return base64.b64decode(text).decode("utf-8")
    except ValueError as exc:
        raise ValueError(f"base64_decode() invalid base64 input: {exc}") from None


_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"


def url_encode(text: str) -> str:
    _require_str(text, "url_encode() requires string")
    if not text.isascii() or 3 * len(text) > build_limit():
        encoded = text.encode("utf-8", "surrogatepass")
        unreserved = len(encoded) - len(encoded.translate(None, _UNRESERVED))
        size = unreserved + 3 * (len(encoded) - unreserved)
        if size > build_limit():
            refuse_build("url_encode", size)
    return quote(text, safe="")


def url_decode(text: str) -> str:
    _require_str(text, "url_decode() requires string")
    try:
        return unquote(text)
    except ValueError as exc:
        raise ValueError(f"url_decode() failed: {exc}") from None


REGEX_TIMEOUT_SECONDS = 1.0


def _search(function: str, pattern: Any, text: Any) -> Any:
    """``re`` semantics and error messages; the search itself runs under a time limit so a
    pathological pattern cannot hang the process (catastrophic backtracking)."""
    _require_str(pattern, f"{function}() pattern must be string")
    _require_str(text, f"{function}() text must be string")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"Invalid regex pattern '{pattern}': {exc}") from None
    try:
        return regex.search(pattern, text, timeout=REGEX_TIMEOUT_SECONDS)
    except TimeoutError:
        raise LimitExceeded(
            f"{function}() gave up after {REGEX_TIMEOUT_SECONDS:g}s: the pattern backtracks "
            "too much on this text; simplify it (e.g. avoid nested quantifiers like (a+)+)"
        ) from None


def regex_match(pattern: str, text: str) -> bool:
    return _search("regex_match", pattern, text) is not None


def regex_extract(pattern: str, text: str) -> Any:
    found = _search("regex_extract", pattern, text)
    if found is None:
        return ""
    if found.re.groups:
        return found.group(1)
    return found.group(0)


NATIVES = [
    Native(("str::uppercase",), uppercase, "Text of a value in upper case"),
    Native(("str::lowercase",), lowercase, "Text of a value in lower case"),
    Native(("str::join",), join, "Join the text of each item with a separator (default ', ')", work_shift=0),
    Native(("str::split",), split, "Split a string on a delimiter (default one space, no collapsing)"),
    Native(("str::replace",), replace, "Replace every occurrence of old with new in a string"),
    Native(("str::trim",), trim, "Remove leading and trailing whitespace from a string"),
    Native(("str::startswith",), startswith, "Whether a string starts with a prefix"),
    Native(("str::endswith",), endswith, "Whether a string ends with a suffix"),
    Native(("str::strip_markdown",), strip_markdown, "Remove markdown code fences and inline code backticks"),
    Native(("str::base64_encode",), base64_encode, "Base64 encoding of a string's UTF-8 bytes"),
    Native(("str::base64_decode",), base64_decode, "Decode base64 into UTF-8 text"),
    Native(("url_encode", "url::encode"), url_encode, "Percent-encode a string for use in a URL"),
    Native(("url_decode", "url::decode"), url_decode, "Decode percent-encoding (+ is kept as is)"),
    Native(("regex_match", "regex::match"), regex_match, "Whether a regular expression matches anywhere in a text"),
    Native(
        ("regex_extract", "regex::extract"),
        regex_extract,
        "First regex match in a text: group 1 if the pattern has groups, '' if none",
    ),
]
