"""The executor: identifier rules, conflict recognition, bounded retries, real concurrent upserts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.executor import (
    SqlExecutor,
    add_statement_listener,
)
from tests.helpers import Child, start_together


def test_listener_sees_statements_and_can_be_removed(monitor: ETLMonitorFramework):
    seen = []
    remove = add_statement_listener(seen.append)
    monitor.register_process("CORP", "P1")
    remove()
    monitor.register_process("CORP", "P2")
    assert any(s.text.startswith("MERGE INTO") for s in seen)
    assert all("P1" not in s.text for s in seen), "values must not appear in SQL text"
    assert not any("P2" in repr(s.args) for s in seen)


def test_parallel_upserts_into_one_table_all_land(monitor: ETLMonitorFramework, spark):
    """8 threads MERGE into one config table at once: conflicts are retried, no row is lost."""
    monitor.register_process("CORP", "HR_DAILY")

    def register(task_id: int) -> None:
        monitor.register_task(
            "CORP",
            "HR_DAILY",
            task_id=task_id,
            workflow_id=1,
            sequence_id=2,
            task_name=f"task {task_id}",
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(register, range(1, 17)))

    rows = spark.table(monitor.table_name("ETLconfigTasks")).collect()
    assert sorted(r.TaskID for r in rows) == list(range(1, 17))
    assert {r.TaskName for r in rows} == {f"task {i}" for i in range(1, 17)}


def test_upserts_from_two_processes_all_land(
    monitor: ETLMonitorFramework, spark, warehouse, child_engine
):
    """Another process MERGEs into the same table at the same moment: conflicts are retried."""
    monitor.register_process("CORP", "HR_DAILY")
    script = """
monitor = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"])
monitor.setup()
ready()
for task_id in range(101, 109):
    monitor.register_task("CORP", "HR_DAILY", task_id=task_id, workflow_id=1, sequence_id=2)
result(dict(monitor.executor.stats))
"""
    child = Child(script, warehouse, child_engine, catalog=monitor.catalog, schema=monitor.schema)
    start_together([child])
    for task_id in range(1, 9):
        monitor.register_task("CORP", "HR_DAILY", task_id=task_id, workflow_id=1, sequence_id=2)
    stats = child.result()
    rows = spark.table(monitor.table_name("ETLconfigTasks")).collect()
    assert sorted(r.TaskID for r in rows) == [*range(1, 9), *range(101, 109)]
    print("child stats", stats, "parent stats", dict(monitor.executor.stats))
    assert stats["write"] >= 8


def test_query_falls_back_when_the_engine_drops_parameters(spark):
    """An engine that loses named parameters gets the values as a one-row view instead."""

    class DroppingSession:
        def __init__(self, inner):
            self.inner = inner

        def sql(self, text, args=None):
            if args:
                raise RuntimeError("[UNBOUND_SQL_PARAMETER] Found the unbound parameter: a")
            return self.inner.sql(text)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    executor = SqlExecutor(DroppingSession(spark))
    value = "it's -- \\ a value"
    (row,) = executor.query("SELECT :a AS a, :n + 1 AS n", {"a": value, "n": 41})
    assert (row.a, row.n) == (value, 42) and executor.parameters_as_subqueries
