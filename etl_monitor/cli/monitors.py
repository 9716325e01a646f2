"""`etl-monitor monitors ...`: validate, import, plan, apply, coverage and views from the shell.

The workspace comes from the usual databricks-sdk settings (DATABRICKS_HOST and
DATABRICKS_TOKEN, or --profile); the config and metric tables live on the engine the other
commands use: embedded, --remote sc://..., or Databricks Connect with --profile.
"""

from __future__ import annotations

from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from etl_monitor.cli.common import (
    console,
    emit,
    engine_options,
)
from etl_monitor.cli.values import (
    Checked,
    TextFile,
    Whole,
    field_check,
    int_range,
)
from etl_monitor.errors import ETLMonitorError, ValidationFailedError
from etl_monitor.monitoring.config import SchemaArgs, table_args

PLAN_COLUMNS = ["table_name", "action", "reason", "group", "changes"]


def _monitoring_document(path: str) -> Any:
    from pathlib import Path

    from etl_monitor.monitoring import yaml_config

    return yaml_config.parse(Path(path).read_text(encoding="utf-8"))


#: A monitoring YAML file whose document parses (its names are resolved on the engine).
MONITORING_FILE = TextFile(_monitoring_document)


def _monitoring(where: dict[str, Any]):
    """The monitoring framework on the command's engine, with the workspace client that goes with it.

    `where` holds the engine options (warehouse, catalog, schema, engine, remote, profile):
    the config and metric tables are read on that engine, and the workspace API is called
    with --profile when given, else with the databricks-sdk environment.
    """
    from etl_monitor.cli.common import _framework, workspace_for

    options = {k: where.get(k) for k in ("warehouse", "catalog", "engine", "remote", "profile")}
    framework = _framework(schema=where.get("schema") or "etl", **options)
    # without --profile the client is made from the environment on first use (validate needs none)
    mon = framework.monitoring(workspace_for(where) if where.get("profile") else None)
    mon.setup()
    return mon


def workspace_options(command):
    """The engine options; --profile among them also picks the workspace API's credentials."""
    return engine_options(command)


def _where(warehouse, catalog, schema, engine, remote, profile) -> dict[str, Any]:
    return {
        "warehouse": warehouse,
        "catalog": catalog,
        "schema": schema,
        "engine": engine,
        "remote": remote,
        "profile": profile,
    }


@click.group()
def monitors() -> None:
    """Databricks data profiling monitors for the tables in the config tables."""


@monitors.command("import")
@click.argument("yaml_file", type=MONITORING_FILE)
@workspace_options
def import_(yaml_file: str, warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """Load a data-profiling-orchestrator YAML file into the config tables."""
    tables = _monitoring(_where(warehouse, catalog, schema, engine, remote, profile)).import_yaml(
        yaml_file
    )
    emit({"tables_imported": len(tables), "tables": ", ".join(tables)}, fmt, "import")


@monitors.command()
@workspace_options
def validate(warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """Check every config row and the policy, without calling the workspace."""
    from etl_monitor.monitoring.provision import policy_violations

    mon = _monitoring(_where(warehouse, catalog, schema, engine, remote, profile))
    problems = []
    for row in mon._rows("ETLmonitorTables"):
        try:
            args = table_args(row)
        except Exception as error:
            problems.append({"table_name": row["TableName"], "problem": str(error)})
            continue
        problems += [
            {"table_name": args.table_name, "problem": p}
            for p in policy_violations(args, mon.policy)
        ]
    emit(problems or [{"table_name": "", "problem": "no problems"}], fmt, "validate")
    if problems:
        raise ValidationFailedError(f"{len(problems)} problem(s) in the monitoring config")


@monitors.command()
@click.option("--delete-inactive", is_flag=True, help="Plan deleting monitors of inactive rows.")
@workspace_options
def plan(delete_inactive, warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """What apply would do, per table, with reasons (no change anywhere)."""
    report = _monitoring(_where(warehouse, catalog, schema, engine, remote, profile)).plan(
        delete_inactive=delete_inactive
    )
    if fmt == "json":
        emit(report.as_dict(), fmt)
    else:
        emit([o.as_dict() for o in report.outcomes], fmt, "plan", PLAN_COLUMNS)
        console.print(f"monitors after apply: {report.monitors_after} of {report.quota}")
    failed = [o.table_name for o in report.outcomes if o.api_error]
    if failed:  # the workspace failed, not the config: a runtime error (exit 3)
        raise ETLMonitorError(
            f"the workspace API failed for {len(failed)} table(s) ({', '.join(failed[:5])}); "
            "see the table above"
        )
    if not report.ok:
        raise ValidationFailedError("the plan has errors; apply would skip those tables")


@monitors.command()
@click.option("--confirm", is_flag=True, help="Required: make the changes.")
@click.option(
    "--delete-inactive", is_flag=True, help="Delete monitors whose config row is inactive."
)
@click.option(
    "--recreate",
    is_flag=True,
    help="Delete and create the monitors whose change cannot be made in place "
    "(output schema, time-series switch, ERROR/FAILED state); their metric history is lost.",
)
@click.option(
    "--refresh", is_flag=True, help="Start a refresh of every created or updated monitor."
)
@click.option("--wait", is_flag=True, help="With --refresh: wait for the refreshes, polling.")
@workspace_options
def apply(
    confirm,
    delete_inactive,
    recreate,
    refresh,
    wait,
    warehouse,
    catalog,
    schema,
    engine,
    remote,
    profile,
    fmt,
) -> None:
    """Create and update monitors to match the config tables, then the unified views."""
    if not confirm:
        raise click.UsageError(
            "apply changes monitors in the workspace: run 'monitors plan' first, then add --confirm"
        )
    mon = _monitoring(_where(warehouse, catalog, schema, engine, remote, profile))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        disable=fmt == "json",
    ) as bar:
        task = bar.add_task("provisioning", total=None)

        def tick(_: Any) -> None:
            bar.advance(task)

        report = mon.apply(
            delete_inactive=delete_inactive,
            recreate=recreate,
            refresh=refresh,
            wait=wait,
            progress=tick,
        )
    if fmt == "json":
        emit(report.as_dict(), fmt)
    else:
        emit([o.as_dict() for o in report.outcomes], fmt, f"apply {report.run_id}", PLAN_COLUMNS)
        console.print(
            f"created {report.monitors_created}, updated {report.monitors_updated}, re-created "
            f"{report.monitors_recreated}, blocked {report.monitors_blocked}, skipped "
            f"{report.monitors_skipped}, failed {report.monitors_failed}, refreshes failed "
            f"{report.refreshes_failed} in {report.seconds:.1f}s"
        )
    if report.monitors_failed or report.refreshes_failed:
        raise ETLMonitorError(
            f"{report.monitors_failed} table(s) and {report.refreshes_failed} refresh(es) "
            "failed; see the table above and ETLmonitorLog"
        )


@monitors.command()
@click.option(
    "--schema-to-check",
    "schemas",
    type=Checked(
        "catalog.schema",
        field_check(SchemaArgs, "schema_name", "catalog.schema, e.g. main.sales"),
        511,
    ),
    multiple=True,
    help="catalog.schema to look for unmonitored tables.",
)
@click.option(
    "--stale-days",
    type=Whole(int_range("stale_days", 1, 36_500, "days")),
    default=30,
    show_default=True,
    help="Monitors not refreshed in this many days (1-36500) are stale.",
)
@workspace_options
def coverage(schemas, stale_days, warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """Unmonitored tables, stale monitors and orphans."""
    report = _monitoring(_where(warehouse, catalog, schema, engine, remote, profile)).coverage(
        list(schemas), stale_days
    )
    if fmt == "json":
        emit(report.as_dict(), fmt)
        return
    emit(
        [{"table_name": t} for t in report.unmonitored] or [{"table_name": "(none)"}],
        fmt,
        "unmonitored",
    )
    emit(report.stale or [{"table_name": "(none)"}], fmt, f"stale (> {stale_days} days)")
    emit(report.orphans or [{"table_name": "(none)"}], fmt, "orphans")


@monitors.command()
@workspace_options
def views(warehouse, catalog, schema, engine, remote, profile, fmt) -> None:
    """(Re)create the unified drift and profile views."""
    report = _monitoring(
        _where(warehouse, catalog, schema, engine, remote, profile)
    ).create_unified_views()
    if fmt == "json":
        emit(report.as_dict(), fmt)
        return
    emit(
        [
            {
                "group": g,
                "drift_view": report.drift_views[g],
                "profile_view": report.profile_views[g],
                "tables": len(report.included[g]),
            }
            for g in sorted(report.drift_views)
        ],
        fmt,
        "unified views",
    )
    for table, why in report.left_out.items():
        console.print(f"left out {table}: {why}")
