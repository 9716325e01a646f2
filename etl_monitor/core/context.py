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

    @property
    def name(self) -> str:
        """The object's name in the schema."""
        ...


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
    #: execution id -> its processing date, as this process saw it: narrows step reads.
    execution_dates: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _user: str | None = field(default=None, init=False, repr=False)
    _fields: dict[str, list[Any]] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def name(self, table: Named | str) -> str:
        """Back-quoted three-part name of a table or view in this schema."""
        return qualified(self.catalog, self.schema, table if isinstance(table, str) else table.name)

    def table_fields(self, name: str) -> list[Any]:
        """The fields of a table in this schema, read once per setup (see `forget_fields`)."""
        with self._lock:
            cached = self._fields.get(name.lower())
        if cached is None:
            cached = list(self.executor.table_schema(self.name(name)).fields)
            with self._lock:
                self._fields[name.lower()] = cached
        return cached

    def forget_fields(self) -> None:
        """Drop the cached table fields (after DDL)."""
        with self._lock:
            self._fields.clear()

    def create_view(self, name: str, statement: str) -> None:
        """Run a CREATE OR REPLACE VIEW; on a local engine also keep it for the next process."""
        self.executor.replace_view(statement)
        if self.engine.warehouse_root:
            view_files.record(
                self.engine.warehouse_root, self.catalog, self.schema, name, statement
            )

    def remember_date(self, execution_id: str | None, processing_date: Any) -> None:
        """Note an execution's processing date (a hint for later reads; bounded)."""
        if execution_id is None or processing_date is None:
            return
        with self._lock:
            if len(self.execution_dates) >= 4096:
                self.execution_dates.clear()
            self.execution_dates[execution_id] = processing_date

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


class HasContext(Protocol):
    """Anything that carries a `Context`: the facades (``monitor.context``)."""

    @property
    def context(self) -> Context:
        """The context."""
        ...


def context_of(source: Context | HasContext) -> Context:
    """`source` itself when it is a Context, else its ``context``."""
    return source if isinstance(source, Context) else source.context
