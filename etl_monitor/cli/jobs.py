"""`etl-monitor jobs ...`: render and publish one Databricks job per process.

`render` only reads the config tables; `publish` writes to the workspace and needs
--confirm, like `monitors apply`. The workspace comes from the usual databricks-sdk
settings (DATABRICKS_HOST and DATABRICKS_TOKEN, or --profile).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from etl_monitor.cli.common import (
    _framework,
    console,
    emit,
    engine_options,
    workspace_for,
)
from etl_monitor.cli.values import (
    RUN_TYPES,
    Checked,
    JsonObjectFile,
    OutputPath,
    pattern_check,
)
from etl_monitor.jobs.render import JobOptions


def _notebook_folder(value: str) -> str:
    JobOptions(value)  # absolute
    return value


def _name_prefix(value: str) -> str:
    JobOptions("/", name_prefix=value)  # not blank
    return value


#: The job options' types (`etl_monitor.jobs.JobOptions` checks them again when rendering).
NOTEBOOK_FOLDER = Checked("folder", _notebook_folder, 1024)
NAME_PREFIX = Checked("text", _name_prefix, 256)
CLUSTER_ID = Checked(
    "cluster-id",
    pattern_check(
        r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}",
        "existing_cluster_id",
        "1-100 letters, digits, '-' or '_', e.g. '0123-456789-abcdefgh'",
    ),
    100,
)


def _job_options(function):
    for option in reversed(
        [
            click.option(
                "--project",
                "project_code",
                type=RUN_TYPES["project_code"],
                default=None,
                help="Only this project.",
            ),
            click.option(
                "--process",
                "process_load",
                type=RUN_TYPES["process_load"],
                default=None,
                help="Only this process.",
            ),
            click.option(
                "--name-prefix",
                type=NAME_PREFIX,
                default="etl_monitor",
                show_default=True,
                help="Job names are '<prefix> <ProjectCode> <ProcessLoad>'.",
            ),
            click.option(
                "--existing-cluster-id",
                type=CLUSTER_ID,
                default=None,
                help="Run the notebooks on this cluster [default: serverless].",
            ),
            click.option(
                "--job-cluster",
                "job_cluster",
                type=JsonObjectFile(),
                default=None,
                help="A JSON file with a new_cluster spec shared by the notebook tasks.",
            ),
            click.option(
                "--leave-out-unsupported",
                is_flag=True,
                help="Leave ADF_PIPELINE and DATAFLOW tasks out (reported) instead of refusing.",
            ),
        ]
    ):
        function = option(function)
    return function


def _options(
    notebook_folder: str | None,
    name_prefix: str,
    existing_cluster_id: str | None,
    job_cluster: dict[str, Any] | None,
    leave_out_unsupported: bool,
) -> dict[str, Any]:
    """The job options, checked together (as `JobOptions` will) before the engine starts."""
    options = {
        "name_prefix": name_prefix,
        "existing_cluster_id": existing_cluster_id,
        "job_cluster": job_cluster,
        "leave_out_unsupported": leave_out_unsupported,
    }
    JobOptions(notebook_folder or "/", **options)
    return options


@click.group()
def jobs() -> None:
    """Databricks Workflows jobs: one per process of the catalogue."""


@jobs.command()
@click.option(
    "--notebook-folder",
    type=NOTEBOOK_FOLDER,
    required=True,
    help="Workspace folder of the shipped notebooks (where sample_usage() put them).",
)
@click.option(
    "--out",
    type=OutputPath(file_okay=False, writable=True),
    default=None,
    help="Write <key>.job.json and resources/<key>.job.yml per process [default: standard output].",
)
@_job_options
@engine_options
def render(
    notebook_folder: str,
    out: str | None,
    project_code: str | None,
    process_load: str | None,
    name_prefix: str,
    existing_cluster_id: str | None,
    job_cluster: dict[str, Any] | None,
    leave_out_unsupported: bool,
    fmt: str,
    **where: Any,
) -> None:
    """Jobs API 2.2 JSON and Asset Bundle YAML for each active process; writes nothing else."""
    options = _options(
        notebook_folder, name_prefix, existing_cluster_id, job_cluster, leave_out_unsupported
    )
    monitor = _framework(**where, existing=True)
    rendered = monitor.job_definitions(notebook_folder, project_code, process_load, **options)
    if out is None:
        click.echo(json.dumps({j.key: j.settings for j in rendered}, indent=2))
        return
    folder = Path(out)
    (folder / "resources").mkdir(parents=True, exist_ok=True)
    records = []
    for job in rendered:
        (folder / f"{job.key}.job.json").write_text(
            json.dumps(job.settings, indent=2) + "\n", encoding="utf-8"
        )
        (folder / "resources" / f"{job.key}.job.yml").write_text(
            job.bundle_yaml(), encoding="utf-8"
        )
        records.append(
            {
                "key": job.key,
                "name": job.name,
                "tasks": len(job.settings["tasks"]),
                "left_out": ", ".join(f"{t['task_id']}/{t['workflow_id']}" for t in job.left_out),
            }
        )
    emit(records, fmt, f"jobs rendered to {folder}")


@jobs.command()
@click.option(
    "--notebook-folder",
    type=NOTEBOOK_FOLDER,
    default=None,
    help="Workspace folder of the shipped notebooks [default: the current user's sample_usage folder].",
)
@click.option("--confirm", is_flag=True, help="Required: create or update the jobs.")
@_job_options
@engine_options
def publish(
    notebook_folder: str | None,
    confirm: bool,
    project_code: str | None,
    process_load: str | None,
    name_prefix: str,
    existing_cluster_id: str | None,
    job_cluster: dict[str, Any] | None,
    leave_out_unsupported: bool,
    fmt: str,
    **where: Any,
) -> None:
    """Create or update each process's job by name (an unchanged job is not written)."""
    if not confirm:
        raise click.UsageError(
            "publish writes to the workspace: run 'jobs render' first, then add --confirm"
        )
    options = _options(
        notebook_folder, name_prefix, existing_cluster_id, job_cluster, leave_out_unsupported
    )
    monitor = _framework(**where, existing=True)
    report = monitor.publish_jobs(
        workspace_for(where), notebook_folder, project_code, process_load, **options
    )
    if fmt == "json":
        emit(report.as_dict(), fmt)
        return
    emit([j.as_dict() for j in report.jobs], fmt, "jobs publish")
    console.print(
        ", ".join(f"{n} {a}" for a, n in report.counts.items())
        + f"; {report.calls} call(s), {report.mutating_calls} mutating"
    )
