"""databricks-etl-monitor 1.0's own sample notebooks, run cell by cell against this library.

The notebooks come from the peer's wheel (tests/peer_package.py installs it in its own venv);
the only edits are the two lines they ask a user to change (catalog and schema).
``00-infrastructure`` is not run: it creates a catalog from workspace system tables and
calls nothing of the framework. Delta only, the engine those notebooks target.
"""

from __future__ import annotations

import functools
import re
import uuid

import pytest

from etl_monitor import ETLMonitorFramework
from tests.notebook_runner import run_notebook
from tests.peer_package import peer_notebooks

#: The cell of 03-run that cannot pass here: it drops ETLProcessingSteps with DROP TABLE,
#: and ETLProcessingSteps is a view (README, "Coming from databricks-etl-monitor").
TEARDOWN = re.compile(r"03-run\.py.*DROP (TABLE|VIEW)|ETLProcessingSteps.*view", re.S)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, str | None]]:
    """Every call of a public framework method: (name, None) or (name, error text)."""
    seen: list[tuple[str, str | None]] = []
    for name, member in list(vars(ETLMonitorFramework).items()):
        if name.startswith("_") or not callable(member) or isinstance(member, staticmethod):
            continue

        def wrap(method, name=name):
            @functools.wraps(method)
            def recorded(self, *args, **kwargs):
                try:
                    out = method(self, *args, **kwargs)
                except Exception as error:
                    seen.append((name, f"{type(error).__name__}: {error}"))
                    raise
                seen.append((name, None))
                return out

            return recorded

        monkeypatch.setattr(ETLMonitorFramework, name, wrap(member))
    return seen


@pytest.mark.requires("current_user_function")  # the notebooks' direct UPDATEs write it
def test_the_peers_sample_notebooks_run_against_this_library(
    spark, catalog, tmp_path, monkeypatch, calls
):
    folder = peer_notebooks()
    schema = f"pnb_{uuid.uuid4().hex[:10]}"
    edits = {
        'MY_CATALOG  = "sampledatacatalog"': f'MY_CATALOG  = "{catalog}"',
        'ETL_SCHEMA  = "etl"': f'ETL_SCHEMA  = "{schema}"',
    }
    monkeypatch.chdir(tmp_path)  # sample_usage(spark) copies the notebooks here

    config = run_notebook(folder / "02-config.py", spark, edits=edits, keep_going=True)
    assert config.failures == [] and config.ran == ["01-install.py"]
    assert (tmp_path / "etl_monitor_sample_usage").is_dir()
    stages, tasks, watermarks = (
        config.displayed[0].rows,
        config.displayed[-2].rows,
        config.displayed[-1].rows,
    )
    assert [r.SequenceCode for r in stages][:3] == ["LOAD_GO", "LOAD_DB_CONFIG", "LOAD_DB_TRAN"]
    assert len(tasks) == 22  # 9 + 5 + 4 + 4 tasks in four processes
    payroll = next(t for t in tasks if t.TaskName == "Load Payroll File UK")
    assert (payroll.FileNameMask, payroll.FileExtension, payroll.LoadFrequency) == (
        "payroll_uk",
        ".csv",
        "M",
    )
    assert {r.ParameterName for r in watermarks} >= {"SYSDT", "LoadEmployeesUK", "IsFullReloadFlag"}

    runs = run_notebook(folder / "03-run.py", spark, edits=edits, keep_going=True)
    # Every cell passes but the teardown, whose DROP TABLE meets a view.
    assert len(runs.failures) == 1 and TEARDOWN.search(runs.failures[0][2]), runs.failures
    ns = runs.namespace
    # What 03-run displays, after the stage table of the 01-install it runs first.
    shown = [d.rows for d in runs.displayed if d.rows is not None][1:]
    first_pending = shown[0]
    assert [r.TaskID for r in first_pending] == list(range(9))
    detail_after_failure = shown[1]
    by_task = {r.TaskID: r for r in detail_after_failure}
    assert (by_task[0].Status, by_task[1].Status, by_task[2].Status) == ("DONE", "DONE", "FAIL")
    assert "SAP HR connection timeout" in by_task[2].LogMessage
    blockers = shown[2]
    assert [(r.TaskID, r.Status) for r in blockers] == [(2, "FAIL")]
    retry_pending = shown[4]
    assert 1 not in [r.TaskID for r in retry_pending]  # DONE in the first execution
    assert {r.Attempts for r in retry_pending} == {1}
    advanced = {r.ParameterName: r.ActiveValue for r in shown[5]}
    for name in ("LoadEmployeesUK", "LoadEmployeesUS", "LoadEmployeesIN", "LoadOrgStructure"):
        assert advanced[name].startswith("20") and not advanced[name].startswith("1900"), name
    retry_status = shown[6]
    assert {r.Status for r in retry_status} == {"DONE"}
    monitor = ns["monitor"]
    assert isinstance(monitor, ETLMonitorFramework) and ns["EXECUTION_ID_FSKIP"]

    failed = [(name, error) for name, error in calls if error]
    assert failed == [], failed
    made = [name for name, _ in calls]
    assert len(made) >= 90 and {"register_task", "task", "start_task", "fail_task"} <= set(made)
    print(f"{len(made)} framework calls, all succeeded: " + ", ".join(sorted(set(made))))
