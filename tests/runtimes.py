"""The other runtimes the suite runs on, each in its own virtual environment.

The main environment holds the newest stack (PySpark 4.1, Delta 4.4, Sail). The runtimes
below are what users bring instead: classic PySpark 3.5 with Delta 3.2 (Databricks 15.4 and
16.4 LTS) and the real Databricks Connect clients. Each gets a venv, built once and cached
under ``$ETL_MONITOR_CACHE/runtimes`` (default ``~/.cache/etl_monitor/runtimes``) by the
digest of its requirements; the library is not installed into it but put on ``PYTHONPATH``,
so the venv tests this checkout without pip resolving it against the runtime's packages.

``python -m tests.runtimes NAME...`` builds venvs ahead of the suite (CI does, in parallel
with nothing else to do at that point); the runtime tests build a missing one themselves.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def library_requirements() -> tuple[str, ...]:
    """The library's run-time dependencies, as ``pyproject.toml`` declares them."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pip's own copy of the same parser
        from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return tuple(project["dependencies"])


#: What the library needs at run time (read from pyproject.toml, so a new dependency
#: reaches every runtime venv), plus the test tools: the same in every runtime venv.
COMMON = (
    *library_requirements(),
    "pytest>=8,<9",
    "pytest-timeout>=2.3,<3",
    "chispa>=0.10,<1",
    "sqlglot>=25",
    "hypothesis>=6.100,<7",
)


@dataclass(frozen=True)
class Runtime:
    """One runtime venv: a name, its pinned packages and what it stands for."""

    name: str
    packages: tuple[str, ...]
    stands_for: str
    #: Modules run once with ``python -m`` after the venv is built (e.g. fetching jars).
    warm: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        text = "\n".join((sys.version.split()[0], *self.packages, *COMMON))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def folder(self) -> Path:
        root = Path(os.environ.get("ETL_MONITOR_CACHE") or Path.home() / ".cache" / "etl_monitor")
        return root / "runtimes" / f"{self.name}-{self.digest}"

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    def build(self) -> Path:
        """Create the venv unless it is cached; returns its python.

        Raises:
            RuntimeError: pip could not install the packages (the reason is pip's tail).
        """
        if (self.folder / ".complete").is_file():
            return self.python
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(self.folder)], check=True)
        pip = [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(
            [*pip, *self.packages, *COMMON], capture_output=True, text=True, timeout=1800
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.splitlines()[-15:])
            raise RuntimeError(f"could not build the {self.name} venv:\n{tail}")
        for module in self.warm:
            subprocess.run(
                [str(self.python), "-m", module], env=self.env(), check=True, capture_output=True
            )
        (self.folder / ".complete").write_text("\n".join(self.packages) + "\n")
        return self.python

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process in this runtime: the checkout first on PYTHONPATH."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "SPARK_CONNECT", "SPARK_REMOTE", "VIRTUAL_ENV"))
        }
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PATH"] = os.pathsep.join([str(self.folder / "bin"), env.get("PATH", "")])
        env["PYSPARK_PYTHON"] = str(self.python)  # Spark's Python workers: this venv's
        # The parse check is the main suite's (Spark 4's parser); a Databricks Connect venv
        # has no JVM and Spark 3.5's parser lacks Delta's own CLUSTER BY.
        env["ETL_MONITOR_TEST_DIALECT"] = "off"
        env.update(extra)
        return env


#: Databricks Runtime 15.4 and 16.4 LTS: classic PySpark 3.5 with Delta 3.2.
SPARK35 = Runtime(
    "spark35-delta32",
    ("pyspark==3.5.5", "delta-spark==3.2.1", "pandas==2.2.3", "pyarrow==19.0.1", "numpy<2"),
    "Databricks Runtime 15.4 / 16.4 LTS (classic PySpark 3.5, Delta 3.2)",
    warm=("etl_monitor.engine.delta_jars",),  # Delta 3.2.1's jars, from Maven once
)
#: The Databricks Connect client for 15.4 LTS.
DBCONNECT_15 = Runtime(
    "dbconnect-15.4",
    ("databricks-connect==15.4.26", "numpy<2"),
    "Databricks Connect 15.4 (for Databricks Runtime 15.4 LTS)",
)
#: The newest Databricks Connect client installable on Python 3.11.
DBCONNECT_16 = Runtime(
    "dbconnect-16.1",
    ("databricks-connect==16.1.7", "pyarrow==19.0.1", "pandas==2.2.3", "numpy<2"),
    "Databricks Connect 16.1 (the newest for Python 3.11)",
)
RUNTIMES = {r.name: r for r in (SPARK35, DBCONNECT_15, DBCONNECT_16)}


@dataclass(frozen=True)
class Outcome:
    """What one pytest run in a runtime venv gave, read from its JUnit XML."""

    returncode: int
    passed: int
    failed: int
    skipped: int
    output: str

    @property
    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def run_pytest(runtime: Runtime, args: list[str], junit: Path, **env: str) -> Outcome:
    """Run pytest in a runtime's venv (no xdist: one process) and count its results."""
    python = runtime.build()
    command = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += ["-o", "addopts=-ra --strict-markers --tb=short --show-capture=no"]
    command += [f"--junitxml={junit}", *args]
    done = subprocess.run(
        command, cwd=ROOT, env=runtime.env(**env), capture_output=True, text=True, timeout=1800
    )
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if junit.is_file():
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        for key in counts:
            counts[key] = int(suite.get(key, 0)) if suite is not None else 0
    failed = counts["failures"] + counts["errors"]
    passed = counts["tests"] - failed - counts["skipped"]
    return Outcome(done.returncode, passed, failed, counts["skipped"], done.stdout + done.stderr)


if __name__ == "__main__":
    for name in sys.argv[1:] or list(RUNTIMES):
        print(name, RUNTIMES[name].build())
