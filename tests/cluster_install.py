"""What ``%pip install lakehouse-etl-monitor`` changes on a Databricks cluster, measured with pip.

A Databricks Runtime ships hundreds of Python libraries at fixed versions; the ones that matter
to ``%pip install`` are those pip looks at while it resolves our dependencies. For each runtime
(``tests/fixtures/databricks_runtimes/dbr-<runtime>.txt``, taken from its release notes) a venv
holds the runtime's own versions of every package in our dependency closure, each installed with
``pip install --no-deps``. ``pip install --dry-run --report`` of this checkout into that venv
(without ``--ignore-installed``, as on the cluster) then says what pip would change: upgrades,
downgrades and additions; everything else stays as the runtime shipped it.

The closure is what a resolution of this checkout installs in an empty venv (``--dry-run
--ignore-installed --report``), grown by whatever the runtime's own versions need in turn: a
runtime package that the measuring dry-run would add is installed at the runtime's version and
the dry-run repeated, until pip adds only packages the runtime does not ship. A runtime pin that
pip cannot install on this Python (the runtime may run another one) is reported, never dropped.

Each venv is built once and cached under ``$ETL_MONITOR_CACHE`` (default
``~/.cache/etl_monitor``) in ``cluster-install/dbr-<runtime>-<digest>``, the digest being that
of the runtime's file and this Python's version; a ``.complete`` file marks a finished build.
The dry-run itself runs every time: it asks the package index what it serves today.

``python -m tests.cluster_install [RUNTIME...]`` prints the table for the runtimes (all three
by default).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "databricks_runtimes"
#: The runtimes measured, oldest first.
RUNTIMES = ("15.4", "16.4", "17.3")
#: This checkout's distribution: what the dry-run installs by request, never a change to report.
DISTRIBUTION = "lakehouse-etl-monitor"
#: pip settings that would make a measurement differ from a cluster, which installs from the
#: package index alone.
_PIP_ENV_DROPPED = ("PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT", "PIP_REQUIREMENT")
#: Rounds of "install what the runtime ships, then measure again" before giving up.
_MAX_ROUNDS = 10
_TIMEOUT = 1800


def canonical(name: str) -> str:
    """A distribution name in PEP 503 form (``PyYAML`` and ``pyyaml`` are one package)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class VersionChange:
    """A package pip would replace: the runtime's version (``old``) and pip's (``new``)."""

    name: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.name} {self.old} -> {self.new}"


@dataclass(frozen=True)
class Addition:
    """A package pip would install that the runtime does not ship."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class NotInstallable(Addition):
    """A runtime pin in our closure that pip could not install on this Python."""

    reason: str = ""

    def __str__(self) -> str:
        return f"{self.name}=={self.version} ({self.reason})"


@dataclass(frozen=True)
class Changes:
    """What ``%pip install lakehouse-etl-monitor`` changes on one Databricks Runtime.

    ``upgrades``, ``downgrades`` and ``additions`` are sorted by name; every other package of the
    runtime stays as it is. ``not_installable`` lists runtime pins that pip could not install on
    the Python measured on, and ``unmeasured`` what pip chose for those in their absence (on the
    cluster pip may keep the runtime's version instead).
    """

    runtime: str
    runtime_python: str
    python: str
    pip: str
    upgrades: tuple[VersionChange, ...]
    downgrades: tuple[VersionChange, ...]
    additions: tuple[Addition, ...]
    not_installable: tuple[NotInstallable, ...] = ()
    unmeasured: tuple[VersionChange, ...] = ()

    def summary(self) -> str:
        """A few lines for a person: the runtime, then each kind of change."""

        def listed(items: tuple) -> str:
            return ", ".join(str(i) for i in items) if items else "none"

        lines = [
            f"Databricks Runtime {self.runtime} LTS (Python {self.runtime_python}); "
            f"measured on Python {self.python} with pip {self.pip}",
            f"  upgrades ({len(self.upgrades)}): {listed(self.upgrades)}",
            f"  downgrades ({len(self.downgrades)}): {listed(self.downgrades)}",
            f"  additions ({len(self.additions)}): {listed(self.additions)}",
        ]
        if self.not_installable or self.unmeasured:
            lines.append(f"  not installable here: {listed(self.not_installable)}")
            lines.append(f"  pip's choice without them: {listed(self.unmeasured)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class RuntimeFile:
    """One runtime's constraint file: its pins by canonical name and its Python version."""

    runtime: str
    path: Path
    python: str
    pins: dict[str, tuple[str, str]]

    @property
    def digest(self) -> str:
        """The file's digest with this Python's version: what a cached venv was built from."""
        text = self.path.read_bytes() + sys.version.encode()
        return hashlib.sha256(text).hexdigest()[:12]


def runtime_file(runtime: str) -> RuntimeFile:
    """Read ``dbr-<runtime>.txt``: ``name==version`` lines, and ``Python X.Y`` in its comments.

    Raises:
        ValueError: the runtime is not one of `RUNTIMES`, or the file has no Python version.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    path = FIXTURES / f"dbr-{runtime}.txt"
    text = path.read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    python = re.search(r"\bPython (\d+\.\d+)", header)
    if python is None:
        raise ValueError(f"{path.name} names no Python version in its comments")
    pins: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name)] = (name.strip(), version.strip())
    return RuntimeFile(runtime, path, python.group(1), pins)


def cache_root() -> Path:
    """``$ETL_MONITOR_CACHE`` or ``~/.cache/etl_monitor``."""
    return Path(os.environ.get("ETL_MONITOR_CACHE") or Path.home() / ".cache" / "etl_monitor")


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PIP_ENV_DROPPED}
    env.pop("VIRTUAL_ENV", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pip ARGS`` in the checkout, from the package index alone."""
    return subprocess.run(
        [str(python), "-m", "pip", *args],
        cwd=ROOT,
        env=_pip_env(),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
    )


def _tail(done: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    return "\n".join((done.stderr or done.stdout).strip().splitlines()[-lines:])


def _dry_run(python: Path, *extra: str) -> list[tuple[str, str]]:
    """What ``pip install --dry-run --report`` of this checkout would install: (name, version).

    Raises:
        RuntimeError: pip failed (the reason is pip's tail).
    """
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        done = _pip(python, "install", "--dry-run", "--quiet", *extra, "--report", str(report), ".")
        if done.returncode != 0 or not report.is_file():
            raise RuntimeError(f"pip install --dry-run of the checkout failed:\n{_tail(done)}")
        items = json.loads(report.read_text())["install"]
    return [(i["metadata"]["name"], i["metadata"]["version"]) for i in items]


def _installed(python: Path) -> dict[str, str]:
    """The venv's distributions: canonical name -> version."""
    done = _pip(python, "list", "--format", "json")
    if done.returncode != 0:
        raise RuntimeError(f"pip list failed:\n{_tail(done)}")
    return {canonical(d["name"]): d["version"] for d in json.loads(done.stdout)}


def _install_pins(python: Path, pins: list[tuple[str, str]]) -> list[NotInstallable]:
    """Install ``name==version`` each with ``--no-deps``; returns those pip could not install."""
    if not pins:
        return []
    args = ["install", "--no-deps", "--quiet"]
    done = _pip(python, *args, *(f"{n}=={v}" for n, v in pins))
    if done.returncode == 0:
        return []
    failed = []
    for name, version in pins:  # one at a time: which of them failed, and why
        single = _pip(python, *args, f"{name}=={version}")
        if single.returncode != 0:
            reason = _tail(single, 1) or f"pip exited with {single.returncode}"
            failed.append(NotInstallable(name, version, reason))
    return failed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time builds or extends a runtime's venv (xdist workers, a CLI run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _venv_python(folder: Path) -> Path:
    return folder / "bin" / "python"


def _build(spec: RuntimeFile, folder: Path) -> list[NotInstallable]:
    """A new venv holding the runtime's versions of our closure; returns the failed pins."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=_TIMEOUT)
    python = _venv_python(folder)
    # The closure: what this checkout needs, resolved as if nothing were installed.
    closure = {canonical(n) for n, _ in _dry_run(python, "--ignore-installed")}
    closure.discard(DISTRIBUTION)
    return _install_pins(python, [spec.pins[n] for n in sorted(closure & spec.pins.keys())])


def _measure(
    spec: RuntimeFile, python: Path, failed: list[NotInstallable]
) -> tuple[list[tuple[str, str]], dict[str, str], list[NotInstallable]]:
    """Dry-run until pip would add no package the runtime ships (installing each it would).

    Returns pip's plan, the venv's distributions it was made against, and the failed pins.
    """
    skipped = {canonical(f.name) for f in failed}
    for _ in range(_MAX_ROUNDS):
        plan = _dry_run(python)
        installed = _installed(python)
        missing = sorted(
            canonical(n)
            for n, _ in plan
            if canonical(n) in spec.pins
            and canonical(n) not in installed
            and canonical(n) not in skipped
        )
        if not missing:
            return plan, installed, failed
        more = _install_pins(python, [spec.pins[n] for n in missing])
        failed = failed + more
        skipped |= {canonical(f.name) for f in more}
    raise RuntimeError(f"the {spec.runtime} venv kept missing runtime packages: {missing}")


def _classify(
    spec: RuntimeFile,
    plan: list[tuple[str, str]],
    installed: dict[str, str],
    failed: list[NotInstallable],
    python: str,
    pip: str,
) -> Changes:
    """Sort pip's plan against the venv it was made for: upgrades, downgrades, additions."""
    upgrades, downgrades, additions, unmeasured = [], [], [], []
    failed_names = {canonical(f.name) for f in failed}
    for name, version in plan:
        key = canonical(name)
        if key == DISTRIBUTION:
            continue
        if key in installed:
            old = installed[key]
            if Version(version) > Version(old):
                upgrades.append(VersionChange(name, old, version))
            elif Version(version) < Version(old):
                downgrades.append(VersionChange(name, old, version))
            else:  # the same version again: pip only does that when asked to
                raise RuntimeError(f"pip would reinstall {name} {version} unchanged")
        elif key in failed_names:
            unmeasured.append(VersionChange(name, spec.pins[key][1], version))
        else:
            additions.append(Addition(name, version))

    def by_name(items: list) -> tuple:
        return tuple(sorted(items, key=lambda i: canonical(i.name)))

    return Changes(
        runtime=spec.runtime,
        runtime_python=spec.python,
        python=python,
        pip=pip,
        upgrades=by_name(upgrades),
        downgrades=by_name(downgrades),
        additions=by_name(additions),
        not_installable=by_name(failed),
        unmeasured=by_name(unmeasured),
    )


@functools.cache
def changes(runtime: str) -> Changes:
    """What ``%pip install lakehouse-etl-monitor`` (this checkout) changes on a runtime.

    Args:
        runtime: ``"15.4"``, ``"16.4"`` or ``"17.3"``.

    Raises:
        ValueError: an unknown runtime.
        RuntimeError: pip failed (no network, a resolution error); the reason is pip's tail.
    """
    spec = runtime_file(runtime)
    folder = cache_root() / "cluster-install" / f"dbr-{runtime}-{spec.digest}"
    marker = folder / ".complete"
    python = _venv_python(folder)
    with _locked(folder.parent / f"dbr-{runtime}.lock"):
        if marker.is_file() and python.exists():
            failed = [
                NotInstallable(**f) for f in json.loads(marker.read_text())["not_installable"]
            ]
        else:
            marker.unlink(missing_ok=True)
            failed = _build(spec, folder)
        plan, installed, failed = _measure(spec, python, failed)
        marker.write_text(
            json.dumps(
                {
                    "not_installable": [dataclasses.asdict(f) for f in failed],
                    "installed": installed,
                },
                indent=1,
                sort_keys=True,
            )
        )
    # The venv runs this Python: its version is part of the folder's digest.
    version = platform.python_version()
    return _classify(spec, plan, installed, failed, version, installed.get("pip", "?"))


def pypi_reachable(timeout: float = 60) -> bool:
    """Whether pip reaches the package index (it lists the versions of one small package)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", "mdurl"],
            env=_pip_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "mdurl" in done.stdout


def table(results: list[Changes]) -> str:
    """The changes of several runtimes as one text table: runtime, change, package, versions."""
    rows = [("runtime", "python", "change", "package", "from", "to")]
    for c in results:
        where = (f"{c.runtime} LTS", c.runtime_python)
        rows += [(*where, "upgrade", u.name, u.old, u.new) for u in c.upgrades]
        rows += [(*where, "DOWNGRADE", d.name, d.old, d.new) for d in c.downgrades]
        rows += [(*where, "addition", a.name, "-", a.version) for a in c.additions]
        rows += [(*where, "not installable", f.name, f.version, "?") for f in c.not_installable]
        if not (c.upgrades or c.downgrades or c.additions or c.not_installable):
            rows.append((*where, "none", "-", "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


if __name__ == "__main__":
    measured = [changes(r) for r in sys.argv[1:] or RUNTIMES]
    print(table(measured))
    print()
    for c in measured:
        print(c.summary())
