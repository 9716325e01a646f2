"""What every module needs to reach the tables: names, the executor, the engine and the user."""

from __future__ import annotations

import getpass
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from etl_monitor.engine import view_files
from etl_monitor.engine.capabilities import Engine
from etl_monitor.engine.executor import SqlExecutor, qualified


class Named(Protocol):
    """Anything with a table or view name (the schema's Table and View)."""

    name: str


@dataclass
class Context:
    """The catalog and schema the framework lives in, and how to talk to them."""

    spark: Any
    catalog: str
    schema: str
    engine: Engine
    executor: SqlExecutor
    user_override: str | None = None
    stale_after_minutes: int = 720
    _user: str | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def name(self, table: Named | str) -> str:
        """Back-quoted three-part name of a table or view in this schema."""
        return qualified(self.catalog, self.schema, table if isinstance(table, str) else table.name)

    def create_view(self, name: str, statement: str) -> None:
        """Run a CREATE OR REPLACE VIEW; on a local engine also keep it for the next process."""
        self.executor.execute(statement, kind="ddl")
        if self.engine.warehouse_root:
            view_files.record(
                self.engine.warehouse_root, self.catalog, self.schema, name, statement
            )

    @property
    def view_settings(self) -> dict[str, int]:
        """Framework-owned integers rendered into the view text."""
        return {"stale_after_seconds": int(self.stale_after_minutes) * 60}

    @property
    def user(self) -> str:
        """Who is writing: explicit override, the engine's current_user(), or the OS user."""
        with self._lock:
            if self._user is None:
                self._user = self.user_override or self._resolve_user()
            return self._user

    def _resolve_user(self) -> str:
        if self.engine.current_user_function:
            rows = self.executor.query("SELECT current_user() AS user_name")
            if rows and rows[0][0]:
                return str(rows[0][0])
        for var in ("ETL_MONITOR_USER", "DATABRICKS_USER", "USER", "USERNAME"):
            if os.environ.get(var):
                return os.environ[var]
        try:
            return getpass.getuser()
        except Exception:
            return "unknown"
