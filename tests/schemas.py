"""Set-up schemas for tests, copied from a template instead of re-created.

`setup()` on a new schema is 22 statements (10 CREATE TABLEs, 9 views, a seed MERGE):
about 5 s on JVM Delta, 0.5 s on Sail. Most tests need a schema of their own that is
merely set up (or set up with the HR sample process registered), so each worker builds
one template schema per kind, through the public API, and every test gets a copy: the
template's table directories copied on disk, registered under the new name
(``CREATE TABLE ... LOCATION``) and the views rendered for the new schema, as `setup()`
itself re-attaches tables whose files outlived the engine's catalog.

Tests that exercise `setup()` itself use the ``fresh`` fixture, which copies nothing.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine import view_files
from etl_monitor.engine.executor import qualified, sql_string_literal

_templates: dict[tuple[int, str, str], tuple[ETLMonitorFramework, Any]] = {}
_lock = threading.Lock()


def _template(
    spark: Any, catalog: str, kind: str, build: Callable[[ETLMonitorFramework], Any] | None
) -> tuple[ETLMonitorFramework, Any]:
    key = (id(spark), catalog, kind)
    with _lock:
        if key not in _templates:
            template = ETLMonitorFramework(spark, catalog, f"tmpl_{kind}_{uuid.uuid4().hex[:8]}")
            template.setup()
            built = build(template) if build is not None else None
            _templates[key] = (template, built)
        return _templates[key]


def copy_schema(template: ETLMonitorFramework, schema: str) -> ETLMonitorFramework:
    """A new schema holding a copy of every table of `template` (its rows too), and its views.

    Args:
        template: a set-up framework on a local engine (one that keeps its tables and view
            definitions under a warehouse root); it must not be written while it is copied.
        schema: the new schema's name.

    Returns:
        A framework on the new schema, as `setup()` would leave it, with the template's rows.
    """
    engine, catalog = template.engine, template.catalog
    if engine.warehouse_root is None:
        raise ValueError(f"{engine.name}: tables without a warehouse root cannot be copied")
    source = Path(engine.warehouse_root) / catalog / template.schema
    target = Path(engine.warehouse_root) / catalog / schema
    # The user as the template resolved it: a copy asks the engine no more than the
    # framework that built the rows would (tests count statements).
    user = template.context.user
    monitor = ETLMonitorFramework(template.spark, catalog, schema, engine=engine, user=user)
    ctx = monitor.context
    ctx.executor.execute(f"CREATE SCHEMA IF NOT EXISTS {qualified(catalog, schema)}", kind="ddl")
    for log in sorted(source.glob("*/_delta_log")):
        table = log.parent.name
        shutil.copytree(log.parent, target / table)
        attach = f"CREATE TABLE {qualified(catalog, schema, table)} USING DELTA LOCATION "
        ctx.executor.execute(attach + sql_string_literal(str(target / table)), kind="ddl")
    views = (source / view_files.FOLDER).glob("*.sql")
    for path in sorted(views, key=lambda p: p.stat().st_mtime_ns):  # the order they were made
        text = path.read_text(encoding="utf-8")
        ctx.create_view(path.stem, text.replace(f"`{template.schema}`", f"`{schema}`"))
    return monitor


def copied(
    spark: Any,
    catalog: str,
    kind: str = "setup",
    build: Callable[[ETLMonitorFramework], Any] | None = None,
) -> ETLMonitorFramework:
    """A framework on a new schema copied from this worker's template of `kind`.

    Args:
        spark: the engine's session.
        catalog: the catalog the schemas live in.
        kind: names the template; ``setup`` is a schema just set up.
        build: writes the template's content after `setup()` (once per worker and kind),
            through the public API.
    """
    return copied_with(spark, catalog, kind, build)[0]


def copied_with(
    spark: Any, catalog: str, kind: str, build: Callable[[ETLMonitorFramework], Any]
) -> tuple[ETLMonitorFramework, Any]:
    """`copied`, with what `build` returned when it built the template (an execution id, say)."""
    template, built = _template(spark, catalog, kind, build)
    return copy_schema(template, f"t_{uuid.uuid4().hex[:10]}"), built
