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
from etl_monitor.tracking.events import (
    append_events,
    claim_events,
    step_event,
    watermark_event,
)
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
    # The fast writer dates its commits so that the last run ran today.
    shift = datetime.now(timezone.utc) - datetime.combine(
        first_day + timedelta(days=days), time(0, 0), tzinfo=timezone.utc
    )
    fast = _fast_writer(monitor, shift) if writer == "fast" else None
    append = fast.append if fast is not None else append_events
    claim = fast.claim if fast is not None else claim_events
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
                # a start is a claim (an idempotent append on Delta), the rest appends
                (claim if rows[0][_STATUS] == "RUNNING" else append)(ctx, rows)
                commits += 1
        else:
            pending.extend(r for rows in run_commits for r in rows)
            if (d + 1) % runs_per_commit == 0 or d == days - 1:
                append(ctx, pending)
                commits, pending = commits + 1, []
    if fast is not None:
        fast.settle()
    return commits


_STATUS, _ID = EVENTS.column_names.index("StatusCode"), EVENTS.column_names.index("EventID")
_LIVE: dict[str, dict[tuple, list[tuple[str, list[tuple]]]]] = {}
#: Delta's ``checkpointInterval`` (default 10), which Sail keeps too.
CHECKPOINT_EVERY = 10
#: Delta's ``logRetentionDuration`` (default 30 days): a checkpoint deletes older log entries.
LOG_RETENTION = timedelta(days=30)


class _LogWriter:
    """Commits event rows straight to a local Delta table: parquet files and one log entry each.

    What an engine's append writes: one file per partition value touched, with the
    statistics (record count, minimum, maximum and null count of the scalar columns) that
    data skipping reads, each commit dated by its run (shifted so the last run ran
    today). The log ages as the engines leave it:

    - compacted as real runs leave it: where the engine does not compact after writes
      (Sail), the library's writers compact once per `maintenance.COMPACT_EVERY` commits,
      each partition's files rewritten as one; on Delta nothing compacts between runs of
      `maintain()` (the library does not turn auto compaction on), so neither does this;
    - a checkpoint every `CHECKPOINT_EVERY` commits (both engines' interval);
    - at the end (`settle`), the log entries an engine's checkpoints would have deleted by
      then: those older than the log retention, before the newest checkpoint that is.

    A log kept whole (22,500 commits, no checkpoint to clean up to) is an artefact: a
    local warehouse's log folder is listed whole at each snapshot update, and 40,000
    entries made every Delta statement about two seconds dearer; real runs never leave
    one. Many times faster than appends through an engine:
    years of history in minutes.
    """

    def __init__(
        self,
        location: str,
        compact_every: int = 0,
        shift: timedelta = timedelta(),
        idempotent: bool = False,
    ):
        import pyarrow as pa
        from deltalake import DeltaTable

        self.location, self.compact_every, self.shift = location, compact_every, shift
        self.idempotent = idempotent  # starts record transaction ids (Delta's idempotent writes)
        #: the live files written to this table by every writer of this process, per
        #: partition, with their rows: a compaction takes every file of a partition, as
        #: the library's does, whichever process's runs wrote them
        self.live = _LIVE.setdefault(location, {})
        table = DeltaTable(location)
        self.version = table.version()
        self.checkpointed = -1  # the version of the last checkpoint this writer wrote
        self.first = self.version  # the versions up to here were written by the engine
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
        self.data = [f for f in self.schema if f.name not in self.partitions]

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

    def claim(self, _ctx: object, rows: list[tuple]) -> None:
        """A start, as `events.claim_events` commits it: on engines with idempotent writes
        an append that records the row's id as a transaction id (which every later
        snapshot carries, as Delta keeps them), elsewhere an insert-only MERGE's add."""
        self.append(_ctx, rows, token=rows[0][_ID] if self.idempotent else None)

    def append(self, _ctx: object, rows: list[tuple], token: str | None = None) -> None:
        groups: dict[tuple, list[tuple]] = {}
        positions = [EVENTS.column_names.index(c) for c in self.partitions]
        for row in rows:
            groups.setdefault(tuple(row[i] for i in positions), []).append(row)
        keep = [EVENTS.column_names.index(f.name) for f in self.data]
        when = max(row[EVENTS.column_names.index("EventTime")] for row in rows) + self.shift
        if self.first is not None:
            self._date_earlier_entries(when)
        actions = []
        for values, members in groups.items():
            trimmed = [tuple(row[i] for i in keep) for row in members]
            actions.append({"add": self._write(values, trimmed, when, data_change=True)})
        if token is not None:
            actions.append({"txn": {"appId": token, "version": 1, "lastUpdated": _millis(when)}})
        info = {"operation": "WRITE", "operationParameters": {"mode": "Append"}}
        self._commit(actions, {**info, "isBlindAppend": True}, when)
        if self.compact_every and self.version % self.compact_every == 0:
            self._compact(when)
        if self.version % CHECKPOINT_EVERY == 0 and self.checkpointed != self.version:
            self._checkpoint(when)

    def _date_earlier_entries(self, when: datetime) -> None:
        """Date the log entries the engine wrote before the first run (setup()) no later
        than that run: real runs follow the setup, they do not precede it."""
        for version, path, at in self._log_entries():
            if version <= self.first and at > when.timestamp():
                os.utime(path, (when.timestamp(), when.timestamp()))
        self.first = None

    def _log_entries(self) -> list[tuple[int, str, float]]:
        """The versioned entries of the log (commits, checksums, checkpoints): their
        version, path and last write time."""
        folder = os.path.join(self.location, "_delta_log")
        entries = []
        for name in os.listdir(folder):
            head, path = name.split(".", 1)[0], os.path.join(folder, name)
            if head.isdigit():
                entries.append((int(head), path, os.path.getmtime(path)))
        return entries

    def _write(self, values: tuple, trimmed: list[tuple], when: datetime, *, data_change: bool):
        """One parquet file of `trimmed` rows in the partition `values`; its add action."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = "/".join(
            f"{c}={v.isoformat() if v is not None else '__HIVE_DEFAULT_PARTITION__'}"
            for c, v in zip(self.partitions, values, strict=True)
        )
        path = f"{folder}/part-00000-{uuid.uuid4()}.c000.snappy.parquet".lstrip("/")
        full = os.path.join(self.location, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        columns = list(zip(*trimmed, strict=True))
        arrays = [pa.array(list(v), type=f.type) for v, f in zip(columns, self.data, strict=True)]
        pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(self.data)), full)
        self.live.setdefault(values, []).append((path, trimmed))
        return {
            "path": path,
            "partitionValues": self._partition_values(values),
            "size": os.path.getsize(full),
            "modificationTime": _millis(when),
            "dataChange": data_change,
            "stats": self._stats(trimmed, [f.name for f in self.data]),
        }

    def _partition_values(self, values: tuple) -> dict[str, str | None]:
        return {
            c: (v.isoformat() if v is not None else None)
            for c, v in zip(self.partitions, values, strict=True)
        }

    def _commit(self, actions: list[dict], info: dict, when: datetime) -> None:
        """One log entry, dated `when` (its content and its file's time, which log clean-up reads)."""
        self.version += 1
        entry = os.path.join(self.location, "_delta_log", f"{self.version:020d}.json")
        commit = [{"commitInfo": {"timestamp": _millis(when), **info}}, *actions]
        with open(entry, "x") as log:
            log.write("\n".join(json.dumps(a) for a in commit) + "\n")
        os.utime(entry, (when.timestamp(), when.timestamp()))

    def _compact(self, when: datetime) -> None:
        """What `maintenance.compact_if_due` does here: each partition's files rewritten as one."""
        actions = []
        for values, files in list(self.live.items()):
            if len(files) < 2:
                continue
            self.live[values] = []
            for path, _rows in files:
                remove = {"path": path, "deletionTimestamp": _millis(when), "dataChange": False}
                size = os.path.getsize(os.path.join(self.location, path))
                actions.append(
                    {
                        "remove": {
                            **remove,
                            "extendedFileMetadata": True,
                            "partitionValues": self._partition_values(values),
                            "size": size,
                        }
                    }
                )
            merged = [row for _path, trimmed in files for row in trimmed]
            actions.append({"add": self._write(values, merged, when, data_change=False)})
        if not actions:
            return
        self._commit(actions, {"operation": "OPTIMIZE", "operationParameters": {}}, when)
        self._checkpoint(when)  # what `maintenance.compact_if_due` leaves

    def _checkpoint(self, when: datetime) -> None:
        """A checkpoint at the last commit, dated `when` (log clean-up reads its file's time)."""
        from deltalake import DeltaTable

        DeltaTable(self.location).create_checkpoint()
        self.checkpointed = self.version
        name = os.path.join(self.location, "_delta_log", f"{self.version:020d}.checkpoint.parquet")
        os.utime(name, (when.timestamp(), when.timestamp()))

    def settle(self, now: datetime | None = None) -> None:
        """Delete the log entries the engines' checkpoints would have deleted by `now`.

        The engines' rule (Delta's log clean-up; Sail's checkpoints do the same): entries
        (commits, checksums, checkpoints) last written before `now` minus the log
        retention, older than the newest checkpoint that is itself that old. Readers
        start from the latest checkpoint; what is left is what real runs leave.
        """
        now = now or datetime.now(timezone.utc)
        cutoff = (now - LOG_RETENTION).timestamp()
        entries = self._log_entries()
        expired = [
            v for v, path, at in entries if ".checkpoint." in os.path.basename(path) and at < cutoff
        ]
        if not expired:
            return
        keep_from = max(expired)
        for version, path, at in entries:
            if version < keep_from and at < cutoff:
                os.remove(path)


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _fast_writer(monitor: ETLMonitorFramework, shift: timedelta) -> _LogWriter:
    """A writer of the event log of a local warehouse, committing without an engine."""
    ctx = monitor.context
    location = ctx.engine.table_location(ctx.catalog, ctx.schema, EVENTS.name)
    assert location, "the fast writer needs a local warehouse"
    every = 0 if ctx.engine.auto_compaction else maintenance.COMPACT_EVERY
    return _LogWriter(location, every, shift, idempotent=ctx.engine.idempotent_append)
