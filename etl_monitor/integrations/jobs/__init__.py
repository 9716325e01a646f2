"""Databricks Workflows jobs from the process catalogue: one job per process.

`render` turns catalogue rows into Jobs API 2.2 ``JobSettings`` JSON and Asset Bundle
YAML; `publish` creates or updates the jobs by name through databricks-sdk; `gate` is
what the shipped job notebooks ask the library between stages. `definitions` reads the
rows and renders them.
"""

from __future__ import annotations

from typing import Any

from etl_monitor.errors import NotFoundError
from etl_monitor.integrations.jobs import gate, publish, render
from etl_monitor.integrations.jobs.render import JobOptions, RenderedJob

__all__ = [
    "JobOptions",
    "RenderedJob",
    "definitions",
    "gate",
    "publish",
    "read_catalogue",
    "render",
]


def read_catalogue(
    monitor: Any, project_code: str | None = None, process_load: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The active processes and their active tasks, optionally of one project or process.

    Args:
        monitor: the ETLMonitorFramework.
        project_code: only this project (None: all).
        process_load: only this process (None: all).

    Returns:
        (ETLconfigProcess rows, ETLconfigTasks rows) as dicts.

    Raises:
        NotFoundError: a project or process was named and nothing active matches.
    """
    ctx = monitor._ctx
    where, args = ["IsActive <=> TRUE"], {}
    if project_code is not None:
        where.append("ProjectCode = :project_code")
        args["project_code"] = project_code
    if process_load is not None:
        where.append("ProcessLoad = :process_load")
        args["process_load"] = process_load
    condition = " AND ".join(where)
    processes = [
        r.asDict()
        for r in ctx.executor.query(
            f"SELECT * FROM {ctx.name('ETLconfigProcess')} WHERE {condition}"
            " ORDER BY ProjectCode, ProcessLoad",
            args or None,
        )
    ]
    if not processes and (project_code or process_load):
        raise NotFoundError(
            f"no active process {project_code or '*'}/{process_load or '*'} in "
            f"{monitor.catalog}.{monitor.schema}.ETLconfigProcess"
        )
    tasks = [
        r.asDict()
        for r in ctx.executor.query(
            f"SELECT * FROM {ctx.name('ETLconfigTasks')} WHERE {condition}"
            " ORDER BY ProjectCode, ProcessLoad, SequenceID, WorkFlowID, TaskID",
            args or None,
        )
    ]
    return processes, tasks


def definitions(
    monitor: Any,
    options: JobOptions,
    project_code: str | None = None,
    process_load: str | None = None,
) -> list[RenderedJob]:
    """The jobs of the active processes (optionally one project or process).

    Args:
        monitor: the ETLMonitorFramework.
        options: how to render (see `JobOptions`).
        project_code: only this project.
        process_load: only this process.

    Returns:
        One rendered job per process.

    Raises:
        NotFoundError: nothing active matches the filter.
        InvalidArgumentError: a process cannot be rendered (see `render.render_process`).
    """
    processes, tasks = read_catalogue(monitor, project_code, process_load)
    return render.render(processes, tasks, options)
