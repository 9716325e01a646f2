"""What every command of the `etl-monitor` CLI shares: output, engine options, the framework.

Kept apart from cli.py so that subcommand modules (monitoring, catalogue) can import it
without importing the command tree.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import click
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from etl_monitor.core.arguments import HINTS, NAME_HINT, NAME_PATTERN
from etl_monitor.engine.executor import check_identifier
from etl_monitor.engine.remote import check_url
from etl_monitor.errors import InvalidArgumentError, NotFoundError

console = Console(width=None if sys.stdout.isatty() else 160)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def cell(value: Any) -> str:
    """Compact text for a table cell: short execution ids, timestamps to the second, 2-decimal floats."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str) and _UUID.match(value):
        return value[:8]
    return str(value)


def emit(
    data: dict[str, Any] | list[dict[str, Any]],
    fmt: str,
    title: str = "",
    columns: list[str] | None = None,
) -> None:
    """Print records as a rich table (optionally only `columns`), or all of them as JSON with --format json."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, default=str))
        return
    if columns is not None and isinstance(data, list):
        data = [{c: r.get(c) for c in columns} for r in data]
    table = Table(title=title or None)
    if isinstance(data, dict):  # one record: a field / value table reads better
        table.add_column("field")
        table.add_column("value")
        for key, value in data.items():
            table.add_row(key, cell(value))
        console.print(table)
        return
    records = data
    columns = list(dict.fromkeys(k for r in records for k in r))
    for column in columns:
        table.add_column(column)
    for record in records:
        table.add_row(*(cell(record.get(c)) for c in columns))
    console.print(table)


#: Spark sessions this process opened on remote engines, by (url, profile), with their engine.
_REMOTE: dict[tuple[str | None, str | None], tuple[Any, Any]] = {}
_EMBEDDED_OPTIONS = (("warehouse", "--warehouse"), ("engine", "--engine"))
_REMOTE_OPTIONS = (("remote", "--remote"), ("profile", "--profile"))


def _on_command_line(name: str) -> bool:
    """Whether option `name` was typed (not taken from the environment or its default)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or name not in ctx.params:
        return True  # called from code: every value given counts as explicit
    return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def choose_engine(
    warehouse: str | None, engine: str | None, remote: str | None, profile: str | None
) -> tuple[str | None, str, str | None, str | None]:
    """Settle embedded versus remote: (warehouse, engine, remote, profile) to use.

    An explicit --warehouse or --engine with an explicit --remote or --profile is a usage
    error; a value from the environment (ETL_MONITOR_WAREHOUSE, ETL_MONITOR_REMOTE) gives way
    to a typed option of the other kind.

    Raises:
        click.UsageError: both kinds were typed.
    """
    values = {"warehouse": warehouse, "engine": engine, "remote": remote, "profile": profile}
    embedded = [flag for name, flag in _EMBEDDED_OPTIONS if values[name] is not None]
    remote_kind = [flag for name, flag in _REMOTE_OPTIONS if values[name] is not None]
    if embedded and remote_kind:
        typed_embedded = [
            f for n, f in _EMBEDDED_OPTIONS if values[n] is not None and _on_command_line(n)
        ]
        typed_remote = [
            f for n, f in _REMOTE_OPTIONS if values[n] is not None and _on_command_line(n)
        ]
        if typed_embedded and typed_remote:
            raise click.UsageError(
                f"{'/'.join(typed_embedded)} choose the embedded engine and "
                f"{'/'.join(typed_remote)} a remote one: give one or the other"
            )
        if typed_embedded:  # ETL_MONITOR_REMOTE gives way to a typed embedded option
            remote = profile = None
        else:  # ETL_MONITOR_WAREHOUSE gives way to --remote/--profile
            warehouse = None
    if remote is not None or profile is not None:
        return None, "remote", remote, profile
    return warehouse, engine or "sail", None, None


def remote_engine(remote: str | None, profile: str | None) -> tuple[Any, Any]:
    """The Spark session and Engine for --remote/--profile, opened once per process.

    --remote URL: that Spark Connect server; --profile NAME alone: Databricks Connect with
    the profile (with --remote, the profile only picks the workspace API's credentials).
    """
    from etl_monitor.engine import remote as remote_engines
    from etl_monitor.engine.capabilities import detect_engine

    key = (remote, None if remote else profile)
    if key not in _REMOTE:
        if remote:
            spark = remote_engines.remote_session(remote)
            _REMOTE[key] = (spark, detect_engine(spark))
        else:
            spark = remote_engines.databricks_session(str(profile))
            _REMOTE[key] = (spark, detect_engine(spark, databricks=True))
    return _REMOTE[key]


def close_remote() -> None:
    """Close the channels of the remote sessions this process opened (their server sessions stay)."""
    from etl_monitor.engine.remote import close

    while _REMOTE:
        close(_REMOTE.popitem()[1][0])


def _framework(
    warehouse: str | None = None,
    catalog: str | None = None,
    schema: str = "etl",
    engine: str | None = None,
    *,
    remote: str | None = None,
    profile: str | None = None,
    existing: bool = False,
):
    """A framework on the embedded engine or a remote one; with existing=True the schema must exist.

    catalog None means the engine's own: ``main`` on Sail, ``spark_catalog`` on Delta, the
    session's current catalog on a remote engine (on Databricks: the workspace default).

    Raises:
        click.UsageError: embedded and remote options mixed (see `choose_engine`).
        NotFoundError: existing=True and the schema has no framework tables.
        EngineError: the engine cannot be started or reached.
    """
    from etl_monitor.engine import local
    from etl_monitor.framework import ETLMonitorFramework

    warehouse, engine, remote, profile = choose_engine(warehouse, engine, remote, profile)
    if engine == "remote":
        spark, capabilities = remote_engine(remote, profile)
        catalog = catalog or capabilities.default_catalog
        where = "on " + (
            display_url(remote) if remote else f"Databricks Connect (profile {profile!r})"
        )
        monitor = ETLMonitorFramework(spark, catalog, schema, engine=capabilities)
    else:
        catalog = catalog or local.DEFAULT_CATALOG[engine]
        spark = local.spark_session(
            warehouse, catalogs=(catalog,), engine=engine, schemas=(f"{catalog}.{schema}",)
        )
        where = f"under {local.warehouse_root(warehouse)}"
        monitor = ETLMonitorFramework(spark, catalog, schema)
    exists = monitor.executor.table_exists
    if existing and not exists(f"{catalog}.{schema}.ETLProcessingEvents"):
        raise NotFoundError(
            f"no etl_monitor schema {catalog}.{schema} {where}; "
            "run 'etl-monitor setup' (or 'etl-monitor demo') first"
        )
    if existing and not exists(f"{catalog}.{schema}.v_taskDetail"):
        monitor.setup()  # a warehouse from before views were kept beside the tables
    return monitor


def display_url(url: str | None) -> str:
    """A Spark Connect URL without its parameters (they may carry a token)."""
    from etl_monitor.engine.remote import display_url as without_params

    return without_params(url or "")


def workspace_for(where: dict[str, Any]) -> Any:
    """The databricks-sdk WorkspaceClient for a command: ``--profile`` when given, else the environment."""
    from databricks.sdk import WorkspaceClient

    profile = where.get("profile")
    return WorkspaceClient(profile=profile) if profile else WorkspaceClient()


def _rows(df: Any) -> list[dict[str, Any]]:
    from etl_monitor.engine.timestamps import rows_from_spark

    return [r.asDict() for r in rows_from_spark(df.collect())]


def engine_options(command):
    """--warehouse, --catalog, --schema, --engine, --remote, --profile and --format, shared by every command."""
    for option in reversed(
        [
            click.option(
                "--warehouse",
                envvar="ETL_MONITOR_WAREHOUSE",
                type=WAREHOUSE,
                default=None,
                help="Warehouse directory of the embedded engine [default: ./etl_monitor_warehouse].",
            ),
            click.option(
                "--catalog",
                type=CATALOG,
                default=None,
                help="Catalog of the framework [default: main on sail, spark_catalog on Delta, the "
                "session's current catalog with --remote/--profile].",
            ),
            click.option(
                "--schema",
                type=SCHEMA,
                default="etl",
                show_default=True,
                help="Schema of the framework.",
            ),
            click.option(
                "--engine",
                type=click.Choice(["sail", "delta", "delta-connect"]),
                default=None,
                help="Embedded Sail (the default); JVM Spark with delta-spark in this process "
                "(delta) or behind a local Spark Connect server (delta-connect). Delta fetches "
                "its jars from Maven once, or uses ETL_MONITOR_DELTA_JARS.",
            ),
            click.option(
                "--remote",
                envvar="ETL_MONITOR_REMOTE",
                type=REMOTE,
                default=None,
                metavar="sc://HOST:PORT[/;params]",
                help="Tables on this Spark Connect server (Sail, Spark, Databricks) instead of "
                "the embedded engine; the workspace API from the databricks-sdk environment, "
                "or --profile.",
            ),
            click.option(
                "--profile",
                type=PROFILE,
                default=None,
                help="databricks-sdk config profile: the workspace API's credentials; without "
                "--remote also the tables, through Databricks Connect (the databricks-connect "
                "extra).",
            ),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["table", "json"]),
                default="table",
                show_default=True,
                help="Output format.",
            ),
        ]
    ):
        command = option(command)
    return command


# -- the values a command is given: checked while the command line is read ---------------------
#
# Every option and argument that carries a user value has one of the types below. A value
# they refuse is a click.BadParameter naming the option (`run` exits 1 with one line); the
# checks are the library's own (its argument models, patterns and validators), applied
# before any engine starts, so a bad value costs no engine and writes nothing.

#: Unicode categories no value may contain: controls (NUL, newline, tab, escape), format
#: characters (bidirectional overrides, zero-width marks), line and paragraph separators,
#: surrogates (command-line bytes that are not UTF-8), private-use and unassigned code points.
UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
#: The longest value of any kind the command line takes.
MAX_VALUE_LENGTH = 4096


def shown(value: Any, limit: int = 80) -> str:
    """A value's repr for a one-line message, cut to about `limit` characters."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}...{size}"


def text_problem(value: str, max_length: int = MAX_VALUE_LENGTH) -> str | None:
    """What makes `value` unusable as any command-line value, or None.

    Empty or blank text, white space around it, a character of `UNPRINTABLE`, or more
    than `max_length` characters.
    """
    if not value.strip():
        return "is empty" if not value else "is blank"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    for char in value:
        if unicodedata.category(char) in UNPRINTABLE:
            return (
                f"contains the character {char!r} (U+{ord(char):04X}): control, format and "
                "separator characters are not allowed"
            )
    if value != value.strip():
        return "has white space at its start or end"
    return None


def field_check(
    model: type[BaseModel], field: str, hint: str | None = None
) -> Callable[[Any], Any]:
    """Check one value as `model`'s `field` is checked (its type and constraints).

    The function returns the validated value or raises InvalidArgumentError naming the
    argument, the value and what is allowed (`hint`, by default the field's entry in
    `etl_monitor.core.arguments.HINTS`).
    """
    info = model.model_fields[field]
    annotation: Any = (
        Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    )
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def check(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as error:
            item = error.errors()[0]
            reason = item["msg"].removeprefix("Value error, ")
            allowed = hint or HINTS.get(field)
            text = f"invalid {field}={value!r}"
            if item["type"] != "string_pattern_mismatch" or allowed is None:
                text += f": {reason}"
            raise InvalidArgumentError(
                text + (f" (allowed: {allowed})" if allowed else ""), argument=field, value=value
            ) from None

    return check


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
    """Text a command takes, refused unless `text_problem` and then `check` accept it.

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
        problem = text_problem(value, self.max_length)
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
    """A file or folder path: `text_problem` first (no NUL, newline or control character;
    no name longer than 255 bytes), then click's own checks of the path."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            problem = text_problem(value, 1024) or _path_problem(value)
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
