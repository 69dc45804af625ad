"""Help screens: a flag takes no value, so its row shows no value type.

Typer's Rich help prints the type of every option, `--wait <bool>` included, which reads as
if the flag wanted an argument. Value types (`<str>`, `<int>`) stay."""

from __future__ import annotations

from typer.core import TyperOption

_value_type = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx) -> str | None:
    if self.is_flag and self.metavar is None:
        return None
    return _value_type(self, ctx)


def install() -> None:
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
