"""The Delta Lake jars for the local JVM engines: fetched from Maven once, then cached.

JVM Spark needs ``delta-spark`` and ``delta-storage`` on its class path. On first use they
are resolved by Spark's own Ivy (``spark.jars.packages``) into a cache folder; every later
start names the cached files with ``spark.jars`` and needs no network. Without Maven
access, download the two jars by hand and point ``ETL_MONITOR_DELTA_JARS`` at them (a
folder, or a comma-separated list of files).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from etl_monitor.errors import EngineError

log: logging.Logger = logging.getLogger("etl_monitor.engine.delta_jars")

JARS_ENV = "ETL_MONITOR_DELTA_JARS"
CACHE_ENV = "ETL_MONITOR_CACHE"
SCALA_VERSION = "2.13"
#: What the cache keeps of Ivy's resolution: pyspark already carries logging and the rest.
KEEP_PREFIXES = ("io.delta_",)
DELTA_EXTENSIONS: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

_fetch_lock = threading.Lock()


def versions() -> tuple[str, str]:
    """(delta-spark version, Spark major.minor) of the installed Python packages.

    Raises:
        EngineError: delta-spark or pyspark is not installed (the ``delta`` extra).
    """
    try:
        from importlib.metadata import version

        import pyspark

        delta = version("delta-spark")
    except Exception as error:
        raise EngineError(
            "the Delta engine needs the 'delta' extra: pip install 'lakehouse-etl-monitor[delta]'"
        ) from error
    return delta, ".".join(pyspark.__version__.split(".")[:2])


def maven_coordinate() -> str:
    """The Maven coordinate of delta-spark for the installed pyspark and delta-spark.

    Delta 4.1+ publishes one artifact per Spark release (``io.delta:delta-spark_4.1_2.13:4.4.0``);
    Delta 4.0 one for Scala 2.13 (``io.delta:delta-spark_2.13:4.0.0``); Delta 3.x, which
    Databricks Runtime 15.4 and 16.4 LTS match, one for Scala 2.12 (``io.delta:delta-spark_2.12:3.2.1``).
    """
    delta, spark = versions()
    release = tuple(int(p) for p in delta.split(".")[:2])
    if release >= (4, 1):
        return f"io.delta:delta-spark_{spark}_{SCALA_VERSION}:{delta}"
    return f"io.delta:delta-spark_{SCALA_VERSION if release >= (4, 0) else '2.12'}:{delta}"


def cache_dir() -> Path:
    """Where fetched jars live: $ETL_MONITOR_CACHE or ~/.cache/etl_monitor, one folder per version."""
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "etl_monitor")
    return root / ("ivy-" + maven_coordinate().replace(":", "_"))


def _listed(spec: str) -> list[str]:
    paths: list[Path] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        path = Path(part).expanduser()
        paths.extend(sorted(path.glob("*.jar")) if path.is_dir() else [path])
    missing = [str(p) for p in paths if not p.is_file()]
    if missing or not paths:
        raise EngineError(
            f"{JARS_ENV}={spec!r} names no jar files"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + "; give a folder holding delta-spark and delta-storage jars, or a comma-separated list"
        )
    return [str(p.resolve()) for p in paths]


def cached_jars() -> list[str]:
    """The cached Delta jars, or [] when they have not been fetched yet."""
    folder = cache_dir() / "jars"
    jars = sorted(str(p) for p in folder.glob("*.jar") if p.name.startswith(KEEP_PREFIXES))
    return jars if any("delta-spark" in Path(j).name for j in jars) else []


def delta_jars(*, fetch: bool = True) -> list[str]:
    """Absolute paths of the Delta jars, fetching them into the cache on first use.

    Args:
        fetch: when False, return only what is configured or cached (possibly []).

    Returns:
        The jar files for ``spark.jars`` / ``spark-submit --jars``.

    Raises:
        EngineError: the jars are neither configured, cached nor fetchable (no Maven access).
    """
    if os.environ.get(JARS_ENV):
        return _listed(os.environ[JARS_ENV])
    jars = cached_jars()
    if jars or not fetch:
        return jars
    with _fetch_lock:
        jars = cached_jars()
        if not jars:
            _fetch()
            jars = cached_jars()
    if not jars:
        raise EngineError(f"Ivy reported success but no Delta jar is in {cache_dir()}/jars")
    return jars


def _spark_submit() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-submit")


def _fetch() -> None:
    """Resolve delta-spark with Spark's Ivy into the cache (needs Maven Central)."""
    coordinate, target = maven_coordinate(), cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    log.info("fetching %s from Maven into %s (once)", coordinate, target)
    with tempfile.TemporaryDirectory(prefix="etlm-fetch-") as work:
        noop = Path(work) / "noop.py"
        noop.write_text("pass\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_CONNECT", "SAIL_"))}
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        proc = subprocess.run(
            [
                _spark_submit(),
                "--packages",
                coordinate,
                "--conf",
                f"spark.jars.ivy={target}",
                str(noop),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=900,
        )
    if proc.returncode != 0 or not cached_jars():
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise EngineError(
            f"could not fetch {coordinate} from Maven (exit {proc.returncode}); without Maven "
            f"access, download delta-spark and delta-storage jars and set {JARS_ENV} to their "
            f"folder.\n{tail}"
        )


if __name__ == "__main__":  # python -m etl_monitor.engine.delta_jars: fetch once, print the paths
    print("\n".join(delta_jars()))
