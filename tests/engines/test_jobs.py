"""Databricks Workflows jobs: the rendering, a local run of its graph, publishing to the emulator.

References: Jobs API 2.2 (https://docs.databricks.com/api/workspace/jobs), run-if
(https://docs.databricks.com/jobs/run-if.html), dynamic value references
(https://docs.databricks.com/jobs/dynamic-value-references.html), Asset Bundle job
resources (https://docs.databricks.com/dev-tools/bundles/resources.html#job).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from databricks.sdk.service.jobs import JobSettings

from etl_monitor.errors import InvalidArgumentError, StepStateError
from etl_monitor.jobs import gate
from tests.emulator.server import DatabricksEmulator
from tests.jobs_runner import run_job
from tests.schemas import copied
from tests.unit.test_jobs import FOLDER, _tasks

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_usage"
LOAD = ROOT / "tests" / "fixtures" / "jobs" / "load_task.py"
USER_NOTEBOOKS = "/Workspace/Users/someone@example.com/loads"
P, L = "DEMO", "SALES_DAILY"
LOADS = ["Customers", "Products", "Orders", "Returns", "Stores", "Prices"]
CHILD_JOB = 424242  # the DBX_JOB task "Load Stores" runs this job
MANDATORY = {"Orders", "Returns"}


def register_demo(monitor, *, adf: bool = False) -> None:
    """The demo's process (etl_monitor/cli/demo.py) as a Databricks job runs it: an
    initiation task, six parallel loads in stage 2 (Orders and Returns mandatory; Stores a
    DBX_JOB), dimensions in stage 3 and the mart in stage 6."""
    monitor.register_organisation("ACME", "Acme Retail")
    monitor.register_project(P, "Demo project", organisation_code="ACME", owner="Data Engineering")
    monitor.register_process(
        P, L, name='Sales "daily" load', owner="sales-data@example.com", load_frequency="D"
    )
    monitor.register_task(P, L, task_id=0, workflow_id=0, sequence_id=0, task_name="Initiation")
    for n, name in enumerate(LOADS, start=1):
        job = name == "Stores"
        monitor.register_task(
            P,
            L,
            task_id=n,
            workflow_id=1,
            sequence_id=2,
            task_name=f"Load {name}",
            source_type="DBX_JOB" if job else "DBX_NOTEBOOK",
            source_identifier=str(CHILD_JOB) if job else f"{USER_NOTEBOOKS}/load_{name.lower()}",
            task_mandatory=name in MANDATORY,
        )
    monitor.register_task(
        P,
        L,
        task_id=10,
        workflow_id=1,
        sequence_id=3,
        task_name="Build dimensions",
        source_identifier=f"{USER_NOTEBOOKS}/dimensions",
    )
    monitor.register_task(
        P,
        L,
        task_id=20,
        workflow_id=1,
        sequence_id=6,
        task_name="Sales mart",
        source_identifier=f"{USER_NOTEBOOKS}/sales_mart",
    )
    if adf:
        monitor.register_task(
            P,
            L,
            task_id=30,
            workflow_id=1,
            sequence_id=6,
            task_name="Copy to SQL Server",
            source_type="ADF_PIPELINE",
            source_identifier="pl_copy",
            task_mandatory=False,
        )


@pytest.fixture
def demo(spark, catalog):
    """A set-up schema with the demo process registered: a copy of this worker's template
    (`register_demo` is 21 statements, about 17 s on JVM Delta; a copy is about 1.5 s)."""
    return copied(spark, catalog, "jobs_demo", register_demo)


def _rendered(monitor, **options: Any):
    jobs = monitor.job_definitions(FOLDER, P, L, **options)
    assert len(jobs) == 1
    return jobs[0]


def _deps(task: dict) -> list[str]:
    return [d["task_key"] for d in task.get("depends_on", [])]


# -- rendering --------------------------------------------------------------------------------


def test_rendering_orders_stages_with_gates_and_runs_a_stage_in_parallel(demo, catalog):
    monitor = demo
    job = _rendered(monitor)
    s, tasks = job.settings, _tasks(job.settings)
    assert job.name == f"etl_monitor {P} {L}" and job.key == "etl_monitor_demo_sales_daily"
    assert s["max_concurrent_runs"] == 1 and s["queue"] == {"enabled": True}
    assert s["tags"] == {"etl_monitor_project": P, "etl_monitor_process": L}
    assert s["email_notifications"] == {"on_failure": ["sales-data@example.com"]}
    assert s["parameters"] == [
        {"name": "catalog", "default": catalog},
        {"name": "schema", "default": monitor.schema},
        {"name": "processing_date", "default": ""},
    ]
    assert "job_clusters" not in s and not any("existing_cluster_id" in t for t in s["tasks"])
    # start -> gate 2 -> six loads in parallel -> gate 3 -> dimensions -> gate 6 -> mart -> finish
    assert _deps(tasks["etl_start"]) == []
    assert _deps(tasks["stage_2_gate"]) == ["etl_start"] and "run_if" not in tasks["stage_2_gate"]
    notebook_loads = [f"task_{n}_1" for n in (1, 2, 3, 4, 6)]
    for key in [*notebook_loads, "task_5_1_start"]:
        assert _deps(tasks[key]) == ["stage_2_gate"], key
    gate3 = tasks["stage_3_gate"]
    assert gate3["run_if"] == "ALL_DONE"
    assert set(_deps(gate3)) == {"stage_2_gate", *notebook_loads, "task_5_1_end", "task_5_1_fail"}
    assert _deps(tasks["task_10_1"]) == ["stage_3_gate"]
    assert set(_deps(tasks["stage_6_gate"])) == {"stage_3_gate", "task_10_1"}
    assert _deps(tasks["task_20_1"]) == ["stage_6_gate"]
    assert tasks["etl_finish"]["run_if"] == "ALL_DONE"
    assert set(_deps(tasks["etl_finish"])) == {"stage_6_gate", "task_20_1"}
    upstream = {d for t in s["tasks"] for d in _deps(t)}
    assert [k for k in tasks if k not in upstream] == ["etl_finish"]  # the one leaf
    # A user's notebook gets the step's widgets, the run id as execution id.
    load = tasks["task_4_1"]["notebook_task"]
    assert load["notebook_path"] == f"{USER_NOTEBOOKS}/load_returns"
    assert load["base_parameters"] == {
        "catalog": "{{job.parameters.catalog}}",
        "schema": "{{job.parameters.schema}}",
        "execution_id": "{{job.run_id}}",
        "job_run_id": "{{job.run_id}}",
        "task_run_id": "{{task.run_id}}",
        "project_code": P,
        "process_load": L,
        "processing_date": "{{job.parameters.processing_date}}",
        "task_id": "4",
        "workflow_id": "1",
        "sequence_id": "2",
    }
    assert tasks["task_4_1"]["description"] == "Load Returns (mandatory)"
    assert tasks["task_1_1"]["description"] == "Load Customers (optional)"
    assert tasks["etl_start"]["notebook_task"]["notebook_path"] == f"{FOLDER}/etl_job_start"


def test_a_dbx_job_task_is_wrapped_so_that_it_records_itself(demo):
    monitor = demo
    tasks = _tasks(_rendered(monitor).settings)
    start, active = tasks["task_5_1_start"], tasks["task_5_1_active"]
    run, end, fail = tasks["task_5_1"], tasks["task_5_1_end"], tasks["task_5_1_fail"]
    assert start["notebook_task"]["notebook_path"] == f"{FOLDER}/etl_job_task_start"
    assert start["notebook_task"]["base_parameters"]["source_type"] == "DBX_JOB"
    assert active["condition_task"] == {
        "op": "EQUAL_TO",
        "left": "{{tasks.task_5_1_start.values.active}}",
        "right": "true",
    }
    assert run["run_job_task"] == {"job_id": CHILD_JOB}
    assert run["depends_on"] == [{"task_key": "task_5_1_active", "outcome": "true"}]
    assert end["run_if"] == "ALL_SUCCESS" and _deps(end) == ["task_5_1"]
    assert end["notebook_task"]["notebook_path"] == f"{FOLDER}/etl_end_task"
    assert fail["run_if"] == "AT_LEAST_ONE_FAILED"
    assert fail["notebook_task"]["notebook_path"] == f"{FOLDER}/etl_job_task_fail"
    assert fail["notebook_task"]["base_parameters"]["start_state"] == (
        "{{tasks.task_5_1_start.result_state}}"
    )
    assert set(_deps(fail)) == {"task_5_1_start", "task_5_1"}
    assert fail["notebook_task"]["base_parameters"]["log_code"] == "{{tasks.task_5_1.error_code}}"


def test_compute_choices_and_name_prefix(demo):
    monitor = demo
    cluster = {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "Standard_D4ds_v5",
        "num_workers": 1,
    }
    s = _rendered(monitor, job_cluster=cluster, name_prefix="nightly").settings
    assert s["name"] == f"nightly {P} {L}"
    assert s["job_clusters"] == [{"job_cluster_key": "etl_monitor", "new_cluster": cluster}]
    for task in s["tasks"]:
        if "notebook_task" in task:
            assert task["job_cluster_key"] == "etl_monitor"
        else:  # condition and run-job tasks run on no cluster
            assert "job_cluster_key" not in task
    s = _rendered(monitor, existing_cluster_id="0101-abc").settings
    assert {t.get("existing_cluster_id") for t in s["tasks"] if "notebook_task" in t} == {
        "0101-abc"
    }
    with pytest.raises(InvalidArgumentError, match="not both"):
        _rendered(monitor, existing_cluster_id="x", job_cluster=cluster)
    with pytest.raises(InvalidArgumentError, match="absolute workspace path"):
        monitor.job_definitions("Users/me/notebooks")


def test_adf_and_dataflow_tasks_are_refused_unless_left_out(monitor):
    register_demo(monitor, adf=True)
    with pytest.raises(InvalidArgumentError) as refused:
        _rendered(monitor)
    assert "30/1 'Copy to SQL Server' (ADF_PIPELINE)" in str(refused.value)
    assert "ADF_PIPELINE" in str(refused.value) and "DATAFLOW" not in str(refused.value.value)
    job = _rendered(monitor, leave_out_unsupported=True)
    assert [t["task_id"] for t in job.left_out] == [30]
    assert "task_30_1" not in _tasks(job.settings)
    assert set(_deps(_tasks(job.settings)["etl_finish"])) == {"stage_6_gate", "task_20_1"}


def test_bad_task_sources_and_a_missing_initiation_task_are_named(demo):
    monitor = demo
    monitor.register_task(
        P,
        L,
        task_id=40,
        workflow_id=1,
        sequence_id=3,
        task_name="Relative",
        source_identifier="loads/relative",
    )
    with pytest.raises(InvalidArgumentError, match="'loads/relative'"):
        _rendered(monitor)
    monitor.register_task(
        P,
        L,
        task_id=40,
        workflow_id=1,
        sequence_id=3,
        source_type="DBX_JOB",
        source_identifier="job-name",
    )
    with pytest.raises(InvalidArgumentError, match=r"numeric id of the job.*'job-name'"):
        _rendered(monitor)
    monitor.deactivate_task(P, L, task_id=40, workflow_id=1)
    monitor.deactivate_task(P, L, task_id=0, workflow_id=0)
    with pytest.raises(InvalidArgumentError, match="no active initiation task"):
        _rendered(monitor)


def test_bundle_yaml_equals_the_json_and_quotes_round_trip(demo):
    monitor = demo
    monitor.register_task(
        P,
        L,
        task_id=20,
        workflow_id=1,
        sequence_id=6,
        task_name="Mart 'EU' \"x\" -- \\ {{not}}",
        source_identifier=f'{USER_NOTEBOOKS}/it\'s "quoted"',
    )
    job = _rendered(monitor)
    as_json = json.loads(json.dumps(job.settings))
    assert yaml.safe_load(job.bundle_yaml()) == {"resources": {"jobs": {job.key: as_json}}}
    mart = _tasks(as_json)["task_20_1"]
    assert mart["notebook_task"]["notebook_path"] == f'{USER_NOTEBOOKS}/it\'s "quoted"'
    assert mart["description"] == "Mart 'EU' \"x\" -- \\ {{not}} (mandatory)"
    assert job.settings["description"] == 'Sales "daily" load'
    # The SDK's JobSettings carries every field: what publish sends is the rendering.
    assert JobSettings.from_dict(job.settings).as_dict() == job.settings


# -- a local run of the rendered graph -------------------------------------------------------


def _notebooks() -> dict[str, Path]:
    shipped = {f"{FOLDER}/{p.stem}": p for p in SAMPLES.glob("etl_*.py")}
    users = {f"{USER_NOTEBOOKS}/load_{n.lower()}": LOAD for n in LOADS}
    users |= {f"{USER_NOTEBOOKS}/dimensions": LOAD, f"{USER_NOTEBOOKS}/sales_mart": LOAD}
    return {**shipped, **users}


class ChildJob:
    """The job a DBX_JOB task runs: counts its runs, fails on demand."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail = False

    def __call__(self) -> None:
        self.runs += 1
        if self.fail:
            raise RuntimeError("child job run failed")


def _run(monitor, settings, child: ChildJob, fail: set[int] = frozenset(), day: str = "2026-04-09"):
    return run_job(
        settings,
        monitor.spark,
        notebooks=_notebooks(),
        run_jobs={CHILD_JOB: child},
        parameters={"processing_date": day},
        extra_globals={"fail_tasks": set(fail)},
    )


def _steps(monitor, execution_id: str) -> dict[int, Any]:
    df = monitor.get_status(P, L, execution_id=execution_id)
    return {r["TaskID"]: r for r in df.collect()}


def test_local_run_matches_the_demo_a_failure_blocks_a_new_run_retries_and_a_third_runs_nothing(
    demo,
):
    monitor = demo
    settings = _rendered(monitor).settings
    child = ChildJob()
    first = _run(monitor, settings, child, fail={4})  # Load Returns, mandatory, fails
    execution = str(first.run_id)
    steps = _steps(monitor, execution)
    assert set(steps) == {0, 1, 2, 3, 4, 5, 6, 10, 20}  # the execution id is the job run id
    status = {k: r["EffectiveStatus"] for k, r in steps.items()}
    assert status[4] == "FAIL" and status[0] == "FAIL"
    assert {status[k] for k in (1, 2, 3, 5, 6)} == {"DONE"}
    assert status[10] not in ("DONE", "FAIL", "RUNNING") and status[20] == status[10]  # queued
    states = first.states()
    assert states["task_4_1"] == "FAILED" and states["stage_3_gate"] == "FAILED"
    assert states["task_10_1"] == "UPSTREAM_FAILED" and states["task_20_1"] == "UPSTREAM_FAILED"
    assert states["task_5_1_fail"] == "EXCLUDED" and states["task_5_1_end"] == "SUCCESS"
    assert states["etl_finish"] == "FAILED" and first.result_state == "FAILED"
    assert "Load Returns" in first.tasks["stage_3_gate"].error
    assert "4/1 Load Returns" in steps[0]["LogMessage"]
    # The stage's tasks ran side by side, and after the start.
    loads = [first.tasks[f"task_{n}_1"] for n in (1, 2, 3, 4, 6)]
    assert max(t.started for t in loads) < min(t.ended for t in loads)
    assert child.runs == 1
    # The user's notebook saw the run's ids as widgets.
    params = first.tasks["task_1_1"].parameters
    assert params["execution_id"] == params["job_run_id"] == execution
    assert params["task_run_id"] == str(first.tasks["task_1_1"].run_id)
    assert {str(r["ProcessingDate"]) for r in steps.values()} == {"2026-04-09"}  # job parameter

    retry = _run(monitor, settings, child)  # a new job run: a new execution
    steps = _steps(monitor, str(retry.run_id))
    assert retry.result_state == "SUCCESS", retry.states()
    # Only what did not finish is queued again; the child job is not run a second time.
    assert set(steps) == {0, 4, 10, 20}
    assert {r["EffectiveStatus"] for r in steps.values()} == {"DONE"}
    assert retry.states()["task_5_1"] == "EXCLUDED" and child.runs == 1
    ordered = [steps[4], steps[10], steps[20]]
    for before, after in itertools.pairwise(ordered):
        assert before["EndTime"] <= after["StartTime"]  # stage after stage

    again = _run(monitor, settings, child)  # the day is finished: a third run runs nothing
    assert again.result_state == "SUCCESS" and child.runs == 1
    steps = _steps(monitor, str(again.run_id))
    assert {k: r["EffectiveStatus"] for k, r in steps.items()} == {0: "DONE"}


def test_an_optional_failure_does_not_stop_later_stages(demo):
    monitor = demo
    settings = _rendered(monitor).settings
    child = ChildJob()
    child.fail = True  # Load Stores (optional, a DBX_JOB) fails in its child job
    run = _run(monitor, settings, child, fail={1})  # Load Customers (optional) fails too
    steps = _steps(monitor, str(run.run_id))
    assert steps[1]["EffectiveStatus"] == "FAIL" and steps[5]["EffectiveStatus"] == "FAIL"
    assert "FAILED" in steps[5]["LogMessage"] and steps[5]["LogCode"] == "RuntimeError"
    assert {steps[k]["EffectiveStatus"] for k in (0, 2, 3, 4, 6, 10, 20)} == {"DONE"}
    assert (
        run.states()["task_5_1_fail"] == "SUCCESS"
        and run.states()["task_5_1_end"] == "UPSTREAM_FAILED"
    )
    assert run.result_state == "SUCCESS_WITH_FAILURES"
    assert (
        steps[2]["EndTime"] <= steps[10]["StartTime"]
        and steps[10]["EndTime"] <= steps[20]["StartTime"]
    )


def test_left_out_adf_steps_are_skipped_so_they_do_not_block(monitor):
    register_demo(monitor, adf=True)
    monitor.register_task(  # mandatory: the job must not wait for it
        P,
        L,
        task_id=30,
        workflow_id=1,
        sequence_id=3,
        task_name="Copy to SQL Server",
        source_type="ADF_PIPELINE",
        source_identifier="pl_copy",
    )
    settings = _rendered(monitor, leave_out_unsupported=True).settings
    run = _run(monitor, settings, ChildJob())
    steps = _steps(monitor, str(run.run_id))
    assert steps[30]["EffectiveStatus"] == "SKIPPED"
    assert run.result_state == "SUCCESS" and steps[0]["EffectiveStatus"] == "DONE"
    assert json.loads(run.tasks["etl_start"].exit_value)["skipped"] == ["30/1 Copy to SQL Server"]


def test_a_run_whose_initiation_task_was_switched_off_records_nothing_and_fails(demo):
    monitor = demo
    settings = _rendered(monitor).settings  # published, then the initiation task is switched off
    monitor.deactivate_task(P, L, task_id=0, workflow_id=0)
    child = ChildJob()
    run = _run(monitor, settings, child)
    states = run.states()
    assert states["etl_start"] == "FAILED" and "did not start" in run.tasks["etl_start"].error
    assert states["stage_2_gate"] == "UPSTREAM_FAILED" and states["task_1_1"] == "UPSTREAM_FAILED"
    assert states["stage_3_gate"] == "FAILED" and states["stage_6_gate"] == "FAILED"  # ALL_DONE
    assert "initiation task (0/0)" in run.tasks["stage_3_gate"].error
    assert states["task_10_1"] == "UPSTREAM_FAILED" and states["task_20_1"] == "UPSTREAM_FAILED"
    assert states["etl_finish"] == "FAILED" and run.result_state == "FAILED"
    steps = _steps(monitor, str(run.run_id))
    assert all(r["EffectiveStatus"] not in ("RUNNING", "DONE", "FAIL") for r in steps.values())
    assert child.runs == 0


def test_gate_counts_mandatory_steps_that_never_recorded(demo):
    monitor = demo
    execution = "exec-gate"
    monitor.generate_execution_steps(execution, P, L, "2026-04-09")
    with pytest.raises(StepStateError, match="initiation task"):
        gate.check_stage(monitor, execution, P, L, 2)
    monitor.start_task(execution, P, L, task_id=0, workflow_id=0, sequence_id=0)
    assert gate.check_stage(monitor, execution, P, L, 2).ok
    with pytest.raises(StepStateError, match="neither finished nor failed: 3/1 Load Orders, 4/1"):
        gate.check_stage(monitor, execution, P, L, 3)
    out = gate.outcome(monitor, execution, P, L)
    assert out.unfinished_mandatory[:2] == ["3/1 Load Orders", "4/1 Load Returns"]


# -- command line ----------------------------------------------------------------------------


def test_cli_render_writes_json_and_bundle_files_and_publish_needs_confirm(tmp_path, monkeypatch):
    from etl_monitor.cli import jobs as cli_jobs
    from etl_monitor.cli.main import main
    from etl_monitor.engine import local

    warehouse = str(tmp_path / "wh")
    runner = CliRunner()
    assert runner.invoke(main, ["setup", "--warehouse", warehouse]).exit_code == 0
    monitor = cli_jobs._framework(warehouse, None, "etl", "sail", existing=True)
    register_demo(monitor)
    out = tmp_path / "jobs"
    result = runner.invoke(
        main,
        [
            "jobs",
            "render",
            "--warehouse",
            warehouse,
            "--notebook-folder",
            FOLDER,
            "--out",
            str(out),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    key = "etl_monitor_demo_sales_daily"
    settings = json.loads((out / f"{key}.job.json").read_text())
    bundle = yaml.safe_load((out / "resources" / f"{key}.job.yml").read_text())
    assert bundle == {"resources": {"jobs": {key: settings}}}
    assert settings["parameters"][0] == {
        "name": "catalog",
        "default": local.DEFAULT_CATALOG["sail"],
    }
    refused = runner.invoke(main, ["jobs", "publish", "--warehouse", warehouse])
    assert refused.exit_code != 0 and "--confirm" in refused.output
    with DatabricksEmulator() as server:
        monkeypatch.setattr(cli_jobs, "workspace_for", lambda where: server.client())
        args = ["jobs", "publish", "--warehouse", warehouse, "--confirm", "--format", "json"]
        first = runner.invoke(main, args)
        assert first.exit_code == 0, first.output
        assert json.loads(first.output)["counts"] == {"created": 1}
        job = next(iter(server.jobs.values()))
        assert (
            _tasks(job["settings"])["etl_start"]["notebook_task"]["notebook_path"]
            == f"{FOLDER}/etl_job_start"
        )
        second = json.loads(runner.invoke(main, args).output)
        assert second["counts"] == {"unchanged": 1} and second["mutating_calls"] == 0
