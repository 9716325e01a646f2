"""The sample notebooks that ship with the package, and copying them where users work."""

from __future__ import annotations

import base64
import shutil
import site
import sys
from pathlib import Path
from typing import Any

from etl_monitor.errors import NotFoundError

#: Where the notebooks go in a workspace, under the user's home folder
#: (``/Workspace/Users/<user>/etl_monitor/sample_usage``); the ADF pipelines' default
#: notebook folder is built from the same two constants.
WORKSPACE_USERS = "/Workspace/Users"
SAMPLE_FOLDER = "etl_monitor/sample_usage"


def user_folder(user: str) -> str:
    """The workspace folder `sample_usage()` copies the notebooks into for `user`.

    Args:
        user: the workspace user name (an e-mail address or a service principal id).

    Returns:
        ``/Workspace/Users/<user>/etl_monitor/sample_usage``.
    """
    return f"{WORKSPACE_USERS}/{user}/{SAMPLE_FOLDER}"


def notebooks_dir() -> Path:
    """Where the notebooks are: the source checkout, or the installed data files."""
    candidates = [
        Path(__file__).resolve().parents[2]
        / "sample_usage",  # a source checkout (also editable installs)
        Path(sys.prefix) / "share" / "etl_monitor" / "sample_usage",  # installed from a wheel
        Path(site.getuserbase()) / "share" / "etl_monitor" / "sample_usage",
    ]
    for folder in candidates:
        if any(folder.glob("*.py")):
            return folder
    raise NotFoundError(f"sample notebooks not found in {', '.join(str(c) for c in candidates)}")


def notebooks() -> list[Path]:
    return sorted(
        p
        for p in notebooks_dir().glob("*.py")
        if p.read_text().startswith("# Databricks notebook source")
    )


def copy_to_folder(target: str | Path) -> str:
    folder = Path(target).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for notebook in notebooks():
        shutil.copyfile(notebook, folder / notebook.name)
    return str(folder)


def workspace_folder(user: str) -> str | None:
    """``/Workspace/Users/<user>/etl_monitor/sample_usage`` where the workspace file system is
    mounted (a Databricks cluster or serverless notebook), else None."""
    return user_folder(user) if Path(WORKSPACE_USERS).is_dir() else None


def copy_to_workspace(workspace_client: Any, folder: str | None = None) -> str:
    """Import every notebook (source format, Python) into a workspace folder, overwriting older copies."""
    from databricks.sdk.service.workspace import ImportFormat, Language

    if folder is None:
        folder = user_folder(workspace_client.current_user.me().user_name)
    workspace_client.workspace.mkdirs(folder)
    for notebook in notebooks():
        workspace_client.workspace.import_(
            path=f"{folder}/{notebook.stem}",
            content=base64.b64encode(notebook.read_bytes()).decode(),
            format=ImportFormat.SOURCE,
            language=Language.PYTHON,
            overwrite=True,
        )
    return folder
