"""Session-wide fixtures: one embedded engine per test session, a fresh schema per test.

Every statement any executor issues during the session is captured, so the dialect
check (run last) can parse them all with the real Spark parser.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from etl_monitor import ETLMonitorFramework
from etl_monitor.sql import Statement, add_statement_listener

CAPTURED: list[Statement] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the dialect check after everything else, so it sees every statement."""
    items.sort(key=lambda item: item.get_closest_marker("dialect") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dialect: checks captured SQL; runs last")


@pytest.fixture(scope="session", autouse=True)
def capture_statements() -> Iterator[list[Statement]]:
    remove = add_statement_listener(CAPTURED.append)
    yield CAPTURED
    remove()


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("warehouse"))


@pytest.fixture(scope="session")
def spark(warehouse: str):
    from etl_monitor import local

    session = local.spark_session(warehouse)
    yield session
    local.stop(warehouse)


@pytest.fixture
def schema_name() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def fresh(spark, schema_name: str) -> ETLMonitorFramework:
    """A framework on a schema that does not exist yet."""
    return ETLMonitorFramework(spark, "main", schema_name)


@pytest.fixture
def monitor(fresh: ETLMonitorFramework) -> ETLMonitorFramework:
    """A framework whose schema is set up."""
    fresh.setup()
    return fresh
