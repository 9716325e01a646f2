"""The executor: identifier rules, conflict recognition, bounded retries, real concurrent upserts.

What needs no engine: no session starts here; tests/engines/test_sql.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest

from etl_monitor import ConcurrentWriteError, InvalidIdentifierError
from etl_monitor.engine.executor import (
    RetryPolicy,
    SqlExecutor,
    check_identifier,
    is_transient_conflict,
    qualified,
)


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


def test_view_replacement_retries_a_concurrent_setup_only(uncaptured):
    """A view seen gone or back while another setup replaces it is retried; a bad view
    raises at once, and an ordinary write does not retry what only views may meet."""
    view = "CREATE OR REPLACE VIEW v AS SELECT 1"
    raced = _FlakySpark(2, RuntimeError("[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create v"))
    executor = SqlExecutor(raced, RetryPolicy(max_attempts=5, base_delay=0.001))
    executor.replace_view(view)
    assert raced.calls == 3 and executor.stats["retries"] == 2
    broken = _FlakySpark(1, RuntimeError("[UNRESOLVED_COLUMN] `x` cannot be resolved"))
    with pytest.raises(RuntimeError, match="UNRESOLVED_COLUMN"):
        SqlExecutor(broken, RetryPolicy(base_delay=0.001)).replace_view(view)
    assert broken.calls == 1
    missing = _FlakySpark(1, RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] t"))
    with pytest.raises(RuntimeError, match="TABLE_OR_VIEW_NOT_FOUND"):
        SqlExecutor(missing, RetryPolicy(base_delay=0.001)).execute("DELETE FROM t")
    assert missing.calls == 1
    endless = _FlakySpark(99, RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] t"))
    with pytest.raises(ConcurrentWriteError, match="gave up after 3 attempts"):
        SqlExecutor(endless, RetryPolicy(max_attempts=3, base_delay=0.001)).replace_view(view)


def test_backoff_delays_are_bounded_and_jittered():
    policy = RetryPolicy(base_delay=0.1, max_delay=0.5)
    delays = [policy.delay(n) for n in range(1, 10) for _ in range(20)]
    assert all(0 <= d <= 0.5 for d in delays)
    assert len({round(d, 6) for d in delays}) > 50


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
