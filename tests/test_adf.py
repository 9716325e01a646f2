"""The ADF artefacts in sql/adf/: ADF's JSON shapes, references and expressions, and simulated runs.

Shapes and rules checked against Microsoft Learn:

- Git-mode repository layout (one ``{name, properties}`` file per resource under
  ``pipeline/``, ``dataset/``, ``linkedService/``):
  https://learn.microsoft.com/azure/data-factory/source-control
- ARM templates of a factory (``Microsoft.DataFactory/factories/...`` resources, apiVersion
  2018-06-01, ``factoryName``):
  https://learn.microsoft.com/azure/data-factory/continuous-integration-delivery-resource-manager-custom-parameters
  https://learn.microsoft.com/azure/templates/microsoft.datafactory/2018-06-01/factories/pipelines
- Activities: https://learn.microsoft.com/azure/data-factory/control-flow-lookup-activity,
  .../control-flow-for-each-activity, .../control-flow-if-condition-activity,
  .../control-flow-execute-pipeline-activity, .../control-flow-fail-activity,
  .../control-flow-set-variable-activity, .../copy-activity-overview,
  .../transform-data-databricks-notebook (``notebookPath``, ``baseParameters``,
  ``libraries``, ``runOutput``)
- Linked services and datasets: .../connector-azure-databricks-delta-lake,
  .../compute-linked-services#azure-databricks-linked-service,
  .../store-credentials-in-key-vault, .../connector-azure-data-lake-storage,
  .../format-binary
- Expressions and dependency conditions: .../control-flow-expression-language-functions,
  .../tutorial-pipeline-failure-error-handling
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from etl_monitor.errors import InvalidArgumentError
from etl_monitor.integrations import samples
from etl_monitor.integrations import sql_files as sqlfiles
from etl_monitor.integrations.adf import arm, pipelines, resources
from tests.adf_simulator import (
    ActivityFailed,
    ActivityRun,
    Call,
    Context,
    ExpressionError,
    Factory,
    PipelineRun,
    Scope,
    expression_text,
    parse_expression,
)
from tests.helpers import rows

ROOT = Path(__file__).resolve().parents[1]
ADF = ROOT / "sql" / "adf"
NOTEBOOKS = ROOT / "sample_usage"
FOLDERS = ("pipeline", "dataset", "linkedService")
PROJECT, PROCESS, DAY = "CORP", "HR_DAILY", "2026-04-09"
USER = "someone@example.com"

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
PIPELINE_SYSTEM = {"RunId", "Pipeline", "DataFactory", "TriggerTime", "TriggerType", "GroupId"}


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


def _own(activity: dict) -> dict:
    """An activity without its inner activities (what its own expressions live in)."""
    props = {
        k: v
        for k, v in activity.get("typeProperties", {}).items()
        if k not in ("activities", "ifTrueActivities", "ifFalseActivities")
    }
    return {**activity, "typeProperties": props}


def _expressions(value: Any) -> list[str]:
    """Every expression text inside a JSON value."""
    text = expression_text(value)
    if text is not None:
        return [text]
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v)]
    if isinstance(value, str) and "@{" in value:
        return [value]
    return []


def _chains(node: tuple) -> list[tuple[tuple, list]]:
    """(root node, [property names / index values]) of every access chain in a syntax tree."""
    if node[0] in ("prop", "index"):
        path, root = [], node
        while root[0] in ("prop", "index"):
            path.insert(
                0, root[2] if root[0] == "prop" else root[2][1] if root[2][0] == "lit" else None
            )
            root = root[1]
        out = [(root, path)]
        if root[0] == "call":
            out += [c for arg in root[2] for c in _chains(arg)]
        index_nodes = []
        walker = node
        while walker[0] in ("prop", "index"):
            if walker[0] == "index":
                index_nodes.append(walker[2])
            walker = walker[1]
        return out + [c for n in index_nodes for c in _chains(n)]
    if node[0] == "call":
        return [(node, [])] + [c for arg in node[2] for c in _chains(arg)]
    return []


def _widgets(notebook: str) -> set[str]:
    text = (NOTEBOOKS / f"{notebook}.py").read_text()
    return set(re.findall(r'dbutils\.widgets\.(?:text|dropdown)\(\s*"([a-z_]+)"', text))


def _exit_keys(notebook: str) -> set[str]:
    """Keys of the JSON object a utility notebook exits with (its last cell)."""
    last = (NOTEBOOKS / f"{notebook}.py").read_text().split("# COMMAND ----------")[-1]
    return set(re.findall(r'"(\w+)":', last))


def _lookup_columns(monitor) -> dict[str, list[str]]:
    """The columns each rendered Lookup query returns, run on the engine."""
    key = {"project_code": PROJECT, "process_load": PROCESS}
    args = {
        "lookup_pending_tasks": {**key, "execution_id": "e", "sequence_id": 2},
        "lookup_watermark": {**key, "parameter_name": "W1"},
        "lookup_mandatory_blockers": {**key, "execution_id": "e"},
        "lookup_stage_outcome": {**key, "execution_id": "e", "sequence_id": 2},
    }
    return {
        name: monitor.executor.dataframe(
            sqlfiles.adf_lookup(name, monitor.catalog, monitor.schema), args[name]
        ).columns
        for name in sqlfiles.ADF_LOOKUPS
    }


def _query_name(query: str) -> str:
    """Which rendered Lookup query an activity's query text is."""
    for name in sqlfiles.ADF_LOOKUPS:
        rendered = sqlfiles.adf_lookup(name, pipelines.CATALOG, pipelines.SCHEMA)
        if pipelines.adf_query(rendered)["value"] == query:
            return name
    raise AssertionError(f"not a rendered Lookup query: {query[:80]}")


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


def _allowed(container: list[dict], outer: set[str]) -> dict[str, set[str]]:
    """Activity name -> the activities its expressions may name: upstream, or enclosing scopes'."""
    parents = {a["name"]: {d["activity"] for d in a.get("dependsOn", [])} for a in container}
    out: dict[str, set[str]] = {}
    for activity in container:
        upstream, todo = set(), list(parents[activity["name"]])
        while todo:
            name = todo.pop()
            if name not in upstream:
                upstream.add(name)
                todo += parents[name]
        out[activity["name"]] = upstream | outer
        for inner in _children(activity):
            out |= _allowed(inner, upstream | outer)
    return out


def test_expressions_name_upstream_activities_declared_parameters_and_real_columns(monitor):
    columns = _lookup_columns(monitor)
    shipped = _shipped()
    checked = {"activity": 0, "column": 0, "item": 0, "parameter": 0, "runOutput": 0}
    for pipeline_name, body in shipped["pipeline"].items():
        props = body["properties"]
        activities = {a["name"]: a for a in _walk(props["activities"])}
        allowed = _allowed(props["activities"], set())
        lookups = {
            n: _query_name(a["typeProperties"]["source"]["query"]["value"])
            for n, a in activities.items()
            if a["type"] == "Lookup"
        }
        foreach_items = {}  # activity inside a ForEach -> the Lookup its items come from
        for activity in activities.values():
            if activity["type"] == "ForEach":
                source = re.match(
                    r"@activity\('(\w+)'\)\.output\.value$",
                    activity["typeProperties"]["items"]["value"],
                )
                for inner in _walk(activity["typeProperties"]["activities"]):
                    foreach_items[inner["name"]] = source.group(1) if source else None
        for name, activity in activities.items():
            for text in _expressions(_own(activity)):
                for tree in parse_expression(text):
                    for root, path in _chains(tree):
                        fn, args = root[1], root[2]
                        where = (pipeline_name, name, text)
                        if fn == "activity":
                            target = args[0][1]
                            assert target in allowed[name], ("not upstream", *where)
                            checked["activity"] += 1
                            if path[:2] == ["output", "firstRow"]:
                                assert path[2] in columns[lookups[target]], where
                                checked["column"] += 1
                            if path[:2] == ["output", "value"]:
                                assert not activities[target]["typeProperties"]["firstRowOnly"]
                            if path and path[0] == "error":  # read only on a failure path
                                on_failure = {
                                    d["activity"]
                                    for a in [activity, *(activities[u] for u in allowed[name])]
                                    for d in a.get("dependsOn", [])
                                    if "Failed" in d["dependencyConditions"]
                                }
                                assert target in on_failure, ("error read", *where)
                        elif fn == "pipeline":
                            if path[0] == "parameters":
                                assert path[1] in props["parameters"], where
                                checked["parameter"] += 1
                            else:
                                assert path[0] in PIPELINE_SYSTEM, where
                        elif fn == "variables":
                            assert args[0][1] in props.get("variables", {}), where
                        elif fn == "item":
                            assert name in foreach_items, ("item() outside a ForEach", *where)
                            source = foreach_items[name]
                            if path:
                                assert source is not None, where
                                assert path[0] in columns[lookups[source]], where
                                checked["item"] += 1
                        elif fn == "json" and path:
                            (inner_root, inner_path) = _chains(args[0][2][0])[0]
                            assert inner_root[1] == "activity" and inner_path == [
                                "output",
                                "runOutput",
                            ]
                            target = activities[inner_root[2][0][1]]
                            notebook = re.search(
                                r"'/(\w+)'\)$", target["typeProperties"]["notebookPath"]["value"]
                            ).group(1)
                            assert path[0] in _exit_keys(notebook), where
                            checked["runOutput"] += 1
                        elif fn in ("linkedService", "dataset"):
                            raise AssertionError(f"{fn}() in a pipeline: {where}")
    for folder in ("linkedService", "dataset"):
        for name, body in shipped[folder].items():
            declared = body["properties"].get("parameters") or {}
            own = "linkedService" if folder == "linkedService" else "dataset"
            for text in _expressions(
                {k: v for k, v in body["properties"].items() if k != "parameters"}
            ):
                for tree in parse_expression(text):
                    for root, path in _chains(tree):
                        if root[1] in ("linkedService", "dataset"):
                            assert root[1] == own and path[0] in declared, (name, text)
    assert checked["activity"] >= 15 and checked["column"] >= 4 and checked["item"] > 10
    assert checked["parameter"] > 40 and checked["runOutput"] == 4


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


def test_default_notebook_folder_is_where_sample_usage_copies(monitor):
    from tests.emulator import DatabricksEmulator

    ctx = Context(pipeline={"parameters": {"NotebookFolder": "", "DatabricksUser": USER}})
    default = ctx.text(pipelines.FOLDER_EXPRESSION)
    with DatabricksEmulator() as emulator:
        folder = monitor.sample_usage(emulator.client())
    assert default == folder == samples.user_folder(USER)
    ctx.pipeline["parameters"]["NotebookFolder"] = "/Shared/etl"
    assert ctx.text(pipelines.FOLDER_EXPRESSION) == "/Shared/etl"


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


# ------------------------------------------------------------------ simulated runs


def register_copies(monitor) -> None:
    """CORP/HR_DAILY as file copies: stage 2 loads 1 (mandatory) to 4, stage 3 task 9.

    Tasks 1, 2 and 4 have DELTA_DATE watermarks W1, W2, W4; task 3 and 9 have none.
    """
    import yaml

    from etl_monitor.config import catalogue

    def task(n: int, stage: int, mandatory: bool = False) -> dict:
        return {
            "task_id": n,
            "workflow_id": 1,
            "sequence_id": stage,
            "task_name": f"Load {n}",
            "source_type": "ADF_PIPELINE",
            "source_system_code": f"W{n}",
            "task_mandatory": mandatory,
            "file_name_mask": f"load{n}_" + "{yyyyMMdd}",
            "file_extension": ".csv",
            "in_file_path": "abfss://raw@lake.dfs.core.windows.net/hr/",
            "out_file_path": "abfss://landing@lake.dfs.core.windows.net/hr/in/",
        }

    process = {
        "project_code": PROJECT,
        "process_load": PROCESS,
        "name": "HR Daily Load",
        "tasks": [
            {
                "task_id": 0,
                "workflow_id": 0,
                "sequence_id": 0,
                "task_name": "Initiation",
                "task_mandatory": False,
            },
            task(1, 2, mandatory=True),
            task(2, 2),
            task(3, 2),
            task(4, 2),
            task(9, 3),
        ],
        "parameters": [
            {
                "parameter_name": f"W{n}",
                "parameter_type": "DELTA_DATE",
                "value_datetime": "2026-04-01T06:00:00+00:00",
            }
            for n in (1, 2, 4)
        ],
    }
    doc = yaml.safe_dump({"version": 1, "processes": [process]}, sort_keys=False)
    catalogue.apply(monitor, catalogue.load(doc))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@pytest.fixture
def factory_for(monitor, spark, tmp_path):
    """A simulated factory over the shipped files, its notebooks where sample_usage() puts them."""
    local = Path(samples.copy_to_folder(tmp_path / "workspace"))
    workspace = {f"{samples.user_folder(USER)}/{p.stem}": p for p in local.glob("*.py")}

    def query(sql: str) -> list[dict]:
        return [
            {k: _json_value(v) for k, v in r.asDict().items()} for r in spark.sql(sql).collect()
        ]

    def make(**options: Any) -> Factory:
        return Factory(ADF, query=query, spark=spark, workspace=workspace, **options)

    return make


@pytest.fixture
def sail_only(engine_name: str) -> None:
    """Skips on the Delta engine before its schema is set up (listed first in a test's arguments)."""
    if engine_name == "delta":  # about 15 s a run there; the Delta half runs the two scenarios
        pytest.skip("pipeline control flow only: checked on the embedded engine")


def _parameters(monitor, stages: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "ProjectCode": PROJECT,
        "ProcessLoad": PROCESS,
        "ProcessingDate": DAY,
        "Catalog": monitor.catalog,
        "Schema": monitor.schema,
        "Stages": stages,
        "DatabricksUser": USER,
        "DatabricksWorkspaceUrl": "https://adb-1234567890123456.7.azuredatabricks.net",
        "KeyVaultUrl": "https://etl-vault.vault.azure.net/",
        "LookupClusterId": "0409-060000-abcdefgh",
        **extra,
    }


def _steps(monitor, run: PipelineRun) -> dict[int, dict]:
    return {r["TaskID"]: r for r in rows(monitor, "ETLProcessingSteps", ExecutionID=run.run_id)}


def _task(item: Any) -> int | None:
    """The TaskID of a ForEach item, of a `Call`'s item, or None."""
    if isinstance(item, Call):
        item = item.item
    return item.get("TaskID") if isinstance(item, dict) else None


def _ran(run: PipelineRun, name: str) -> list[ActivityRun]:
    return [a for a in run.all_activities() if a.name == name and a.status != "Skipped"]


def test_simulated_run_stages_in_order_optional_failure_inactive_and_no_watermark(
    monitor, factory_for
):
    register_copies(monitor)

    def deactivate(call: Call) -> None:  # task 4 is switched off after the stage's Lookup
        if _task(call) == 4:
            monitor.deactivate_task(PROJECT, PROCESS, task_id=4, workflow_id=1)

    factory = factory_for(
        faults={"CopyTaskFile": lambda item: _task(item) == 2}, before={"StartTask": deactivate}
    )
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Succeeded", run.error
    steps = _steps(monitor, run)
    status = {task: row["Status"] for task, row in steps.items()}
    assert status == {0: "DONE", 1: "DONE", 2: "FAIL", 3: "DONE", 4: "NQUE", 9: "DONE"}
    assert "injected fault in CopyTaskFile" in steps[2]["LogMessage"]
    # Stage order: every stage-2 step ended before the stage-3 step started.
    assert max(steps[t]["EndTime"] for t in (1, 2, 3)) <= steps[9]["StartTime"]
    assert [a.inputs["parameters"]["SequenceID"] for a in _ran(run, "RunStage")] == [2, 3]
    # The inactive task: started (runOutput.active false), never copied nor ended.
    (start4,) = [a for a in _ran(run, "StartTask") if _task(a.item) == 4]
    assert start4.output["runOutput"]["active"] is False
    copied = {_task(c.item): c for c in factory.copies}
    assert set(copied) == {1, 3, 9}
    # The task without a watermark ran with no modified-since filter; task 1 from W1.
    assert copied[3].source["settings"]["storeSettings"]["modifiedDatetimeStart"] is None
    assert copied[1].source["settings"]["storeSettings"]["modifiedDatetimeStart"] == (
        "2026-04-01T06:00:00.000Z"
    )
    source, sink = copied[1].source, copied[1].sink
    assert (source["linkedService"]["url"], source["location"]["fileSystem"]) == (
        "https://lake.dfs.core.windows.net",
        "raw",
    )
    assert (source["location"]["folderPath"], source["location"]["fileName"]) == (
        "hr/",
        "load1_20260409.csv",
    )
    assert (sink["location"]["fileSystem"], sink["location"]["folderPath"]) == ("landing", "hr/in/")
    # Every notebook ran from the sample_usage() folder with the library installed.
    assert {path.rsplit("/", 1)[0] for _, path, _, _ in factory.notebooks} == {
        samples.user_folder(USER)
    }
    assert all(
        libs == [{"pypi": {"package": "lakehouse-etl-monitor"}}]
        for _, _, _, libs in factory.notebooks
    )
    marks = {r["ParameterName"]: r for r in rows(monitor, "v_watermarks", ProjectCode=PROJECT)}
    assert marks["W1"]["LastExecutionID"] == run.run_id  # DONE advanced the watermark
    assert marks["W2"]["LastExecutionID"] != run.run_id  # FAIL did not


def test_simulated_mandatory_failure_stops_later_stages_and_faults_never_leave_running(
    monitor, factory_for
):
    register_copies(monitor)

    def started_then_lost(call: Call) -> None:  # the notebook recorded RUNNING, the activity failed
        if _task(call) == 2:
            execution = call.parameters["ExecutionID"]
            monitor.start_task(execution, PROJECT, PROCESS, task_id=2, workflow_id=1)

    faults = {
        "StartTask": lambda item: _task(item) == 2,
        "GetWatermark": lambda item: _task(item) == 3,
        "EndTask": lambda item: _task(item) == 4,
        "CopyTaskFile": lambda item: _task(item) == 1,  # the mandatory task
    }
    factory = factory_for(faults=faults, before={"StartTask": started_then_lost})
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Failed"
    steps = _steps(monitor, run)
    status = {task: row["Status"] for task, row in steps.items()}
    assert status == {0: "FAIL", 1: "FAIL", 2: "FAIL", 3: "FAIL", 4: "FAIL", 9: "NQUE"}
    for task, activity in (
        (1, "CopyTaskFile"),
        (2, "StartTask"),
        (3, "GetWatermark"),
        (4, "EndTask"),
    ):
        assert f"injected fault in {activity}" in steps[task]["LogMessage"], task
    assert "RUNNING" not in status.values()
    # Stage 3 was not run: no stage runs after a failed one.
    assert [c.parameters["SequenceID"] for c in run.children] == [2]
    assert not [a for a in _ran(run, "StartTask") if _task(a.item) == 9]
    assert "mandatory" in steps[0]["LogMessage"]
    # Nor does the stage pipeline run alone: it fails before its Lookup of pending tasks.
    stage3 = factory.run(pipelines.STAGE_PIPELINE, {**run.children[0].parameters, "SequenceID": 3})
    assert stage3.status == "Failed" and stage3.error["errorCode"] == "ETL_MANDATORY_FAILED"
    assert [a.name for a in stage3.activities if a.status != "Skipped"] == [
        "CheckBlockers",
        "StopIfBlocked",
        "StageBlocked",
    ]


def test_simulated_unstarted_mandatory_task_fails_the_stage_and_the_run(
    sail_only, monitor, factory_for
):
    register_copies(monitor)
    # No cluster for the mandatory task: its start and its fail notebook both fail, so its
    # step is never marked FAIL (it stays queued) and no failed mandatory task is counted.
    only_task_1 = {"StartTask": lambda c: _task(c) == 1, "StartTaskFailed": lambda c: _task(c) == 1}
    factory = factory_for(faults=only_task_1)
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Failed"
    status = {task: row["Status"] for task, row in _steps(monitor, run).items()}
    assert status == {0: "FAIL", 1: "NQUE", 2: "DONE", 3: "DONE", 4: "DONE", 9: "NQUE"}
    (stage2,) = run.children  # stage 3 never ran
    assert (stage2.parameters["SequenceID"], stage2.status) == (2, "Failed")
    assert stage2.error["errorCode"] == "ETL_MANDATORY_FAILED"
    assert "0 mandatory task(s) of execution" in stage2.error["message"]
    assert "1 mandatory task(s) of the stage not finished" in stage2.error["message"]
    assert not _ran(run, "EndExecution") and len(_ran(run, "ExecutionFailed")) == 1
    assert not [a for a in _ran(run, "StartTask") if _task(a.item) == 9]


def test_simulated_execution_whose_initiation_step_is_taken_runs_no_stage(
    sail_only, monitor, factory_for
):
    register_copies(monitor)

    def taken(call: Call) -> None:  # another starter already ran the initiation step to DONE
        monitor.generate_execution_steps(call.run_id, PROJECT, PROCESS, DAY)
        with monitor.task(call.run_id, PROJECT, PROCESS, task_id=0, workflow_id=0):
            pass

    factory = factory_for(before={"StartExecution": taken})
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, [2, 3]))
    assert run.status == "Failed" and run.error["errorCode"] == "ETL_NOT_STARTED"
    assert "already DONE" in run.error["message"], run.error
    (start,) = _ran(run, "StartExecution")
    assert start.output["runOutput"]["active"] is False
    assert run.children == [] and factory.lookups == [] and factory.copies == []
    assert not _ran(run, "EndExecution") and not _ran(run, "ExecutionFailed")
    status = {task: row["Status"] for task, row in _steps(monitor, run).items()}
    assert status == {0: "DONE", 1: "NQUE", 2: "NQUE", 3: "NQUE", 4: "NQUE", 9: "NQUE"}


@pytest.mark.parametrize(
    "fault", ["StartExecution", "CheckBlockers", "GetPendingTasks", "EndExecution"]
)
def test_simulated_fault_outside_a_task_fails_the_execution_step(
    sail_only, monitor, factory_for, fault
):
    register_copies(monitor)

    def opened(call: Call) -> None:  # the notebook queued the steps and started 0/0, then failed
        monitor.generate_execution_steps(call.run_id, PROJECT, PROCESS, DAY)
        monitor.start_task(call.run_id, PROJECT, PROCESS, task_id=0, workflow_id=0)

    factory = factory_for(
        faults={fault: None}, before={"StartExecution": opened} if fault == "StartExecution" else {}
    )
    stages = {"CheckBlockers": [2], "GetPendingTasks": [2], "EndExecution": [1]}.get(fault, [])
    run = factory.run(pipelines.PROCESS_PIPELINE, _parameters(monitor, stages))
    assert run.status == "Failed"
    status = {task: row["Status"] for task, row in _steps(monitor, run).items()}
    assert status == {0: "FAIL", 1: "NQUE", 2: "NQUE", 3: "NQUE", 4: "NQUE", 9: "NQUE"}
    assert f"injected fault in {fault}" in _steps(monitor, run)[0]["LogMessage"]


def test_simulated_job_cluster_without_the_library_cannot_import_it(monitor, factory_for):
    register_copies(monitor)
    factory = factory_for()
    run = factory.run(
        pipelines.PROCESS_PIPELINE, _parameters(monitor, [], LibraryPackage="another-package")
    )
    assert run.status == "Failed"
    (start,) = _ran(run, "StartExecution")
    assert "No module named 'etl_monitor'" in start.error["message"]
    assert _steps(monitor, run) == {} and factory.lookups == []


def test_simulated_codes_are_validated_before_any_lookup(monitor, factory_for):
    register_copies(monitor)
    factory = factory_for()
    folder = samples.user_folder(USER)
    parameters = _parameters(monitor, [2], ProjectCode="CORP' OR '1'='1", NotebookFolder=folder)
    del parameters["DatabricksUser"]  # not needed with a NotebookFolder
    run = factory.run(pipelines.PROCESS_PIPELINE, parameters)
    assert run.status == "Failed"
    (start,) = _ran(run, "StartExecution")
    assert "project_code" in start.error["message"]
    assert start.inputs["notebookPath"] == f"{folder}/etl_start_task"
    assert factory.lookups == [] and factory.copies == []
    # Neither a NotebookFolder nor a DatabricksUser: the run fails before any notebook.
    unset = factory.run(pipelines.PROCESS_PIPELINE, {**parameters, "NotebookFolder": ""})
    assert unset.status == "Failed" and unset.error["errorCode"] == "ETL_NO_NOTEBOOK_FOLDER"
    assert "NotebookFolder and DatabricksUser are both empty" in unset.error["message"]
    assert not _ran(unset, "StartExecution") and len(factory.notebooks) == 2
