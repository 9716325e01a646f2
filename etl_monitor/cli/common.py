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


def _framework(
    warehouse: str | None, catalog: str | None, schema: str, engine: str, *, existing: bool = False
):
    """A framework on a local engine; with existing=True the schema must have been set up.

    catalog None means the engine's own: ``main`` on Sail, ``spark_catalog`` on Delta.
    """
    from etl_monitor.engine import local
    from etl_monitor.framework import ETLMonitorFramework

    catalog = catalog or local.DEFAULT_CATALOG[engine]
    spark = local.spark_session(
        warehouse, catalogs=(catalog,), engine=engine, schemas=(f"{catalog}.{schema}",)
    )
    monitor = ETLMonitorFramework(spark, catalog, schema)
    if existing and not spark.catalog.tableExists(f"{catalog}.{schema}.ETLProcessingEvents"):
        raise NotFoundError(
            f"no etl_monitor schema {catalog}.{schema} under {local.warehouse_root(warehouse)}; "
            "run 'etl-monitor setup' (or 'etl-monitor demo') first"
        )
    if existing and not spark.catalog.tableExists(f"{catalog}.{schema}.v_taskDetail"):
        monitor.setup()  # a warehouse from before views were kept beside the tables
    return monitor


def _rows(df: Any) -> list[dict[str, Any]]:
    from etl_monitor.engine.timestamps import rows_from_spark

    return [r.asDict() for r in rows_from_spark(df.collect())]


def engine_options(command):
    """--warehouse, --catalog, --schema and --engine, shared by every command."""
    for option in reversed(
        [
            click.option(
                "--warehouse",
                envvar="ETL_MONITOR_WAREHOUSE",
                default=None,
                help="Warehouse directory of the embedded engine [default: ./etl_monitor_warehouse].",
            ),
            click.option(
                "--catalog",
                default=None,
                help="Catalog of the framework [default: main on sail, spark_catalog on Delta].",
            ),
            click.option(
                "--schema", default="etl", show_default=True, help="Schema of the framework."
            ),
            click.option(
                "--engine",
                type=click.Choice(["sail", "delta", "delta-connect"]),
                default="sail",
                show_default=True,
                help="Embedded Sail; JVM Spark with delta-spark in this process (delta) or "
                "behind a local Spark Connect server (delta-connect). Delta fetches its jars "
                "from Maven once, or uses ETL_MONITOR_DELTA_JARS.",
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
