"""The published peer package (databricks-etl-monitor 1.0.0) against this library, on Delta.

Both run against one local Delta engine (a JVM Spark Connect server with delta-spark,
``etl_monitor.local.spark_session(engine="delta-connect")``). The peer's import name is
also ``etl_monitor``, so it runs in its own venv in a child process
(`tests.peer_package.run_peer`) that connects to the same server; this library runs here.

1. One task's bookkeeping. A fresh schema per side with the same process: an initiation
   task and `--tasks` load tasks in one stage, one DELTA_DATE watermark per load task. One
   execution; the initiation task runs first (not measured), then every load task once
   with an empty body. Per task: the statements issued (ours: the executor's count; the
   peer: calls of ``spark.sql``, counted by wrapping it in the child), the statements that
   raised, the Delta commits (JSON files added to ``_delta_log``) of the step table (the
   peer's ETLProcessingSteps, our ETLProcessingEvents) and of ETLconfigParameters, and the
   median and p90 milliseconds of entering and leaving ``task()``.

   The peer runs two ways. As published: ``with monitor.task(...)``. Its clean exit
   (``end_task(DONE)``) marks the step DONE, then advances the DELTA_DATE watermark with an
   ``UPDATE ... SET x = (SELECT ...)`` that open-source Delta rejects
   (DELTA_UNSUPPORTED_SUBQUERY); ``task()`` then calls ``fail_task`` with that error's
   text, whose quotes break fail_task's own UPDATE (PARSE_SYNTAX_ERROR): the step stays
   DONE, its watermark does not move, and every task raises (the table shows what each
   task left behind). With ``complete_task`` (tests/peer_package.py): the same
   peer calls, and on that one error the watermark is advanced with the peer's own
   ``advance_watermark``; the rejected UPDATE still counts as a failed statement and a
   peer error, and the statements of the workaround are shown apart.

2. Concurrency. One execution of a process with `--parallel-tasks` load tasks in one
   stage, run by `--threads` threads (after its initiation task): wall time, tasks per
   second, how the tasks ended (the steps' final status) and every exception, grouped by
   type and error class or message prefix. The peer updates its step rows in place, so
   concurrent UPDATEs and MERGEs on one table conflict; nothing is retried or hidden.
   Ours counts the commit conflicts its executor retried.

3. Migration. A peer schema built with the peer's own code (`build_peer_schema`) and
   filled to `--rows` rows of ETLProcessingSteps (`insert_peer_history`), then our
   ``setup()`` converts it: wall seconds, the statements of setup and of the conversion,
   the events written; then ``setup()`` again (a no-op).

Machines are shared and noisy: read the ratios, not the milliseconds.

Run: python benchmarks/bench_peer.py [--tasks 10] [--parallel-tasks 16] [--threads 8]
     [--rows 10000] [--sections task,concurrency,migration] [--keep]
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.peer_package

P, L, L2 = "BENCH", "PER_TASK", "PARALLEL"
#: Every DELTA_DATE watermark starts here; a task's DONE moves it to the task's start.
WATERMARK = "2020-01-01 00:00:00"
#: Processing dates: one execution each.
DAY_PUBLISHED, DAY_COMPLETE, DAY_OURS = "2026-03-02", "2026-03-03", "2026-03-02"
SECTIONS = ("task", "concurrency", "migration")


def error_kind(error: BaseException) -> str:
    """An exception's type and error class (``[CLASS]``), else the start of its first line.

    An exception raised while handling another names that one too.
    """
    kinds = []
    while error is not None and len(kinds) < 3:
        if not type(error).__name__.startswith("_"):  # not the RPC layer's own exception
            text = str(error).strip()
            first = text.splitlines()[0] if text else ""
            match = re.search(r"\[([A-Z][A-Z0-9_.]+)\]", first)
            kinds.append(f"{type(error).__name__}: {match.group(1) if match else first[:90]}")
        error = error.__cause__ or error.__context__
    return ", raised while handling ".join(kinds)


# -- the peer's side: snippets run by tests.peer_package.run_peer ----------------------------

#: Prepended to every peer snippet (after ``plan = {...}``): counts ``spark.sql`` calls and
#: the statements that raised, counts Delta commits, runs one task either way.
_PEER_PRELUDE = r'''
import os
import re
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

P = plan["project"]
_sql = spark.sql
_lock = threading.Lock()
counts = Counter()


def _counted(*args, **kwargs):
    # complete_task's own reads, and advance_watermark (only complete_task calls it here),
    # are the workaround's statements, not the peer's.
    caller = sys._getframe(1).f_code.co_name
    key = "workaround" if caller in ("complete_task", "advance_watermark") else "peer"
    with _lock:
        counts[key] += 1
    try:
        return _sql(*args, **kwargs)
    except Exception:
        text = str(args[0] if args else kwargs.get("sqlQuery", "")).strip()
        verb = text.split(None, 1)[0].upper() if text else "?"
        table = re.search(r"`(\w+)`(?![.\w`])", text)  # the first table a statement names
        with _lock:
            counts["failed"] += 1
            counts[f"failed: {caller}() {verb} {table.group(1) if table else '?'}"] += 1
        raise


def failed_since(before):
    """The statements that raised since `before`, by peer method, verb and table."""
    return {
        k[len("failed: "):]: counts[k] - before[k]
        for k in list(counts)
        if k.startswith("failed: ") and counts[k] > before[k]
    }


spark.sql = _counted


def log_dir(table):
    location = _sql(f"DESCRIBE DETAIL {monitor._fqn(table)}").first()["location"]
    return os.path.join(urlparse(location).path, "_delta_log")


def commits(path):
    return sum(1 for name in os.listdir(path) if name.endswith(".json"))


def run_task(mode, execution, process, task_id, workflow_id, sequence_id, day):
    """One task with an empty body: (outcome, error kind, worked-around error kind)."""
    key = dict(task_id=task_id, workflow_id=workflow_id, sequence_id=sequence_id,
               processing_date=day)
    try:
        if mode == "published":
            with monitor.task(execution, P, process, **key) as guard:
                active = guard.active
            return ("ok" if active else "inactive"), None, None
        before = len(workarounds)
        status = complete_task(execution, P, process, **key)
        if status == "NULL":
            return "inactive", None, None
        done = workarounds[before:]
        if done:
            match = re.search(r"\[([A-Z][A-Z0-9_.]+)\]", done[-1]["error"])
            return "ok", None, "worked around: " + (match.group(1) if match else done[-1]["error"][:90])
        return "ok", None, None
    except Exception as error:
        return "raised", error_kind(error), None


def statuses(execution):
    return {
        r["Status"]: r["n"]
        for r in _sql(f"""
            SELECT Status, COUNT(*) AS n FROM {monitor._fqn("ETLProcessingSteps")}
            WHERE ExecutionID = '{execution}' AND TaskID > 0 GROUP BY Status
        """).collect()
    }


def advanced(process):
    return _sql(f"""
        SELECT COUNT(*) AS n FROM {monitor._fqn("ETLconfigParameters")}
        WHERE ProjectCode = '{P}' AND ProcessLoad = '{process}'
          AND ParameterType = 'DELTA_DATE' AND ValueDateTime > TIMESTAMP'{plan["watermark"]}'
    """).first()["n"]
'''

_PEER_SETUP = r"""
started = time.perf_counter()
monitor.setup()
setup_seconds, setup_statements = time.perf_counter() - started, counts["peer"]
started = time.perf_counter()
for process, tasks in ((plan["process"], plan["tasks"]), (plan["parallel"], plan["parallel_tasks"])):
    monitor.register_process(P, process, name=f"Benchmark {process}")
    monitor.register_task(P, process, 0, 0, 0, "Initiation", task_mandatory=False)
    for n in range(1, tasks + 1):
        monitor.register_task(P, process, n, 1, 2, f"Load {n}", source_system_code=f"W{n}")
        monitor.register_parameter(P, process, f"W{n}", "DELTA_DATE",
                                   value_datetime=plan["watermark"])
result = {
    "setup_seconds": setup_seconds,
    "setup_statements": setup_statements,
    "register_seconds": time.perf_counter() - started,
    "register_statements": counts["peer"] - setup_statements,
}
"""

_PEER_PER_TASK = r"""
steps_log, params_log = log_dir("ETLProcessingSteps"), log_dir("ETLconfigParameters")
result = {}
for mode, execution, day in plan["runs"]:
    monitor.generate_execution_steps(execution, P, plan["process"], day)
    run_task(mode, execution, plan["process"], 0, 0, 0, day)  # the initiation: not measured
    tasks, first = [], Counter(counts)
    for n in range(1, plan["tasks"] + 1):
        before = Counter(counts)
        steps_before, params_before = commits(steps_log), commits(params_log)
        started = time.perf_counter()
        outcome, error, worked_around = run_task(mode, execution, plan["process"], n, 1, 2, day)
        ms = (time.perf_counter() - started) * 1000
        tasks.append({
            "ms": ms,
            "statements": counts["peer"] - before["peer"],
            "workaround_statements": counts["workaround"] - before["workaround"],
            "failed_statements": counts["failed"] - before["failed"],
            "step_commits": commits(steps_log) - steps_before,
            "parameter_commits": commits(params_log) - params_before,
            "outcome": outcome,
            "error": error,
            "worked_around": worked_around,
        })
    result[mode] = {
        "tasks": tasks,
        "statuses": statuses(execution),
        "advanced": advanced(plan["process"]),
        "failed_by": failed_since(first),
    }
"""

_PEER_CONCURRENCY = r"""
result = {}
for mode, execution, day in plan["runs"]:
    monitor.generate_execution_steps(execution, P, plan["parallel"], day)
    run_task(mode, execution, plan["parallel"], 0, 0, 0, day)  # the initiation, alone
    before = Counter(counts)
    started = time.perf_counter()
    with ThreadPoolExecutor(plan["threads"]) as pool:
        ends = list(pool.map(
            lambda n: run_task(mode, execution, plan["parallel"], n, 1, 2, day),
            range(1, plan["parallel_tasks"] + 1),
        ))
    wall = time.perf_counter() - started
    result[mode] = {
        "seconds": wall,
        "outcomes": dict(Counter(o for o, _, _ in ends)),
        "errors": dict(Counter(e for _, e, _ in ends if e)),
        "worked_around": dict(Counter(w for _, _, w in ends if w)),
        "statuses": statuses(execution),
        "statements": counts["peer"] - before["peer"],
        "failed_statements": counts["failed"] - before["failed"],
        "failed_by": failed_since(before),
    }
"""


def peer_snippet(plan: dict[str, Any], body: str) -> str:
    return f"plan = {plan!r}\n{inspect.getsource(error_kind)}\n{_PEER_PRELUDE}\n{body}"


# -- our side ------------------------------------------------------------------------------


def log_dir(spark: Any, table: str) -> Path:
    """The ``_delta_log`` folder of a Delta table."""
    location = spark.sql(f"DESCRIBE DETAIL {table}").first()["location"]
    return Path(urlparse(location).path) / "_delta_log"


def commits(path: Path) -> int:
    return len(list(path.glob("*.json")))


def our_setup(spark: Any, catalog: str, schema: str, plan: dict[str, Any]) -> tuple[Any, dict]:
    from etl_monitor import ETLMonitorFramework

    monitor = ETLMonitorFramework(spark, catalog, schema)
    started = time.perf_counter()
    report = monitor.setup()
    setup_seconds = time.perf_counter() - started
    before = monitor.executor.stats["statements"]
    started = time.perf_counter()
    watermark = datetime.fromisoformat(plan["watermark"]).replace(tzinfo=timezone.utc)
    for process, tasks in ((L, plan["tasks"]), (L2, plan["parallel_tasks"])):
        monitor.register_process(P, process, name=f"Benchmark {process}")
        monitor.register_task(P, process, 0, 0, 0, task_name="Initiation", task_mandatory=False)
        for n in range(1, tasks + 1):
            monitor.register_task(
                P, process, n, 1, 2, task_name=f"Load {n}", source_system_code=f"W{n}"
            )
            monitor.register_parameter(P, process, f"W{n}", "DELTA_DATE", value_datetime=watermark)
    return monitor, {
        "setup_seconds": setup_seconds,
        "setup_statements": report.statements,
        "register_seconds": time.perf_counter() - started,
        "register_statements": monitor.executor.stats["statements"] - before,
    }


def our_task(monitor: Any, execution: str, process: str, task_id: int, day: str) -> tuple:
    """One task with an empty body: (outcome, error kind, bookkeeping error kind)."""
    workflow, sequence = (0, 0) if task_id == 0 else (1, 2)
    try:
        with monitor.task(
            execution,
            P,
            process,
            task_id=task_id,
            workflow_id=workflow,
            sequence_id=sequence,
            processing_date=day,
        ) as run:
            active = run.active
    except Exception as error:
        return "raised", error_kind(error), None
    if run.bookkeeping_error is not None:  # task() logs it and does not raise it
        return "bookkeeping error", None, error_kind(run.bookkeeping_error)
    return ("ok" if active else "inactive"), None, None


def our_statuses(monitor: Any, execution: str) -> dict[str, int]:
    rows = monitor.spark.sql(
        f"SELECT Status, COUNT(*) AS n FROM {monitor.table_name('ETLProcessingSteps')} "
        f"WHERE ExecutionID = '{execution}' AND TaskID > 0 GROUP BY Status"
    ).collect()
    return {r["Status"]: r["n"] for r in rows}


def our_advanced(monitor: Any, process: str, tasks: int, plan: dict[str, Any]) -> int:
    start = datetime.fromisoformat(plan["watermark"]).replace(tzinfo=timezone.utc)
    moved = 0
    for n in range(1, tasks + 1):
        value = monitor.get_active_watermark(P, process, f"W{n}")
        if isinstance(value, datetime) and value.astimezone(timezone.utc) > start:
            moved += 1
    return moved


def our_per_task(monitor: Any, plan: dict[str, Any]) -> dict[str, Any]:
    events = log_dir(monitor.spark, monitor.table_name("ETLProcessingEvents"))
    params = log_dir(monitor.spark, monitor.table_name("ETLconfigParameters"))
    execution = monitor.generate_execution_id()
    monitor.generate_execution_steps(execution, P, L, DAY_OURS)
    our_task(monitor, execution, L, 0, DAY_OURS)  # the initiation: not measured
    tasks = []
    for n in range(1, plan["tasks"] + 1):
        statements, events_before, params_before = (
            monitor.executor.stats["statements"],
            commits(events),
            commits(params),
        )
        started = time.perf_counter()
        outcome, error, bookkeeping = our_task(monitor, execution, L, n, DAY_OURS)
        ms = (time.perf_counter() - started) * 1000
        tasks.append(
            {
                "ms": ms,
                "statements": monitor.executor.stats["statements"] - statements,
                "workaround_statements": 0,
                "failed_statements": None,
                "step_commits": commits(events) - events_before,
                "parameter_commits": commits(params) - params_before,
                "outcome": outcome,
                "error": error or bookkeeping,
                "worked_around": None,
            }
        )
    return {
        "tasks": tasks,
        "statuses": our_statuses(monitor, execution),
        "advanced": our_advanced(monitor, L, plan["tasks"], plan),
    }


def our_concurrency(monitor: Any, plan: dict[str, Any]) -> dict[str, Any]:
    execution = monitor.generate_execution_id()
    monitor.generate_execution_steps(execution, P, L2, DAY_OURS)
    our_task(monitor, execution, L2, 0, DAY_OURS)  # the initiation, alone
    statements, retries = monitor.executor.stats["statements"], monitor.executor.stats["retries"]
    started = time.perf_counter()
    with ThreadPoolExecutor(plan["threads"]) as pool:
        ends = list(
            pool.map(
                lambda n: our_task(monitor, execution, L2, n, DAY_OURS),
                range(1, plan["parallel_tasks"] + 1),
            )
        )
    wall = time.perf_counter() - started
    return {
        "seconds": wall,
        "outcomes": dict(Counter(o for o, _, _ in ends)),
        "errors": dict(Counter(e or b for _, e, b in ends if e or b)),
        "worked_around": {},
        "statuses": our_statuses(monitor, execution),
        "statements": monitor.executor.stats["statements"] - statements,
        "failed_statements": None,
        "retries": monitor.executor.stats["retries"] - retries,
    }


# -- printing ------------------------------------------------------------------------------


def spread(values: list[float], digits: int = 0) -> str:
    """The median, and the range when the values differ."""
    if not values:
        return "-"
    median = statistics.median(values)
    low, high = min(values), max(values)
    text = f"{median:.{digits}f}"
    return text if low == high else f"{text} ({low:.{digits}f}-{high:.{digits}f})"


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def counted(mapping: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(mapping.items())) or "-"


def table(title: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> None:
    width = max(len(label) for label, _ in rows)
    cells = [max(len(c), *(len(r[1][i]) for r in rows)) for i, c in enumerate(columns)]
    print(f"\n== {title} ==")
    print(f"{'':<{width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(columns, cells, strict=True)))
    for label, values in rows:
        print(
            f"{label:<{width}}  "
            + "  ".join(f"{v:>{w}}" for v, w in zip(values, cells, strict=True))
        )


def errors_block(named: dict[str, dict[str, int]]) -> None:
    for name, errors in named.items():
        for kind, n in sorted(errors.items(), key=lambda kv: -kv[1]):
            print(f"  {name}: {n} x {kind}")


def trimmed(text: str, frames: int = 6) -> str:
    """A traceback with each JVM stack trace cut to its first `frames` frames."""
    out, run = [], 0
    for line in text.rstrip().splitlines():
        if line.startswith("\tat ") or line.startswith("    at "):
            run += 1
            if run <= frames:
                out.append(line)
            continue
        if run > frames:
            out.append(f"\t... {run - frames} more JVM frames")
        run = 0
        out.append(line)
    if run > frames:
        out.append(f"\t... {run - frames} more JVM frames")
    return "\n".join(out)


def failure(section: str, text: str) -> None:
    print(f"\n== {section}: FAILED ==\n{trimmed(text)}")


def print_setup(peer: dict[str, Any], ours: dict[str, Any], plan: dict[str, Any]) -> None:
    processes = f"{plan['tasks'] + plan['parallel_tasks'] + 2} tasks, 2 processes"
    table(
        "0. Fresh schemas (context, not compared further)",
        ["peer", "ours"],
        [
            (
                "setup(): seconds",
                [f"{peer['setup_seconds']:.1f}", f"{ours['setup_seconds']:.1f}"],
            ),
            (
                "setup(): statements",
                [str(peer["setup_statements"]), str(ours["setup_statements"])],
            ),
            (
                f"register_* ({processes}): seconds",
                [f"{peer['register_seconds']:.1f}", f"{ours['register_seconds']:.1f}"],
            ),
            (
                "register_*: statements",
                [str(peer["register_statements"]), str(ours["register_statements"])],
            ),
        ],
    )


def print_per_task(results: dict[str, dict[str, Any]], plan: dict[str, Any]) -> None:
    names = list(results)
    n = plan["tasks"]

    def figure(key: str) -> list[str]:
        out = []
        for name in names:
            values = [t[key] for t in results[name]["tasks"] if t[key] is not None]
            out.append(spread(values) if values else "-")
        return out

    rows = [
        ("statements per task (the library's)", figure("statements")),
        ("  + statements of the workaround", figure("workaround_statements")),
        ("  statements that raised", figure("failed_statements")),
        ("Delta commits per task: step table", figure("step_commits")),
        ("Delta commits per task: ETLconfigParameters", figure("parameter_commits")),
        (
            "task() enter+exit: median ms",
            [f"{statistics.median([t['ms'] for t in results[k]['tasks']]):.0f}" for k in names],
        ),
        (
            "task() enter+exit: p90 ms",
            [f"{p90([t['ms'] for t in results[k]['tasks']]):.0f}" for k in names],
        ),
        (
            "how task() ended",
            [counted(Counter(t["outcome"] for t in results[k]["tasks"])) for k in names],
        ),
        (f"final status of the {n} steps", [counted(results[k]["statuses"]) for k in names]),
        (
            "DELTA_DATE watermarks advanced",
            [f"{results[k]['advanced']}/{n}" for k in names],
        ),
    ]
    table(f"1. One task's bookkeeping: {n} load tasks, empty body, median (range)", names, rows)
    print(
        "Step table: the peer's ETLProcessingSteps (updated in place), our ETLProcessingEvents\n"
        "(append-only). 'statements': the peer's spark.sql calls / our executor's count.\n"
        "The peer as published: end_task(DONE) marks the step DONE, then its watermark UPDATE\n"
        "fails (DELTA_UNSUPPORTED_SUBQUERY); task() calls fail_task with that error's text, whose\n"
        "quotes break fail_task's own UPDATE (PARSE_SYNTAX_ERROR), so the step stays DONE, the\n"
        "watermark does not move, the initiation is not reset and task() raises. With\n"
        "complete_task the watermark UPDATE still fails (counted as raised and as a peer error)\n"
        "and the workaround's two reads and advance_watermark UPDATE are shown apart.\n"
        "Errors per task:"
    )
    errors_block(
        {
            name: dict(
                Counter(t["error"] for t in results[name]["tasks"] if t["error"])
                + Counter(t["worked_around"] for t in results[name]["tasks"] if t["worked_around"])
            )
            for name in names
        }
    )
    failed_by(results)


def failed_by(results: dict[str, dict[str, Any]]) -> None:
    """The peer's statements that raised, by the peer method that issued them."""
    named = {k: r["failed_by"] for k, r in results.items() if r.get("failed_by")}
    if named:
        print("Statements that raised, by peer method, statement and table:")
        errors_block(named)


def print_concurrency(results: dict[str, dict[str, Any]], plan: dict[str, Any]) -> None:
    names = list(results)
    n, threads = plan["parallel_tasks"], plan["threads"]
    rows = [
        ("wall seconds", [f"{results[k]['seconds']:.1f}" for k in names]),
        ("tasks/s", [f"{n / results[k]['seconds']:.2f}" for k in names]),
        (
            "final status: DONE",
            [f"{results[k]['statuses'].get('DONE', 0)}/{n}" for k in names],
        ),
        (
            "final status: FAIL",
            [f"{results[k]['statuses'].get('FAIL', 0)}/{n}" for k in names],
        ),
        (
            "final status: other",
            [
                counted(
                    {s: c for s, c in results[k]["statuses"].items() if s not in ("DONE", "FAIL")}
                )
                for k in names
            ],
        ),
        ("task() raised", [str(results[k]["outcomes"].get("raised", 0)) for k in names]),
        ("how task() ended", [counted(results[k]["outcomes"]) for k in names]),
        ("statements", [str(results[k]["statements"]) for k in names]),
        (
            "statements that raised",
            [
                "-"
                if results[k]["failed_statements"] is None
                else str(results[k]["failed_statements"])
                for k in names
            ],
        ),
        (
            "commit conflicts retried",
            [str(results[k].get("retries", "-")) for k in names],
        ),
    ]
    table(f"2. Concurrency: {n} load tasks of one stage in {threads} threads", names, rows)
    print(
        "One execution per column, its initiation task run first. The peer updates its step\n"
        "rows in place (MERGE/UPDATE on one table): concurrent commits conflict and are not\n"
        "retried: a step whose start_task MERGE lost a conflict never leaves NQUE. Ours\n"
        "appends events and retries transient commit conflicts. Every exception:"
    )
    errors_block(
        {
            name: dict(Counter(results[name]["errors"]) + Counter(results[name]["worked_around"]))
            for name in names
        }
    )
    failed_by(results)


def print_migration(result: dict[str, Any]) -> None:
    rows = [
        ("peer schema: build_peer_schema seconds", f"{result['build_seconds']:.1f}"),
        (
            "peer schema: insert_peer_history rows / seconds",
            f"{result['history_rows']:,} / {result['history_seconds']:.1f}",
        ),
        ("peer ETLProcessingSteps rows before setup()", f"{result['step_rows']:,}"),
        ("peer ETLsysLogs rows before setup()", f"{result['syslog_rows']:,}"),
    ]
    first = result.get("first")
    if first:
        rows += [
            ("setup() #1: wall seconds", f"{first['wall']:.1f}"),
            ("setup() #1: report.seconds", f"{first['seconds']:.1f}"),
            ("setup() #1: report.statements", str(first["statements"])),
            ("setup() #1: executor statements", str(first["executor_statements"])),
        ]
        migration = first.get("migration")
        if migration:
            rows += [
                ("  migration.seconds", f"{migration['seconds']:.1f}"),
                ("  migration.statements", str(migration["statements"])),
                ("  migration.step_events", f"{migration['step_events']:,}"),
                ("  migration.receipts", f"{migration['receipts']:,}"),
                ("  migration.completed", str(migration["completed"])),
                ("  migration.renamed", migration["renamed"]),
            ]
        else:
            rows.append(("  migration", "None (the schema was not seen as the peer's)"))
        rows += [
            ("events in ETLProcessingEvents", counted(first["events"])),
            ("ETLProcessingEvents Delta commits", str(first["event_commits"])),
            ("rows of our ETLProcessingSteps view", f"{first['view_rows']:,}"),
            ("receipts in our ETLsysLogs", f"{first['receipts']:,}"),
        ]
    second = result.get("second")
    if second:
        rows += [
            ("setup() #2: wall seconds", f"{second['wall']:.1f}"),
            ("setup() #2: report.statements", str(second["statements"])),
            (
                "setup() #2: migration",
                "None" if second["migration"] is None else str(second["migration"]),
            ),
            ("setup() #2: events added", str(second["events_added"])),
        ]
    failed = result.get("failed_after")
    if failed:
        rows += [
            ("setup() #1: raised after seconds", f"{failed['seconds']:.1f}"),
            ("setup() #1: statements before it raised", str(failed["statements"])),
            ("tables and views after the failure", failed["objects"]),
        ]
    width = max(len(label) for label, _ in rows)
    print(
        f"\n== 3. Migration: our setup() on a peer schema of {result['step_rows']:,} step rows =="
    )
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(
        "setup() #1 renames the peer's ETLProcessingSteps / ETLsysLogs to *_peer_v1 and copies\n"
        "their rows into our event log and receipts; setup() #2 should change nothing."
    )
    for which in ("first_error", "second_error"):
        if result.get(which):
            failure(
                f"3. Migration, setup() #{1 if which == 'first_error' else 2} raised", result[which]
            )


# -- the run ---------------------------------------------------------------------------------


def migration(spark: Any, catalog: str, rows: int) -> dict[str, Any]:
    from etl_monitor import ETLMonitorFramework
    from tests.peer_package import build_peer_schema, insert_peer_history

    schema = "peer_migrate"

    def fqn(name: str) -> str:
        return f"`{catalog}`.`{schema}`.`{name}`"

    built = build_peer_schema(spark, catalog, schema)
    existing = spark.table(fqn("ETLProcessingSteps")).count()
    history = (
        insert_peer_history(spark, catalog, schema, step_rows=rows - existing)
        if rows > existing
        else {"rows": 0, "seconds": 0.0}
    )
    result: dict[str, Any] = {
        "build_seconds": built["seconds"],
        "history_rows": history["rows"],
        "history_seconds": history["seconds"],
        "step_rows": spark.table(fqn("ETLProcessingSteps")).count(),
        "syslog_rows": spark.table(fqn("ETLsysLogs")).count(),
    }
    monitor = ETLMonitorFramework(spark, catalog, schema)

    def events() -> dict[str, int]:
        return {
            r["EventType"]: r["n"]
            for r in spark.sql(
                f"SELECT EventType, COUNT(*) AS n FROM {fqn('ETLProcessingEvents')} GROUP BY EventType"
            ).collect()
        }

    before = monitor.executor.stats["statements"]
    started = time.perf_counter()
    try:
        report = monitor.setup()
    except Exception:
        result["first_error"] = traceback.format_exc()
        result["failed_after"] = {
            "seconds": time.perf_counter() - started,
            "statements": monitor.executor.stats["statements"] - before,
            "objects": ", ".join(
                sorted(
                    r["tableName"]
                    for r in spark.sql(f"SHOW TABLES IN `{catalog}`.`{schema}`").collect()
                )
            ),
        }
        return result
    wall = time.perf_counter() - started
    m = report.migration
    first = {
        "wall": wall,
        "seconds": report.seconds,
        "statements": report.statements,
        "executor_statements": monitor.executor.stats["statements"] - before,
        "migration": None
        if m is None
        else {
            "seconds": m.seconds,
            "statements": m.statements,
            "step_events": m.step_events,
            "receipts": m.receipts,
            "completed": m.completed,
            "renamed": ", ".join(f"{a} -> {b}" for a, b in m.renamed.items()) or "-",
        },
        "events": events(),
        "event_commits": commits(log_dir(spark, fqn("ETLProcessingEvents"))),
        "view_rows": spark.table(fqn("ETLProcessingSteps")).count(),
        "receipts": spark.table(fqn("ETLsysLogs")).count(),
    }
    result["first"] = first
    total = sum(first["events"].values())
    started = time.perf_counter()
    try:
        again = monitor.setup()
    except Exception:
        result["second_error"] = traceback.format_exc()
        return result
    result["second"] = {
        "wall": time.perf_counter() - started,
        "statements": again.statements,
        "migration": again.migration,
        "events_added": sum(events().values()) - total,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10, help="load tasks measured one by one")
    parser.add_argument("--parallel-tasks", type=int, default=16, help="load tasks run at once")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rows", type=int, default=10_000, help="peer step rows to migrate")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--keep", action="store_true", help="keep the warehouse folder")
    o = parser.parse_args()
    sections = [s for s in o.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")

    from etl_monitor import local
    from tests.peer_package import connect_url, peer_python, run_peer

    # The Spark Connect client logs every failed query at ERROR. On this engine our
    # executor's first query with named parameters fails by design (the server drops them)
    # and is run again with the values as a one-row view: that one line is noise here.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)

    began = time.perf_counter()
    root = tempfile.mkdtemp(prefix="etlm-bench-peer-")
    plan = {
        "project": P,
        "process": L,
        "parallel": L2,
        "tasks": o.tasks,
        "parallel_tasks": o.parallel_tasks,
        "threads": o.threads,
        "watermark": WATERMARK,
    }
    print(
        f"peer (databricks-etl-monitor 1.0.0, child process) vs ours, Delta engine "
        f"(delta-connect), {os.cpu_count()} cores; sections: {', '.join(sections)}"
    )
    try:
        peer_python()  # the peer venv, made on first use
        started = time.perf_counter()
        spark = local.spark_session(root, engine="delta-connect")
        catalog = local.DEFAULT_CATALOG["delta-connect"]
        url = connect_url(spark)
        print(f"engine started in {time.perf_counter() - started:.0f}s")

        monitor = None
        if {"task", "concurrency"} & set(sections):
            try:
                peer_setup = run_peer(url, catalog, "peer_task", peer_snippet(plan, _PEER_SETUP))
                monitor, our_setup_figures = our_setup(spark, catalog, "ours_task", plan)
                print_setup(peer_setup, our_setup_figures, plan)
            except Exception:
                failure("0. Fresh schemas", traceback.format_exc())
                monitor = None

        for section, title, snippet, ours, show in (
            ("task", "1. One task's bookkeeping", _PEER_PER_TASK, our_per_task, print_per_task),
            (
                "concurrency",
                "2. Concurrency",
                _PEER_CONCURRENCY,
                our_concurrency,
                print_concurrency,
            ),
        ):
            if section not in sections or monitor is None:
                continue
            try:
                runs = [
                    ("published", monitor.generate_execution_id(), DAY_PUBLISHED),
                    ("complete_task", monitor.generate_execution_id(), DAY_COMPLETE),
                ]
                peer = run_peer(
                    url,
                    catalog,
                    "peer_task",
                    peer_snippet({**plan, "runs": runs}, snippet),
                    timeout=1800,
                )
                results = {
                    "peer as published": peer["published"],
                    "peer + complete_task": peer["complete_task"],
                    "ours": ours(monitor, plan),
                }
                show(results, plan)
            except Exception:
                failure(title, traceback.format_exc())

        if "migration" in sections:
            try:
                print_migration(migration(spark, catalog, o.rows))
            except Exception:
                failure("3. Migration", traceback.format_exc())
    finally:
        local.stop(root)
        if o.keep:
            print(f"warehouse kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\ntotal {time.perf_counter() - began:.0f}s")


if __name__ == "__main__":
    main()
