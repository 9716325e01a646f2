"""Databricks Workflows jobs: the rendering, a local run of its graph, publishing to the emulator.

What needs no engine: no session starts here; tests/engines/test_jobs.py runs the rest on every
engine.
"""

from __future__ import annotations

import json

import pytest

from etl_monitor.errors import ValidationFailedError
from etl_monitor.jobs import JobOptions, render
from etl_monitor.jobs.publish import differences, publish
from tests.emulator.server import DatabricksEmulator

FOLDER = "/Workspace/Users/someone@example.com/etl_monitor/sample_usage"
P, L = "DEMO", "SALES_DAILY"


def _tasks(settings: dict) -> dict[str, dict]:
    return {t["task_key"]: t for t in settings["tasks"]}


# -- publishing ------------------------------------------------------------------------------


def _jobs(n: int, changed: str | None = None) -> list:
    processes, tasks = [], []
    for i in range(n):
        process = f"LOAD_{i:02d}"
        processes.append({"ProjectCode": "CORP", "ProcessLoad": process, "ProcessOwner": "Team"})
        tasks.append(
            {
                "ProjectCode": "CORP",
                "ProcessLoad": process,
                "TaskID": 0,
                "WorkFlowID": 0,
                "SequenceID": 0,
            }
        )
        for t in (1, 2):
            name = changed if (changed and i == 0 and t == 1) else f"Task {t}"
            tasks.append(
                {
                    "ProjectCode": "CORP",
                    "ProcessLoad": process,
                    "TaskID": t,
                    "WorkFlowID": 1,
                    "SequenceID": t + 1,
                    "TaskName": name,
                    "SourceType": "DBX_NOTEBOOK",
                    "SourceIdentifier": f"/Workspace/loads/{process.lower()}_{t}",
                }
            )
    return render.render(processes, tasks, JobOptions(FOLDER))


def test_publish_creates_then_changes_nothing_then_resets_one():
    with DatabricksEmulator() as server:
        w = server.client()
        first = publish(w, _jobs(3))
        assert first.counts == {"created": 3} and first.mutating_calls == 3
        assert server.count("POST", "/jobs/create") == 3 and not server.errors
        stored = server.jobs[first.jobs[0].job_id]["settings"]
        assert stored["format"] == "MULTI_TASK" and stored["tasks"][1]["run_if"] == "ALL_SUCCESS"
        server.reset_log()
        again = publish(w, _jobs(3))
        assert again.counts == {"unchanged": 3} and again.mutating_calls == 0
        assert server.mutating_count() == 0
        server.reset_log()
        changed = publish(w, _jobs(3, changed='Task "one"'))
        assert changed.counts == {"updated": 1, "unchanged": 2}
        assert changed.jobs[0].changed == ["tasks.task_1_1"]
        assert server.mutating_count() == 1 and server.count("POST", "/jobs/reset") == 1
        settings = server.jobs[changed.jobs[0].job_id]["settings"]
        assert _tasks(settings)["task_1_1"]["description"] == 'Task "one" (mandatory)'


def test_normalising_ignores_what_the_service_fills_in_and_task_order():
    wanted = _jobs(1)[0].settings
    stored = json.loads(json.dumps(wanted))
    stored.update(format="MULTI_TASK", timeout_seconds=0, email_notifications={})
    stored["run_as"] = {"user_name": "someone@example.com"}
    for task in stored["tasks"]:
        task.update(timeout_seconds=0, email_notifications={})
        if task.get("depends_on"):
            task.setdefault("run_if", "ALL_SUCCESS")
    stored["tasks"].reverse()
    assert differences(stored, wanted) == []
    stored["tasks"][0]["run_if"] = "ALL_DONE"  # etl_finish's, reversed first: unchanged
    assert differences(stored, wanted) == []
    stored["tasks"][1]["timeout_seconds"] = 60
    stored["max_concurrent_runs"] = 2
    assert differences(stored, wanted) == [
        "max_concurrent_runs",
        f"tasks.{stored['tasks'][1]['task_key']}",
    ]


def test_publish_refuses_duplicate_names_before_writing_and_retries_429():
    with DatabricksEmulator() as server:
        w = server.client()
        jobs = _jobs(2)
        for _ in range(2):
            w.jobs.create(name=jobs[1].name)
        server.reset_log()
        with pytest.raises(
            ValidationFailedError, match=r"'etl_monitor CORP LOAD_01': job ids 1002, 1001"
        ):
            publish(w, jobs)
        assert server.mutating_count() == 0
        w.jobs.delete(1002)
        server.fail("GET", "/api/2.2/jobs/list", 429, "REQUEST_LIMIT_EXCEEDED", times=2)
        report = publish(w, jobs)
        assert report.counts == {"created": 1, "updated": 1}
        assert server.count("GET", "/api/2.2/jobs/list") == 2 + 2 + 2  # 2 refused, then 2 answered


def test_publish_reads_every_page_of_a_long_job():
    with DatabricksEmulator() as server:
        w = server.client()
        processes = [{"ProjectCode": "CORP", "ProcessLoad": "BIG"}]
        tasks = [
            {
                "ProjectCode": "CORP",
                "ProcessLoad": "BIG",
                "TaskID": 0,
                "WorkFlowID": 0,
                "SequenceID": 0,
            }
        ]
        tasks += [
            {
                "ProjectCode": "CORP",
                "ProcessLoad": "BIG",
                "TaskID": t,
                "WorkFlowID": 1,
                "SequenceID": 2,
                "SourceIdentifier": f"/Workspace/loads/{t}",
            }
            for t in range(1, 151)
        ]
        jobs = render.render(processes, tasks, JobOptions(FOLDER))
        assert publish(w, jobs).counts == {"created": 1}
        server.reset_log()
        assert publish(w, jobs).counts == {"unchanged": 1}
        assert server.count("GET", "/api/2.2/jobs/get") == 2  # 153 tasks: listed 100, two pages
        small = _jobs(1)
        publish(w, small)
        server.reset_log()
        assert publish(w, small).calls == 1 and server.count("GET", "/api/2.2/jobs/get") == 0


def test_emulator_refuses_what_the_service_refuses():
    base = _jobs(1)[0].settings
    with DatabricksEmulator() as server:

        def refused(change) -> str:
            settings = json.loads(json.dumps(base))
            change(settings)
            with pytest.raises(Exception) as error:
                server.client().api_client.do("POST", "/api/2.2/jobs/create", body=settings)
            return str(error.value)

        def task(s, key):
            return _tasks(s)[key]

        assert "must be unique" in refused(lambda s: s["tasks"].append(dict(s["tasks"][0])))
        assert "unknown task" in refused(
            lambda s: task(s, "task_1_1").update(depends_on=[{"task_key": "nope"}])
        )
        assert "cycle" in refused(
            lambda s: task(s, "etl_start").update(depends_on=[{"task_key": "etl_finish"}])
        )
        assert "run_if" in refused(lambda s: task(s, "etl_finish").update(run_if="SOMETIMES"))
        assert "must be absolute" in refused(
            lambda s: task(s, "task_1_1")["notebook_task"].update(notebook_path="loads/x")
        )
        assert "undeclared job parameter" in refused(
            lambda s: task(s, "task_1_1")["notebook_task"]["base_parameters"].update(
                x="{{job.parameters.nope}}"
            )
        )
        assert "invalid dynamic value reference" in refused(
            lambda s: task(s, "task_1_1")["notebook_task"]["base_parameters"].update(
                x="{{job.run_idd}}"
            )
        )
        assert "exactly one task type" in refused(
            lambda s: task(s, "task_1_1").update(run_job_task={"job_id": 1})
        )
        assert "job_cluster_key" in refused(
            lambda s: task(s, "task_1_1").update(job_cluster_key="none")
        )
        assert "task_key" in refused(lambda s: task(s, "task_1_1").update(task_key="bad key!"))
        assert "parameter names" in refused(
            lambda s: s["parameters"].append({"name": "catalog", "default": ""})
        )
        with pytest.raises(Exception, match="new_settings is required"):
            w = server.client()
            job_id = w.api_client.do("POST", "/api/2.2/jobs/create", body=base)["job_id"]
            w.api_client.do("POST", "/api/2.2/jobs/reset", body={"job_id": job_id})
        assert not server.errors


def test_emulated_update_merges_tasks_by_key_and_validates_the_result():
    base = _jobs(1)[0].settings
    with DatabricksEmulator() as server:
        w = server.client()
        job_id = w.api_client.do("POST", "/api/2.2/jobs/create", body=base)["job_id"]
        renamed = dict(_tasks(base)["task_1_1"], description="renamed")
        w.api_client.do(
            "POST",
            "/api/2.2/jobs/update",
            body={"job_id": job_id, "new_settings": {"tasks": [renamed], "max_concurrent_runs": 3}},
        )
        settings = server.jobs[job_id]["settings"]
        assert len(settings["tasks"]) == len(base["tasks"]) and settings["max_concurrent_runs"] == 3
        assert _tasks(settings)["task_1_1"]["description"] == "renamed"
        with pytest.raises(Exception, match="unknown task 'stage_2_gate'"):
            w.api_client.do(
                "POST",
                "/api/2.2/jobs/update",
                body={"job_id": job_id, "fields_to_remove": ["tasks/stage_2_gate"]},
            )
        with pytest.raises(Exception, match="Job 99 does not exist"):
            w.jobs.get(99)
        assert not server.errors
