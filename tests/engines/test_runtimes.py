"""Every other supported runtime, each in its own venv (tests/runtimes.py), run from the suite.

- Classic PySpark 3.5 with Delta 3.2 (Databricks Runtime 15.4 and 16.4 LTS): the run-tracking
  core (the ``core`` marker) on a classic JVM in the venv, plus a session built the way a
  cluster's notebook has it.
- The real Databricks Connect clients, 15.4 and the newest installable on this Python
  (16.1): the user's own ``DatabricksSession`` on this worker's JVM Delta server (Spark 4.1
  with Delta 4.4), and the CLI through a ``--profile`` whose host is a TLS front on that
  server (tests/tls_front.py), with the workspace emulator answering ``clusters/get``.

Each leg's counts reach the terminal summary (``runtime`` user property, conftest.py).
"""

from __future__ import annotations

import os

import pytest

from tests.runtimes import DBCONNECT_15, DBCONNECT_16, SPARK35, Runtime, run_pytest

#: What each Databricks Connect client stands in for: the cluster's runtime it reports.
CLUSTER_VERSIONS = {DBCONNECT_15.name: "15.4.x-scala2.12", DBCONNECT_16.name: "16.1.x-scala2.12"}


def _report(record_property, runtime: Runtime, outcome) -> None:
    record_property("runtime", f"{runtime.stands_for}: {outcome.summary}")
    assert outcome.returncode == 0 and outcome.failed == 0, outcome.output[-8000:]


@pytest.mark.timeout(1800)  # a JVM of its own, and two more for the two-process race
def test_classic_pyspark_35_with_delta_32(tmp_path, record_property):
    outcome = run_pytest(
        SPARK35,
        ["-m", "core", "tests/engines"],
        tmp_path / "junit.xml",
        ETL_MONITOR_TEST_ENGINES="classic",
        CI=os.environ.get("CI", ""),
    )
    _report(record_property, SPARK35, outcome)
    # 29 run; 4 skip by design (the peer package needs a server; Spark Connect-only tests)
    assert outcome.passed >= 25 and outcome.skipped <= 4


@pytest.mark.parametrize("runtime", [DBCONNECT_15, DBCONNECT_16], ids=lambda r: r.name)
def test_databricks_connect(runtime, engine_name, spark, warehouse, tmp_path, record_property):
    if engine_name != "delta":
        pytest.skip("Databricks Connect reaches the JVM Delta server (Spark 4.1, Delta 4.4)")
    from etl_monitor import local
    from tests.emulator import DatabricksEmulator
    from tests.tls_front import TlsFront

    server = local.server_of(spark)
    grpc = server.url.removeprefix("sc://").split("/")[0].rsplit(":", 1)
    with DatabricksEmulator() as emulator:
        emulator.add_cluster("0101-etlmonitor", CLUSTER_VERSIONS[runtime.name])
        http = emulator.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        front = TlsFront(tmp_path, (grpc[0], int(grpc[1])), (http[0], int(http[1])))
        try:
            config = tmp_path / "databrickscfg"
            config.write_text(
                f"[local]\nhost = {front.host}\ntoken = {emulator.token}\n"
                "cluster_id = 0101-etlmonitor\n"
            )
            outcome = run_pytest(
                runtime,
                ["tests/engines/test_user_sessions.py"],
                tmp_path / "junit.xml",
                ETL_MONITOR_TEST_ENGINES="dbconnect",
                ETL_MONITOR_TEST_SERVER=server.url,
                ETL_MONITOR_TEST_WAREHOUSE=str(warehouse),
                ETL_MONITOR_TEST_PROFILE="local",
                DATABRICKS_CONFIG_FILE=str(config),
                GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(front.certificate),
                REQUESTS_CA_BUNDLE=str(front.certificate),
                NO_PROXY="127.0.0.1,localhost",
            )
        finally:
            front.stop()
        asked = [r.path for r in emulator.requests if "clusters/get" in r.path]
    _report(record_property, runtime, outcome)
    assert outcome.passed >= 2  # the facade on the user's session, and the CLI's --profile
    assert front.forwarded["h2"] >= 1 and asked  # it went through the profile's host
