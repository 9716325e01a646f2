"""An in-memory stand-in for a SparkSession, behind the executor, that answers nothing.

Arguments are checked before anything reaches the engine. A call that must be refused on
its arguments alone runs against a framework on this stand-in: any statement, table read or
DataFrame the library asks for is recorded and fails the test, so a refusal proves that
nothing was issued, let alone written, without starting an engine.
"""

from __future__ import annotations

from typing import Any

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.capabilities import sail


class EngineContacted(AssertionError):
    """The library asked the engine for something where it should have refused first."""


class _Conf:
    def get(self, key: str, default: Any = None) -> Any:
        return default


class _Catalog:
    def currentCatalog(self) -> str:
        return "main"


class StandInSession:
    """Records what the library asks of the engine and refuses all of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.conf = _Conf()
        self.catalog = _Catalog()

    def _refuse(self, what: str) -> EngineContacted:
        self.calls.append(what)
        return EngineContacted(f"the engine was contacted: {what[:300]}")

    def sql(self, text: str, args: Any = None) -> Any:
        raise self._refuse(text)

    def table(self, name: str) -> Any:
        raise self._refuse(f"table {name}")

    def createDataFrame(self, *args: Any, **kwargs: Any) -> Any:
        raise self._refuse("createDataFrame")


def stand_in_framework() -> tuple[ETLMonitorFramework, StandInSession]:
    """A framework on the stand-in (the embedded engine's capabilities), and the stand-in."""
    session = StandInSession()
    monitor = ETLMonitorFramework(
        session, "main", "etl", engine=sail("/nonexistent-warehouse"), user="tester"
    )
    return monitor, session
