"""Creating a schema's objects: the schema, missing tables (or their files re-attached),
missing columns, and views replaced, for whatever a group of the registry holds.

Idempotent by construction: tables are created only when missing, missing columns are
added to older tables (rows intact), and views are replaced.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from etl_monitor.core import objects
from etl_monitor.core.context import Context
from etl_monitor.core.objects import Table, View
from etl_monitor.engine.executor import qualified, quote, sql_string_literal
from etl_monitor.errors import CatalogNotFoundError

log: logging.Logger = logging.getLogger("etl_monitor.setup")


@dataclass
class SetupReport:
    """What one `setup()` call did."""

    catalog: str
    schema: str
    tables_created: list[str] = field(default_factory=list)
    tables_attached: list[str] = field(default_factory=list)
    columns_added: dict[str, list[str]] = field(default_factory=dict)
    columns_copied: dict[str, list[str]] = field(default_factory=dict)
    not_null_dropped: dict[str, list[str]] = field(default_factory=dict)
    properties_set: dict[str, list[str]] = field(default_factory=dict)
    stages_seeded: list[int] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    statements: int = 0
    seconds: float = 0.0
    #: Set when the schema was created by databricks-etl-monitor 1.0 and converted.
    migration: object | None = None

    def __str__(self) -> str:
        converted = f"; {self.migration}" if self.migration else ""
        return (
            f"{self.catalog}.{self.schema}: created {len(self.tables_created)} tables, "
            f"attached {len(self.tables_attached)}, added columns to {len(self.columns_added)}, "
            f"seeded {len(self.stages_seeded)} stages, {len(self.views)} views; "
            f"{self.statements} statements in {self.seconds:.2f}s{converted}"
        )


def check_catalog(ctx: Context) -> None:
    """Raise CatalogNotFoundError unless the framework's catalog exists (creates nothing)."""
    rows = ctx.executor.query("SHOW CATALOGS")
    names = sorted(str(r[0]) for r in rows)
    if ctx.catalog.lower() not in {n.lower() for n in names}:
        raise CatalogNotFoundError(
            f"catalog {ctx.catalog!r} does not exist or is not visible; available: "
            f"{', '.join(names) or '(none)'}. Create it first (CREATE CATALOG) or pass another catalog."
        )


def existing_objects(ctx: Context) -> set[str]:
    """Lower-cased names of the tables and views in the framework's schema."""
    rows = ctx.executor.query(f"SHOW TABLES IN {qualified(ctx.catalog, ctx.schema)}")
    return {str(r["tableName"]).lower() for r in rows if not r["isTemporary"]}


def _ensure_table(ctx: Context, table: Table, existing: set[str], report: SetupReport) -> None:
    location = ctx.engine.table_location(ctx.catalog, ctx.schema, table.name)
    if table.name.lower() not in existing:
        if location and os.path.isdir(os.path.join(location, "_delta_log")):
            # The files outlive the engine's in-memory catalog: re-attach whatever is there.
            ctx.executor.execute(table.attach_sql(ctx.catalog, ctx.schema, location), kind="ddl")
            report.tables_attached.append(table.name)
        else:
            ctx.executor.execute(table.create_sql(ctx.catalog, ctx.schema, ctx.engine), kind="ddl")
            report.tables_created.append(table.name)
            return
    _add_missing_columns(ctx, table, report)
    _set_missing_properties(ctx, table, report)


def _set_missing_properties(ctx: Context, table: Table, report: SetupReport) -> None:
    """Give a table created by an earlier version the properties it needs on this engine."""
    wanted = table.engine_properties(ctx.engine)
    if not wanted:
        return
    rows = ctx.executor.query(f"SHOW TBLPROPERTIES {ctx.name(table)}")
    present = {str(r["key"]): str(r["value"]) for r in rows}
    missing = {k: v for k, v in wanted.items() if present.get(k, "").lower() != v}
    if not missing:
        return
    rendered = ", ".join(
        f"{sql_string_literal(k)} = {sql_string_literal(v)}" for k, v in missing.items()
    )
    ctx.executor.execute(
        f"ALTER TABLE {ctx.name(table)} SET TBLPROPERTIES ({rendered})", kind="ddl"
    )
    report.properties_set[table.name] = sorted(missing)
    log.info("set %s on %s", report.properties_set[table.name], ctx.name(table))


def _add_missing_columns(ctx: Context, table: Table, report: SetupReport) -> None:
    fields = ctx.table_fields(table.name)
    present = {f.name.lower() for f in fields}
    missing = [c for c in table.columns if c.name.lower() not in present]
    if missing:
        if ctx.engine.alter_add_columns:
            ctx.executor.execute(
                table.add_columns_sql(ctx.catalog, ctx.schema, missing), kind="ddl"
            )
        else:
            ctx.executor.merge_schema(ctx.name(table), table.spark_schema())
        report.columns_added[table.name] = [c.name for c in missing]
        log.info("added columns %s to %s", report.columns_added[table.name], ctx.name(table))
    _relax_not_null(ctx, table, fields, report)
    _copy_former_columns(ctx, table, fields, report)


def _copy_former_columns(ctx: Context, table: Table, fields: list, report: SetupReport) -> None:
    """Move values from earlier column names (an older schema of this library) to today's.

    One UPDATE sets each new column from the old one and empties the old one where it
    may be NULL, so it is one commit, a rerun after a crash finishes it, and a schema
    already moved costs one query. Old NOT NULL columns (keys) keep their values.
    """
    present = {f.name.lower(): f for f in fields}
    renamed = [c for c in table.columns if c.formerly and c.formerly.lower() in present]
    if not renamed:
        return
    old = {c.name: quote(c.formerly) for c in renamed}  # type: ignore[arg-type]
    pending = " OR ".join(
        f"({quote(c.name)} IS NULL AND {old[c.name]} IS NOT NULL)" for c in renamed
    )
    name = ctx.name(table)
    if not ctx.executor.query(f"SELECT COUNT(*) AS n FROM {name} WHERE {pending}")[0]["n"]:
        return
    sets = [f"{quote(c.name)} = COALESCE({quote(c.name)}, {old[c.name]})" for c in renamed]
    sets += [
        f"{old[c.name]} = NULL"
        for c in renamed
        if present[c.formerly.lower()].nullable  # type: ignore[union-attr]
    ]
    ctx.executor.execute(f"UPDATE {name} SET {', '.join(sets)} WHERE {pending}")
    report.columns_copied[table.name] = [f"{c.formerly} -> {c.name}" for c in renamed]
    log.info("copied %s in %s", report.columns_copied[table.name], name)


def _relax_not_null(ctx: Context, table: Table, fields: list, report: SetupReport) -> None:
    """Drop NOT NULL from columns this library leaves empty (earlier names, optional values)."""
    required = {c.name.lower() for c in table.columns if not c.nullable}
    strict = [f.name for f in fields if not f.nullable and f.name.lower() not in required]
    if not strict or not ctx.engine.alter_add_columns:
        return
    for column in strict:
        ctx.executor.execute(
            f"ALTER TABLE {ctx.name(table)} ALTER COLUMN {quote(column)} DROP NOT NULL",
            kind="ddl",
        )
    report.not_null_dropped[table.name] = strict


def ensure_objects(
    ctx: Context,
    tables: tuple[Table, ...],
    views: tuple[View, ...],
    report: SetupReport,
    existing: set[str] | None = None,
) -> None:
    """Create missing tables (or re-attach their files), add missing columns, replace the views."""
    if existing is None:
        existing = existing_objects(ctx)
    for table in tables:
        _ensure_table(ctx, table, existing, report)
    for view in views:
        ctx.create_view(view.name, view.create_sql(ctx.catalog, ctx.schema, ctx.view_settings))
        report.views.append(view.name)


def create_schema(ctx: Context) -> None:
    """Check the catalog, then create the schema when it is missing."""
    check_catalog(ctx)
    ctx.executor.execute(
        f"CREATE SCHEMA IF NOT EXISTS {qualified(ctx.catalog, ctx.schema)} "
        "COMMENT 'ETL process monitoring (etl_monitor)'",
        kind="ddl",
    )


def build_group(
    ctx: Context, group: str, report: SetupReport, existing: set[str] | None = None
) -> None:
    """Create or upgrade every table, then replace every view, that `group` of the registry holds."""
    ensure_objects(ctx, objects.tables(group), objects.views(group), report, existing)
