"""Schema objects as data, and the one registry every feature adds its tables and views to.

A `Table` or `View` is defined once, by the feature it belongs to, and rendered for
`setup()` and for the files in ``sql/``. Each feature calls `register` with its objects;
`setup()` builds whatever a group holds, in registration order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl_monitor.engine.capabilities import Engine
from etl_monitor.engine.executor import qualified, quote, sql_string_literal

if TYPE_CHECKING:  # pyspark is not a dependency: it is imported when a schema is built
    from pyspark.sql.types import DataType, StructType

#: 2: the config tables, audit columns and views carry the names of databricks-etl-monitor 1.0.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str
    nullable: bool = True
    #: The name this column had in an older etl_monitor schema; setup() copies its values.
    formerly: str | None = None

    def ddl(self) -> str:
        null = "" if self.nullable else " NOT NULL"
        return f"{quote(self.name)} {self.type}{null} COMMENT {sql_string_literal(self.comment)}"


def spark_type(sql_type: str) -> DataType:
    """The pyspark DataType of a column's SQL type, resolved here, not by a server round trip.

    Raises:
        ValueError: a type the schema does not use.
    """
    from pyspark.sql import types as T

    simple = {
        "STRING": T.StringType,
        "INT": T.IntegerType,
        "BIGINT": T.LongType,
        "BOOLEAN": T.BooleanType,
        "DATE": T.DateType,
        "TIMESTAMP": T.TimestampType,
        "DOUBLE": T.DoubleType,
    }
    name = sql_type.strip().upper()
    if name in simple:
        return simple[name]()
    raise ValueError(f"column type {sql_type!r} is not one of {sorted(simple)}")


#: Delta's table property for compaction after a write (open-source Delta 3.1+, Databricks),
#: which no table of the library asks for: on the clustered event log Delta 4.4 rewrote the
#: whole log after every write once it was a few MB.
AUTO_COMPACT = "delta.autoOptimize.autoCompact"
#: Delta's table property for how long a snapshot keeps the transaction ids of idempotent
#: writes (open-source Delta 2.0+, Databricks); without it every id is kept forever.
TXN_RETENTION = "delta.setTransactionRetentionDuration"
#: How long a claim's transaction id is kept. A duplicate claim needs a starter that read
#: the step before another's claim landed and wrote after this long: a week is ample.
TXN_RETENTION_VALUE = "interval 7 days"


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    append_only: bool = False
    cluster_by: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    #: Starts are claimed on it by idempotent appends where the engine has them
    #: (`Engine.idempotent_append`): their transaction ids are kept a week, not forever
    #: (every snapshot carries them, and every claim reads them).
    claimed: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def create_sql(self, catalog: str, schema: str, engine: Engine) -> str:
        """CREATE TABLE IF NOT EXISTS for this engine."""
        cols = ",\n  ".join(c.ddl() for c in self.columns)
        parts = [
            f"CREATE TABLE IF NOT EXISTS {qualified(catalog, schema, self.name)} (\n  {cols}\n) USING DELTA"
        ]
        if self.cluster_by and engine.liquid_clustering:
            parts.append(f"CLUSTER BY ({', '.join(quote(c) for c in self.cluster_by)})")
        elif self.partition_by:
            parts.append(f"PARTITIONED BY ({', '.join(quote(c) for c in self.partition_by)})")
        parts.append(f"COMMENT {sql_string_literal(self.comment)}")
        location = engine.table_location(catalog, schema, self.name)
        if location:
            parts.append(f"LOCATION {sql_string_literal(location)}")
        props = {
            "etl_monitor.schema_version": str(SCHEMA_VERSION),
            **dict(self.properties),
            **self.engine_properties(engine),
        }
        if self.append_only:
            props["delta.appendOnly"] = "true"
        rendered = ", ".join(
            f"{sql_string_literal(k)} = {sql_string_literal(v)}" for k, v in props.items()
        )
        parts.append(f"TBLPROPERTIES ({rendered})")
        return "\n".join(parts)

    def engine_properties(self, engine: Engine) -> dict[str, str]:
        """The Delta table properties this table needs on `engine` (kept by setup() on old tables)."""
        if self.claimed and engine.idempotent_append:
            return {TXN_RETENTION: TXN_RETENTION_VALUE}
        return {}

    def attach_sql(self, catalog: str, schema: str, location: str) -> str:
        """Register an existing Delta directory under this table's name, whatever its columns."""
        return (
            f"CREATE TABLE IF NOT EXISTS {qualified(catalog, schema, self.name)} "
            f"USING DELTA LOCATION {sql_string_literal(location)}"
        )

    def add_columns_sql(self, catalog: str, schema: str, missing: list[Column]) -> str:
        cols = ", ".join(c.ddl().replace(" NOT NULL", "") for c in missing)
        return f"ALTER TABLE {qualified(catalog, schema, self.name)} ADD COLUMNS ({cols})"

    def spark_schema(self, columns: list[str] | None = None) -> StructType:
        """The pyspark StructType of this table (optionally a subset, in the given order)."""
        from pyspark.sql.types import StructField, StructType

        wanted = columns or self.column_names
        return StructType(
            [
                StructField(
                    c.name,
                    spark_type(c.type),
                    True,
                    metadata={"comment": c.comment},
                )
                for c in (self.column(n) for n in wanted)
            ]
        )


_PLACEHOLDER = re.compile(r"\{t:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class View:
    """A view; its body names other objects as ``{t:Name}`` and settings as ``{setting}``."""

    name: str
    comment: str
    body: str

    def render_body(self, catalog: str, schema: str, settings: dict[str, int] | None = None) -> str:
        body = _PLACEHOLDER.sub(lambda m: qualified(catalog, schema, m.group(1)), self.body)
        for key, value in (settings or {}).items():
            body = body.replace("{" + key + "}", str(int(value)))  # framework-owned integers only
        return body

    def create_sql(self, catalog: str, schema: str, settings: dict[str, int] | None = None) -> str:
        return (
            f"CREATE OR REPLACE VIEW {qualified(catalog, schema, self.name)}\n"
            f"COMMENT {sql_string_literal(self.comment)}\nAS\n"
            + self.render_body(catalog, schema, settings)
        )


@dataclass(frozen=True)
class ObjectGroup:
    """The tables and views one feature adds to a schema, in creation order."""

    tables: tuple[Table, ...] = ()
    views: tuple[View, ...] = ()


def _audit() -> tuple[Column, ...]:
    """The four audit columns every config table carries."""
    return (
        Column("CreatedOn", "TIMESTAMP", "When the row was first registered (UTC)."),
        Column("CreatedBy", "STRING", "Who first registered the row."),
        Column(
            "LastUpdatedOn", "TIMESTAMP", "When the row last changed (UTC).", formerly="ModifiedOn"
        ),
        Column("LastUpdatedBy", "STRING", "Who last changed the row.", formerly="ModifiedBy"),
    )


#: The group of run tracking (`ETLMonitorFramework.setup()`) and of data profiling
#: (`MonitoringFramework.setup()`).
TRACKING = "tracking"
MONITORING = "monitoring"

#: Every feature's schema objects, by group (``tracking``, ``monitoring``), in the order
#: the features registered them. `setup()` builds whatever a group holds.
_GROUPS: dict[str, list[ObjectGroup]] = {}


def register(group: str, *, tables: tuple[Table, ...] = (), views: tuple[View, ...] = ()) -> None:
    """Add a feature's tables and views to a group (once per feature: a re-import is a no-op).

    Args:
        group: the group the objects belong to (``tracking`` or ``monitoring``).
        tables: the feature's tables, in creation order.
        views: the feature's views, in creation order (a view after those it reads).
    """
    entries = _GROUPS.setdefault(group, [])
    names = {o.name for e in entries for o in (*e.tables, *e.views)}
    fresh = ObjectGroup(
        tuple(t for t in tables if t.name not in names),
        tuple(v for v in views if v.name not in names),
    )
    if fresh.tables or fresh.views:
        entries.append(fresh)


def tables(group: str) -> tuple[Table, ...]:
    """Every table registered in `group`, in registration order."""
    return tuple(t for e in _GROUPS.get(group, ()) for t in e.tables)


def views(group: str) -> tuple[View, ...]:
    """Every view registered in `group`, in registration order."""
    return tuple(v for e in _GROUPS.get(group, ()) for v in e.views)
