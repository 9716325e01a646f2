"""Databricks Workflows jobs from the process catalogue: one job per process.

`render` turns catalogue rows into Jobs API 2.2 ``JobSettings`` JSON and Asset Bundle
YAML; `publish` creates or updates the jobs by name through databricks-sdk; `gate` is
what the shipped job notebooks ask the library between stages. `definitions` reads the
rows and renders them.
"""

from __future__ import annotations

from etl_monitor.core.context import Context, HasContext, context_of
from etl_monitor.jobs import gate, publish, render
from etl_monitor.jobs.render import JobOptions, RenderedJob
from etl_monitor.tracking.store import active_catalogue as read_catalogue

__all__ = [
    "JobOptions",
    "RenderedJob",
    "definitions",
    "gate",
    "publish",
    "read_catalogue",
    "render",
]


def definitions(
    source: Context | HasContext,
    options: JobOptions,
    project_code: str | None = None,
    process_load: str | None = None,
) -> list[RenderedJob]:
    """The jobs of the active processes (optionally one project or process).

    Args:
        source: the framework (``monitor``) or its context.
        options: how to render (see `JobOptions`).
        project_code: only this project.
        process_load: only this process.

    Returns:
        One rendered job per process.

    Raises:
        NotFoundError: nothing active matches the filter.
        InvalidArgumentError: a process cannot be rendered (see `render.render_process`).
    """
    processes, tasks = read_catalogue(context_of(source), project_code, process_load)
    return render.render(processes, tasks, options)
