"""Databricks jobs: publishing is idempotent, names are matched exactly, keys are distinct.

What needs no engine: the rendering and the publishing run against the Databricks REST
emulator (tests/emulator/jobs.py), which answers as the real Jobs API does where these
defects showed: ``depends_on`` sorted by ``task_key``, ``jobs/list`` filtering on the name
case-insensitively.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from click.testing import CliRunner

from etl_monitor.jobs import JobOptions, render
from etl_monitor.jobs.publish import differences, normalise, publish
from etl_monitor.jobs.render import resource_key
from tests.emulator.server import DatabricksEmulator
from tests.unit.test_jobs import FOLDER, _tasks

#: A key ``${resources.jobs.<key>.id}`` can name (databricks/cli libs/dyn/dynvar/ref.go).
BUNDLE_KEY = re.compile(r"^[a-zA-Z]+([-_]*[a-zA-Z0-9]+)*$")
#: Four processes whose names the former key folded into one.
LOOK_ALIKES = ["HR_DAILY", "hr_daily", "HR-DAILY", "HR.DAILY"]


def _process(project: str, process: str, steps: list[dict[str, Any]]) -> tuple[dict, list[dict]]:
    """One process with its initiation task 0/0 and ``steps`` (TaskID, WorkFlowID, SequenceID,
    optionally SourceType and SourceIdentifier)."""
    row = {"ProjectCode": project, "ProcessLoad": process, "ProcessOwner": "Team"}
    tasks = [
        {
            "ProjectCode": project,
            "ProcessLoad": process,
            "TaskID": 0,
            "WorkFlowID": 0,
            "SequenceID": 0,
        }
    ]
    for step in steps:
        task = {
            "ProjectCode": project,
            "ProcessLoad": process,
            "TaskName": f"Task {step['TaskID']}/{step['WorkFlowID']}",
            "SourceType": "DBX_NOTEBOOK",
            "SourceIdentifier": f"/Workspace/loads/{process.lower()}_{step['TaskID']}",
            **step,
        }
        tasks.append(task)
    return row, tasks


def _render(*processes: tuple[dict, list[dict]]) -> list:
    rows = [p for p, _ in processes]
    tasks = [t for _, ts in processes for t in ts]
    return render.render(rows, tasks, JobOptions(FOLDER))


def _look_alikes(names: list[str] = LOOK_ALIKES) -> list:
    return _render(
        *(_process("CORP", n, [{"TaskID": 1, "WorkFlowID": 1, "SequenceID": 2}]) for n in names)
    )


# -- 1. depends_on as the service returns it -------------------------------------------------


def _unsorted_dependencies() -> list:
    """A stage whose task keys do not sort in order (2/1, 10/1, 1/2: task_2_1, task_10_1,
    task_1_2), and a process with a DBX_JOB task (its fail task depends on
    task_1_1_start, task_1_1)."""
    stage = _process(
        "CORP",
        "UNSORTED",
        [
            {"TaskID": 2, "WorkFlowID": 1, "SequenceID": 2},
            {"TaskID": 10, "WorkFlowID": 1, "SequenceID": 2},
            {"TaskID": 1, "WorkFlowID": 2, "SequenceID": 2},
            {"TaskID": 3, "WorkFlowID": 1, "SequenceID": 3},
        ],
    )
    child_job = _process(
        "CORP",
        "WITH_JOB",
        [
            {
                "TaskID": 1,
                "WorkFlowID": 1,
                "SequenceID": 2,
                "SourceType": "DBX_JOB",
                "SourceIdentifier": "424242",
            }
        ],
    )
    return _render(stage, child_job)


def test_emulator_returns_depends_on_sorted_by_task_key():
    jobs = _unsorted_dependencies()
    rendered = {j.name: _tasks(j.settings) for j in jobs}
    # The rendering lists them in stage order, which is not task_key order.
    unsorted = rendered["etl_monitor CORP UNSORTED"]["stage_3_gate"]["depends_on"]
    assert [d["task_key"] for d in unsorted] == [
        "stage_2_gate",
        "task_2_1",
        "task_10_1",
        "task_1_2",
    ]
    with DatabricksEmulator() as server:
        w = server.client()
        for job in jobs:
            w.api_client.do("POST", "/api/2.2/jobs/create", body=job.settings)
        listed = w.api_client.do(
            "GET", "/api/2.2/jobs/list", query={"expand_tasks": "true", "limit": 100}
        )["jobs"]
        assert len(listed) == 2
        shown = {}
        for item in listed:
            got = w.api_client.do("GET", "/api/2.2/jobs/get", query={"job_id": item["job_id"]})
            for settings in (item["settings"], got["settings"]):
                wanted = rendered[settings["name"]]
                for task in settings["tasks"]:
                    keys = [d["task_key"] for d in task.get("depends_on", [])]
                    assert keys == sorted(keys), (settings["name"], task["task_key"])
                    assert keys == sorted(
                        d["task_key"] for d in wanted[task["task_key"]].get("depends_on", [])
                    )
            shown[got["settings"]["name"]] = _tasks(got["settings"])
        gate = shown["etl_monitor CORP UNSORTED"]["stage_3_gate"]
        assert [d["task_key"] for d in gate["depends_on"]] == [
            "stage_2_gate",
            "task_10_1",
            "task_1_2",
            "task_2_1",
        ]
        fail = shown["etl_monitor CORP WITH_JOB"]["task_1_1_fail"]
        assert [d["task_key"] for d in fail["depends_on"]] == ["task_1_1", "task_1_1_start"]
        assert not server.errors


def test_publishing_twice_changes_nothing_when_dependencies_do_not_sort_in_order():
    with DatabricksEmulator() as server:
        w = server.client()
        first = publish(w, _unsorted_dependencies())
        assert first.counts == {"created": 2}
        server.reset_log()
        second = publish(w, _unsorted_dependencies())
        assert [(j.action, j.changed) for j in second.jobs] == [("unchanged", [])] * 2
        assert second.mutating_calls == 0 and server.mutating_count() == 0
        assert server.count("POST", "/jobs/reset") == 0 and not server.errors


def test_normalising_sorts_depends_on_by_task_key_and_still_sees_a_changed_dependency():
    wanted = _tasks(_unsorted_dependencies()[1].settings)  # WITH_JOB
    assert [d["task_key"] for d in wanted["task_1_1_fail"]["depends_on"]] == [
        "task_1_1_start",
        "task_1_1",
    ]
    settings = _unsorted_dependencies()[1].settings
    stored = json.loads(json.dumps(settings))
    _tasks(stored)["task_1_1_fail"]["depends_on"].reverse()
    assert differences(stored, settings) == []
    assert normalise(stored) == normalise(settings)
    fail = _tasks(normalise(settings))["task_1_1_fail"]
    assert [d["task_key"] for d in fail["depends_on"]] == ["task_1_1", "task_1_1_start"]
    _tasks(stored)["task_1_1_fail"]["depends_on"].pop()
    assert differences(stored, settings) == ["tasks.task_1_1_fail"]
    outcome = json.loads(json.dumps(settings))
    _tasks(outcome)["task_1_1"]["depends_on"][0]["outcome"] = "false"
    assert differences(outcome, settings) == ["tasks.task_1_1"]


# -- 2. names that differ only by case --------------------------------------------------------


def test_emulator_filters_job_names_case_insensitively_like_the_service():
    with DatabricksEmulator() as server:
        w = server.client()
        job_id = w.jobs.create(name="etl_monitor CORP HR_DAILY").job_id
        assert [j.job_id for j in w.jobs.list(name="etl_monitor corp hr_daily")] == [job_id]
        assert [j.job_id for j in w.jobs.list(name="etl_monitor CORP HR_DAILY")] == [job_id]
        assert list(w.jobs.list(name="etl_monitor CORP HR_DAILY2")) == []


def test_jobs_whose_names_differ_only_by_case_each_keep_their_own_job():
    upper, lower = _look_alikes(["HR_DAILY", "hr_daily"])
    assert upper.name == "etl_monitor CORP HR_DAILY" and lower.name == "etl_monitor CORP hr_daily"
    with DatabricksEmulator() as server:
        w = server.client()
        # An existing job, then a process whose name differs only by case: a new job.
        (created,) = publish(w, [upper]).jobs
        upper_id = created.job_id
        server.reset_log()
        report = publish(w, [upper, lower])
        assert [(j.name, j.action) for j in report.jobs] == [
            (upper.name, "unchanged"),
            (lower.name, "created"),
        ]
        assert report.jobs[0].job_id == upper_id and report.jobs[1].job_id != upper_id
        lower_id = report.jobs[1].job_id
        assert server.count("POST", "/jobs/reset") == 0
        assert {i: j["settings"]["name"] for i, j in server.jobs.items()} == {
            upper_id: upper.name,
            lower_id: lower.name,
        }
        # Published again, in either order: nothing changes, nothing is refused.
        for order in ([upper, lower], [lower, upper]):
            server.reset_log()
            again = publish(w, order)
            assert {j.name: (j.action, j.job_id) for j in again.jobs} == {
                upper.name: ("unchanged", upper_id),
                lower.name: ("unchanged", lower_id),
            }
            assert server.mutating_count() == 0 and not server.errors


def test_jobs_created_together_whose_names_differ_only_by_case_publish_again():
    upper, lower = _look_alikes(["HR_DAILY", "hr_daily"])
    with DatabricksEmulator() as server:
        w = server.client()
        first = publish(w, [upper, lower])
        assert first.counts == {"created": 2}
        ids = {j.name: j.job_id for j in first.jobs}
        server.reset_log()
        again = publish(w, [upper, lower])  # formerly: "several jobs share a name"
        assert {j.name: (j.action, j.job_id) for j in again.jobs} == {
            n: ("unchanged", i) for n, i in ids.items()
        }
        assert server.mutating_count() == 0
        assert {j["settings"]["name"] for j in server.jobs.values()} == {upper.name, lower.name}


# -- 3. bundle resource keys -------------------------------------------------------------------


def test_resource_keys_of_look_alike_names_are_distinct_and_valid():
    keys = [resource_key("CORP", n) for n in LOOK_ALIKES]
    assert len(set(keys)) == 4
    # Distinct whatever the case, so that their files do not collide on a case-insensitive disk.
    assert len({k.lower() for k in keys}) == 4
    for key in keys:
        assert BUNDLE_KEY.match(key) and re.fullmatch(r"[a-z0-9_\-]+", key), key
    # A code with underscores is not mistaken for another split of the same words.
    assert resource_key("A_B", "C") != resource_key("A", "B_C")
    assert resource_key("CORP", "X_") != resource_key("CORP", "X")
    # Simple names keep the key they always had.
    assert resource_key("DEMO", "SALES_DAILY") == "etl_monitor_demo_sales_daily"
    assert resource_key("CORP", "LOAD_01") == "etl_monitor_corp_load_01"
    assert resource_key("CORP", "HR_DAILY") == "etl_monitor_corp_hr_daily"


def test_resource_key_is_deterministic():
    for name in LOOK_ALIKES:
        assert len({resource_key("CORP", name) for _ in range(3)}) == 1
    # Pinned: the same in every interpreter (no per-process string hashing).
    assert [resource_key("CORP", n) for n in LOOK_ALIKES] == [
        "etl_monitor_corp_hr_daily",
        "etl_monitor_corp_hr_daily-9b6117a8",
        "etl_monitor_corp_hr_daily-61f75698",
        "etl_monitor_corp_hr_daily-1b7ce0dd",
    ]
    assert [j.key for j in _look_alikes()] == [j.key for j in _look_alikes()]


def test_cli_render_writes_one_file_per_look_alike_process(tmp_path, monkeypatch):
    from etl_monitor.cli import jobs as cli_jobs
    from etl_monitor.cli.main import main

    class Catalogue:  # the four processes, as the catalogue hands them to the renderer
        def job_definitions(self, folder, project_code=None, process_load=None, **options):
            assert folder == FOLDER and options["name_prefix"] == "etl_monitor"
            return _look_alikes()

    monkeypatch.setattr(cli_jobs, "_framework", lambda *args, **kwargs: Catalogue())
    out = tmp_path / "jobs"
    result = CliRunner().invoke(
        main, ["jobs", "render", "--notebook-folder", FOLDER, "--out", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    keys = {resource_key("CORP", n): f"etl_monitor CORP {n}" for n in LOOK_ALIKES}
    assert sorted(p.name for p in out.glob("*.job.json")) == sorted(f"{k}.job.json" for k in keys)
    assert sorted(p.name for p in (out / "resources").glob("*.job.yml")) == sorted(
        f"{k}.job.yml" for k in keys
    )
    for key, name in keys.items():
        settings = json.loads((out / f"{key}.job.json").read_text())
        assert settings["name"] == name
        bundle = yaml.safe_load((out / "resources" / f"{key}.job.yml").read_text())
        assert bundle == {"resources": {"jobs": {key: settings}}}
