"""Stacks of a worker that hangs or dies, kept in a file the controller prints at the end.

A pytest-xdist worker's own output never reaches the run's log: a test stopped by
pytest-timeout (which dumps the stacks to that output, then ends the process) or a native
crash shows only as ``node down: Not properly terminated``. Each worker therefore writes
faulthandler's dumps to a file of its own in a folder the controller created: on a crash,
and for a test still running shortly before the timeout would stop it. The controller
prints every non-empty file in its terminal summary.
"""

from __future__ import annotations

import faulthandler
import os
import tempfile
from pathlib import Path
from typing import IO

FOLDER_ENV = "ETL_MONITOR_TEST_FAULTS"
#: Seconds before pytest-timeout's limit at which a still-running test's stacks are written.
MARGIN = 30

_file: list[IO[str]] = []


def create_folder() -> str:
    """In the controller: a folder for the workers' files, named in the environment they inherit."""
    folder = os.environ.get(FOLDER_ENV) or tempfile.mkdtemp(prefix="etlm-faults-")
    os.environ[FOLDER_ENV] = folder
    return folder


def enable(worker: str) -> None:
    """In a worker: faulthandler writes to this worker's file from now on."""
    folder = os.environ.get(FOLDER_ENV)
    if not folder or _file:
        return
    _file.append(open(Path(folder) / f"{worker}.txt", "w", encoding="utf-8"))  # noqa: SIM115
    faulthandler.enable(file=_file[0], all_threads=True)


def arm(timeout: float) -> None:
    """Write every thread's stack if the test now starting outlives `timeout` less `MARGIN`."""
    if _file and timeout > MARGIN:
        faulthandler.dump_traceback_later(timeout - MARGIN, file=_file[0])


def disarm() -> None:
    if _file:
        faulthandler.cancel_dump_traceback_later()


def reports() -> dict[str, str]:
    """In the controller: each worker's non-empty file, by worker."""
    folder = os.environ.get(FOLDER_ENV)
    if not folder:
        return {}
    found = {
        p.stem: p.read_text(encoding="utf-8", errors="replace") for p in Path(folder).glob("*.txt")
    }
    return {worker: text for worker, text in sorted(found.items()) if text.strip()}
