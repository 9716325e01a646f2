"""The `etl-monitor` command line: click commands over the facade, rich tables, --format json."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import ETLMonitorError, InvalidArgumentError

console = Console()


def emit(data: dict[str, Any] | list[dict[str, Any]], fmt: str, title: str = "") -> None:
    """Print records as a rich table, or as JSON with --format json."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, default=str))
        return
    table = Table(title=title or None)
    if isinstance(data, dict):  # one record: a field / value table reads better
        table.add_column("field")
        table.add_column("value")
        for key, value in data.items():
            table.add_row(key, "" if value is None else str(value))
        console.print(table)
        return
    records = data
    columns = list(dict.fromkeys(k for r in records for k in r))
    for column in columns:
        table.add_column(column)
    for record in records:
        table.add_row(*("" if record.get(c) is None else str(record.get(c)) for c in columns))
    console.print(table)


def _framework(warehouse: str | None, catalog: str, schema: str, engine: str):
    from . import local
    from .framework import ETLMonitorFramework

    spark = local.spark_session(warehouse, catalogs=(catalog,), engine=engine)
    return ETLMonitorFramework(spark, catalog, schema)


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
                "--catalog", default="main", show_default=True, help="Catalog of the framework."
            ),
            click.option(
                "--schema", default="etl", show_default=True, help="Schema of the framework."
            ),
            click.option(
                "--engine",
                type=click.Choice(["sail", "delta"]),
                default="sail",
                show_default=True,
                help="Embedded Sail, or JVM Spark with delta-spark (needs Maven).",
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


@click.group()
@click.version_option(__version__, prog_name="etl-monitor")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def main(verbose: int) -> None:
    """ETL process monitoring on Delta tables: set up, run, report."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@engine_options
def setup(warehouse: str | None, catalog: str, schema: str, engine: str, fmt: str) -> None:
    """Create or upgrade the framework's tables and views (idempotent)."""
    report = _framework(warehouse, catalog, schema, engine).setup()
    emit(
        {
            "catalog": report.catalog,
            "schema": report.schema,
            "tables_created": len(report.tables_created),
            "tables_attached": len(report.tables_attached),
            "columns_added": sum(len(v) for v in report.columns_added.values()),
            "stages_seeded": len(report.stages_seeded),
            "views": len(report.views),
            "statements": report.statements,
            "seconds": round(report.seconds, 3),
        },
        fmt,
        "setup",
    )


def run() -> None:
    """Entry point with the documented exit codes: 1 invalid input, 2 usage, 3 runtime error."""
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(2)
    except InvalidArgumentError as error:
        console.print(f"[red]invalid input:[/red] {error}")
        sys.exit(1)
    except ETLMonitorError as error:
        console.print(f"[red]error:[/red] {error}")
        sys.exit(3)
