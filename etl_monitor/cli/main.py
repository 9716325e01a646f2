"""The `etl-monitor` command line: click commands over the facade, rich tables, --format json."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from rich.markup import escape

from etl_monitor import __version__
from etl_monitor.cli.alerts import alerts
from etl_monitor.cli.catalogue import catalogue
from etl_monitor.cli.common import (
    _framework,
    _rows,
    close_remote,
    console,
    display_url,
    emit,
    engine_options,
)
from etl_monitor.cli.job_runs import job_runs_view
from etl_monitor.cli.jobs import jobs
from etl_monitor.cli.monitors import monitors
from etl_monitor.cli.values import (
    RUN_TYPES,
    OutputPath,
    shown,
)
from etl_monitor.core.arguments import PendingArgs, ResetArgs, StatusArgs, validate
from etl_monitor.errors import (
    EngineError,
    ETLMonitorError,
    InternalError,
    InvalidArgumentError,
    ValidationFailedError,
)
from etl_monitor.tracking import store, tables
from etl_monitor.tracking import views as reporting_views


@click.group()
@click.version_option(__version__, prog_name="etl-monitor")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def main(verbose: int) -> None:
    """ETL process monitoring on Delta tables: set up, run, report."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@engine_options
def setup(fmt: str, **where: Any) -> None:
    """Create or upgrade the framework's tables and views (idempotent)."""
    report = _framework(**where).setup()
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


@main.command()
@engine_options
@click.option(
    "--archive-after-days",
    type=RUN_TYPES["archive_after_days"],
    default=None,
    help="Move step events of processing dates older than this many days (1-36500) to the "
    "archive table.",
)
@click.option(
    "--vacuum/--no-vacuum", default=True, help="Delete unreferenced files older than 7 days."
)
def maintain(fmt: str, archive_after_days: int | None, vacuum: bool, **where: Any) -> None:
    """Compact the tables, archive old step events, vacuum: safe while tasks run; run daily."""
    report = _framework(**where).maintain(archive_after_days=archive_after_days, vacuum=vacuum)
    emit(
        {
            "catalog": report.catalog,
            "schema": report.schema,
            "method": report.method,
            "archived_events": report.archived_events,
            "archive_cutoff": report.archive_cutoff,
            "event_files_before": report.files_before.get(tables.EVENTS.name),
            "event_files_after": report.files_after.get(tables.EVENTS.name),
            "statements": report.statements,
            "seconds": round(report.seconds, 3),
        },
        fmt,
        "maintain",
    )


SUMMARY_COLUMNS = [
    "ExecutionID",
    "ProcessingDate",
    "RunStatus",
    "TotalTasks",
    "Done",
    "Failed",
    "Pending",
    "RunningTasks",
    "SkippedTasks",
    "Attempts",
    "MaxAttemptNo",
    "WallClockSeconds",
    "IsLatestExecution",
]
DETAIL_COLUMNS = [
    "ExecutionID",
    "TaskID",
    "WorkFlowID",
    "SequenceID",
    "TaskName",
    "EffectiveStatus",
    "AttemptNo",
    "DurationSeconds",
    "SLABreached",
    "LogMessage",
]
PENDING_COLUMNS = [
    "TaskID",
    "WorkFlowID",
    "SequenceID",
    "TaskName",
    "Status",
    "AttemptNo",
    "FullFileName",
    "WatermarkName",
    "WatermarkValue",
]
WATERMARK_COLUMNS = [
    "ParameterName",
    "ParameterType",
    "ActiveValue",
    "LastUpdatedOn",
    "LastChangeReason",
]
FAILURE_COLUMNS = [
    "ExecutionID",
    "TaskID",
    "TaskName",
    "Status",
    "AttemptNo",
    "TaskMandatory",
    "LogMessage",
]
PROCESS_COLUMNS = [
    "ProjectCode",
    "ProcessLoad",
    "ProcessingDate",
    "ProcessStatus",
    "TotalTasks",
    "Done",
    "Failed",
    "TotalRuns",
    "LatestExecutionID",
]


def _process_args(command):
    command = click.argument("process_load", type=RUN_TYPES["process_load"])(command)
    return click.argument("project_code", type=RUN_TYPES["project_code"])(command)


def _execution_id_option(help: str):
    return click.option("--execution-id", type=RUN_TYPES["execution_id"], default=None, help=help)


def _date_option(help: str):
    return click.option(
        "--date", "processing_date", type=RUN_TYPES["processing_date"], default=None, help=help
    )


@main.command()
@engine_options
def demo(fmt: str, **where: Any) -> None:
    """Run the sample process end to end: parallel tasks, a failure, a retry, the views."""
    from etl_monitor.cli.demo import L, P, run_demo

    if where["schema"] == "etl":
        where["schema"] = "etl_demo"
    monitor = _framework(**where)
    say = (lambda _: None) if fmt == "json" else console.print
    result = run_demo(monitor, say)
    views = {
        reporting_views.RUN_SUMMARY.name: (
            [
                r
                for r in _rows(
                    monitor.get_status(P, L, processing_date=result["date"], summary_mode=True)
                )
                if r["ExecutionID"] in (result["first"], result["retry"])
            ],
            SUMMARY_COLUMNS,
        ),
        "v_taskDetail (retry)": (
            _rows(monitor.get_status(P, L, execution_id=result["retry"])),
            DETAIL_COLUMNS,
        ),
        **{
            view.name: (_view(monitor, view.name, P, L), columns)
            for view, columns in (
                (reporting_views.PROCESS_STATUS, PROCESS_COLUMNS),
                (reporting_views.CURRENT_FAILURES, FAILURE_COLUMNS),
                (reporting_views.MANDATORY_BLOCKERS, FAILURE_COLUMNS),
                (reporting_views.WATERMARKS, WATERMARK_COLUMNS),
            )
        },
    }
    if fmt == "json":
        emit({"result": result, "views": {k: v[0] for k, v in views.items()}}, fmt)
    else:
        for title, (records, columns) in views.items():
            emit(records, fmt, title, columns) if records else console.print(
                f"[bold]{title}[/bold]: no rows"
            )
        console.print(
            f"demo finished in {result['seconds']:.1f}s; data in {monitor.catalog}.{monitor.schema} "
            + (
                f"under {monitor.engine.warehouse_root}"
                if monitor.engine.warehouse_root
                else f"on {display_url(where['remote']) if where['remote'] else 'Databricks Connect'}"
            )
            + f"; try: etl-monitor status {P} {L} --schema {monitor.schema}"
        )
    if not result["retry_ok"]:
        raise ETLMonitorError("the retry did not finish DONE")


def _view(monitor: Any, view: str, project_code: str, process_load: str) -> list[dict[str, Any]]:
    return _rows(store.process_rows(monitor.context, view, project_code, process_load))


@main.command()
@_process_args
@_execution_id_option("One execution's task detail.")
@_date_option("Processing date (YYYY-MM-DD).")
@click.option("--summary", is_flag=True, help="Run rollups (v_runSummary) instead of task detail.")
@engine_options
def status(
    project_code,
    process_load,
    execution_id,
    processing_date,
    summary,
    fmt,
    **where,
) -> None:
    """Task detail or run summaries of a process."""
    validate(  # the facade's own check, before the engine starts
        StatusArgs,
        "status",
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
        execution_id=execution_id,
        summary_mode=summary,
    )
    monitor = _framework(**where, existing=True)
    records = _rows(
        monitor.get_status(
            project_code,
            process_load,
            processing_date=processing_date,
            execution_id=execution_id,
            summary_mode=summary,
        )
    )
    emit(
        records,
        fmt,
        reporting_views.RUN_SUMMARY.name if summary else reporting_views.TASK_DETAIL.name,
        SUMMARY_COLUMNS if summary else DETAIL_COLUMNS,
    )


@main.command()
@click.argument("execution_id", type=RUN_TYPES["execution_id"])
@_process_args
@_date_option("Processing date when generating (YYYY-MM-DD).")
@click.option("--sequence-id", type=RUN_TYPES["sequence_id"], default=None, help="Only this stage.")
@engine_options
def pending(
    execution_id,
    project_code,
    process_load,
    processing_date,
    sequence_id,
    fmt,
    **where,
) -> None:
    """Runnable tasks of an execution (generates its steps on first call)."""
    validate(
        PendingArgs,
        "pending",
        execution_id=execution_id,
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
        sequence_id=sequence_id,
    )
    monitor = _framework(**where, existing=True)
    records = _rows(
        monitor.get_pending_tasks(
            execution_id, project_code, process_load, processing_date, sequence_id=sequence_id
        )
    )
    emit(records, fmt, "pending tasks", PENDING_COLUMNS)


@main.command()
@_process_args
@engine_options
def watermarks(project_code, process_load, fmt, **where) -> None:
    """Current watermarks and flags of a process, with their ActiveValue."""
    validate(StatusArgs, "watermarks", project_code=project_code, process_load=process_load)
    monitor = _framework(**where, existing=True)
    emit(
        _view(monitor, reporting_views.WATERMARKS.name, project_code, process_load),
        fmt,
        reporting_views.WATERMARKS.name,
        WATERMARK_COLUMNS,
    )


@main.command()
@_process_args
@_execution_id_option("Reset the failed and skipped steps of this execution.")
@_date_option("Without --execution-id: replay this whole day.")
@click.option("--task-id", type=RUN_TYPES["task_id"], default=None, help="Only this task.")
@click.option(
    "--workflow-id", type=RUN_TYPES["workflow_id"], default=None, help="Only this workflow pass."
)
@click.option("--force", is_flag=True, help="Also reset RUNNING steps (their process died).")
@engine_options
def reset(
    project_code,
    process_load,
    execution_id,
    processing_date,
    task_id,
    workflow_id,
    force,
    fmt,
    **where,
) -> None:
    """Re-queue failed steps, one task, or a whole day."""
    validate(
        ResetArgs,
        "reset",
        project_code=project_code,
        process_load=process_load,
        processing_date=processing_date,
        execution_id=execution_id,
        workflow_id=workflow_id,
        task_id=task_id,
        force=force,
    )
    monitor = _framework(**where, existing=True)
    count = monitor.status_reset(
        project_code,
        process_load,
        processing_date=processing_date,
        execution_id=execution_id,
        workflow_id=workflow_id,
        task_id=task_id,
        force=force,
    )
    emit(
        {"project_code": project_code, "process_load": process_load, "steps_reset": count},
        fmt,
        "reset",
    )


#: Exceptions from outside the library that mean the engine, the workspace or the network
#: failed (not a bug): the label printed for each, by the module the exception class is in.
#: Checked over the class's MRO, first match wins; OSError covers ConnectionError and
#: TimeoutError raised by the standard library and by databricks-sdk's retry loop.
EXTERNAL_ERRORS: tuple[tuple[str, str], ...] = (
    ("pyspark.", "engine error"),
    ("grpc", "engine error"),
    ("py4j.", "engine error"),
    ("databricks.sdk.", "workspace API error"),
    ("databricks.connect", "engine error"),
    ("requests.", "network error"),
    ("urllib3.", "network error"),
)


def error_kind(error: BaseException) -> str | None:
    """The label of an engine, workspace or network error (`EXTERNAL_ERRORS`); None for a bug."""
    for cls in type(error).__mro__:
        for prefix, label in EXTERNAL_ERRORS:
            if f"{cls.__module__}.".startswith(prefix):
                return label
    if isinstance(error, (OSError, TimeoutError)):
        return "network error"
    return None


def describe(error: BaseException) -> str:
    """One line naming an external error: its class, its first line, and its first different cause."""
    from etl_monitor.engine.remote import first_line

    text = f"{type(error).__name__}: {first_line(error)}"
    cause = error.__cause__ or error.__context__
    if cause is not None and first_line(cause) != first_line(error):
        text += f" (caused by {type(cause).__name__}: {first_line(cause)})"
    return text


def _traceback_wanted() -> bool:
    return logging.getLogger().isEnabledFor(logging.DEBUG)  # -vv


def _internal(error: BaseException) -> None:
    """A bug: its one line, then always its traceback (exit code 3)."""
    import traceback

    console.print(
        f"[red]internal error:[/red] {escape(f'{type(error).__name__}: {error}')}",
        soft_wrap=True,
    )
    traceback.print_exc()


def one_line(text: str) -> str:
    """`text` on one line: its line breaks (any that str.splitlines knows) become spaces."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _invalid(message: str, value: object = None) -> None:
    """Print the one line of an invalid input (exit code 1), a long value cut short."""
    if isinstance(value, str) and len(repr(value)) > 80:
        message = message.replace(repr(value), shown(value))
    console.print(
        f"[red]invalid input:[/red] {escape(one_line(message))}",
        soft_wrap=True,
        emoji=False,
        highlight=False,
    )


def _bad_value(error: click.ClickException) -> bool:
    """A value click refused (not a number, out of range, not a choice, no such file, or
    refused by one of the library's checks in `cli.common`): invalid input, not usage."""
    return isinstance(error, click.BadParameter) and not isinstance(error, click.MissingParameter)


def run(args: list[str] | None = None) -> None:
    """Entry point with the documented exit codes (`args`: the command line, default sys.argv).

    - 0: ok.
    - 1: invalid input: a value the library or click refuses (a code, id, date, number,
      choice, URL, path or file), or a config that fails validation. One line on standard
      output naming the option or argument, never a traceback; nothing was written. The
      values are checked while the command line is read, before any engine starts.
    - 2: usage: an unknown command or option, a missing argument or option value, options
      that exclude each other, a missing --confirm (click's usage text on standard error).
    - 3: an engine, workspace, network or runtime error (one line; the traceback with
      -vv), or an internal error: a bug, always printed with its traceback.
    """
    import traceback

    try:
        main.main(args=args, standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as error:
        if _bad_value(error):
            _invalid(error.format_message())
            sys.exit(1)
        error.show()
        sys.exit(2)
    except (InvalidArgumentError, ValidationFailedError) as error:
        _invalid(str(error), getattr(error, "value", None))
        sys.exit(1)
    except EngineError as error:
        console.print(f"[red]engine error:[/red] {escape(str(error))}", soft_wrap=True)
        if _traceback_wanted():
            traceback.print_exc()
        sys.exit(3)
    except InternalError as error:  # the library caught a bug of its own
        _internal(error)
        sys.exit(3)
    except ETLMonitorError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
        sys.exit(3)
    except Exception as error:
        kind = error_kind(error)
        if kind is None:
            _internal(error)
        else:
            console.print(f"[red]{kind}:[/red] {escape(describe(error))}", soft_wrap=True)
            if _traceback_wanted():
                traceback.print_exc()
        sys.exit(3)
    finally:
        close_remote()


main.add_command(monitors)
main.add_command(catalogue)
main.add_command(jobs)
main.add_command(alerts)
main.add_command(job_runs_view)


@main.group("sql")
def sql_files() -> None:
    """The SQL files in sql/, rendered from the schema definitions."""


@sql_files.command("render")
@click.option(
    "--out",
    default="sql",
    show_default=True,
    type=OutputPath(file_okay=False, writable=True),
    help="Folder to write.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Only report files that differ from the rendering (exit 1 if any).",
)
def sql_render(out: str, check: bool) -> None:
    """Write (or check) the DDL of every table and view."""
    from pathlib import Path

    from etl_monitor.integrations import sql_files as sqlfiles

    if check:
        stale = sqlfiles.drift(Path(out))
        for rel in stale:
            console.print(f"out of date: {out}/{rel}")
        if stale:
            raise ValidationFailedError(
                f"{len(stale)} file(s) in {out}/ differ; run 'etl-monitor sql render'"
            )
        console.print(f"{out}/ is in sync")
        return
    paths = sqlfiles.write(Path(out))
    console.print(f"wrote {len(paths)} files under {out}/")
