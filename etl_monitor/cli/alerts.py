"""`etl-monitor alerts ...`: plan and publish the Databricks SQL alerts from the shell.

The workspace comes from the usual databricks-sdk settings (DATABRICKS_HOST and
DATABRICKS_TOKEN, or a profile); the config tables live on the engine the other commands
use. `plan` only reads; `publish` needs --confirm, like `monitors apply`.
"""

from __future__ import annotations

from typing import Any

import click

from etl_monitor.alerts import DEFAULT_PARENT_PATH, DEFAULT_SCHEDULE, DEFAULT_TIMEZONE
from etl_monitor.alerts.render import check_parent_path, check_schedule, check_warehouse_id
from etl_monitor.cli.common import (
    _framework,
    console,
    emit,
    engine_options,
    workspace_for,
)
from etl_monitor.cli.values import (
    Checked,
)

ACTION_COLUMNS = ["kind", "name", "action", "reason", "id"]

#: The alert settings' types: the checks `publish_alerts` makes, made before the engine starts.
WAREHOUSE_ID = Checked("id", check_warehouse_id, 64)
PARENT_PATH = Checked("path", check_parent_path, 1024)
SCHEDULE = Checked("quartz-cron", lambda v: check_schedule(v, DEFAULT_TIMEZONE), 256)
TIMEZONE = Checked("zone", lambda v: check_schedule(DEFAULT_SCHEDULE, v), 64)


def alert_options(command):
    """--warehouse-id, --parent-path, --schedule and --timezone."""
    for option in reversed(
        [
            click.option(
                "--warehouse-id",
                type=WAREHOUSE_ID,
                required=True,
                help="SQL warehouse that runs the alert queries.",
            ),
            click.option(
                "--parent-path",
                type=PARENT_PATH,
                default=DEFAULT_PARENT_PATH,
                show_default=True,
                help="Workspace folder of the alerts (created when missing).",
            ),
            click.option(
                "--schedule",
                type=SCHEDULE,
                default=DEFAULT_SCHEDULE,
                show_default=True,
                help="Quartz cron expression of the evaluations.",
            ),
            click.option(
                "--timezone",
                type=TIMEZONE,
                default=DEFAULT_TIMEZONE,
                show_default=True,
                help="Time zone id of the schedule.",
            ),
        ]
    ):
        command = option(command)
    return command


def _run(dry_run: bool, settings: dict[str, Any], where: dict[str, Any]) -> None:
    fmt = where.pop("fmt", "table")
    monitor = _framework(**where, existing=True)
    report = monitor.publish_alerts(workspace_for(where), dry_run=dry_run, **settings)
    if fmt == "json":
        emit(report.as_dict(), fmt)
        return
    title = "alerts plan" if dry_run else "alerts publish"
    emit(
        [a.as_dict() for a in report.actions] or [{"action": "nothing to do"}],
        fmt,
        title,
        ACTION_COLUMNS,
    )
    for line in report.not_routable:
        console.print(f"[yellow]not routable:[/yellow] {line}")
    for line in report.skipped:
        console.print(f"skipped: {line}")
    console.print(str(report))


@click.group()
def alerts() -> None:
    """Databricks SQL alerts that page each process's owner and monitoring group."""


@alerts.command()
@alert_options
@engine_options
def plan(warehouse_id, parent_path, schedule, timezone, **where) -> None:
    """What publish would create or update (reads the workspace, writes nothing)."""
    settings = {
        "warehouse_id": warehouse_id,
        "parent_path": parent_path,
        "schedule": schedule,
        "timezone": timezone,
    }
    _run(True, settings, where)


@alerts.command()
@click.option("--confirm", is_flag=True, help="Required: create and update in the workspace.")
@alert_options
@engine_options
def publish(confirm, warehouse_id, parent_path, schedule, timezone, **where) -> None:
    """Create or update the alerts and group destinations; an unchanged re-run writes nothing."""
    if not confirm:
        raise click.UsageError(
            "publish changes alerts in the workspace: run 'alerts plan' first, then add --confirm"
        )
    settings = {
        "warehouse_id": warehouse_id,
        "parent_path": parent_path,
        "schedule": schedule,
        "timezone": timezone,
    }
    _run(False, settings, where)
