"""The executor: identifier rules, conflict recognition, bounded retries, real concurrent upserts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from etl_monitor import ConcurrentWriteError, ETLMonitorFramework, InvalidIdentifierError
from etl_monitor.engine.executor import (
    RetryPolicy,
    SqlExecutor,
    add_statement_listener,
    check_identifier,
    is_transient_conflict,
    qualified,
)
from tests.helpers import Child, start_together


@pytest.mark.parametrize(
    "message",
    [
        "io.delta.exceptions.ConcurrentAppendException: Files were added to the root of the table",
        "[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added",
        "ConcurrentDeleteReadException: This transaction attempted to read one or more files",
        "ConcurrentTransactionException: concurrent update by the same application",
        "MetadataChangedException: The metadata of the Delta table has been changed",
        "[DELTA_CONCURRENT_WRITE] ConcurrentWriteException",
        "external error: Failed to commit transaction: 3",
    ],
)
def test_conflicts_recognised(message):
    assert is_transient_conflict(RuntimeError(message))


@pytest.mark.parametrize(
    "message", ["[TABLE_OR_VIEW_NOT_FOUND] x", "PARSE_SYNTAX_ERROR", "division by zero"]
)
def test_other_errors_not_retried(message):
    assert not is_transient_conflict(RuntimeError(message))


@pytest.mark.parametrize("bad", ["a.b", "a`b", "a b", "", "1abc", "x;y", "é", None, 3])
def test_identifiers_validated(bad):
    with pytest.raises(InvalidIdentifierError):
        check_identifier(bad, "table")


def test_qualified_quotes_each_part():
    assert qualified("main", "etl", "T1") == "`main`.`etl`.`T1`"
    assert check_identifier("my-catalog", "catalog", allow_dash=True) == "my-catalog"


@pytest.fixture
def uncaptured(capture_statements):
    """Statements of fake sessions are not SQL the library ships: keep them out of the dialect check."""
    size = len(capture_statements)
    yield
    del capture_statements[size:]


class _FlakySpark:
    """Fails the first `failures` calls with `error`, then succeeds."""

    def __init__(self, failures: int, error: Exception):
        self.failures, self.error, self.calls = failures, error, 0

    def sql(self, text, args=None):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self

    def collect(self):
        return ["ok"]


def test_retry_until_success_and_counted(uncaptured):
    spark = _FlakySpark(3, RuntimeError("Failed to commit transaction: conflict"))
    executor = SqlExecutor(spark, RetryPolicy(max_attempts=5, base_delay=0.001))
    assert executor.execute("UPDATE t SET a = 1") == ["ok"]
    assert spark.calls == 4 and executor.stats["retries"] == 3


def test_retry_is_bounded(uncaptured):
    spark = _FlakySpark(100, RuntimeError("ConcurrentAppendException: files added"))
    executor = SqlExecutor(spark, RetryPolicy(max_attempts=3, base_delay=0.001))
    with pytest.raises(ConcurrentWriteError, match="gave up after 3 attempts"):
        executor.execute("UPDATE t SET a = 1")
    assert spark.calls == 3


def test_non_conflict_raises_at_once(uncaptured):
    spark = _FlakySpark(1, RuntimeError("[PARSE_SYNTAX_ERROR] bad"))
    executor = SqlExecutor(spark, RetryPolicy(max_attempts=5, base_delay=0.001))
    with pytest.raises(RuntimeError, match="PARSE_SYNTAX_ERROR"):
        executor.execute("SELEC 1")
    assert spark.calls == 1


def test_backoff_delays_are_bounded_and_jittered():
    policy = RetryPolicy(base_delay=0.1, max_delay=0.5)
    delays = [policy.delay(n) for n in range(1, 10) for _ in range(20)]
    assert all(0 <= d <= 0.5 for d in delays)
    assert len({round(d, 6) for d in delays}) > 50


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


def test_parameters_bound_as_subqueries_outside_quotes_only():
    """The fallback for engines that drop named parameters (delta-io/delta#7640)."""
    from etl_monitor.engine.executor import bind_parameters_as_subqueries

    text = (
        "SELECT date_format(t, 'HH:mm:ss'), \"a:b\", `c:d` FROM x "
        "WHERE a = :a AND b IN (:b, :a) AND c::int > 0 AND d = 'it\\'s :a'"
    )
    assert bind_parameters_as_subqueries(text, ["a", "b"], "`v`") == (
        "SELECT date_format(t, 'HH:mm:ss'), \"a:b\", `c:d` FROM x "
        "WHERE a = (SELECT `a` FROM `v`) AND b IN ((SELECT `b` FROM `v`), (SELECT `a` FROM `v`)) "
        "AND c::int > 0 AND d = 'it\\'s :a'"
    )
    with pytest.raises(InvalidIdentifierError, match="'e' has no value"):
        bind_parameters_as_subqueries("SELECT :e", ["a"], "`v`")


def test_query_falls_back_when_the_engine_drops_parameters(spark):
    """An engine that loses named parameters gets the values as a one-row view instead."""
    from etl_monitor.engine.executor import SqlExecutor

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
