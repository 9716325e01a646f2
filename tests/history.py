"""Realistic history, written through the same appends the library makes.

One daily run of a process is what ``get_pending_tasks`` + ``task()`` per task write: one
commit queueing every step, then per task one commit for RUNNING and one for DONE with
its watermark advance. Rows are built by the library's own event builders, so the
history has the shape (and the commit count) of years of real runs, in a fraction of
the time. Used by the history tests and by ``benchmarks/bench_history.py``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone

from etl_monitor import ETLMonitorFramework
from etl_monitor.tracking.events import append_events, step_event, watermark_event


def register_process(monitor: ETLMonitorFramework, project: str, process: str, tasks: int) -> None:
    """A daily process: `tasks` load tasks in stage 2, each with its DELTA_DATE watermark."""
    monitor.register_process(project, process, name=f"{process} (history)")
    for n in range(1, tasks + 1):
        monitor.register_task(
            project,
            process,
            task_id=n,
            workflow_id=1,
            sequence_id=2,
            task_name=f"Load {n}",
            source_system_code=f"H{n}",
        )
        monitor.register_parameter(project, process, f"H{n}", "DELTA_DATE")


def build(
    monitor: ETLMonitorFramework,
    project: str,
    process: str,
    *,
    tasks: int,
    days: int,
    first_day: date,
    runs_per_commit: int = 0,
) -> int:
    """Write `days` daily runs of `tasks` tasks, all DONE; returns the commits written.

    With ``runs_per_commit=0`` (default) the commits are exactly a real run's (1 + 2 per
    task); N > 0 writes the events of N runs per commit (a quicker build of very long
    histories: the same rows, fewer and larger files).
    """
    ctx, user = monitor.context, "history"
    commits, pending = 0, []
    for d in range(days):
        day = first_day + timedelta(days=d)
        e = str(uuid.uuid4())
        at = datetime.combine(day, time(2, 0), tzinfo=timezone.utc)
        states = [
            {
                "ExecutionID": e,
                "ProjectCode": project,
                "ProcessLoad": process,
                "ProcessingDate": day,
                "TaskID": n,
                "WorkFlowID": 1,
                "SequenceID": 2,
                "AttemptNo": 1,
                "TaskName": f"Load {n}",
                "SourceSystemCode": f"H{n}",
                "TaskMandatory": False,
                "LoadFrequency": "D",
            }
            for n in range(1, tasks + 1)
        ]
        run_commits = [
            [
                step_event(s, "NQUE", user=user, reason="generated", claim=True, when=at)
                for s in states
            ]
        ]
        for n, state in enumerate(states, start=1):
            queued = {**state, "StatusCode": "NQUE", "Seq": 1}
            start = at + timedelta(minutes=n)
            running = {**queued, "StatusCode": "RUNNING", "Seq": 2, "StartTime": start}
            run_commits.append(
                [
                    step_event(
                        queued,
                        "RUNNING",
                        user=user,
                        reason="started",
                        claim=True,
                        when=start,
                        StartTime=start,
                    )
                ]
            )
            end = start + timedelta(seconds=30)
            run_commits.append(
                [
                    step_event(running, "DONE", user=user, reason="ended", when=end, EndTime=end),
                    watermark_event(
                        project,
                        process,
                        f"H{n}",
                        "DELTA_DATE",
                        execution_id=e,
                        value_datetime=start,
                        generation=1,
                        reason=f"task {n}/1 DONE",
                        user=user,
                        when=end,
                    ),
                ]
            )
        if runs_per_commit == 0:
            for rows in run_commits:
                append_events(ctx, rows)
                commits += 1
        else:
            pending.extend(r for rows in run_commits for r in rows)
            if (d + 1) % runs_per_commit == 0 or d == days - 1:
                append_events(ctx, pending)
                commits, pending = commits + 1, []
    return commits
