"""sample_usage(): the notebooks are found and copied into a workspace folder or a local one."""

from __future__ import annotations

from pathlib import Path

from etl_monitor.integrations.samples import notebooks
from tests.emulator import DatabricksEmulator

SOURCE = Path(__file__).resolve().parents[2] / "sample_usage"


def test_copy_to_workspace(monitor):
    with DatabricksEmulator() as emulator:
        folder = monitor.sample_usage(emulator.client())
        assert folder == "/Workspace/Users/someone@example.com/etl_monitor/sample_usage"
        assert sorted(emulator.workspace_files) == sorted(
            f"{folder}/{p.stem}" for p in SOURCE.glob("*.py")
        )
        start = emulator.workspace_files[f"{folder}/etl_start_task"]
        assert (start["format"], start["language"]) == ("SOURCE", "PYTHON")
        assert start["content"] == (SOURCE / "etl_start_task.py").read_text()
        again = monitor.sample_usage(emulator.client(), "/Shared/etl")  # overwrite, another folder
        assert again == "/Shared/etl" and len(emulator.workspace_files) == 2 * len(notebooks())


def test_copy_to_local_folder(monitor, tmp_path):
    folder = Path(monitor.sample_usage(target=str(tmp_path / "nb")))
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in SOURCE.glob("*.py"))
