"""setup(): creates everything, is idempotent, upgrades older tables, refuses unknown catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality

from etl_monitor import CatalogNotFoundError, ETLMonitorFramework, InvalidIdentifierError
from etl_monitor.core.objects import AUTO_COMPACT, TXN_RETENTION, TXN_RETENTION_VALUE
from etl_monitor.errors import SchemaConflictError
from etl_monitor.tracking.tables import ALL_TABLES, EVENTS, PROCESS, SEQUENCE_SEEDS
from tests.helpers import ALL_VIEWS, Child, commit_count, snapshot


def _objects(monitor: ETLMonitorFramework) -> set[str]:
    rows = monitor.spark.sql(f"SHOW TABLES IN {monitor.catalog}.{monitor.schema}").collect()
    return {r["tableName"].lower() for r in rows if not r["isTemporary"]}


@pytest.mark.core
def test_setup_creates_every_table_and_view(fresh: ETLMonitorFramework, spark):
    report = fresh.setup()
    expected = {t.name.lower() for t in ALL_TABLES} | {v.name.lower() for v in ALL_VIEWS}
    assert _objects(fresh) == expected
    assert sorted(report.tables_created) == sorted(t.name for t in ALL_TABLES)
    for table in ALL_TABLES:
        assert spark.table(fresh.table_name(table.name)).columns == table.column_names
    stages = spark.table(fresh.table_name("ETLconfigSequence")).orderBy("SequenceID").collect()
    assert [(r.SequenceID, r.SequenceCode) for r in stages] == [
        (s[0], s[1]) for s in SEQUENCE_SEEDS
    ]
    assert all(r.IsFrameworkManaged for r in stages)


@pytest.mark.core
def test_setup_twice_changes_nothing(fresh: ETLMonitorFramework, spark, warehouse):
    fresh.setup()
    fresh.register_process("CORP", "HR_DAILY", name="HR")
    before = snapshot(fresh)
    commits = {t.name: commit_count(warehouse, fresh, t.name) for t in ALL_TABLES}
    sequence_df = spark.table(fresh.table_name("ETLconfigSequence"))
    expected = spark.createDataFrame(sequence_df.collect(), sequence_df.schema)

    report = fresh.setup()

    assert report.tables_created == [] and report.columns_added == {} and report.stages_seeded == []
    assert snapshot(fresh) == before
    assert {t.name: commit_count(warehouse, fresh, t.name) for t in ALL_TABLES} == commits
    assert_df_equality(
        spark.table(fresh.table_name("ETLconfigSequence")), expected, ignore_row_order=True
    )


@pytest.mark.core
def test_setup_statement_counts(fresh: ETLMonitorFramework, engine):
    first = fresh.setup()
    again = fresh.setup()
    # SHOW CATALOGS, CREATE SCHEMA, SHOW TABLES, one CREATE per table, seed MERGE, views,
    # and where current_user() works, one read of it (for the seed rows' CreatedBy)
    user = 1 if engine.current_user_function else 0
    assert first.statements == 3 + len(ALL_TABLES) + 1 + len(ALL_VIEWS) + user
    # re-run: one schema read per table and one seed read instead, and one read of the
    # properties of each table that has some on this engine (the claims' id retention)
    properties = sum(1 for t in ALL_TABLES if t.engine_properties(engine))
    assert properties == (1 if engine.idempotent_append else 0)
    assert again.statements == 3 + len(ALL_TABLES) + 1 + len(ALL_VIEWS) + properties
    assert again.tables_created == []


def test_edited_and_custom_stages_survive(monitor: ETLMonitorFramework, spark):
    monitor.register_sequence(10, "CUSTOM_EXPORT", "Export to partner")
    table = monitor.table_name("ETLconfigSequence")
    monitor.executor.execute(
        f"UPDATE {table} SET SequenceDescription = 'edited by ops' WHERE SequenceID = 3"
    )
    monitor.executor.execute(f"DELETE FROM {table} WHERE SequenceID = 5")

    report = monitor.setup()

    rows = {r.SequenceID: r for r in spark.table(table).collect()}
    assert report.stages_seeded == [s[0] for s in SEQUENCE_SEEDS]  # 5 was missing
    assert rows[3].SequenceDescription == "edited by ops"
    assert rows[10].SequenceCode == "CUSTOM_EXPORT" and rows[10].IsFrameworkManaged is False
    assert rows[5].SequenceCode == "PRE_PROCESS"
    assert sorted(rows) == [0, 1, 2, 3, 4, 5, 6, 10]


def test_older_narrower_table_gains_columns(
    fresh: ETLMonitorFramework, spark, warehouse, engine, capture_statements
):
    """A table of this library's first schema (other column names, fewer columns) is upgraded
    in place: new columns added, values copied from their earlier names, rows intact."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {fresh.catalog}.{fresh.schema}")
    location = Path(warehouse) / fresh.catalog / fresh.schema / PROCESS.name
    spark.sql(
        f"CREATE TABLE {fresh.catalog}.{fresh.schema}.{PROCESS.name} (ProjectCode STRING NOT NULL, "
        "ProcessLoad STRING NOT NULL, ProcessName STRING, Description STRING, Owner STRING, "
        "IsActive BOOLEAN, CreatedOn TIMESTAMP, CreatedBy STRING, ModifiedOn TIMESTAMP) "
        f"USING DELTA LOCATION '{location}'"
    )
    spark.sql(
        f"INSERT INTO {fresh.catalog}.{fresh.schema}.{PROCESS.name} "
        "VALUES ('OLD', 'LEGACY', 'Legacy load', 'kept', 'ops team', true, "
        "TIMESTAMP'2025-01-01 00:00:00', 'old-user', TIMESTAMP'2025-01-02 00:00:00')"
    )

    seen = len(capture_statements)
    report = fresh.setup()

    added = [
        "FreshnessMinutes",
        "LastUpdatedBy",
        "LastUpdatedOn",
        "LineageUrl",
        "LoadFrequency",
        "MonitorGroup",
        "ProcessDescription",
        "ProcessOwner",
        "RunbookUrl",
    ]
    assert sorted(report.columns_added[PROCESS.name]) == added
    assert sorted(report.columns_copied[PROCESS.name]) == [
        "Description -> ProcessDescription",
        "ModifiedOn -> LastUpdatedOn",
        "Owner -> ProcessOwner",
    ]
    issued = [s for s in capture_statements[seen:] if s.table or "ALTER TABLE" in s.text]
    alters = [s.text for s in issued if s.text.startswith("ALTER TABLE")]
    if engine.alter_add_columns:  # Delta: DDL, recorded in the table's history
        assert len(alters) == 1 and "ADD COLUMNS" in alters[0]
        history = spark.sql(f"DESCRIBE HISTORY {fresh.table_name(PROCESS.name)}").collect()
        assert "ADD COLUMNS" in {h["operation"] for h in history}
    else:  # Sail: an empty append with mergeSchema
        assert alters == [] and any(s.kind == "schema-merge" for s in issued)
    df = spark.table(fresh.table_name(PROCESS.name))
    assert set(df.columns) >= set(PROCESS.column_names)  # the earlier columns stay, unused
    (row,) = df.collect()
    assert (row.ProjectCode, row.ProcessLoad, row.ProcessName, row.ProcessDescription) == (
        "OLD",
        "LEGACY",
        "Legacy load",
        "kept",
    )
    assert (row.ProcessOwner, row.LoadFrequency) == ("ops team", None)
    assert row.LastUpdatedOn is not None and (row.Description, row.ModifiedOn) == (None, None)
    # and the upgraded table takes new registrations with every column
    fresh.register_process("OLD", "LEGACY", name="Legacy load", owner="ops", load_frequency="M")
    (row,) = spark.table(fresh.table_name(PROCESS.name)).collect()
    assert (row.ProcessOwner, row.LoadFrequency, row.CreatedBy) == ("ops", "M", "old-user")
    again = fresh.setup()
    assert (again.columns_added, again.columns_copied) == ({}, {})


@pytest.mark.requires("idempotent_append")
def test_an_older_event_log_gains_its_properties(monitor: ETLMonitorFramework, spark):
    """A log created before the property existed (a week's retention of the claims'
    transaction ids) gets it from setup(), once; none asks for auto compaction."""
    events = monitor.table_name(EVENTS.name)
    wanted = {TXN_RETENTION: TXN_RETENTION_VALUE}

    def values() -> dict[str, str]:
        rows = spark.sql(f"SHOW TBLPROPERTIES {events}").collect()
        return {r["key"]: r["value"] for r in rows if r["key"] in (*wanted, AUTO_COMPACT)}

    assert values() == wanted  # a new schema has it from its CREATE TABLE
    spark.sql(f"ALTER TABLE {events} UNSET TBLPROPERTIES ('{TXN_RETENTION}')").collect()
    assert values() == {}

    report = monitor.setup()

    assert report.properties_set == {EVENTS.name: sorted(wanted)}
    assert values() == wanted
    assert monitor.setup().properties_set == {}


def test_unknown_catalog_raises_before_creating_anything(spark, catalog, schema_name, warehouse):
    monitor = ETLMonitorFramework(spark, "no_such_catalog", schema_name)
    with pytest.raises(CatalogNotFoundError, match=rf"no_such_catalog.*available: .*{catalog}"):
        monitor.setup()
    assert schema_name not in {r[0] for r in spark.sql(f"SHOW SCHEMAS IN {catalog}").collect()}
    assert not (Path(warehouse) / "no_such_catalog").exists()


@pytest.mark.parametrize("catalog, schema", [("main", "etl; DROP"), ("ma`in", "etl"), ("main", "")])
def test_bad_identifiers_rejected(spark, catalog, schema):
    with pytest.raises(InvalidIdentifierError, match="allowed"):
        ETLMonitorFramework(spark, catalog, schema)


def test_second_process_sees_tables_views_and_rows(
    monitor: ETLMonitorFramework, warehouse, child_engine
):
    """Another process on the same warehouse sees the tables, views and rows, before and after setup()."""
    monitor.register_process("CORP", "HR_DAILY", name="HR daily: 'quoted'")
    monitor.register_parameter("CORP", "HR_DAILY", "SYSDT", "SYSTEM")
    script = """
name = lambda t: f"{ARGS['catalog']}.{ARGS['schema']}.{t}"
before = [r.ProcessName for r in spark.table(name("ETLconfigProcess")).collect()]
views = sorted(v for v in ARGS["views"] if spark.catalog.tableExists(name(v)))
processes = [r.ParameterName for r in spark.table(name("v_watermarks")).collect()]
report = ETLMonitorFramework(spark, ARGS["catalog"], ARGS["schema"]).setup()
after = [r.ProcessName for r in spark.table(name("ETLconfigProcess")).collect()]
result({"before": before, "after": after, "created": report.tables_created,
        "stages": report.stages_seeded, "views": report.views, "seen": views, "processes": processes})
"""
    result = Child(
        script,
        warehouse,
        child_engine,
        catalog=monitor.catalog,
        schema=monitor.schema,
        views=[v.name for v in ALL_VIEWS],
    ).result()
    assert result.pop("seen") == sorted(v.name for v in ALL_VIEWS)  # without calling setup()
    assert result.pop("processes") == ["SYSDT"]
    assert result == {
        "before": ["HR daily: 'quoted'"],
        "after": ["HR daily: 'quoted'"],
        "created": [],
        "stages": [],
        "views": [v.name for v in ALL_VIEWS],
    }


def test_a_schema_of_someone_elses_tables_is_refused_before_any_write(
    fresh: ETLMonitorFramework, spark, capture_statements
):
    """Tables under the framework's names that neither this library nor databricks-etl-monitor
    made: setup() raises, naming them, and writes nothing."""
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {fresh.catalog}.{fresh.schema}")
    fresh.executor.execute(
        f"CREATE TABLE {fresh.table_name('ETLconfigTasks')} (id INT, payload STRING) USING DELTA",
        kind="ddl",
    )
    fresh.executor.execute(
        f"CREATE TABLE {fresh.table_name('ETLProcessingSteps')} (step STRING) USING DELTA",
        kind="ddl",
    )
    seen = len(capture_statements)
    with pytest.raises(
        SchemaConflictError,
        match=r"ETLconfigTasks.*ETLProcessingSteps|ETLProcessingSteps.*ETLconfigTasks",
    ):
        fresh.setup()
    writes = [s for s in capture_statements[seen:] if s.kind not in ("query", "meta")]
    assert [s.text.split()[0] for s in writes] == ["CREATE"]  # CREATE SCHEMA IF NOT EXISTS only
    tables = {
        r.tableName.lower()
        for r in spark.sql(f"SHOW TABLES IN {fresh.catalog}.{fresh.schema}").collect()
        if not r.isTemporary  # the session's temporary views are listed in every schema
    }
    assert tables == {"etlconfigtasks", "etlprocessingsteps"}
