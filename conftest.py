"""Session-wide fixtures: each engine started once per test session, a fresh schema per test.

Every test that asks for `spark` (or a framework) runs once per engine: ``sail`` (the
embedded engine) and ``delta`` (JVM Spark 4 with delta-spark behind a Spark Connect server,
as Databricks Connect and serverless reach it; the classic py4j path runs in child
processes, see tests/engines/test_classic_delta.py). ``ETL_MONITOR_TEST_ENGINES=sail`` narrows it.

Each engine's tests run under its own non-UTC driver time zone (`TEST_TIME_ZONES`): a
negative offset for one engine, a positive one for the other.

Every statement any executor issues is captured, and after each test the statements
issued since the previous check are parsed with the real Spark parser (`_dialect`).

The suite runs in two worker processes (pytest-xdist, ``-n 2`` in pyproject.toml; ``-n 0``
runs in one). A module's tests of one engine stay together in one worker
(`xdist_group`), each worker starts the engines it needs once, and the controller fetches
the Delta jars before the workers start.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from etl_monitor import ETLMonitorFramework
from etl_monitor.engine.executor import Statement, add_statement_listener
from etl_monitor.errors import EngineError
from tests import worker_faults
from tests.helpers import register_hr
from tests.jvm import dialect_failures
from tests.schemas import copied

ENGINE_NAMES = [
    e.strip() for e in os.environ.get("ETL_MONITOR_TEST_ENGINES", "sail,delta").split(",") if e
]
#: The local engine behind each test engine in this process. Two more run only in the
#: runtime venvs (tests/runtimes.py): ``classic`` (classic PySpark 3.5 with Delta 3.2, as
#: Databricks 15.4/16.4 LTS) and ``dbconnect`` (a real Databricks Connect client, reaching
#: the JVM Delta server named by ``ETL_MONITOR_TEST_SERVER``).
SESSION_ENGINE = {"sail": "sail", "delta": "delta-connect", "classic": "delta"}
TEST_TIME_ZONES = {
    "sail": "America/New_York",
    "delta": "Europe/Berlin",
    "classic": "America/Los_Angeles",
    "dbconnect": "Asia/Kolkata",
}
#: The server and warehouse a ``dbconnect`` run uses (set by tests/engines/test_runtimes.py).
SERVER_ENV, WAREHOUSE_ENV = "ETL_MONITOR_TEST_SERVER", "ETL_MONITOR_TEST_WAREHOUSE"
#: ``off`` skips the parse check: a Databricks Connect venv has no JVM to parse with.
DIALECT_ENV = "ETL_MONITOR_TEST_DIALECT"

#: Settings for the tests' short JVMs (`etl_monitor.engine.local.SPARK_CONF_ENV`, inherited
#: by child processes): whole-stage code generation compiles Java for every new plan, which
#: on rows counted in tens costs more than it saves (measured on Delta behind Spark Connect:
#: a task's statements 25-30% faster, a view read 35%).
TEST_SPARK_CONF = "spark.sql.codegen.wholeStage=false spark.sql.codegen.factoryMode=NO_CODEGEN"
os.environ.setdefault("ETL_MONITOR_SPARK_CONF", TEST_SPARK_CONF)

#: Delta modules that read the peer schema: one worker builds it for all of them.
PEER_MODULES = {"test_peer_package", "test_peer_migration"}

CAPTURED: list[Statement] = []
_DIALECT_CHECKED: set[str] = set()
_DIALECT_CURSOR = [0]
_ORIGINAL_TZ = os.environ.get("TZ")


#: Hypothesis profiles: ``ci`` (the default) draws a fixed, bounded set of examples so a run
#: is repeatable and its time known; ``deep`` (``HYPOTHESIS_PROFILE=deep``) draws twenty
#: times as many, with a fresh seed each run, for a longer look before a release.
settings.register_profile(
    "ci",
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile("deep", settings.get_profile("ci"), max_examples=1000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dialect: checks the dialect check; runs last")
    config.addinivalue_line("markers", "xdist_group(name): tests that share one worker")
    config.addinivalue_line(
        "markers",
        "core: the run-tracking core, also run on every other supported runtime (tests/runtimes.py)",
    )
    config.addinivalue_line(
        "markers",
        "engine: starts or uses an engine (tests/engines); -m 'not engine' runs tests/unit",
    )
    config.addinivalue_line(
        "markers", "requires(capability): skip on engines lacking an engines.CAPABILITIES entry"
    )
    if hasattr(config, "workerinput"):
        worker_faults.enable(config.workerinput["workerid"])
    elif getattr(config.option, "numprocesses", None):  # the controller of worker processes
        worker_faults.create_folder()
        if "delta" in ENGINE_NAMES:
            _prefetch_delta_jars()  # once, here, rather than racing in every worker


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """A test that hangs leaves its worker's stacks behind (tests/worker_faults.py)."""
    marker = item.get_closest_marker("timeout")
    limit = marker.args[0] if marker and marker.args else item.config.getini("timeout")
    worker_faults.arm(float(limit or 0))
    try:
        yield
    finally:
        worker_faults.disarm()


def _prefetch_delta_jars() -> None:
    from etl_monitor.engine import delta_jars

    with contextlib.suppress(EngineError):  # each worker reports it (`_require_delta_jars`)
        delta_jars.delta_jars()


def _module(item: pytest.Item) -> str:
    return item.module.__name__.split(".")[-1]


def _engine_param(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("engine_name") if callspec else None


def _worker_group(item: pytest.Item) -> str:
    """A module's tests of one engine run in one worker, as do the peer-schema modules."""
    engine, module = _engine_param(item), _module(item)
    if engine == "delta" and module in PEER_MODULES:
        module = "peer"
    return f"{engine or 'none'}:{module}"


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark what needs an engine (before -m selects) and keep a module's tests per engine together."""
    if _engine_param(item) is not None or "engines" in item.path.parts:
        item.add_marker(pytest.mark.engine)
    item.add_marker(pytest.mark.xdist_group(_worker_group(item)))


#: Engines by cost, dearest first. xdist hands the module groups out in collection order
#: (``--no-loadscope-reorder``), so the long Delta groups start first and the many short
#: Sail and engine-free groups fill the end of the run: both workers finish together. The
#: engine tests of no one engine (servers and child processes of their own) count as dearest.
ENGINES_BY_COST = ("delta", "sail")


def _engine_rank(item: pytest.Item) -> int:
    engine = _engine_param(item)
    if engine is None:
        return 0 if "engines" in item.path.parts else len(ENGINES_BY_COST) + 1
    return 1 + ENGINES_BY_COST.index(engine) if engine in ENGINES_BY_COST else len(ENGINES_BY_COST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the groups dearest first (by engine, then by size), and the dialect check last."""
    keys: dict[str, tuple[int, int]] = {}
    for item in items:
        rank, size = keys.get(_worker_group(item), (len(ENGINES_BY_COST) + 1, 0))
        keys[_worker_group(item)] = (min(rank, _engine_rank(item)), size - 1)

    def cost(item: pytest.Item) -> tuple:
        group = _worker_group(item)
        return (item.get_closest_marker("dialect") is not None, *keys[group], group)

    items.sort(key=cost)


#: Seconds spent per group (setup, call and teardown), gathered by the controller.
_GROUP_SECONDS: dict[str, float] = {}


#: What each other runtime's leg gave (tests/engines/test_runtimes.py), for the summary.
_RUNTIMES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    group = report.nodeid.rpartition("@")[2] if "@" in report.nodeid else report.fspath
    _GROUP_SECONDS[group] = _GROUP_SECONDS.get(group, 0.0) + report.duration
    if report.when == "call":
        _RUNTIMES.extend(value for key, value in report.user_properties if key == "runtime")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The dearest groups (engine:module): what to look at when the run grows; then the
    stacks any worker left behind (a hang or a crash, tests/worker_faults.py)."""
    for worker, text in worker_faults.reports().items():
        terminalreporter.section(f"stacks left by worker {worker}")
        terminalreporter.write_line(text[-20000:])
    if _RUNTIMES:
        terminalreporter.section("other runtimes (tests/runtimes.py)")
        for line in _RUNTIMES:
            terminalreporter.write_line(line)
    if not _GROUP_SECONDS:
        return
    terminalreporter.section("seconds per group (engine:module), 25 dearest")
    total = sum(_GROUP_SECONDS.values())
    for group, seconds in sorted(_GROUP_SECONDS.items(), key=lambda kv: -kv[1])[:25]:
        terminalreporter.write_line(f"{seconds:9.1f}s  {group}")
    terminalreporter.write_line(f"{total:9.1f}s  in all, over every worker")


def pytest_collection_finish(session: pytest.Session) -> None:
    """In a worker, the module groups must have reached the node ids xdist schedules by."""
    grouped = [i for i in session.items if i.get_closest_marker("xdist_group")]
    lost = not any("@" in item.nodeid for item in grouped)
    if getattr(session.config.option, "loadgroup", False) and grouped and lost:
        raise pytest.UsageError(
            "pytest-xdist did not group the tests (no '@group' in their node ids): this "
            "pytest and pytest-xdist do not work together; see the pins in pyproject.toml"
        )


def set_driver_time_zone(zone: str | None) -> None:
    """Make this process's local time zone `zone` (None: the zone the session began with)."""
    if zone is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = zone
    time.tzset()


@pytest.fixture(scope="session", autouse=True)
def capture_statements() -> Iterator[list[Statement]]:
    remove = add_statement_listener(CAPTURED.append)
    yield CAPTURED
    remove()


@pytest.fixture(autouse=True)
def _dialect(capture_statements: list[Statement]) -> Iterator[None]:
    """After each test, the statements issued since the last check must parse with Spark 4.

    The cursor is this process's, so statements of session fixtures set up for a test are
    checked at that test's teardown too.
    """
    yield
    if os.environ.get(DIALECT_ENV) == "off":
        return
    new = capture_statements[_DIALECT_CURSOR[0] :]
    _DIALECT_CURSOR[0] = len(capture_statements)
    failures = dialect_failures(new, _DIALECT_CHECKED)
    if failures:
        pytest.fail(
            "SQL that is not portable Spark 4 SQL:\n\n"
            + "\n\n".join(f"{f['error']}\n{f['sql']}" for f in failures),
            pytrace=False,
        )


@pytest.fixture(scope="session", params=ENGINE_NAMES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def driver_time_zone(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Each engine's tests run in that engine's non-UTC driver time zone."""
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("engine_name") if callspec else None
    zone = TEST_TIME_ZONES.get(name) if name else None
    if zone:
        set_driver_time_zone(zone)
    yield zone
    if zone:
        set_driver_time_zone(_ORIGINAL_TZ)


class _Engines:
    """Each engine's warehouse and session, started once and kept for the whole session.

    pytest re-runs a parametrized session fixture whenever the parameter changes; the
    fixtures below only look an engine up here, so a switch costs nothing.
    """

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.started: dict[str, tuple[str, object]] = {}

    def get(self, name: str) -> tuple[str, object]:
        if name == "dbconnect" and name not in self.started:
            from databricks.connect import DatabricksSession

            # The user's own session: no marker, the capabilities are learnt from it.
            self.started[name] = (
                os.environ[WAREHOUSE_ENV],
                DatabricksSession.builder.remote(os.environ[SERVER_ENV]).getOrCreate(),
            )
        if name not in self.started:
            from etl_monitor import local

            if name in ("delta", "classic"):
                _require_delta_jars()
            warehouse = str(self.factory.mktemp(f"warehouse-{name}"))
            self.started[name] = (
                warehouse,
                local.spark_session(warehouse, engine=SESSION_ENGINE[name]),
            )
        return self.started[name]

    def stop(self) -> None:
        from etl_monitor import local

        for name, (warehouse, _) in self.started.items():
            if name != "dbconnect":  # the server is the parent's
                local.stop(warehouse)


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Engines]:
    engines = _Engines(tmp_path_factory)
    yield engines
    engines.stop()


@pytest.fixture(scope="session")
def warehouse(_engines: _Engines, engine_name: str) -> str:
    return _engines.get(engine_name)[0]


def _require_delta_jars() -> None:
    from etl_monitor.engine import delta_jars

    try:
        delta_jars.delta_jars()
    except EngineError as error:
        reason = f"the Delta jars cannot be had on this machine: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def spark(_engines: _Engines, engine_name: str):
    return _engines.get(engine_name)[1]


@pytest.fixture(scope="session")
def engine(spark):
    """The `Engine` the session runs on (its capabilities)."""
    from etl_monitor.engine.capabilities import detect_engine

    return detect_engine(spark)


@pytest.fixture(autouse=True)
def _requires(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.requires("optimize")` skips, naming the engine difference, where it is lacking."""
    marker = request.node.get_closest_marker("requires")
    if marker is None:
        return
    engine = request.getfixturevalue("engine")
    for capability in marker.args:
        reason = engine.lacks(capability)
        if reason:
            pytest.skip(reason)


@pytest.fixture(scope="session")
def catalog(engine) -> str:
    """The catalog a framework lives in on this engine."""
    return engine.default_catalog


@pytest.fixture(scope="session")
def child_engine(engine_name: str, spark) -> str:
    """What a child process of a test runs on (`tests.helpers.Child`'s `engine`).

    On Delta, the URL of this worker's JVM server: the child is a client of its own, with
    its own session, executor and locks, meeting the parent only in the tables' logs, as
    two notebooks on one cluster do (a JVM of its own per child cost a cold start and
    minutes of JIT compilation per test). On Sail, a Sail server of the child's own on the
    same warehouse: a Sail session's catalog is its own (`shared_catalog`).
    """
    if engine_name == "delta":
        from etl_monitor import local

        return local.server_of(spark).url
    if engine_name == "dbconnect":
        return os.environ[SERVER_ENV]
    return SESSION_ENGINE[engine_name]


@pytest.fixture
def schema_name() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def peer_schema(spark, catalog: str, engine) -> dict:
    """A schema built by databricks-etl-monitor 1.0's own code (tests/peer_package.py), once.

    The peer runs in a client process of its own, so the engine must show one client's
    tables to another (`shared_catalog`). Tests read it or clone it; none changes it.
    """
    reason = engine.lacks("shared_catalog")
    if reason:
        pytest.skip(reason)
    from tests.peer_package import build_peer_schema

    return build_peer_schema(spark, catalog, f"peer_{uuid.uuid4().hex[:10]}")


@pytest.fixture
def fresh(spark, catalog: str, schema_name: str) -> ETLMonitorFramework:
    """A framework on a schema that does not exist yet."""
    return ETLMonitorFramework(spark, catalog, schema_name)


@pytest.fixture
def monitor(spark, catalog: str) -> ETLMonitorFramework:
    """A framework whose schema is set up: a copy of this worker's set-up template (tests/schemas.py)."""
    return copied(spark, catalog)


@pytest.fixture
def hr(spark, catalog: str) -> ETLMonitorFramework:
    """A set-up schema with the HR sample process registered (`tests.helpers.register_hr`), copied."""
    return copied(spark, catalog, "hr", register_hr)
