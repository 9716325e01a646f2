"""Compaction as it goes: which tables ask Delta for it, and when the library does it itself."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from etl_monitor.core.objects import AUTO_COMPACT, TXN_RETENTION, TXN_RETENTION_VALUE
from etl_monitor.engine.capabilities import DATABRICKS, DELTA_SPARK, sail
from etl_monitor.tracking import maintenance
from etl_monitor.tracking.tables import ALL_TABLES, EVENTS


@pytest.mark.parametrize("engine", [DELTA_SPARK, DATABRICKS], ids=lambda e: e.name)
def test_no_table_asks_delta_to_compact_after_writes(engine):
    """Measured on Delta 4.4: on the clustered event log, auto compaction rewrote the whole
    log after every write once it was a few MB. Only the claims' id retention is asked."""
    for table in ALL_TABLES:
        ddl = table.create_sql("c", "s", engine)
        assert AUTO_COMPACT not in ddl, table.name
        claimed = {TXN_RETENTION: TXN_RETENTION_VALUE} if table is EVENTS else {}
        assert table.engine_properties(engine) == claimed
        assert (f"'{TXN_RETENTION}' = '{TXN_RETENTION_VALUE}'" in ddl) is bool(claimed)


def test_sail_gets_no_property_it_would_ignore():
    engine = sail("/tmp/w")
    assert engine.auto_compaction is False
    assert AUTO_COMPACT not in EVENTS.create_sql("c", "s", engine)
    assert TXN_RETENTION not in EVENTS.create_sql("c", "s", engine)  # no claims by txn ids
    assert EVENTS.engine_properties(engine) == {}
    assert "deltalake" in engine.path("auto_compaction")


def _log(tmp_path, content: str | None):
    folder = tmp_path / "_delta_log"
    folder.mkdir()
    if content is not None:
        (folder / "_last_checkpoint").write_text(content)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("content", "due"),
    [
        (json.dumps({"version": 100, "size": 40, "numOfAddFiles": 120}), True),
        (json.dumps({"version": 300}), True),
        (json.dumps({"version": 110}), False),  # the engine's next checkpoint: done or missed
        (json.dumps({"version": 103}), False),  # the compaction's own checkpoint
        (json.dumps({"version": 0}), False),
        (None, False),  # no checkpoint yet
        ("{not json", False),
        (json.dumps({"size": 3}), False),
    ],
)
def test_a_compaction_is_due_at_each_hundredth_commit_checkpoint(tmp_path, content, due):
    assert maintenance._compaction_due(_log(tmp_path, content)) is due


class _Ctx:
    """Only what compact_if_due reads before it decides."""

    catalog, schema = "c", "s"

    def __init__(self, engine):
        self.engine = engine


def test_engines_that_compact_themselves_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(maintenance, "_compact_files", pytest.fail)
    location = tmp_path / "c" / "s" / EVENTS.name
    location.mkdir(parents=True)
    _log(location, json.dumps({"version": 100}))  # due, were the engine Sail
    engine = replace(DELTA_SPARK, warehouse_root=str(tmp_path))
    assert maintenance.compact_if_due(_Ctx(engine), EVENTS) is False


def test_a_due_compaction_runs_once_and_a_failed_one_is_not_raised(tmp_path, monkeypatch):
    engine = sail(str(tmp_path))
    location = tmp_path / "c" / "s" / EVENTS.name
    location.mkdir(parents=True)
    _log(location, json.dumps({"version": 200}))
    calls = []
    monkeypatch.setattr(maintenance, "_compact_files", lambda ctx, t, vacuum: calls.append(t))
    assert maintenance.compact_if_due(_Ctx(engine), EVENTS) is True
    assert calls == [EVENTS]

    def broken(ctx, table, vacuum):
        raise RuntimeError("commit conflict, retries spent")

    monkeypatch.setattr(maintenance, "_compact_files", broken)
    assert maintenance.compact_if_due(_Ctx(engine), EVENTS) is False
