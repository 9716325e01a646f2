"""databricks_ids(): job run, task run and cluster ids from every source, in order, never raising.

What needs no engine: no session starts here; tests/engines/test_runtime.py runs the rest on every
engine.
"""

from __future__ import annotations

import json
import sys
import types

import pytest

from etl_monitor.engine import runtime
from etl_monitor.engine.runtime import databricks_ids

P, L = "CORP", "HR_DAILY"
NONE = {"JobRunID": None, "TaskRunID": None, "ClusterID": None}
CONF_KEYS = (
    "spark.databricks.job.parentRunId",
    "spark.databricks.job.runId",
    "spark.databricks.clusterUsageTags.clusterId",
)


class InputWidgetNotDefined(Exception):
    """What Databricks' dbutils raises for a widget that does not exist."""


class FakeWidgets:
    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, name: str) -> str:
        if name not in self.values:
            raise InputWidgetNotDefined(f"No input widget named {name} is defined")
        return self.values[name]


class FakeContext:
    def __init__(self, tags: dict[str, str], **top: object):
        self.tags, self.top = tags, top

    def toJson(self) -> str:
        return json.dumps({"tags": self.tags, **self.top})


class FakeDbutils:
    """dbutils with widgets and, optionally, the py4j notebook context of classic compute."""

    def __init__(
        self,
        widgets: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        **top: object,
    ):
        self.widgets = FakeWidgets(widgets or {})
        context = FakeContext(tags, **top) if tags is not None else None
        notebook = types.SimpleNamespace()
        if context is not None:
            inner = types.SimpleNamespace(getContext=lambda: context)
            entry = types.SimpleNamespace(
                getDbutils=lambda: types.SimpleNamespace(notebook=lambda: inner)
            )
            notebook.entry_point = entry
        self.notebook = notebook


class FakeConf:
    def __init__(self, values: dict[str, str], fail: bool = False):
        self.values, self.fail, self.calls = values, fail, 0

    def get(self, key: str, default=None):
        self.calls += 1
        if self.fail:
            raise RuntimeError("conf unavailable")
        return self.values.get(key, default)


class ClassicSession:
    """A py4j-style session: only `.conf`."""

    def __init__(self, values: dict[str, str] | None = None, fail: bool = False):
        self.conf = FakeConf(values or {}, fail)


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    """No Databricks source is present unless a test adds it."""
    for name in ("DATABRICKS_JOB_RUN_ID", "DATABRICKS_TASK_RUN_ID", "DB_CLUSTER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "argv", ["pytest"])
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.delattr(sys.modules["__main__"], "dbutils", raising=False)
    runtime.forget_cached()
    yield
    runtime.forget_cached()


def _ipython(monkeypatch, user_ns: dict) -> None:
    shell = types.SimpleNamespace(user_ns=user_ns)
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_nothing_detected_outside_databricks():
    assert databricks_ids() == NONE
    assert databricks_ids(ClassicSession()) == NONE


def test_widgets_from_the_ipython_namespace(monkeypatch):
    _ipython(monkeypatch, {"dbutils": FakeDbutils({"job_run_id": "101", "task_run_id": "202"})})
    assert databricks_ids() == {"JobRunID": "101", "TaskRunID": "202", "ClusterID": None}


def test_widgets_from_main(monkeypatch):
    dbutils = FakeDbutils({"job_run_id": "101", "task_run_id": "202"})
    monkeypatch.setattr(sys.modules["__main__"], "dbutils", dbutils, raising=False)
    assert databricks_ids()["JobRunID"] == "101"
    assert databricks_ids()["TaskRunID"] == "202"


def test_a_missing_widget_raises_in_dbutils_and_the_next_source_answers(monkeypatch):
    _ipython(monkeypatch, {"dbutils": FakeDbutils({"job_run_id": "101"})})  # no task_run_id
    monkeypatch.setenv("DATABRICKS_TASK_RUN_ID", "from-env")
    assert databricks_ids() == {"JobRunID": "101", "TaskRunID": "from-env", "ClusterID": None}


def test_unresolved_references_and_blanks_are_not_ids(monkeypatch):
    """A notebook run by hand keeps the widget defaults: '{{job.run_id}}' or ''."""
    widgets = {"job_run_id": "{{job.run_id}}", "task_run_id": "  "}
    _ipython(monkeypatch, {"dbutils": FakeDbutils(widgets)})
    assert databricks_ids() == NONE


def test_command_line_parameters(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["task.py", "--job_run_id=301", "--task_run_id", "302"])
    assert databricks_ids() == {"JobRunID": "301", "TaskRunID": "302", "ClusterID": None}


def test_environment(monkeypatch):
    monkeypatch.setenv("DATABRICKS_JOB_RUN_ID", "401")
    monkeypatch.setenv("DATABRICKS_TASK_RUN_ID", "402")
    monkeypatch.setenv("DB_CLUSTER_ID", "0409-abc")
    assert databricks_ids() == {"JobRunID": "401", "TaskRunID": "402", "ClusterID": "0409-abc"}


def test_classic_spark_conf():
    session = ClassicSession(dict(zip(CONF_KEYS, ("501", "502", "0409-conf"), strict=True)))
    assert databricks_ids(session) == {
        "JobRunID": "501",
        "TaskRunID": "502",
        "ClusterID": "0409-conf",
    }


def test_notebook_context_on_classic_compute(monkeypatch):
    tags = {"multitaskParentRunId": "601", "runId": "602", "clusterId": "0409-ctx"}
    _ipython(monkeypatch, {"dbutils": FakeDbutils(tags=tags)})
    assert databricks_ids() == {"JobRunID": "601", "TaskRunID": "602", "ClusterID": "0409-ctx"}
    dbutils = FakeDbutils(tags={"jobRunId": "611"}, currentRunId={"id": 612})
    _ipython(monkeypatch, {"dbutils": dbutils})
    assert databricks_ids() == {"JobRunID": "611", "TaskRunID": "612", "ClusterID": None}


def test_precedence_explicit_widgets_argv_environment_conf_context(monkeypatch):
    tags = {"multitaskParentRunId": "ctx", "runId": "ctx", "clusterId": "ctx"}
    _ipython(monkeypatch, {"dbutils": FakeDbutils({"job_run_id": "widget"}, tags=tags)})
    monkeypatch.setattr(sys, "argv", ["x", "--job_run_id=argv", "--task_run_id=argv"])
    monkeypatch.setenv("DATABRICKS_JOB_RUN_ID", "env")
    monkeypatch.setenv("DATABRICKS_TASK_RUN_ID", "env")
    session = ClassicSession(dict.fromkeys(CONF_KEYS, "conf"))
    assert databricks_ids(session, job_run_id="given") == {
        "JobRunID": "given",
        "TaskRunID": "argv",
        "ClusterID": "conf",
    }
    assert databricks_ids(session)["JobRunID"] == "widget"
    monkeypatch.setattr(sys, "argv", ["x"])
    assert databricks_ids(session)["TaskRunID"] == "env"
    monkeypatch.delenv("DATABRICKS_TASK_RUN_ID")
    assert databricks_ids(session)["TaskRunID"] == "conf"
    assert databricks_ids(None)["TaskRunID"] == "ctx"
    assert databricks_ids(None, cluster_id=12)["ClusterID"] == "12"


def test_never_raises(monkeypatch):
    class Exploding:
        def __getattr__(self, name):
            raise RuntimeError(f"no {name} here")

    module = types.ModuleType("IPython")
    module.get_ipython = lambda: (_ for _ in ()).throw(RuntimeError("no kernel"))
    monkeypatch.setitem(sys.modules, "IPython", module)
    monkeypatch.setattr(sys.modules["__main__"], "dbutils", Exploding(), raising=False)
    assert databricks_ids(ClassicSession(fail=True)) == NONE
    assert databricks_ids(Exploding()) == NONE


def test_sources_stop_once_everything_is_known(monkeypatch):
    monkeypatch.setenv("DATABRICKS_JOB_RUN_ID", "1")
    monkeypatch.setenv("DATABRICKS_TASK_RUN_ID", "2")
    monkeypatch.setenv("DB_CLUSTER_ID", "3")
    session = ClassicSession(fail=True)
    assert databricks_ids(session) == {"JobRunID": "1", "TaskRunID": "2", "ClusterID": "3"}
    assert session.conf.calls == 0


def test_a_conf_that_refuses_is_not_asked_again():
    """Serverless may refuse conf keys: one refused request per session, never an error."""
    session = ClassicSession(fail=True)
    assert databricks_ids(session) == NONE
    asked = session.conf.calls
    assert asked == 1 and databricks_ids(session) == NONE and session.conf.calls == asked


def test_only_the_cluster_id_is_cached_per_session():
    session = ClassicSession({CONF_KEYS[1]: "701", CONF_KEYS[2]: "0409-first"})
    assert databricks_ids(session)["ClusterID"] == "0409-first"
    session.conf.values = {CONF_KEYS[1]: "702", CONF_KEYS[2]: "0409-second"}
    again = databricks_ids(session)
    assert (again["TaskRunID"], again["ClusterID"]) == ("702", "0409-first")
    runtime.forget_cached()
    assert databricks_ids(session)["ClusterID"] == "0409-second"
