"""View definitions kept beside the tables, for local engines whose catalog lives in memory.

Sail and the local Delta engines keep their catalog in memory: a new process finds the
table files but no view. Each view a framework creates on such an engine is also written
to ``<warehouse>/<catalog>/<schema>/_etl_monitor_views/<view>.sql``, and the local engine
re-creates them when it starts.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FOLDER = "_etl_monitor_views"


def record(root: str, catalog: str, schema: str, name: str, statement: str) -> None:
    """Keep one view's CREATE statement (atomically replaced, safe across processes)."""
    folder = Path(root) / catalog / schema / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(statement)
    os.replace(tmp, folder / f"{name}.sql")


def recorded(root: str, catalogs: set[str] | None = None) -> list[tuple[str, str, str]]:
    """(catalog, schema, statement) of every view kept under root, in the order they were made.

    A view is created after the views it reads, so creation order is a dependency order.
    """
    found = []
    paths = Path(root).glob(f"*/*/{FOLDER}/*.sql")
    for path in sorted(paths, key=lambda p: (p.parent, p.stat().st_mtime_ns, p.name)):
        catalog, schema = path.parent.parent.parent.name, path.parent.parent.name
        if catalogs is None or catalog in catalogs:
            found.append((catalog, schema, path.read_text(encoding="utf-8")))
    return found
