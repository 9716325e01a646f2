"""What every command of the `etl-monitor` CLI shares: output, engine options, the framework.

Kept apart from cli.py so that subcommand modules (monitoring, catalogue) can import it
without importing the command tree.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from etl_monitor.cli.values import CATALOG, PROFILE, REMOTE, SCHEMA, WAREHOUSE
from etl_monitor.errors import NotFoundError

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
