"""How big a value really is, and whether it can leave the interpreter.

Lists and dicts are shared by reference, so a value built as ``a = [a, a]`` forty times
is a small graph that becomes exabytes once written out as text or JSON, and
``d["me"] = d`` never ends. Everything that walks a value as a tree (text, JSON,
equality, sorting) first measures it here: the walk visits each distinct list or dict
once (shared parts are counted as often as they appear, from a memo), never recurses in
Python, and stops as soon as the measure passes its cap.

``footprint`` is that measure: an upper estimate of the characters the value takes as
text or JSON. ``exported`` checks a value that leaves the interpreter (a run's output, a
tool's arguments): plain JSON data only, finite numbers, text without lone surrogates,
bounded depth and size, no cycles.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from .errors import CyError, ValueNotSerializable, ValueTooLarge

MAX_TEXT = 10_000_000
"""Most characters any single conversion to text or JSON may produce (about 40 MB)."""
MAX_DEPTH = 100
"""Deepest nesting of lists and dicts a value may have when it leaves the interpreter."""
MAX_INT_DIGITS = 4300
"""Python's own limit on converting an integer to decimal text."""

_build = threading.local()


def set_build_limit(size: int) -> None:
    """The run's value budget for the native about to run on this thread."""
    _build.size = size


def build_limit() -> int:
    """Most elements or characters a native may build now: the calling run's value budget."""
    return getattr(_build, "size", MAX_TEXT)


def refuse_build(what: str, size: int, pos: tuple[int, int] = (0, 0)):
    raise ValueTooLarge(
        f"Value too large: {what} would have {size:,} elements or characters; "
        f"the limit is {build_limit():,}",
        pos[0],
        pos[1],
    )


_SURROGATE = re.compile("[\ud800-\udfff]")
_SCALAR_TEXT = {type(None): 4, bool: 5, float: 24}
_INT_DIGITS_PER_BIT = 0.302
_INT_BITS_CHECKED = 14_000
_FAST_PATH_LENGTH = 32


class Cycle(Exception):
    """The value contains itself."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class TooDeep(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class TooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class NotPlain(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _scalar_size(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return len(value) + 2
    size = _SCALAR_TEXT.get(kind)
    if size is not None:
        return size
    if kind is int:
        return int(value.bit_length() * _INT_DIGITS_PER_BIT) + 2
    return len(str(value)) + 2


def _flat_size(items: list) -> int | None:
    """Size of a list holding no list or dict, computed at C speed; None when it has some."""
    kinds = set(map(type, items))
    if list in kinds or dict in kinds or tuple in kinds:
        return None
    if kinds <= {str}:
        return sum(map(len, items)) + 4 * len(items) + 2
    if kinds <= {int, bool}:
        return int(sum(map(int.bit_length, items)) * _INT_DIGITS_PER_BIT) + 4 * len(items) + 2
    return sum(map(_scalar_size, items)) + 2 * len(items) + 2


_PLAIN_SCALARS = frozenset({str, int, bool, float, type(None)})


def _plain_flat(values: Any, kinds: set) -> bool:
    """Whether scalars (of ``kinds``, no containers) are all plain JSON, at C speed where it can."""
    if not kinds <= _PLAIN_SCALARS:
        return False
    if str in kinds:
        texts = [v for v in values if type(v) is str] if len(kinds) > 1 else values
        if not all(map(str.isascii, texts)) and any(map(_SURROGATE.search, texts)):
            return False
    if float in kinds:
        numbers = [v for v in values if type(v) is float] if len(kinds) > 1 else values
        if not all(map(math.isfinite, numbers)):
            return False
    if int in kinds:
        numbers = [v for v in values if type(v) is int] if len(kinds) > 1 else values
        if numbers and max(map(int.bit_length, numbers)) > _INT_BITS_CHECKED:
            return False
    return True


def _path_text(root: str, keys: list) -> str:
    shown = keys if len(keys) <= 8 else keys[:3] + ["…"] + keys[-3:]
    parts = [root]
    for key in shown:
        parts.append(f"[{key}]" if type(key) is int else ("" if key == "…" and len(keys) > 8 else ".") + str(key))
    return "".join(parts)


def _walk_counted(
    value: Any, cap: int, max_depth: int | None = None, check: bool = False, root: str = "value"
) -> tuple[int, bool, int, int]:
    """(estimated size, has a cycle, elements, depth) of ``value`` written out as a tree;
    raises ``TooBig`` as soon as the size passes ``cap``.

    With ``check``, also raises ``NotPlain``/``Cycle``/``TooDeep`` for what JSON cannot
    hold. An iterative post-order walk: each distinct list or dict is visited once, and
    parts met again are counted from a memo."""
    kind = type(value)
    if kind is not list and kind is not dict and kind is not tuple:
        if check:
            _check_scalar(value, root, [])
        size = _scalar_size(value)
        if size > cap:
            raise TooBig(size)
        return size, False, 1, 0
    memo: dict[int, tuple[int, int, int]] = {}
    on_path: set[int] = set()
    cyclic = False
    # Each frame: [container, iterator over (key, child), size, elements, depth below]
    stack: list[list[Any]] = []
    keys: list[Any] = []

    def push(node: Any) -> None:
        if max_depth is not None and len(stack) >= max_depth:
            raise TooDeep(_path_text(root, keys))
        on_path.add(id(node))
        is_dict = type(node) is dict
        values = node.values() if is_dict else node
        flat = None
        if len(node) >= _FAST_PATH_LENGTH:
            listed = list(values) if is_dict else values
            flat = _flat_size(listed)
            if flat is not None and check:
                if is_dict and set(map(type, node)) != {str}:
                    flat = None
                elif not _plain_flat(listed, set(map(type, listed))):
                    flat = None
        if flat is not None:
            if is_dict:
                flat += sum(map(len, node)) + 4 * len(node)
            stack.append([node, iter(()), flat, len(node), 1])
        elif is_dict:
            stack.append([node, iter(node.items()), 2, 0, 1])
        else:
            stack.append([node, enumerate(node), 2, 0, 1])

    push(value)
    while True:
        frame = stack[-1]
        descended = False
        for key, child in frame[1]:
            frame[3] += 1
            if type(key) is str:
                frame[2] += len(key) + 4
            elif check and type(frame[0]) is dict:
                raise NotPlain(_path_text(root, keys), f"a dict key of type {type(key).__name__}")
            child_kind = type(child)
            if child_kind is list or child_kind is dict or child_kind is tuple:
                known = memo.get(id(child))
                if known is not None:
                    frame[2] += known[0] + 2
                    frame[3] += known[1]
                    if known[2] + 1 > frame[4]:
                        frame[4] = known[2] + 1
                elif id(child) in on_path:
                    cyclic = True
                    if check:
                        keys.append(key)
                        raise Cycle(_path_text(root, keys))
                    frame[2] += 7
                else:
                    keys.append(key)
                    push(child)
                    descended = True
                    break
            else:
                if check:
                    keys.append(key)
                    _check_scalar(child, root, keys)
                    keys.pop()
                frame[2] += _scalar_size(child) + 2
            if frame[2] > cap:
                raise TooBig(frame[2])
        if descended:
            continue
        stack.pop()
        node, _, size, count, depth = frame
        on_path.discard(id(node))
        memo[id(node)] = (size, count, depth)
        if not stack:
            return size, cyclic, count, depth
        keys.pop()
        parent = stack[-1]
        parent[2] += size + 2
        parent[3] += count
        if depth + 1 > parent[4]:
            parent[4] = depth + 1
        if parent[2] > cap:
            raise TooBig(parent[2])


def _walk(value: Any, cap: int, max_depth: int | None, check: bool, root: str) -> tuple[int, bool]:
    size, cyclic, _, _ = _walk_counted(value, cap, max_depth, check, root)
    return size, cyclic


def _check_scalar(value: Any, root: str, keys: list) -> None:
    kind = type(value)
    if value is None or kind is bool:
        return
    if kind is str:
        if not value.isascii():
            found = _SURROGATE.search(value)
            if found is not None:
                raise NotPlain(
                    _path_text(root, keys),
                    f"text with a lone surrogate (U+{ord(found.group()):04X}), which UTF-8 cannot encode",
                )
        return
    if kind is int:
        if value.bit_length() > _INT_BITS_CHECKED:
            try:
                str(value)
            except ValueError:
                raise NotPlain(_path_text(root, keys), f"an integer of more than {MAX_INT_DIGITS} digits") from None
        return
    if kind is float:
        if not math.isfinite(value):
            raise NotPlain(_path_text(root, keys), f"the number {value!r}, which JSON cannot represent")
        return
    name = value.type if isinstance(value, CyError) else type(value).__name__
    raise NotPlain(_path_text(root, keys), f"a value of type {name}")


def footprint(value: Any, cap: int | None = None) -> tuple[int, bool]:
    """Estimated characters of ``value`` as text, and whether it contains itself.

    Raises ``TooBig`` as soon as the estimate passes ``cap`` (default: the build limit)."""
    return _walk(value, build_limit() if cap is None else cap, None, False, "value")


def ensure_small(value: Any, what: str, cap: int | None = None, pos: tuple[int, int] = (0, 0)) -> bool:
    """Refuse (``ValueTooLarge``) to write out a value whose text would pass ``cap`` (default:
    the build limit); True when it contains itself."""
    cap = build_limit() if cap is None else cap
    try:
        return footprint(value, cap)[1]
    except TooBig as error:
        raise ValueTooLarge(
            f"Value too large: {what} would take more than {cap:,} characters "
            f"(at least {error.size:,}; shared lists and dicts count each time they appear)",
            pos[0],
            pos[1],
        ) from None


def ensure_small_json(value: Any, indent: int | None) -> None:
    """Refuse JSON text (with ``indent``) of ``value`` that would pass the build limit."""
    cap = build_limit()
    try:
        size, _, count, depth = _walk_counted(value, cap)
    except TooBig as error:
        raise ValueTooLarge(
            f"Value too large: its JSON text would take more than {cap:,} characters (at least {error.size:,})"
        ) from None
    if type(indent) is int and indent > 0:
        size += count * (1 + depth * indent)
        if size > cap:
            raise ValueTooLarge(
                f"Value too large: its JSON text indented by {indent} would take about {size:,} characters; "
                f"the limit is {cap:,}"
            )


def exported(value: Any, what: str, cap: int = MAX_TEXT, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` if it may leave the interpreter as JSON, else a clear error naming where.

    Tuples (from host tools) become lists; nothing else is changed."""
    try:
        _walk(value, cap, max_depth, True, what)
    except TooBig as error:
        raise ValueTooLarge(
            f"{what} is too large to store: more than {cap:,} characters as JSON "
            f"(at least {error.size:,}; shared lists and dicts count each time they appear)"
        ) from None
    except TooDeep as error:
        raise ValueTooLarge(f"{what} is nested more than {max_depth} levels deep (at {error.path})") from None
    except Cycle as error:
        raise ValueNotSerializable(f"{what} contains itself (at {error.path}); JSON cannot hold a cycle") from None
    except NotPlain as error:
        raise ValueNotSerializable(f"{error.path} holds {error.reason}") from None
    return _lists(value) if _has_tuple(value) else value


_TRUNCATED = "… [{} more characters]"


def printable(text: str, limit: int) -> str:
    """``text`` fit for a log: NUL and lone surrogates replaced by U+FFFD, at most ``limit``
    characters (then a note of how many were cut)."""
    if len(text) > limit:
        text = text[:limit] + _TRUNCATED.format(len(text) - limit)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _has_tuple(value: Any) -> bool:
    kind = type(value)
    if kind is tuple:
        return True
    if kind is list:
        return any(type(item) in (tuple, list, dict) and _has_tuple(item) for item in value)
    if kind is dict:
        return any(type(item) in (tuple, list, dict) and _has_tuple(item) for item in value.values())
    return False


def _lists(value: Any) -> Any:
    kind = type(value)
    if kind is tuple or kind is list:
        return [_lists(item) for item in value]
    if kind is dict:
        return {key: _lists(item) for key, item in value.items()}
    return value
