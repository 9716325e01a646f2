"""Stacks of a worker that hangs or dies, kept in a file the controller prints at the end.

A pytest-xdist worker's own output never reaches the run's log: a test stopped by
pytest-timeout (which dumps the stacks to that output, then ends the process) or a native
crash shows only as ``node down: Not properly terminated``. Each worker therefore writes
faulthandler's dumps to a file of its own in a folder the controller created: on a crash,
and for a test still running shortly before the timeout would stop it. The controller
prints every non-empty file in its terminal summary.

With the Python stacks goes what the worker's JVM servers (its child processes) looked
like: heap use and garbage-collection counts, and the threads running queries.
"""

from __future__ import annotations

import faulthandler
import os
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO

FOLDER_ENV = "ETL_MONITOR_TEST_FAULTS"
#: Seconds before pytest-timeout's limit at which a still-running test's stacks are written.
MARGIN = 60

_file: list[IO[str]] = []
_timer: list[threading.Timer] = []


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
        timer = threading.Timer(timeout - MARGIN + 2, _write_jvms)  # after the stacks
        timer.daemon = True
        timer.start()
        _timer[:] = [timer]


def disarm() -> None:
    if _file:
        faulthandler.cancel_dump_traceback_later()
        for timer in _timer:
            timer.cancel()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def _write_jvms() -> None:
    """Heap, GC counts and query threads of this worker's JVM children (Linux, JDK tools)."""
    for pid in _children(os.getpid()):
        try:
            if b"java" not in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                continue
            threads = _run(["jcmd", str(pid), "Thread.print"]).split("\n\n")
            running = [t[:1500] for t in threads if "ExecuteThreadRunner" in t][:6]
            parts = [f"JVM child {pid}, threads running queries:", *running, "heap and GC:"]
            parts += [
                _run(["jcmd", str(pid), "GC.heap_info"]),
                _run(["jstat", "-gcutil", str(pid)]),
            ]
            _file[0].write("\n".join(parts) + "\n")
            _file[0].flush()
        except OSError as error:
            _file[0].write(f"JVM child {pid}: {error}\n")


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{command[0]}: {error}"
    return done.stdout + done.stderr


def reports() -> dict[str, str]:
    """In the controller: each worker's non-empty file, by worker."""
    folder = os.environ.get(FOLDER_ENV)
    if not folder:
        return {}
    found = {
        p.stem: p.read_text(encoding="utf-8", errors="replace") for p in Path(folder).glob("*.txt")
    }
    return {worker: text for worker, text in sorted(found.items()) if text.strip()}
