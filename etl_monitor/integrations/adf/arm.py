"""One ARM template holding every linked service, dataset and pipeline, as ADF exports it.

ADF Studio's *Import ARM template* (or ``az deployment group create``) creates the whole
set in a factory in one step: each resource is named
``[concat(parameters('factoryName'), '/<name>')]`` and depends on the resources it
references, so Resource Manager creates linked services before the datasets and
pipelines that use them.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
API_VERSION = "2018-06-01"
#: Git-mode folder -> ARM resource type (and the segment a dependsOn id uses).
KINDS = {
    "linkedService": ("Microsoft.DataFactory/factories/linkedServices", "linkedServices"),
    "dataset": ("Microsoft.DataFactory/factories/datasets", "datasets"),
    "pipeline": ("Microsoft.DataFactory/factories/pipelines", "pipelines"),
}
#: A reference's type -> the Git-mode folder of what it names.
REFERENCE_KINDS = {
    "LinkedServiceReference": "linkedService",
    "DatasetReference": "dataset",
    "PipelineReference": "pipeline",
}


def references(value: Any) -> set[tuple[str, str]]:
    """The resources an ADF definition references, however deep.

    Args:
        value: a JSON value (a resource's ``properties``, or any part of it).

    Returns:
        ``(folder, name)`` pairs, folder being ``linkedService``, ``dataset`` or ``pipeline``.
    """
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        kind = REFERENCE_KINDS.get(value.get("type", ""))
        if kind and isinstance(value.get("referenceName"), str):
            found.add((kind, value["referenceName"]))
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def escape(value: Any) -> Any:
    """A JSON value for an ARM template: a string in brackets, ``[...]``, starts with ``[[``.

    ARM reads a string as a template expression only when it starts with ``[`` and ends
    with ``]``; only those are escaped (``[[`` is an escape only there: ``"[x] y"`` stays).

    Args:
        value: any JSON value.

    Returns:
        The value with such strings escaped (ARM would read them as its own expressions).
    """
    if isinstance(value, str):
        return "[" + value if value.startswith("[") and value.endswith("]") else value
    if isinstance(value, dict):
        return {k: escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape(v) for v in value]
    return value


def template(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ARM deployment template of the Git-mode `files` (``<folder>/<name>.json`` -> JSON).

    Args:
        files: the Git-mode files, each ``{"name": ..., "properties": ...}``.

    Returns:
        The template: ``factoryName`` parameter, one resource per file, in dependency order.
    """
    resources = []
    by_key = {(p.split("/")[0], body["name"]): p for p, body in files.items()}

    def depth(path: str) -> int:  # a resource after everything it references
        own = (path.split("/")[0], files[path]["name"])
        refs = references(files[path]["properties"]) - {own}
        return 1 + max((depth(by_key[r]) for r in refs if r in by_key), default=0)

    order = {"linkedService": 0, "dataset": 1, "pipeline": 2}
    for path in sorted(files, key=lambda p: (order[p.split("/")[0]], depth(p), p)):
        folder = path.split("/")[0]
        body = files[path]
        resource_type, _ = KINDS[folder]
        depends = [
            f"[concat(variables('factoryId'), '/{KINDS[kind][1]}/{name}')]"
            for kind, name in sorted(references(body["properties"]))
            if (kind, name) != (folder, body["name"])
        ]
        resources.append(
            {
                "name": f"[concat(parameters('factoryName'), '/{body['name']}')]",
                "type": resource_type,
                "apiVersion": API_VERSION,
                "properties": escape(body["properties"]),
                "dependsOn": depends,
            }
        )
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {
            "factoryName": {
                "type": "string",
                "metadata": {"description": "The name of the data factory to import into."},
            }
        },
        "variables": {
            "factoryId": "[concat('Microsoft.DataFactory/factories/', parameters('factoryName'))]"
        },
        "resources": resources,
    }


def dumps(value: Any) -> str:
    """The text of a rendered file.

    Args:
        value: any JSON value.

    Returns:
        The JSON with a two-space indent and a final newline.
    """
    return json.dumps(value, indent=2) + "\n"
