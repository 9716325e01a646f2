"""The ADF artefacts in sql/adf/: ADF's JSON shapes, references and expressions, and simulated runs.

What needs no engine: no session starts here; tests/engines/test_adf.py runs the rest on every
engine.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from etl_monitor.errors import InvalidArgumentError
from etl_monitor.integrations import sql_files as sqlfiles
from etl_monitor.integrations.adf import arm, pipelines, resources
from tests.adf_simulator import (
    ActivityFailed,
    ActivityRun,
    Context,
    ExpressionError,
    Factory,
    Scope,
)

ROOT = Path(__file__).resolve().parents[2]
ADF = ROOT / "sql" / "adf"
NOTEBOOKS = ROOT / "sample_usage"
FOLDERS = ("pipeline", "dataset", "linkedService")
PROJECT, PROCESS, DAY = "CORP", "HR_DAILY", "2026-04-09"

#: typeProperties each activity type requires (Microsoft Learn, per activity page).
ACTIVITY_TYPE_PROPERTIES = {
    "Lookup": {"source", "dataset"},
    "DatabricksNotebook": {"notebookPath"},
    "Copy": {"source", "sink"},
    "ForEach": {"items", "activities"},
    "IfCondition": {"expression"},
    "ExecutePipeline": {"pipeline"},
    "Fail": {"message", "errorCode"},
    "SetVariable": {"variableName", "value"},
}
#: Properties beside typeProperties an activity type requires.
ACTIVITY_PROPERTIES = {"DatabricksNotebook": {"linkedServiceName"}, "Copy": {"inputs", "outputs"}}
LINKED_SERVICE_TYPE_PROPERTIES = {
    "AzureKeyVault": {"baseUrl"},
    "AzureDatabricks": {"domain"},
    "AzureDatabricksDeltaLake": {"domain", "clusterId"},
    "AzureBlobFS": {"url"},
}
DATASET_TYPE_PROPERTIES = {
    "AzureDatabricksDeltaLakeDataset": ("AzureDatabricksDeltaLake", set()),
    "Binary": ("AzureBlobFS", {"location"}),
}
#: Copy source / sink types by dataset type, store settings by linked-service type.
COPY_TYPES = {"Binary": ("BinarySource", "BinarySink")}
STORE_SETTINGS = {"AzureBlobFS": ("AzureBlobFSReadSettings", "AzureBlobFSWriteSettings")}
LOOKUP_SOURCES = {"AzureDatabricksDeltaLakeDataset": "AzureDatabricksDeltaLakeSource"}
DEPENDENCY_CONDITIONS = {"Succeeded", "Failed", "Skipped", "Completed"}
PARAMETER_TYPES = {"string", "int", "float", "bool", "array", "object", "securestring"}


def _shipped() -> dict[str, dict[str, dict]]:
    """The committed Git-mode files, by folder and name."""
    return {
        folder: {p.stem: json.loads(p.read_text()) for p in sorted((ADF / folder).glob("*.json"))}
        for folder in FOLDERS
    }


def _children(activity: dict) -> list[list[dict]]:
    props = activity.get("typeProperties", {})
    return [props[k] for k in ("activities", "ifTrueActivities", "ifFalseActivities") if k in props]


def _walk(activities: list[dict]) -> list[dict]:
    out = []
    for activity in activities:
        out.append(activity)
        for inner in _children(activity):
            out += _walk(inner)
    return out


def _widgets(notebook: str) -> set[str]:
    text = (NOTEBOOKS / f"{notebook}.py").read_text()
    return set(re.findall(r'dbutils\.widgets\.(?:text|dropdown)\(\s*"([a-z_]+)"', text))


# ------------------------------------------------------------------ the files


def test_git_mode_files_are_the_rendering_and_the_old_array_is_gone():
    rendered = {k: v for k, v in sqlfiles.rendered().items() if k.startswith("adf/")}
    on_disk = {str(p.relative_to(ROOT / "sql")) for p in ADF.rglob("*") if p.is_file()}
    assert on_disk == set(rendered), on_disk ^ set(rendered)
    for rel, text in rendered.items():
        assert (ROOT / "sql" / rel).read_text() == text, rel
    assert "adf/pipeline_template.json" not in rendered
    shipped = _shipped()
    assert set(shipped["pipeline"]) == {pipelines.PROCESS_PIPELINE, pipelines.STAGE_PIPELINE}
    for folder, items in shipped.items():
        assert items, folder
        for name, body in items.items():
            assert set(body) == {"name", "properties"} and body["name"] == name, (folder, name)


def test_every_file_has_adf_shape_and_every_reference_resolves():
    shipped = _shipped()
    kinds = {"LinkedServiceReference": "linkedService", "DatasetReference": "dataset"}
    kinds["PipelineReference"] = "pipeline"
    for name, body in shipped["linkedService"].items():
        props = body["properties"]
        required = LINKED_SERVICE_TYPE_PROPERTIES[props["type"]]
        assert required <= set(props["typeProperties"]), (name, required)
        for key, spec in (props.get("parameters") or {}).items():
            assert spec["type"].lower() in PARAMETER_TYPES, (name, key)
        type_props = props["typeProperties"]
        if props["type"] in ("AzureDatabricks", "AzureDatabricksDeltaLake"):
            token = type_props["accessToken"]  # never a literal: a Key Vault secret
            assert token["type"] == "AzureKeyVaultSecret" and token["secretName"], name
            store = shipped["linkedService"][token["store"]["referenceName"]]["properties"]
            assert store["type"] == "AzureKeyVault"
        if props["type"] == "AzureDatabricks":  # an existing cluster, or a new job cluster
            existing = "existingClusterId" in type_props
            new = {"newClusterVersion", "newClusterNodeType", "newClusterNumOfWorker"}
            assert existing != (new <= set(type_props)), name
            if not existing:  # a job cluster reaches Unity Catalog only with a security mode
                assert type_props["dataSecurityMode"] == "@{linkedService().DataSecurityMode}"
                mode = props["parameters"]["DataSecurityMode"]
                assert mode == {"type": "String", "defaultValue": "SINGLE_USER"}, name
    for name, body in shipped["dataset"].items():
        props = body["properties"]
        service_type, required = DATASET_TYPE_PROPERTIES[props["type"]]
        service = shipped["linkedService"][props["linkedServiceName"]["referenceName"]]
        assert service["properties"]["type"] == service_type, name
        assert required <= set(props["typeProperties"]), name
        if props["type"] == "Binary":
            location = props["typeProperties"]["location"]
            assert location["type"] == "AzureBlobFSLocation" and {
                "fileSystem",
                "folderPath",
                "fileName",
            } <= set(location)
    references = 0
    for folder in FOLDERS:
        for name, body in shipped[folder].items():
            for kind, target in arm.references(body["properties"]):
                assert target in shipped[kind], (folder, name, kind, target)
                references += 1
    assert references >= 12
    for name, body in shipped["pipeline"].items():
        props = body["properties"]
        activities = _walk(props["activities"])
        names = [a["name"] for a in activities]
        assert len(names) == len(set(names)), f"{name}: activity names repeat"
        for spec in props["parameters"].values():
            assert spec["type"].lower() in PARAMETER_TYPES
        for activity in activities:
            kind, type_props = activity["type"], activity["typeProperties"]
            assert ACTIVITY_TYPE_PROPERTIES[kind] <= set(type_props), (name, activity["name"])
            assert ACTIVITY_PROPERTIES.get(kind, set()) <= set(activity), activity["name"]
            for dep in activity.get("dependsOn", []):
                assert set(dep["dependencyConditions"]) <= DEPENDENCY_CONDITIONS
            if kind == "ForEach" and not type_props.get("isSequential", False):
                assert 1 <= type_props.get("batchCount", 20) <= 50
            if kind == "Lookup":
                dataset = shipped["dataset"][type_props["dataset"]["referenceName"]]
                expected = LOOKUP_SOURCES[dataset["properties"]["type"]]
                assert type_props["source"]["type"] == expected
                assert "query" in type_props["source"]
            if kind == "Copy":
                (source,) = [shipped["dataset"][r["referenceName"]] for r in activity["inputs"]]
                (sink,) = [shipped["dataset"][r["referenceName"]] for r in activity["outputs"]]
                for dataset, end, side in ((source, "source", 0), (sink, "sink", 1)):
                    assert (
                        type_props[end]["type"] == COPY_TYPES[dataset["properties"]["type"]][side]
                    )
                    service = shipped["linkedService"][
                        dataset["properties"]["linkedServiceName"]["referenceName"]
                    ]["properties"]["type"]
                    assert type_props[end]["storeSettings"]["type"] == STORE_SETTINGS[service][side]
            if kind == "DatabricksNotebook":
                service = shipped["linkedService"][activity["linkedServiceName"]["referenceName"]]
                assert service["properties"]["type"] == "AzureDatabricks"
                assert type_props["libraries"] == [
                    {"pypi": {"package": "@pipeline().parameters.LibraryPackage"}}
                ], activity["name"]
                notebook = re.search(r"'/(\w+)'\)$", type_props["notebookPath"]["value"]).group(1)
                assert (NOTEBOOKS / f"{notebook}.py").is_file(), notebook
                assert set(type_props["baseParameters"]) <= _widgets(notebook), activity["name"]
            if kind == "ExecutePipeline":
                target = shipped["pipeline"][type_props["pipeline"]["referenceName"]]
                declared = target["properties"]["parameters"]
                required = {k for k, v in declared.items() if "defaultValue" not in v}
                assert required <= set(type_props["parameters"]) <= set(declared)
        assert props["parameters"]["LibraryPackage"]["defaultValue"] == "lakehouse-etl-monitor"


def test_notebook_activities_validate_on_either_notebook_linked_service():
    # Repointing the notebook activities at the existing-cluster linked service (the README's
    # switch) binds every parameter they pass; the job cluster gets its security mode.
    factory = Factory(ADF, query=lambda sql: [], spark=None, workspace={})
    services = (resources.NOTEBOOK_LINKED_SERVICE, resources.EXISTING_CLUSTER_LINKED_SERVICE)
    bound = 0
    for body in _shipped()["pipeline"].values():
        declared = body["properties"]["parameters"]
        values = {k: v.get("defaultValue", f"value-of-{k}") for k, v in declared.items()}
        values["NotebookClusterId"] = "0409-060000-notebook"
        ctx = Context(pipeline={"parameters": values})
        for activity in _walk(body["properties"]["activities"]):
            if activity["type"] != "DatabricksNotebook":
                continue
            for service in services:
                reference = {**activity["linkedServiceName"], "referenceName": service}
                resolved = factory._linked_service(reference, ctx, ("AzureDatabricks",))
                assert resolved["domain"] == values["DatabricksWorkspaceUrl"]
                if service == resources.EXISTING_CLUSTER_LINKED_SERVICE:
                    assert resolved["existingClusterId"] == "0409-060000-notebook"
                    assert not [k for k in resolved if k.startswith("newCluster")]
                else:
                    assert resolved["dataSecurityMode"] == "SINGLE_USER"
                    assert resolved["newClusterVersion"] == values["JobClusterVersion"]
                    assert "existingClusterId" not in resolved
                bound += 1
    assert bound >= 2 * 9


def test_lookup_queries_interpolate_only_constrained_values_and_no_query_holds_a_path():
    allowed = {
        "pipeline().parameters.ProjectCode",  # a code: validated by the start notebook
        "pipeline().parameters.ProcessLoad",
        "pipeline().parameters.Catalog",  # identifiers: validated by the start notebook
        "pipeline().parameters.Schema",
        "pipeline().parameters.ExecutionID",  # the process pipeline's RunId
        "int(pipeline().parameters.SequenceID)",  # an integer
        "item().WatermarkName",  # a parameter name: validated by the registry
    }
    seen = set()
    for body in _shipped()["pipeline"].values():
        for activity in _walk(body["properties"]["activities"]):
            if activity["type"] == "Lookup":
                query = activity["typeProperties"]["source"]["query"]["value"]
                assert query.startswith("SELECT")  # text with @{} interpolations only
                for inner in re.findall(r"@\{([^}]*)\}", query):
                    assert inner in allowed, inner
                    seen.add(inner)
            if activity["type"] == "Copy":
                text = json.dumps(activity["typeProperties"])
                assert "query" not in text.lower() and "InFilePath" not in text
                paths = json.dumps(activity["inputs"] + activity["outputs"])
                assert "InFilePath" in paths and "OutFilePath" in paths
    assert seen == allowed


def test_adf_query_refuses_a_marker_it_cannot_fill():
    with pytest.raises(InvalidArgumentError, match=r":task_name has no ADF value; allowed are"):
        pipelines.adf_query("SELECT 1 WHERE TaskName = :task_name")


def test_arm_template_holds_exactly_the_git_mode_files():
    shipped = _shipped()
    template = json.loads((ADF / "arm_template.json").read_text())
    assert template["$schema"].endswith("/deploymentTemplate.json#")
    assert template["contentVersion"] == "1.0.0.0"
    assert template["parameters"]["factoryName"]["type"] == "string"
    types = {
        "linkedService": "Microsoft.DataFactory/factories/linkedServices",
        "dataset": "Microsoft.DataFactory/factories/datasets",
        "pipeline": "Microsoft.DataFactory/factories/pipelines",
    }
    expected = {
        (types[folder], f"[concat(parameters('factoryName'), '/{name}')]"): body
        for folder, items in shipped.items()
        for name, body in items.items()
    }
    found = {(r["type"], r["name"]): r for r in template["resources"]}
    assert set(found) == set(expected) and len(template["resources"]) == len(expected)
    segment = {"linkedService": "linkedServices", "dataset": "datasets", "pipeline": "pipelines"}
    position = {
        key: n for n, key in enumerate((r["type"], r["name"]) for r in template["resources"])
    }
    for key, resource in found.items():
        body = expected[key]
        assert resource["apiVersion"] == "2018-06-01"
        assert _unescape(resource["properties"]) == body["properties"], key
        wanted = {
            f"[concat(variables('factoryId'), '/{segment[kind]}/{name}')]"
            for kind, name in arm.references(body["properties"])
        }
        assert set(resource["dependsOn"]) == wanted, key
        for kind, name in arm.references(body["properties"]):  # created before their users
            target = (types[kind], f"[concat(parameters('factoryName'), '/{name}')]")
            assert position[target] < position[key], (key, target)


def _unescape(value: Any) -> Any:
    if isinstance(value, str):
        return value[1:] if value.startswith("[[") else value
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def test_arm_escapes_only_strings_in_brackets():
    # ARM reads "[...]" as an expression and "[[...]" as its escape; "[x] y" is a plain string.
    value = {"a": "[x]", "b": ["[y", "z[", "[x] y", "x]"], "c": 1, "d": "[]"}
    escaped = arm.escape(value)
    assert escaped == {"a": "[[x]", "b": ["[y", "z[", "[x] y", "x]"], "c": 1, "d": "[[]"}
    assert _unescape(escaped) == value


# ------------------------------------------------------------------ the expression evaluator


def test_expression_evaluator():
    scope = Scope()
    scope.runs["Start"] = ActivityRun(
        "p", "Start", "DatabricksNotebook", "Succeeded", output={"runOutput": '{"active": false}'}
    )
    scope.runs["Look"] = ActivityRun("p", "Look", "Lookup", "Succeeded", output={})
    inner = Scope(scope, {"TaskID": 3, "Name": None}, True)
    ctx = Context(
        pipeline={"parameters": {"N": 2, "S": "a'b"}, "RunId": "r-1"},
        scope=inner,
        variables={"v": "x"},
    )
    assert ctx.text("@{pipeline().parameters.S}-@{item().TaskID}") == "a'b-3"
    assert ctx.text("id @{pipeline().RunId}, n=@{int(pipeline().parameters.N)}") == "id r-1, n=2"
    assert ctx.text("@@not an expression") == "@not an expression"
    assert ctx.text("@item().TaskID") == 3 and ctx.text("@string(item().TaskID)") == "3"
    assert ctx.text("@{item().Name}") == "" and ctx.text("@string(true)") == "True"
    run_output = "json(string(activity('Start').output.runOutput))"
    assert ctx.text(f"@equals({run_output}.active, true)") is False
    scope.runs["Start"].output = {"runOutput": {"active": True}}  # ADF may hand back an object
    assert ctx.text(f"@equals({run_output}.active, true)") is True
    assert ctx.text("@coalesce(activity('Look').output?.firstRow?.X, 'none')") == "none"
    with pytest.raises(ExpressionError, match="firstRow"):
        ctx.text("@activity('Look').output.firstRow.X")
    with pytest.raises(ExpressionError, match="has not run"):
        ctx.text("@activity('Later').output")
    path = "'abfss://raw@lake.dfs.core.windows.net/hr/2026/'"
    assert ctx.text(f"@last(split(first(split({path}, '@')), '/'))") == "raw"
    assert ctx.text(f"@join(skip(split(last(split({path}, '@')), '/'), 1), '/')") == "hr/2026/"
    assert ctx.text("@if(greater(2, 1), concat('a', 'b'), json('null'))") == "ab"
    assert ctx.text("@if(greater(1, 2), 'a', json('null'))") is None
    assert ctx.text("@and(not(empty('')), or(bool('true'), false))") is False
    assert ctx.text("@variables('v')") == "x" and ctx.text("@json('[1,2]')[1]") == 2
    with pytest.raises(ExpressionError):
        ctx.text("@int('x')")


def _write_pipelines(root: Path, *pipelines_: dict) -> None:
    (root / "pipeline").mkdir(parents=True)
    for body in pipelines_:
        (root / "pipeline" / f"{body['name']}.json").write_text(json.dumps(body))


def _set(name: str, value: str, after: str | None = None, condition: str = "Succeeded") -> dict:
    return {
        "name": name,
        "type": "SetVariable",
        "dependsOn": [{"activity": after, "dependencyConditions": [condition]}] if after else [],
        "typeProperties": {"variableName": name, "value": value},
    }


def test_simulator_control_flow_follows_adf_rules(tmp_path):
    child = {
        "name": "child",
        "properties": {
            "parameters": {"X": {"type": "int"}},
            "activities": [
                {
                    "name": "IfBig",
                    "type": "IfCondition",
                    "typeProperties": {
                        "expression": {
                            "value": "@greater(pipeline().parameters.X, 1)",
                            "type": "Expression",
                        },
                        "ifTrueActivities": [
                            {
                                "name": "Big",
                                "type": "Fail",
                                "typeProperties": {
                                    "message": "@concat('x=', string(pipeline().parameters.X))",
                                    "errorCode": "E1",
                                },
                            }
                        ],
                    },
                }
            ],
        },
    }
    loop = {
        "name": "Loop",
        "type": "ForEach",
        "typeProperties": {
            "isSequential": True,
            "items": {"value": "@pipeline().parameters.Items", "type": "Expression"},
            "activities": [
                {
                    "name": "Call",
                    "type": "ExecutePipeline",
                    "typeProperties": {
                        "pipeline": {"referenceName": "child", "type": "PipelineReference"},
                        "waitOnCompletion": True,
                        "parameters": {"X": "@item()"},
                    },
                }
            ],
        },
    }
    names = ("caught", "ok", "skipped", "always", "strict")
    main = {
        "name": "main",
        "properties": {
            "parameters": {"Items": {"type": "array", "defaultValue": [1, 2, 3]}},
            "variables": {n: {"type": "String"} for n in names},
            "activities": [
                loop,
                _set("caught", "@activity('Loop').error.message", "Loop", "Failed"),
                _set("ok", "ok", "Loop"),
                _set("skipped", "ran", "ok", "Skipped"),
                _set("always", "ran", "Loop", "Completed"),
                {
                    "name": "NoWait",
                    "type": "ExecutePipeline",
                    "typeProperties": {
                        "pipeline": {"referenceName": "child", "type": "PipelineReference"},
                        "parameters": {"X": 5},
                    },
                },
            ],
        },
    }
    strict = {
        "name": "strict",
        "properties": {
            "parameters": {"Items": {"type": "array"}},
            "variables": {"strict": {"type": "String"}},
            "activities": [loop, _set("strict", "done", "Loop")],
        },
    }
    _write_pipelines(tmp_path, child, main, strict)
    factory = Factory(tmp_path, query=lambda sql: [], spark=None, workspace={})
    run = factory.run("main")
    by_name = {a.name: a for a in run.activities}
    # A failed iteration fails the ForEach only after every item ran; a caught failure and a
    # skipped leaf whose parent succeeded leave the pipeline Succeeded.
    assert [c.parameters["X"] for c in run.children] == [1, 2, 3, 5]
    assert [c.status for c in run.children] == ["Succeeded", "Failed", "Failed", "Failed"]
    assert by_name["Loop"].status == "Failed" and by_name["NoWait"].status == "Succeeded"
    assert "x=2" in by_name["caught"].output["value"]
    assert by_name["ok"].status == "Skipped"
    assert by_name["skipped"].status == by_name["always"].status == "Succeeded"
    assert run.status == "Succeeded"
    failed = factory.run("strict", {"Items": [0, 7]})  # a skipped leaf whose parent failed
    assert failed.status == "Failed" and failed.activities[-1].status == "Skipped"
    assert failed.error["errorCode"] == "E1" and "x=7" in failed.error["message"]
    alone = factory.run("child", {"X": 3})
    assert (alone.status, alone.error["message"], alone.error["errorCode"]) == (
        "Failed",
        "Activity failed because an inner activity failed; Error: x=3",
        "E1",
    )
    with pytest.raises(ActivityFailed, match="required parameter 'Items'"):
        factory.run("strict")
