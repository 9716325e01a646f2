"""The values a command is given, checked while the command line is read.

Every option and argument that carries a user value has one of the types below. A value
they refuse is a click.BadParameter naming the option (`main.run` exits 1 with one line);
the checks are the library's own (its argument models, patterns and validators), applied
before any engine starts, so a bad value costs no engine and writes nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import click
from pydantic import BaseModel

from etl_monitor.core.arguments import NAME_HINT, NAME_PATTERN, check_value, line_problem
from etl_monitor.engine.executor import check_identifier
from etl_monitor.engine.remote import check_url
from etl_monitor.errors import InvalidArgumentError

#: The longest value of any kind the command line takes.
MAX_VALUE_LENGTH = 4096


def shown(value: Any, limit: int = 80) -> str:
    """A value's repr for a one-line message, cut to about `limit` characters."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}...{size}"


def field_check(
    model: type[BaseModel], field: str, hint: str | None = None
) -> Callable[[Any], Any]:
    """Check one value as `model`'s `field` is checked (its type and constraints).

    The function returns the validated value or raises InvalidArgumentError naming the
    argument, the value and what is allowed (`hint`, by default the field's entry in
    `etl_monitor.core.arguments.HINTS`); see `check_value`.
    """
    info = model.model_fields[field]
    annotation: Any = (
        Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    )
    return lambda value: check_value(annotation, None, field, value, hint)


def pattern_check(pattern: str, argument: str, hint: str) -> Callable[[str], str]:
    """Check a value against one of the library's patterns (the whole value must match)."""
    compiled = re.compile(pattern.removeprefix("^").removesuffix("$"))

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise InvalidArgumentError(
                f"invalid {argument} {value!r}: allowed are {hint}", argument=argument, value=value
            )
        return value

    return check


class Checked(click.ParamType):
    """Text a command takes, refused unless `line_problem` and then `check` accept it.

    `check` is one of the library's validators: it raises InvalidArgumentError, which
    becomes a click.BadParameter naming the option; what it returns is not used (the
    value is passed on as given).
    """

    def __init__(self, name: str, check: Callable[[str], Any], max_length: int = MAX_VALUE_LENGTH):
        self.name = name
        self.check = check
        self.max_length = max_length

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        problem = line_problem(value, self.max_length)
        if problem:
            self.fail(f"{shown(value)} {problem}", param, ctx)
        try:
            self.check(value)
        except InvalidArgumentError as error:
            message = str(error).replace(repr(value), shown(value))
            raise click.BadParameter(message, ctx, param) from error
        return value  # as given: the command passes it on, and the library checks it again


class Whole(click.ParamType):
    """A whole number written in ASCII digits (an optional '-'), then checked by `check`.

    Python's int() would also take ' 7', '7\\n', '1_000' and other scripts' digits; those
    are refused here. `check` (a library model's field check, or `int_range`) raises
    InvalidArgumentError to refuse the number.
    """

    name = "integer"
    _DIGITS = re.compile(r"-?[0-9]{1,30}")

    def __init__(self, check: Callable[[int], Any]):
        self.check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and self._DIGITS.fullmatch(value):
            number = int(value)
        else:
            self.fail(
                f"{shown(value)} is not a whole number (ASCII digits, at most 30)", param, ctx
            )
        try:
            self.check(number)
        except InvalidArgumentError as error:
            raise click.BadParameter(str(error), ctx, param) from error
        return number


def int_range(argument: str, low: int, high: int, unit: str = "") -> Callable[[int], None]:
    """A check for a whole number from `low` to `high` (for options no library model has)."""

    def check(number: int) -> None:
        if not low <= number <= high:
            raise InvalidArgumentError(
                f"invalid {argument}={number}: allowed are whole numbers from {low} to {high}"
                + (f" {unit}" if unit else ""),
                argument=argument,
                value=number,
            )

    return check


class SafePath(click.Path):
    """A file or folder path: `line_problem` first (no NUL, newline or control character;
    no name longer than 255 bytes), then click's own checks of the path."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            problem = line_problem(value, 1024) or _path_problem(value)
            if problem:
                self.fail(f"{shown(value)} {problem}", param, ctx)
        return super().convert(value, param, ctx)


class OutputPath(SafePath):
    """A file or folder the command writes: its nearest existing folder must be writable,
    so a path that cannot be written is refused before the engine starts."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)  # an existing path: click checked it
        target = Path(path).expanduser().absolute()
        if not target.exists():
            folder = next((p for p in target.parents if p.exists()), None)
            if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK):
                self.fail(
                    f"{shown(str(path))} cannot be written: {shown(str(folder))} is not a "
                    "writable folder",
                    param,
                    ctx,
                )
        return path


def _path_problem(value: str) -> str | None:
    for part in Path(value).parts:
        if len(part.encode("utf-8", "surrogatepass")) > 255:
            return f"has a name longer than 255 bytes ({shown(part, 40)})"
    return None


class TextFile(SafePath):
    """An existing file of UTF-8 text; with `check`, a document `check(path)` accepts.

    `check` is the library's parser of the document (it raises InvalidArgumentError), so a
    garbled file is refused while the command line is read, naming the argument.
    """

    def __init__(self, check: Callable[[str], Any] | None = None) -> None:
        super().__init__(exists=True, dir_okay=False, readable=True)
        self.check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        try:
            Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            self.fail(f"{shown(str(path))} is not UTF-8 text ({error.reason})", param, ctx)
        except OSError as error:
            self.fail(f"{shown(str(path))} cannot be read: {error.strerror or error}", param, ctx)
        if self.check is not None:
            try:
                self.check(str(path))
            except InvalidArgumentError as error:
                raise click.BadParameter(f"{shown(str(path))}: {error}", ctx, param) from error
            except RecursionError:  # the parser's stack, not a bug: the document is too deep
                self.fail(f"{shown(str(path))} is nested too deeply to read", param, ctx)
        return path


class JsonObjectFile(TextFile):
    """A file holding one JSON object; the value is the parsed object."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dict):
            return value
        path = super().convert(value, param, ctx)
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as error:
            self.fail(f"{shown(str(path))} is not valid JSON: {error}", param, ctx)
        except RecursionError:
            self.fail(f"{shown(str(path))} is nested too deeply to read", param, ctx)
        if not isinstance(document, dict):
            self.fail(
                f"{shown(str(path))} holds a JSON {type(document).__name__}, not an object",
                param,
                ctx,
            )
        return document


def _warehouse(value: str) -> str:
    """The warehouse folder: a path without quotes, backslashes or backticks (see
    `etl_monitor.engine.local.warehouse_root`), of names up to 255 bytes."""
    problem = _path_problem(value)
    if problem is None and any(char in value for char in "'\\`"):
        problem = "contains a quote, a backslash or a backtick (the engine's SQL cannot name it)"
    if problem:
        raise InvalidArgumentError(
            f"invalid warehouse {value!r}: {problem}", argument="warehouse", value=value
        )
    return value


#: The engine options' types.
WAREHOUSE = Checked("directory", _warehouse, max_length=1024)
CATALOG = Checked("catalog", lambda v: check_identifier(v, "catalog", allow_dash=True), 255)
SCHEMA = Checked("schema", lambda v: check_identifier(v, "schema", allow_dash=True), 255)
REMOTE = Checked("url", check_url, 2048)
PROFILE = Checked(
    "profile",
    pattern_check(NAME_PATTERN, "profile", f"{NAME_HINT} (a section of ~/.databrickscfg)"),
    128,
)


def _run_types() -> dict[str, click.ParamType]:
    from etl_monitor.core.arguments import PendingArgs, ResetArgs, StatusArgs
    from etl_monitor.tracking.maintenance import MaintainArgs

    return {
        "project_code": Checked("code", field_check(StatusArgs, "project_code")),
        "process_load": Checked("code", field_check(StatusArgs, "process_load")),
        "execution_id": Checked("execution-id", field_check(StatusArgs, "execution_id")),
        "processing_date": Checked("date", field_check(StatusArgs, "processing_date")),
        "task_id": Whole(field_check(ResetArgs, "task_id")),
        "workflow_id": Whole(field_check(ResetArgs, "workflow_id")),
        "sequence_id": Whole(field_check(PendingArgs, "sequence_id")),
        "archive_after_days": Whole(field_check(MaintainArgs, "archive_after_days")),
    }


#: The types of the run-time commands' values, by the facade argument they go to.
RUN_TYPES = _run_types()
