"""The data profiling orchestrator's YAML imported into the monitoring config tables.

The YAML fixtures are the orchestrator's documented examples, copied verbatim; the
workspace (schemas, tables, tags) is the emulator, read through the real databricks-sdk.
"""

from __future__ import annotations

import pytest

from etl_monitor import InvalidArgumentError
from etl_monitor.monitoring import MonitoringFramework
from tests.emulator import DatabricksEmulator
from tests.helpers import rows
from tests.schemas import copied

# -- the documented examples, verbatim ---------------------------------------------------

CONFIG_DRIVEN = """\
# configs/my_config.yaml
catalog_name: "prod"
warehouse_id: "your-warehouse-id"
mode: "full"

profile_defaults:
  profile_type: "INFERENCE"
  output_schema_name: "monitoring_results"
  prediction_column: "prediction"
  label_column: "label"
  timestamp_column: "timestamp"

monitored_tables:
  prod.ml.churn_predictions:
    baseline_table_name: "prod.ml.churn_baseline"
    label_column: "churned"
    prediction_column: "churn_probability"
\x20\x20\x20\x20
  prod.ml.fraud_detection:
    label_column: "is_fraud"
    granularity: "1 hour"
"""

TAG_DISCOVERY = """\
catalog_name: "prod"
warehouse_id: "your-warehouse-id"
include_tagged_tables: true

discovery:
  include_tags:
    monitor_enabled: "true"
  exclude_schemas:
    - "tmp_*"

profile_defaults:
  profile_type: "INFERENCE"
  output_schema_name: "monitoring_results"

monitored_tables: {}  # Can be empty when using discovery
"""

HYBRID = """\
catalog_name: "prod"
include_tagged_tables: true  # Discover tagged tables

discovery:
  include_tags: {monitor_enabled: "true"}

monitored_tables:
  # These settings override any tags for this specific table
  prod.ml.churn_predictions:
    baseline_table_name: "prod.ml.churn_baseline"
    label_column: "churned"
"""

PER_TABLE = """\
monitored_tables:
  prod.ml.churn_model:
    baseline_table_name: "prod.ml.churn_baseline"
    label_column: "churned"
    prediction_column: "churn_probability"
    timestamp_column: "prediction_time"
    problem_type: "PROBLEM_TYPE_CLASSIFICATION"
    granularity: "1 day"
    slicing_exprs:
      - "region"
      - "customer_segment"
"""

ALERTING = """\
alerting:
  enable_aggregated_alerts: true
  default_notifications:
    - "mlops-alerts@company.com"
  group_notifications:
    ml_team:
      - "ml-team@company.com"
    data_eng:
      - "data-eng@company.com"
"""

POLICY = """\
# In your config or a standalone policy file
policy:
  naming_patterns:
    - "^prod\\\\..*"                # Tables must be in prod catalog
  required_tags:
    - "owner"
    - "team"
  forbidden_patterns:
    - ".*_tmp$"                   # No temporary tables
    - ".*_test$"                  # No test tables
  require_baseline: true          # All inference monitors need a baseline
  require_slicing: true           # At least one slicing expression per table
  max_tables_per_config: 500      # Limit config scope
"""

TIMESERIES_DEFAULTS = """\
profile_defaults:
  profile_type: "TIMESERIES"
  timeseries_timestamp_column: "event_time"
  granularity: "1 day"
"""

# The columns the data profiling API needs for an INFERENCE monitor and the examples
# leave out (InferenceLogConfig: model_id_column, problem_type, granularities).
INFERENCE_COMPLETION = """\
  model_id_column: "model_version"
  problem_type: "PROBLEM_TYPE_CLASSIFICATION"
  granularity: "1 day"
"""

SETTINGS = (
    "ProfileType",
    "OutputSchemaName",
    "TimestampColumn",
    "Granularities",
    "PredictionColumn",
    "LabelColumn",
    "ModelIdColumn",
    "ProblemType",
    "BaselineTableName",
    "SlicingExprs",
    "MonitorGroup",
    "Owner",
    "DiscoveredBy",
)


@pytest.fixture
def emulator():
    with DatabricksEmulator() as emu:
        yield emu


@pytest.fixture
def mon(spark, catalog, emulator: DatabricksEmulator) -> MonitoringFramework:
    monitor = copied(spark, catalog, "monitoring", lambda t: t.monitoring().setup())
    return monitor.monitoring(emulator.client())


def _import(mon: MonitoringFramework, tmp_path, *parts: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(parts))
    return mon.import_yaml(path)


def _config(mon: MonitoringFramework) -> dict[str, dict]:
    return {r["TableName"]: {c: r[c] for c in SETTINGS} for r in rows(mon, "ETLmonitorTables")}


def _row(**settings) -> dict:
    base = dict.fromkeys(SETTINGS)
    base["MonitorGroup"] = "default"
    for key, value in settings.items():
        base[{"Type": "ProfileType"}.get(key, key)] = value
    return base


def _tag_workspace(emulator: DatabricksEmulator) -> None:
    """prod: two tagged ml tables, an untagged one, one switched off, one in a tmp_ schema."""
    columns = ["id", "timestamp", "event_time", "prediction", "label"]
    emulator.add_tagged_table(
        "prod.ml.churn_predictions",
        columns,
        {"monitor_enabled": "true", "monitor_group": "ml_team", "owner": "ml-owners"},
    )
    emulator.add_tagged_table("prod.sales.orders", columns, {"monitor_enabled": "true"})
    emulator.add_table("prod.ml.untagged", columns)
    emulator.add_tagged_table("prod.ml.switched_off", columns, {"monitor_enabled": "false"})
    emulator.add_tagged_table("prod.tmp_scratch.copy", columns, {"monitor_enabled": "true"})
    emulator.reset_log()


# -- the examples ------------------------------------------------------------------------


def test_config_driven_example_resolves_bare_output_schema(mon, tmp_path):
    with_api_columns = CONFIG_DRIVEN.replace(
        '  profile_type: "INFERENCE"\n', '  profile_type: "INFERENCE"\n' + INFERENCE_COMPLETION
    )
    assert _import(mon, tmp_path, with_api_columns) == [
        "prod.ml.churn_predictions",
        "prod.ml.fraud_detection",
    ]
    inference = {
        "Type": "INFERENCE",
        "OutputSchemaName": "prod.monitoring_results",
        "TimestampColumn": "timestamp",
        "ModelIdColumn": "model_version",
        "ProblemType": "CLASSIFICATION",
    }
    assert _config(mon) == {
        "prod.ml.churn_predictions": _row(
            **inference,
            Granularities="1 day",
            PredictionColumn="churn_probability",
            LabelColumn="churned",
            BaselineTableName="prod.ml.churn_baseline",
        ),
        "prod.ml.fraud_detection": _row(
            **inference,
            Granularities="1 hour",
            PredictionColumn="prediction",
            LabelColumn="is_fraud",
        ),
    }


def test_config_driven_example_verbatim_names_what_the_api_still_needs(mon, tmp_path):
    with pytest.raises(InvalidArgumentError) as error:
        _import(mon, tmp_path, CONFIG_DRIVEN)
    message = str(error.value)
    assert "prod.ml.churn_predictions" in message
    assert "needs granularities, model_id_column, problem_type" in message
    assert rows(mon, "ETLmonitorTables") == [] and rows(mon, "ETLmonitorGroups") == []


def test_per_table_alerting_and_policy_examples(mon, tmp_path):
    assert _import(mon, tmp_path, PER_TABLE, ALERTING, POLICY) == ["prod.ml.churn_model"]
    assert _config(mon) == {
        "prod.ml.churn_model": _row(
            Type="SNAPSHOT",
            TimestampColumn="prediction_time",
            Granularities="1 day",
            PredictionColumn="churn_probability",
            LabelColumn="churned",
            ProblemType="CLASSIFICATION",
            BaselineTableName="prod.ml.churn_baseline",
            SlicingExprs='["region", "customer_segment"]',
        )
    }
    groups = {
        g["GroupName"]: (g["NotificationEmails"], g["DriftThreshold"])
        for g in rows(mon, "ETLmonitorGroups")
    }
    assert groups == {
        "ml_team": ("ml-team@company.com", 0.2),
        "data_eng": ("data-eng@company.com", 0.2),
        "default": ("mlops-alerts@company.com", 0.2),
    }
    policy = mon.policy
    assert (policy.naming_patterns, policy.forbidden_patterns) == (
        ["^prod\\..*"],
        [".*_tmp$", ".*_test$"],
    )
    assert (
        policy.require_owner,
        policy.require_baseline_for_inference,
        policy.require_slicing,
        policy.max_tables,
    ) == (True, True, True, 500)


def test_timeseries_defaults_and_two_part_names(mon, tmp_path):
    doc = (
        'catalog_name: "prod"\n'
        + TIMESERIES_DEFAULTS
        + '  output_schema_name: "prod.monitoring_results"\n'
        + "monitored_tables:\n  sales.orders:\n    baseline_table_name: orders_baseline\n"
        + "  prod.sales.returns:\n    baseline_table_name: ref.returns_2025\n"
    )
    assert _import(mon, tmp_path, doc) == ["prod.sales.orders", "prod.sales.returns"]
    series = {
        "Type": "TIMESERIES",
        "OutputSchemaName": "prod.monitoring_results",
        "TimestampColumn": "event_time",
        "Granularities": "1 day",
    }
    assert _config(mon) == {
        "prod.sales.orders": _row(**series, BaselineTableName="prod.sales.orders_baseline"),
        "prod.sales.returns": _row(**series, BaselineTableName="prod.ref.returns_2025"),
    }


# -- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "named", "allowed"),
    [
        (
            'catalog_name: prod\nprofile_defaults: {output_schema_name: "a.b.c"}\n'
            "monitored_tables: {prod.ml.t: {}}",
            "output_schema_name='a.b.c'",
            "schema (in catalog_name) or catalog.schema",
        ),
        (
            "catalog_name: prod\nmonitored_tables: {prod.ml.t.extra: {}}",
            "monitored_tables='prod.ml.t.extra'",
            "schema.table (in catalog_name) or catalog.schema.table",
        ),
        (
            "catalog_name: prod\nmonitored_tables: {churn: {}}",
            "monitored_tables='churn'",
            "schema.table (in catalog_name) or catalog.schema.table",
        ),
        (
            "catalog_name: prod\nmonitored_tables: {ml..t: {}}",
            "monitored_tables='ml..t'",
            "catalog.schema.table",
        ),
        (
            "catalog_name: prod\nmonitored_tables: {dev.ml.t: {}}",
            "monitored_tables='dev.ml.t'",
            "a table in catalog_name 'prod'",
        ),
        (
            "catalog_name: prod\nmonitored_tables: {ml.t: {baseline_table_name: a.b.c.d}}",
            "baseline_table_name='a.b.c.d'",
            "table, schema.table (in catalog_name) or catalog.schema.table",
        ),
        (
            "catalog_name: prod.x\nmonitored_tables: {prod.ml.t: {}}",
            "catalog_name='prod.x'",
            "one name",
        ),
        (
            "monitored_tables: {ml.t: {}}",
            "monitored_tables='ml.t' is not fully qualified",
            "no catalog_name",
        ),
    ],
)
def test_bad_names_raise_naming_the_value_and_write_nothing(
    mon, tmp_path, document, named, allowed
):
    with pytest.raises(InvalidArgumentError) as error:
        _import(mon, tmp_path, document + "\nalerting: {default_notifications: [a@b.com]}\n")
    assert named in str(error.value) and allowed in str(error.value)
    assert rows(mon, "ETLmonitorTables") == [] and rows(mon, "ETLmonitorGroups") == []


def test_unknown_table_setting_is_refused_with_the_allowed_ones(mon, tmp_path):
    with pytest.raises(InvalidArgumentError) as error:
        _import(mon, tmp_path, "monitored_tables:\n  prod.ml.t:\n    labl_column: y\n")
    message = str(error.value)
    assert "monitored_tables.prod.ml.t.labl_column" in message and "label_column" in message
    assert rows(mon, "ETLmonitorTables") == []


# -- discovery ---------------------------------------------------------------------------


def test_discovery_finds_tagged_tables_and_skips_excluded_schemas(mon, emulator, tmp_path):
    _tag_workspace(emulator)
    doc = TAG_DISCOVERY.replace(
        'profile_defaults:\n  profile_type: "INFERENCE"\n', TIMESERIES_DEFAULTS
    )
    assert _import(mon, tmp_path, doc) == ["prod.ml.churn_predictions", "prod.sales.orders"]
    series = {
        "Type": "TIMESERIES",
        "OutputSchemaName": "prod.monitoring_results",
        "TimestampColumn": "event_time",
        "Granularities": "1 day",
        "DiscoveredBy": "monitor_enabled=true",
    }
    assert _config(mon) == {
        "prod.ml.churn_predictions": _row(**series, MonitorGroup="ml_team", Owner="ml-owners"),
        "prod.sales.orders": _row(**series),
    }
    # the excluded schema's tables were not even asked for their tags
    assert emulator.count("GET", "/entity-tag-assignments/tables/prod.tmp_scratch.") == 0
    assert emulator.count("GET", "/entity-tag-assignments/tables/prod.ml.untagged/tags") == 1
    # three tags: a full page of two, then a page of one
    assert emulator.count("GET", "/tables/prod.ml.churn_predictions/tags") == 2
    assert emulator.mutating_count() == 0


def test_discovery_example_verbatim_reports_the_discovered_table_it_cannot_monitor(
    mon, emulator, tmp_path
):
    _tag_workspace(emulator)
    with pytest.raises(InvalidArgumentError) as error:
        _import(mon, tmp_path, TAG_DISCOVERY)
    assert "prod.ml.churn_predictions: " in str(error.value)
    assert "an INFERENCE monitor needs timestamp_column" in str(error.value)
    assert rows(mon, "ETLmonitorTables") == []


def test_hybrid_yaml_entry_wins_over_tags(mon, emulator, tmp_path):
    _tag_workspace(emulator)
    # the example excludes no schema: the tmp_ one is scanned too
    assert _import(mon, tmp_path, HYBRID) == [
        "prod.ml.churn_predictions",
        "prod.sales.orders",
        "prod.tmp_scratch.copy",
    ]
    config = _config(mon)
    # listed: its own settings, and the tags fill what the entry does not say
    assert config["prod.ml.churn_predictions"] == _row(
        Type="SNAPSHOT",
        LabelColumn="churned",
        BaselineTableName="prod.ml.churn_baseline",
        MonitorGroup="ml_team",
        Owner="ml-owners",
    )
    assert config["prod.sales.orders"] == _row(Type="SNAPSHOT", DiscoveredBy="monitor_enabled=true")
    overriding = HYBRID.replace(
        '    label_column: "churned"\n',
        '    label_column: "churned"\n    owner: "Data Science"\n    monitor_group: "churn"\n',
    )
    _import(mon, tmp_path, overriding)
    churn = _config(mon)["prod.ml.churn_predictions"]
    assert (churn["Owner"], churn["MonitorGroup"]) == ("Data Science", "churn")


def test_include_tags_unquoted_true_and_any_value(mon, emulator, tmp_path):
    _tag_workspace(emulator)
    base = 'catalog_name: prod\ninclude_tagged_tables: true\ndiscovery:\n  exclude_schemas: ["tmp_*"]\n'
    unquoted = _import(mon, tmp_path, base + "  include_tags: {monitor_enabled: true}\n")
    assert unquoted == ["prod.ml.churn_predictions", "prod.sales.orders"]
    any_group = _import(mon, tmp_path, base + "  include_tags: {monitor_group: null}\n")
    assert any_group == ["prod.ml.churn_predictions"]
    assert _config(mon)["prod.ml.churn_predictions"]["DiscoveredBy"] == "monitor_group=ml_team"


def test_reimport_is_idempotent(mon, emulator, tmp_path):
    _tag_workspace(emulator)
    doc = "\n".join([HYBRID, ALERTING])
    first = _import(mon, tmp_path, doc)
    tables, groups = rows(mon, "ETLmonitorTables"), rows(mon, "ETLmonitorGroups")
    assert len(tables) == 3 and {g["GroupName"] for g in groups} == {
        "ml_team",
        "data_eng",
        "default",
    }
    assert _import(mon, tmp_path, doc) == first
    assert rows(mon, "ETLmonitorTables") == tables  # LastUpdatedOn included: nothing rewritten
    assert rows(mon, "ETLmonitorGroups") == groups


def test_discovery_needs_its_section_and_a_catalog(mon, tmp_path):
    with pytest.raises(InvalidArgumentError, match="no discovery section"):
        _import(mon, tmp_path, 'catalog_name: "prod"\ninclude_tagged_tables: true\n')
    with pytest.raises(InvalidArgumentError, match="needs catalog_name"):
        _import(mon, tmp_path, "include_tagged_tables: true\ndiscovery: {include_tags: {a: b}}\n")
    with pytest.raises(InvalidArgumentError, match=r"discovery\.include_tags"):
        _import(mon, tmp_path, "catalog_name: p\ninclude_tagged_tables: true\ndiscovery: {}\n")
