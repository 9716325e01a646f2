"""Tag discovery: the tables of a Unity Catalog catalog that carry given tags.

Tags are read with the databricks-sdk ``WorkspaceClient``: ``schemas.list`` and
``tables.list`` walk the catalog, and ``entity_tag_assignments.list("tables", name)``
returns each table's tags (``GET /api/2.1/unity-catalog/entity-tag-assignments/tables/
{name}/tags``, paged with ``page_token`` / ``next_page_token``; the SDK iterator follows
the pages). This works wherever a WorkspaceClient does, which is what the monitoring
submodule needs anyway; the ``information_schema.table_tags`` view would need a Spark
session attached to Unity Catalog, which the local engines do not have. The price is one
tag request per table of the scanned schemas (more for a table with many tags), made
`parallelism` at a time.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log: logging.Logger = logging.getLogger("etl_monitor.monitoring")

#: ``entity_type`` of a table in the entity tag assignments API (also catalogs, schemas,
#: columns, volumes).
TABLES = "tables"
#: Schemas never scanned: Unity Catalog's own views.
SYSTEM_SCHEMAS = ("information_schema",)


@dataclass(frozen=True)
class TaggedTable:
    """A table found by tag discovery, with all of its tags (key -> value, None for key-only)."""

    full_name: str
    tags: dict[str, str | None] = field(default_factory=dict)

    def matched(self, include_tags: Mapping[str, str | None]) -> str:
        """The wanted tags with the table's values, ``key=value,...``, in the order asked for."""
        return ",".join(
            k if self.tags.get(k) is None else f"{k}={self.tags[k]}" for k in include_tags
        )


def schema_excluded(schema: str, patterns: Sequence[str]) -> bool:
    """Whether a schema name matches one of the glob patterns (``tmp_*``), case-insensitively.

    Args:
        schema: the schema's name, without the catalog.
        patterns: ``fnmatch`` glob patterns.

    Returns:
        True when the schema is a system schema or matches a pattern.
    """
    name = schema.lower()
    return name in SYSTEM_SCHEMAS or any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)


def tags_match(tags: Mapping[str, str | None], include_tags: Mapping[str, str | None]) -> bool:
    """Whether ``tags`` carry every wanted tag; a wanted value of None accepts any value.

    Args:
        tags: a table's tags.
        include_tags: the wanted tags, all required.

    Returns:
        True when every wanted key is present with the wanted value.
    """
    return all(
        key in tags and (wanted is None or tags[key] == wanted)
        for key, wanted in include_tags.items()
    )


def table_tags(workspace: Any, full_name: str) -> dict[str, str | None]:
    """All tags of one table (key -> value), through the entity tag assignments API."""
    return {
        a.tag_key: a.tag_value
        for a in workspace.entity_tag_assignments.list(entity_type=TABLES, entity_name=full_name)
    }


def discover(
    workspace: Any,
    catalog: str,
    include_tags: Mapping[str, str | None],
    exclude_schemas: Sequence[str] = (),
    parallelism: int = 8,
) -> list[TaggedTable]:
    """The tables of ``catalog`` carrying every tag of ``include_tags``, sorted by name.

    Args:
        workspace: a databricks-sdk ``WorkspaceClient``.
        catalog: the catalog to scan.
        include_tags: tag key -> wanted value (None: any value); every one must match.
        exclude_schemas: glob patterns of schemas not scanned; ``information_schema`` never is.
        parallelism: how many tables' tags are read at once.

    Returns:
        The matching tables with all of their tags.

    Raises:
        databricks.sdk.errors.DatabricksError: the workspace refused a listing.
    """
    names = _catalog_tables(workspace, catalog, exclude_schemas)
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        tags = list(pool.map(lambda name: table_tags(workspace, name), names))
    found = [
        TaggedTable(name, table)
        for name, table in zip(names, tags, strict=True)
        if tags_match(table, include_tags)
    ]
    log.info("tag discovery in %s: %d table(s) match %s", catalog, len(found), dict(include_tags))
    return sorted(found, key=lambda t: t.full_name)


def _catalog_tables(workspace: Any, catalog: str, exclude_schemas: Sequence[str]) -> list[str]:
    names = []
    for schema in workspace.schemas.list(catalog_name=catalog):
        if schema_excluded(schema.name, exclude_schemas):
            log.debug("tag discovery: schema %s.%s excluded", catalog, schema.name)
            continue
        for table in workspace.tables.list(catalog_name=catalog, schema_name=schema.name):
            names.append((table.full_name or f"{catalog}.{schema.name}.{table.name}").lower())
    return names
