"""`setup()` of run tracking: the schema, the tracking group's tables and views, the stages.

Idempotent by construction: tables are created only when missing, missing columns are
added to older tables (rows intact), seed stages are inserted only where their
SequenceID is absent (edited and custom stages survive), and views are replaced. A
schema made by databricks-etl-monitor 1.0 is converted on the way (`migration`).
"""

from __future__ import annotations

import logging
import time

from etl_monitor.core.context import Context
from etl_monitor.core.objects import TRACKING
from etl_monitor.core.setup import SetupReport, build_group, create_schema, existing_objects
from etl_monitor.engine.executor import quote
from etl_monitor.engine.timestamps import utcnow
from etl_monitor.tracking import migration
from etl_monitor.tracking.tables import SEQUENCE, SEQUENCE_SEEDS

log: logging.Logger = logging.getLogger("etl_monitor.setup")


def seed_sequences(ctx: Context, *, table_is_new: bool, report: SetupReport) -> None:
    """Insert the framework stages whose SequenceID is absent; never touch existing rows."""
    seed_ids = [s[0] for s in SEQUENCE_SEEDS]
    if not table_is_new:
        rows = ctx.executor.query(
            f"SELECT SequenceID FROM {ctx.name(SEQUENCE)} WHERE SequenceID BETWEEN 0 AND 9"
        )
        present = {int(r[0]) for r in rows}
        if set(seed_ids) <= present:
            return
    now, user = utcnow(), ctx.user
    rows = [
        (sid, code, name, desc, sid, True, True, now, user, now, user)
        for sid, code, name, desc in SEQUENCE_SEEDS
    ]
    cols = SEQUENCE.column_names
    with ctx.executor.temp_rows(rows, SEQUENCE.spark_schema()) as src:
        ctx.executor.execute(
            f"MERGE INTO {ctx.name(SEQUENCE)} AS t USING {src} AS s\n"
            "ON t.SequenceID = s.SequenceID\n"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(quote(c) for c in cols)})\n"
            f"VALUES ({', '.join('s.' + quote(c) for c in cols)})"
        )
    report.stages_seeded = seed_ids


def run_setup(ctx: Context, *, seed: bool = True) -> SetupReport:
    """Create or upgrade every table and view of the tracking group, in order; see the module docstring.

    Args:
        ctx: the framework's catalog, schema and executor.
        seed: insert the seven framework stages where they are missing.

    Returns:
        What was created, attached, added and seeded.

    Raises:
        CatalogNotFoundError: the catalog does not exist; nothing was created.
    """
    started, before = time.perf_counter(), ctx.executor.stats["statements"]
    report = SetupReport(ctx.catalog, ctx.schema)
    create_schema(ctx)
    ctx.forget_fields()
    existing = existing_objects(ctx)
    if migration.inspect_schema(ctx, existing):  # raises before writing on a foreign schema
        report.migration = migration.MigrationReport()
        migration.set_aside(ctx, existing, report.migration)
    build_group(ctx, TRACKING, report, existing)
    if seed:
        seed_sequences(ctx, table_is_new=SEQUENCE.name in report.tables_created, report=report)
    if report.migration is not None:
        migration.convert(ctx, existing, report.migration)
    ctx.forget_fields()
    report.statements = ctx.executor.stats["statements"] - before
    report.seconds = time.perf_counter() - started
    log.info("setup: %s", report)
    return report
