"""Which write claims a step's event, per engine capability: no engine needed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from etl_monitor.core.context import Context
from etl_monitor.engine.capabilities import DELTA_SPARK, sail
from etl_monitor.tracking.events import claim_events, step_event


class RecordingExecutor:
    """Records the writes; the read-back finds every row, as written by this writer."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.landed: list[dict[str, Any]] = []

    def merge_new_rows(self, table, rows, schema, *, key, within) -> None:
        self.calls.append(("merge", ([r[0] for r in rows], within)))

    def append_once(self, table, rows, schema, token) -> None:
        self.calls.append(("append_once", ([r[0] for r in rows], token)))

    def select_in(self, table, columns, filters) -> list[dict[str, Any]]:
        self.calls.append(("read", filters))
        return self.landed


def _rows(*seqs: int) -> list[tuple]:
    """One claim row per Seq, each of its own step (task id = Seq)."""
    return [
        step_event(
            {
                "ExecutionID": "e",
                "ProjectCode": "P",
                "ProcessLoad": "L",
                "ProcessingDate": date(2026, 4, 9),
                "TaskID": seq,
                "WorkFlowID": 1,
                "Seq": seq - 1,
            },
            "RUNNING",
            user="u",
            reason="r",
            claim=True,
        )
        for seq in seqs
    ]


def _context(engine) -> tuple[Context, RecordingExecutor]:
    executor = RecordingExecutor()
    return Context(None, "main", "etl", engine, executor), executor  # type: ignore[arg-type]


def _landed_all(executor: RecordingExecutor, rows: list[tuple]) -> None:
    from etl_monitor.engine.timestamps import epoch_micros
    from etl_monitor.tracking.tables import EVENTS

    index = {c: EVENTS.column_names.index(c) for c in ("EventID", "EventTime", "CreatedBy")}
    executor.landed = [
        {
            "EventID": r[index["EventID"]],
            "Micros": epoch_micros(r[index["EventTime"]]),
            "CreatedBy": r[index["CreatedBy"]],
            "Reason": "r",
        }
        for r in rows
    ]


def test_changes_are_idempotent_appends_and_first_events_one_merge_on_delta():
    ctx, executor = _context(DELTA_SPARK)
    rows = _rows(1, 1, 2, 3)
    _landed_all(executor, rows)
    assert claim_events(ctx, rows) == 4
    kinds = [kind for kind, _ in executor.calls]
    assert kinds == ["append_once", "append_once", "merge", "read"]
    # each change is its own write, keyed by its own (stable) id
    for (_, (ids, token)), row in zip(executor.calls[:2], rows[2:], strict=True):
        assert ids == [row[0]] and token == row[0]
    assert executor.calls[2][1][0] == [rows[0][0], rows[1][0]]
    assert executor.calls[2][1][1] == {"ProcessingDate": [date(2026, 4, 9)]}


@pytest.mark.parametrize("engine", [sail("/tmp/w"), replace(DELTA_SPARK, idempotent_append=False)])
def test_without_idempotent_writes_every_claim_is_one_merge(engine):
    ctx, executor = _context(engine)
    rows = _rows(1, 2, 3)
    _landed_all(executor, rows[:2])  # the third was written by another writer
    assert claim_events(ctx, rows) == 2
    assert [kind for kind, _ in executor.calls] == ["merge", "read"]
    assert executor.calls[0][1][0] == [r[0] for r in rows]


def test_sail_ignores_transaction_ids_so_it_never_claims_by_append():
    assert sail("/tmp/w").idempotent_append is False
    assert "MERGE" in sail("/tmp/w").path("idempotent_append")
    assert DELTA_SPARK.path("idempotent_append").startswith("Delta's idempotent writes")
