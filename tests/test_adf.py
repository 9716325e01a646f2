"""The ADF pipeline template: every notebook, widget, parameter, activity and column it references exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from etl_monitor.integrations import sql_files as sqlfiles
from tests.helpers import register_hr

NOTEBOOKS = Path(__file__).resolve().parents[1] / "sample_usage"


def _walk(activities: list[dict]) -> list[dict]:
    out = []
    for activity in activities:
        out.append(activity)
        props = activity.get("typeProperties", {})
        for key in ("activities", "ifTrueActivities", "ifFalseActivities"):
            out += _walk(props.get(key, []))
    return out


def _widgets(notebook: str) -> set[str]:
    text = (NOTEBOOKS / f"{notebook}.py").read_text()
    return set(re.findall(r'dbutils\.widgets\.(?:text|dropdown)\(\s*"([a-z_]+)"', text))


def _lookup_columns(monitor, name: str, **args) -> list[str]:
    return monitor.executor.dataframe(
        sqlfiles.adf_lookup(name, monitor.catalog, monitor.schema), args
    ).columns


def test_template_references_resolve(monitor):
    register_hr(monitor)
    pipelines = {
        p["name"]: p["properties"]
        for p in json.loads(sqlfiles.rendered()["adf/pipeline_template.json"])
    }
    key = {"project_code": "CORP", "process_load": "HR_DAILY"}
    columns = {
        "GetPendingTasks": _lookup_columns(
            monitor, "lookup_pending_tasks", execution_id="e", sequence_id=2, **key
        ),
        "GetWatermark": _lookup_columns(monitor, "lookup_watermark", parameter_name="W1", **key),
        "CheckBlockers": _lookup_columns(
            monitor, "lookup_mandatory_blockers", execution_id="e", **key
        ),
    }
    checked = {"notebooks": 0, "items": 0, "outputs": 0, "parameters": 0}
    for name, pipeline in pipelines.items():
        activities = _walk(pipeline["activities"])
        names = {a["name"] for a in activities}
        text = json.dumps(pipeline)
        for parameter in re.findall(r"pipeline\(\)\.parameters\.(\w+)", text):
            assert parameter in pipeline["parameters"], (name, parameter)
            checked["parameters"] += 1
        for activity, path in re.findall(r"activity\('(\w+)'\)\.output\.firstRow\.(\w+)", text):
            assert activity in names and path in columns[activity], (name, activity, path)
            checked["outputs"] += 1
        for activity in re.findall(r"activity\('(\w+)'\)", text):
            assert activity in names, (name, activity)
        for dependency in (d["activity"] for a in activities for d in a.get("dependsOn", [])):
            assert dependency in names, (name, dependency)
        for activity in activities:
            props = activity.get("typeProperties", {})
            if activity["type"] == "DatabricksNotebook":
                notebook = re.search(r"'/(\w+)'", props["notebookPath"]["value"]).group(1)
                widgets = _widgets(notebook)
                assert widgets, f"{notebook} declares no widgets"
                assert set(props["baseParameters"]) <= widgets, (
                    activity["name"],
                    set(props["baseParameters"]) - widgets,
                )
                assert {
                    "execution_id",
                    "project_code",
                    "process_load",
                    "task_id",
                    "workflow_id",
                } <= set(props["baseParameters"])
                checked["notebooks"] += 1
            if activity["type"] == "ExecutePipeline":
                target = pipelines[props["pipeline"]["referenceName"]]
                assert set(props["parameters"]) <= set(target["parameters"])
        for field in re.findall(r"item\(\)\.(\w+)", text):
            assert field in columns["GetPendingTasks"], (name, field)
            checked["items"] += 1
    assert checked["notebooks"] == 6 and checked["items"] > 10 and checked["outputs"] >= 2


def test_template_lookups_are_the_rendered_queries():
    pipelines = json.loads(sqlfiles.rendered()["adf/pipeline_template.json"])
    queries = [
        a["typeProperties"]["source"]["query"]["value"]
        for p in pipelines
        for a in _walk(p["properties"]["activities"])
        if a["type"] == "Lookup"
    ]
    assert len(queries) == 3
    for query in queries:
        assert ":" not in re.sub(r"@\{[^}]*\}|'[^']*'", "", query).replace(
            "::", ""
        )  # every marker filled in
        assert "`@{pipeline().parameters.Catalog}`.`@{pipeline().parameters.Schema}`." in query
