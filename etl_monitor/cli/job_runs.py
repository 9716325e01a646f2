"""`etl-monitor job-runs-view`: create the view of steps beside their Databricks job runs."""

from __future__ import annotations

from typing import Any

import click

from etl_monitor.cli.common import (
    _framework,
    emit,
    engine_options,
)
from etl_monitor.cli.values import (
    Checked,
)
from etl_monitor.jobs.runs import DEFAULT_SOURCE, parse_source


@click.command("job-runs-view")
@engine_options
@click.option(
    "--source",
    type=Checked("catalog.schema", parse_source, 511),
    default=DEFAULT_SOURCE,
    show_default=True,
    help="catalog.schema holding job_run_timeline and job_task_run_timeline.",
)
def job_runs_view(fmt: str, source: str, **where: Any) -> None:
    """Create v_stepJobRuns over Databricks' system.lakeflow timelines (not part of setup)."""
    name = _framework(**where, existing=True).create_job_runs_view(source)
    emit({"view": name, "source": source}, fmt, "job-runs-view")
