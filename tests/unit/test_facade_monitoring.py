"""`ETLMonitorFramework.monitoring()` hands the same user and retry policy to the submodule."""

from __future__ import annotations

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.capabilities import DELTA_SPARK
from etl_monitor.engine.executor import RetryPolicy


class _Session:
    """Enough of a session for constructors that issue no SQL."""


def test_monitoring_names_the_same_user_and_retries_the_same_way():
    retry = RetryPolicy(max_attempts=7)
    monitor = ETLMonitorFramework(
        _Session(), "main", "etl", engine=DELTA_SPARK, user="etl-bot@corp.example", retry=retry
    )
    monitoring = monitor.monitoring(workspace_client=object())
    assert monitoring.context.user == "etl-bot@corp.example"
    assert monitoring.executor.retry == retry
    assert (monitoring.catalog, monitoring.schema, monitoring.engine) == (
        "main",
        "etl",
        DELTA_SPARK,
    )


def test_monitoring_options_still_override():
    monitor = ETLMonitorFramework(
        _Session(), "main", "etl", engine=DELTA_SPARK, user="a@corp.example"
    )
    monitoring = monitor.monitoring(user="b@corp.example", retry=RetryPolicy(max_attempts=2))
    assert monitoring.context.user == "b@corp.example"
    assert monitoring.executor.retry.max_attempts == 2
