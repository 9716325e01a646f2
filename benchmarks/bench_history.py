"""Run tracking after long history, per engine, side by side: fresh schema, history, maintained.

Builds `--processes` daily processes of `--tasks` tasks over `--days` days (10 x 4 x 250 =
10,000 task runs by default) as real runs write them (tests/history.py: the library's
own rows, one commit to queue a run's steps and two per task, committed straight to the
table's files on a local warehouse), then measures on a fresh schema, on
the history, and on the history after `maintain()`:

- the floor: one point read and two one-row appends on the event table;
- `task()` median and p90 (one read, one claim, one append);
- `get_pending_tasks` on a new execution (generates its steps) and on an existing one;
- every reporting view filtered to one processing date (v_watermarks to one process);
- the files of the event table;

and once more after `maintain(archive_after_days=...)` has moved all but the last 30 days
of history to the archive table (the steady state of a scheduled maintenance).

With `--million`, one million more events in few large files (a bulk insert), and the
one-date views again. Machines are shared and noisy: read the ratios, not the times.

Run: python benchmarks/bench_history.py [--processes 10 --tasks 4 --days 250] [--million]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from side_by_side import DEFAULT_ENGINES, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.history

P, L = "BENCH", "P000"
FIRST = date(2024, 1, 1)
VIEWS = (
    "v_taskDetail",
    "v_runSummary",
    "v_processStatus",
    "v_currentFailures",
    "v_mandatoryBlockers",
    "v_pendingTasks",
)


def _ms(action, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        action()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def floor(monitor: Any, runs: int) -> float:
    """One point read and two one-row appends on the event table: the least a task can cost."""
    from etl_monitor.tracking.events import append_events, step_event

    ctx, events = monitor.context, monitor.table_name("ETLProcessingEvents")
    state = {
        "ExecutionID": "floor",
        "ProjectCode": P,
        "ProcessLoad": L,
        "TaskID": 1,
        "WorkFlowID": 1,
    }
    state["ProcessingDate"] = FIRST

    def one() -> None:
        monitor.executor.query(
            f"SELECT * FROM {events} WHERE ExecutionID = :e AND TaskID = :t LIMIT 1",
            {"e": "floor", "t": 1},
        )
        append_events(ctx, [step_event(state, "RUNNING", user="bench", reason="floor")])
        append_events(ctx, [step_event(state, "DONE", user="bench", reason="floor")])

    return statistics.median(_ms(one, 1) for _ in range(runs))


def tasks(monitor: Any, runs: int, day: date) -> dict[str, float]:
    """task() over `runs` new executions of P/L on `runs` days from `day`, and get_pending_tasks."""
    times, generate, again = [], [], []
    for n in range(runs):
        e = monitor.generate_execution_id()
        t = time.perf_counter()
        monitor.get_pending_tasks(e, P, L, day + timedelta(days=n))
        generate.append((time.perf_counter() - t) * 1000)
        again.append(_ms(lambda e=e: monitor.get_pending_tasks(e, P, L), 1))
        t = time.perf_counter()
        with monitor.task(e, P, L, task_id=1, workflow_id=1) as run_:
            assert run_.active, run_.inactive_reason
        times.append((time.perf_counter() - t) * 1000)
    ordered = sorted(times)
    return {
        "task() median": statistics.median(times),
        "task() p90": ordered[int(len(ordered) * 0.9)],
        "get_pending_tasks (new execution)": statistics.median(generate),
        "get_pending_tasks (again)": statistics.median(again),
    }


def views(monitor: Any, day: date) -> dict[str, float]:
    out = {}
    for view in VIEWS:
        out[f"{view} one date"] = _ms(
            lambda v=view: monitor.executor.query(
                f"SELECT * FROM {monitor.table_name(v)} WHERE ProcessingDate = :d", {"d": day}
            )
        )
    out["v_watermarks one process"] = _ms(
        lambda: monitor.executor.query(
            f"SELECT * FROM {monitor.table_name('v_watermarks')} "
            "WHERE ProjectCode = :p AND ProcessLoad = :l",
            {"p": P, "l": L},
        )
    )
    return out


def files(monitor: Any) -> int | None:
    from etl_monitor.tracking.maintenance import file_count
    from etl_monitor.tracking.tables import EVENTS

    return file_count(monitor.context, EVENTS)


def build_history(monitor: Any, processes: int, tasks_: int, days: int) -> int:
    """The commits of real runs (1 + 2 per task and day); straight to the files where local."""
    from tests.history import build, register_process

    ctx = monitor.context
    local = ctx.engine.table_location(ctx.catalog, ctx.schema, "ETLProcessingEvents")
    writer = "fast" if local else "engine"

    commits = 0
    for n in range(processes):
        process = f"P{n:03d}"
        if process != L:
            register_process(monitor, P, process, tasks_)
        commits += build(
            monitor, P, process, tasks=tasks_, days=days, first_day=FIRST, writer=writer
        )
    return commits


def bulk_million(monitor: Any, days: int, events: int = 1_000_000) -> None:
    """`events` more events (16 per run of 4 tasks) in one INSERT: few large files."""
    from etl_monitor.tracking.tables import EVENTS

    per_run = 16
    start = int(time.mktime(FIRST.timetuple()))
    expressions = {
        "EventID": "concat('bulk-', CAST(id AS STRING))",
        "EventTime": f"timestamp_seconds({start} + day * 86400 + 7200 + kind * 60)",
        "EventType": "CASE WHEN kind = 3 THEN 'WATERMARK' ELSE 'STEP' END",
        "ExecutionID": "concat('bulk-run-', CAST(run AS STRING))",
        "ProjectCode": "'BULK'",
        "ProcessLoad": "concat('B', CAST(proc AS STRING))",
        "TaskID": "CASE WHEN kind = 3 THEN NULL ELSE task END",
        "WorkFlowID": "CASE WHEN kind = 3 THEN NULL ELSE 1 END",
        "SequenceID": "CASE WHEN kind = 3 THEN NULL ELSE 2 END",
        "ProcessingDate": f"CASE WHEN kind = 3 THEN NULL ELSE date_add(DATE'{FIRST}', CAST(day AS INT)) END",
        "AttemptNo": "CASE WHEN kind = 3 THEN NULL ELSE 1 END",
        "StatusCode": "CASE kind WHEN 0 THEN 'NQUE' WHEN 1 THEN 'RUNNING' WHEN 2 THEN 'DONE' END",
        "TaskMandatory": "CASE WHEN kind = 3 THEN NULL ELSE false END",
        "StartTime": f"CASE WHEN kind IN (1, 2) THEN timestamp_seconds({start} + day * 86400 + 7260) END",
        "EndTime": f"CASE WHEN kind = 2 THEN timestamp_seconds({start} + day * 86400 + 7290) END",
        "ParameterName": "CASE WHEN kind = 3 THEN concat('H', CAST(task AS STRING)) END",
        "ParameterType": "CASE WHEN kind = 3 THEN 'DELTA_DATE' END",
        "ValueDateTime": f"CASE WHEN kind = 3 THEN timestamp_seconds({start} + day * 86400 + 7260) END",
        "CreatedBy": "'bulk'",
        "Seq": "CAST(CASE WHEN kind = 3 THEN 1 ELSE kind + 1 END AS BIGINT)",
    }
    select = ",\n  ".join(
        f"{expressions.get(c.name, f'CAST(NULL AS {c.type})')} AS {c.name}" for c in EVENTS.columns
    )
    monitor.executor.execute(
        f"INSERT INTO {monitor.table_name(EVENTS.name)}\nSELECT\n  {select}\n"
        f"FROM (SELECT id, CAST(id DIV {per_run} AS BIGINT) AS run, CAST(id % 4 + 1 AS INT) AS task,\n"
        f"        CAST((id % {per_run}) DIV 4 AS INT) AS kind,\n"
        f"        CAST((id DIV {per_run}) % {days} AS BIGINT) AS day,\n"
        f"        CAST((id DIV {per_run}) DIV {days} AS BIGINT) AS proc\n"
        f"      FROM range({events})) g"
    )


def measure(spark: Any, catalog: str, root: str, args: dict[str, Any]) -> dict[str, str]:
    from etl_monitor import ETLMonitorFramework
    from tests.history import register_process

    runs, figures = args["runs"], {}
    day = FIRST + timedelta(days=args["days"])  # the measured runs: the day after the history
    view_day = FIRST + timedelta(days=args["days"] // 2)  # a history date with every process

    def setup(schema: str) -> Any:
        monitor = ETLMonitorFramework(spark, catalog, schema)
        monitor.setup()
        register_process(monitor, P, L, args["tasks"])
        return monitor

    fresh = setup("fresh")
    fresh_floor = floor(fresh, runs)
    phases = {"fresh": tasks(fresh, runs, day)}
    phase_views = {"fresh": views(fresh, day)}
    phase_files = {"fresh": files(fresh)}

    history = setup("history")
    t = time.perf_counter()
    commits = build_history(history, args["processes"], args["tasks"], args["days"])
    figures["history: task runs / commits / build s"] = (
        f"{args['processes'] * args['tasks'] * args['days']:,} / {commits:,} / "
        f"{time.perf_counter() - t:.0f}"
    )
    phase_files["history"] = files(history)
    phases["history"] = tasks(history, runs, day + timedelta(days=runs))
    phase_views["history"] = views(history, view_day)
    t = time.perf_counter()
    history.maintain()
    figures["maintain() s"] = f"{time.perf_counter() - t:.1f}"
    phase_files["maintained"] = files(history)
    phases["maintained"] = tasks(history, runs, day + timedelta(days=2 * runs))
    phase_views["maintained"] = views(history, view_day)
    # The intended steady state: the log keeps the last 30 days, the archive the rest.
    keep = FIRST + timedelta(days=args["days"] - 30)
    t = time.perf_counter()
    archived = history.maintain(archive_after_days=(date.today() - keep).days).archived_events
    figures["maintain(archive_after_days) s / events archived"] = (
        f"{time.perf_counter() - t:.1f} / {archived:,}"
    )
    phase_files["archived"] = files(history)
    phases["archived"] = tasks(history, runs, day + timedelta(days=3 * runs))
    phase_views["archived"] = views(history, view_day)

    base = phases["fresh"]["task() median"]
    figures["floor (1 read + 2 appends) ms"] = f"{fresh_floor:.0f}"
    figures["fresh task() median / floor"] = f"{base / fresh_floor:.2f}x"
    for phase in phases:
        for name, value in phases[phase].items():
            figures[f"{phase}: {name} ms"] = f"{value:.0f}"
        ratio = phases[phase]["task() median"] / base
        figures[f"{phase}: task() median / fresh"] = f"{ratio:.2f}x"
        for name, value in phase_views[phase].items():
            figures[f"{phase}: {name} ms"] = f"{value:.0f}"
        figures[f"{phase}: event-table files"] = str(phase_files[phase])
    if args["million"]:
        t = time.perf_counter()
        bulk_million(history, args["days"])
        figures["1M bulk events: insert s"] = f"{time.perf_counter() - t:.0f}"
        for name, value in views(history, view_day).items():
            figures[f"+1M events: {name} ms"] = f"{value:.0f}"
        figures["+1M events: task() median ms"] = (
            f"{tasks(history, runs, day + timedelta(days=4 * runs))['task() median']:.0f}"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES))
    o = parser.parse_args()
    print(
        f"history: {o.processes} processes x {o.tasks} tasks x {o.days} days; {o.runs} runs per figure"
    )
    run(
        "bench_history",
        {
            "processes": o.processes,
            "tasks": o.tasks,
            "days": o.days,
            "runs": o.runs,
            "million": o.million,
        },
        tuple(o.engines.split(",")),
    )


if __name__ == "__main__":
    main()
