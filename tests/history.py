"""Realistic history, written through the same appends the library makes.

One daily run of a process is what ``get_pending_tasks`` + ``task()`` per task write: one
commit queueing every step, then per task one commit for RUNNING and one for DONE with
its watermark advance. Rows are built by the library's own event builders, so the
history has the shape (and the commit count) of years of real runs, in a fraction of
the time. Used by the history tests and by ``benchmarks/bench_history.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, datetime, time, timedelta, timezone

from etl_monitor import ETLMonitorFramework
from etl_monitor.tracking import maintenance
from etl_monitor.tracking.events import append_events, step_event, watermark_event
from etl_monitor.tracking.tables import EVENTS


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
    writer: str = "engine",
) -> int:
    """Write `days` daily runs of `tasks` tasks, all DONE; returns the commits written.

    With ``runs_per_commit=0`` (default) the commits are exactly a real run's (1 + 2 per
    task); N > 0 writes the events of N runs per commit (a quicker build of very long
    histories: the same rows, fewer and larger files). ``writer="fast"`` writes the same
    commits straight to the table's folder (a local warehouse only, see `_LogWriter`):
    the rows, commits and files of real runs, many times faster.
    """
    ctx, user = monitor.context, "history"
    fast = _fast_writer(monitor) if writer == "fast" else None
    append = fast.append if fast is not None else append_events
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
                append(ctx, rows)
                commits += 1
        else:
            pending.extend(r for rows in run_commits for r in rows)
            if (d + 1) % runs_per_commit == 0 or d == days - 1:
                append(ctx, pending)
                commits, pending = commits + 1, []
    if fast is not None:
        fast.settle(monitor)
    return commits


class _LogWriter:
    """Commits event rows straight to a local Delta table: parquet files and one log entry each.

    What an engine's append writes: one file per partition value touched, with the
    statistics (record count, minimum, maximum and null count of the scalar columns) that
    data skipping reads, and a checkpoint at the end, by the ``deltalake`` package.
    Compacted as real runs leave it: where the engine does not compact after writes
    (Sail), the library's writers compact once per `maintenance.COMPACT_EVERY` commits,
    and so does this writer; where Delta does (auto compaction), the build ends with
    one compaction of the log by the engine (`settle`), the state auto compaction keeps.
    Many times faster than appends through an engine: years of history in minutes.
    """

    def __init__(self, location: str, compact_every: int = 0):
        import pyarrow as pa
        from deltalake import DeltaTable

        self.location, self.compact_every = location, compact_every
        table = DeltaTable(location)
        self.version = table.version()
        self.partitions = list(table.metadata().partition_columns)
        kinds = {
            "STRING": pa.string(),
            "INT": pa.int32(),
            "BIGINT": pa.int64(),
            "BOOLEAN": pa.bool_(),
            "DATE": pa.date32(),
            "TIMESTAMP": pa.timestamp("us", tz="UTC"),
        }
        self.schema = pa.schema([pa.field(c.name, kinds[c.type]) for c in EVENTS.columns])

    def _stats(self, rows: list[tuple], names: list[str]) -> str:
        low, high, nulls = {}, {}, {}
        for index, name in enumerate(names):
            values = [row[index] for row in rows if row[index] is not None]
            nulls[name] = len(rows) - len(values)
            kind = EVENTS.columns[EVENTS.column_names.index(name)].type
            if values and kind in ("INT", "BIGINT", "DATE", "STRING"):
                if kind == "STRING" and max(len(v) for v in values) > 32:
                    continue  # engines truncate long strings; leave them out
                low[name], high[name] = min(values), max(values)
                if kind == "DATE":
                    low[name], high[name] = low[name].isoformat(), high[name].isoformat()
        return json.dumps(
            {"numRecords": len(rows), "minValues": low, "maxValues": high, "nullCount": nulls}
        )

    def append(self, _ctx: object, rows: list[tuple]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        groups: dict[tuple, list[tuple]] = {}
        positions = [EVENTS.column_names.index(c) for c in self.partitions]
        for row in rows:
            groups.setdefault(tuple(row[i] for i in positions), []).append(row)
        data = [f for f in self.schema if f.name not in self.partitions]
        keep = [EVENTS.column_names.index(f.name) for f in data]
        actions = []
        now = int(datetime.now(timezone.utc).timestamp() * 1000)
        for values, members in groups.items():
            folder = "/".join(
                f"{c}={v.isoformat() if v is not None else '__HIVE_DEFAULT_PARTITION__'}"
                for c, v in zip(self.partitions, values, strict=True)
            )
            path = f"{folder}/part-00000-{uuid.uuid4()}.c000.snappy.parquet".lstrip("/")
            full = os.path.join(self.location, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            trimmed = [tuple(row[i] for i in keep) for row in members]
            columns = list(zip(*trimmed, strict=True))
            arrays = [pa.array(list(v), type=f.type) for v, f in zip(columns, data, strict=True)]
            pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(data)), full)
            partition_values = {
                c: (v.isoformat() if v is not None else None)
                for c, v in zip(self.partitions, values, strict=True)
            }
            actions.append(
                {
                    "add": {
                        "path": path,
                        "partitionValues": partition_values,
                        "size": os.path.getsize(full),
                        "modificationTime": now,
                        "dataChange": True,
                        "stats": self._stats(trimmed, [f.name for f in data]),
                    }
                }
            )
        info = {"timestamp": now, "operation": "WRITE", "operationParameters": {"mode": "Append"}}
        info["isBlindAppend"] = True
        self.version += 1
        entry = os.path.join(self.location, "_delta_log", f"{self.version:020d}.json")
        with open(entry, "x") as log:
            log.write("\n".join(json.dumps(a) for a in [{"commitInfo": info}, *actions]) + "\n")
        if self.compact_every and self.version % self.compact_every == 0:
            from deltalake import DeltaTable

            table = DeltaTable(self.location)  # what compact_if_due does at this commit
            table.optimize.compact()
            table = DeltaTable(self.location)
            table.create_checkpoint()
            self.version = table.version()

    def settle(self, monitor: ETLMonitorFramework) -> None:
        """A checkpoint at the last commit, and Delta's compaction where it compacts after writes.

        Readers start from the latest checkpoint, so one at the end reads like the
        engine's own (earlier ones are never read again); one every few commits would
        cost build time that grows with the table.
        """
        from deltalake import DeltaTable

        if monitor.engine.auto_compaction:
            monitor.executor.execute(f"OPTIMIZE {monitor.table_name(EVENTS.name)}")
        DeltaTable(self.location).create_checkpoint()


def _fast_writer(monitor: ETLMonitorFramework) -> _LogWriter:
    """A writer of the event log of a local warehouse, committing without an engine."""
    ctx = monitor.context
    location = ctx.engine.table_location(ctx.catalog, ctx.schema, EVENTS.name)
    assert location, "the fast writer needs a local warehouse"
    return _LogWriter(location, 0 if ctx.engine.auto_compaction else maintenance.COMPACT_EVERY)
