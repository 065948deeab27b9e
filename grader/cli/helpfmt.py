"""Help that shows choices and plain metavars instead of Python types.

Typer's help prints ``<bool>`` for flags, ``<str>``/``<list[Path]>`` for values and
``{spec_ref}`` in the usage line. ``ExplainedGroup`` (the root group's class) gives every
parameter of every command the conventional shapes: ``--format [text|json|github|junit]``,
``--out PATH``, ``--jobs INTEGER``, flags without a type, arguments by their metavar
(``SPEC``, ``[PATH]``). Only the help changes; parsing is Typer's own.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import typer.core

_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def _value_name(param: Any) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return "VALUE"
    if descriptor.is_choice:
        choices = [str(getattr(c, "value", c)) for c in descriptor.choices or ()]
        return "[" + "|".join(choices) + "]"
    if descriptor.is_path:
        return "PATH"
    annotation = descriptor.annotation
    args = getattr(annotation, "__args__", None)
    if args:  # list[Path], list[str]: the element's name
        annotation = args[0]
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "PATH"
    return _NAMES.get(annotation, "VALUE") if isinstance(annotation, type) else "VALUE"


class ExplainedOption(typer.core.TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or _value_name(self)


class ExplainedArgument(typer.core.TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        descriptor = getattr(self, "type_descriptor", None)
        return _value_name(self) if descriptor is not None and descriptor.is_choice else None

    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


def _explain_param(param: Any) -> None:
    if type(param) is typer.core.TyperOption:
        param.__class__ = ExplainedOption
    elif type(param) is typer.core.TyperArgument:
        param.__class__ = ExplainedArgument


class ExplainedCommand(typer.core.TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _explain_param(option)
        return option


def explain(command: Any) -> None:
    """Give ``command``, its parameters and its subcommands the explained help."""
    for param in getattr(command, "params", []):
        _explain_param(param)
    if type(command) is typer.core.TyperCommand:
        command.__class__ = ExplainedCommand
    for sub in getattr(command, "commands", {}).values():
        if type(sub) is typer.core.TyperGroup:
            sub.__class__ = ExplainedGroup
        explain(sub)


class ExplainedGroup(typer.core.TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        explain(self)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _explain_param(option)
        return option
