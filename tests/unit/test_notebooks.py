"""The sample notebooks in sample_usage/, run cell by cell on the embedded engine.

What needs no engine: no session starts here; tests/engines/test_notebooks.py runs the rest on every
engine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.notebook_runner import NotebookError, NotebookResult, parse_notebook, run_notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "sample_usage"
PROJECT, PROCESS = "CORP", "HR_DAILY"
DAY, NEXT_DAY = "2026-04-09", "2026-04-10"
STEP_WIDGETS = {
    "catalog",
    "schema",
    "execution_id",
    "project_code",
    "process_load",
    "task_id",
    "workflow_id",
    "sequence_id",
    "processing_date",
    "source_type",
}
ADF_WIDGETS = {
    "etl_start_task.py": STEP_WIDGETS,
    "etl_end_task.py": STEP_WIDGETS | {"log_message", "log_type"},
    "etl_fail_task.py": STEP_WIDGETS | {"log_message", "log_type", "log_code"},
}


def run(name: str, spark, **widgets) -> NotebookResult:
    return run_notebook(NOTEBOOKS / name, spark, widgets)


def test_every_notebook_is_in_source_format_and_adf_widgets_are_exact():
    files = sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_file())
    assert {"00-infrastructure.py", "03-run.py", *ADF_WIDGETS} <= set(files)
    for name in files:
        assert (NOTEBOOKS / name).read_text().startswith("# Databricks notebook source\n"), name
        assert parse_notebook(NOTEBOOKS / name)
    for name, expected in ADF_WIDGETS.items():
        declared = re.findall(r'dbutils\.widgets\.text\("(\w+)"', (NOTEBOOKS / name).read_text())
        assert sorted(declared) == sorted(expected), name


def test_runner_fails_loudly_naming_notebook_and_cell(tmp_path: Path):
    nb = tmp_path / "broken.py"
    nb.write_text(
        "# Databricks notebook source\n"
        "# MAGIC %md\n# MAGIC # A broken notebook\n\n"
        "# COMMAND ----------\n\n"
        'dbutils.widgets.text("who", "nobody", "Who")\nx = 1\n\n'
        "# COMMAND ----------\n\n"
        "y = x / 0\n"
    )
    with pytest.raises(NotebookError) as failure:
        run_notebook(nb, spark=None)
    message = str(failure.value)
    assert "broken.py" in message and "cell 3" in message and "y = x / 0" in message
    assert "ZeroDivisionError" in message


def test_runner_widgets_exit_and_pip(tmp_path: Path):
    nb = tmp_path / "exits.py"
    nb.write_text(
        "# Databricks notebook source\n"
        "# MAGIC %pip install some-package==1.0\n\n"
        "# COMMAND ----------\n\n"
        'dbutils.widgets.text("a", "default-a")\ndbutils.widgets.text("b", "default-b")\n'
        'display({"a": dbutils.widgets.get("a"), "b": dbutils.widgets.get("b")})\n'
        "try:\n"
        '    dbutils.notebook.exit("bye")\n'
        "except Exception:\n"
        "    pass\n\n"
        "# COMMAND ----------\n\n"
        'raise RuntimeError("never reached")\n'
    )
    result = run_notebook(nb, spark=None, widgets={"a": "given"})
    assert result.pip == ["%pip install some-package==1.0"]
    assert result.displayed[0].value == {"a": "given", "b": "default-b"}
    assert (result.exited, result.exit_value, result.cells_run) == (True, "bye", 2)
    assert result.widgets == {"a": "default-a", "b": "default-b"}
