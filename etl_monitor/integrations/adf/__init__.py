"""Azure Data Factory artefacts over the utility notebooks and the Lookup queries.

``files(lookups)`` returns ADF's Git-mode layout (one ``{"name", "properties"}`` file per
pipeline, dataset and linked service, under ``pipeline/``, ``dataset/`` and
``linkedService/``) and ``arm.template(files)`` the same as one ARM template; both are
rendered into ``sql/adf/`` by `etl-monitor sql render`. See `pipelines` for what the
pipelines do and `resources` for the linked services and datasets.
"""

from __future__ import annotations

from typing import Any

from etl_monitor.integrations.adf import arm, pipelines, resources
from etl_monitor.integrations.adf.pipelines import CATALOG, SCHEMA

__all__ = ["CATALOG", "SCHEMA", "arm", "files", "pipelines", "resources"]


def files(lookups: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every Git-mode file, ``<folder>/<name>.json`` -> its JSON.

    Args:
        lookups: the Lookup queries by name (``lookup_watermark``, ``lookup_pending_tasks``,
            ``lookup_mandatory_blockers``, ``lookup_stage_outcome``), rendered for `CATALOG`
            and `SCHEMA`.

    Returns:
        Linked services, datasets and the two pipelines, keyed by their relative path.
    """
    out: dict[str, dict[str, Any]] = {}
    for folder, items in (
        ("linkedService", resources.linked_services()),
        ("dataset", resources.datasets()),
        ("pipeline", [pipelines.process_pipeline(), pipelines.stage_pipeline(lookups)]),
    ):
        for item in items:
            out[f"{folder}/{item['name']}.json"] = item
    return out
