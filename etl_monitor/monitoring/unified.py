"""Unified drift and profile views across the metric tables of many monitors.

Each branch of the UNION selects an explicit, CAST column list (a column a metric table
lacks becomes a typed NULL), with structs flattened, so every view has one stable
layout of scalar columns for JDBC clients. Enrichment (group, owner, runbook, lineage,
drift threshold) comes from the config tables by join, so no configured value is ever
written into the view text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from etl_monitor.engine.executor import qualified, sql_string_literal
from etl_monitor.monitoring.config import GROUPS, TABLE_NAME_PATTERN, TABLES

DEFAULT_THRESHOLD = 0.2
#: The view of drift rows over their threshold, across groups (read by the dashboard).
DRIFT_ALERTS_VIEW = "v_monitor_drift_alerts"

# (output column, path in the metric table, type)
DRIFT_COLUMNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("window_start", ("window", "start"), "TIMESTAMP"),
    ("window_end", ("window", "end"), "TIMESTAMP"),
    ("granularity", ("granularity",), "STRING"),
    ("monitor_version", ("monitor_version",), "BIGINT"),
    ("slice_key", ("slice_key",), "STRING"),
    ("slice_value", ("slice_value",), "STRING"),
    ("column_name", ("column_name",), "STRING"),
    ("data_type", ("data_type",), "STRING"),
    ("window_cmp_start", ("window_cmp", "start"), "TIMESTAMP"),
    ("window_cmp_end", ("window_cmp", "end"), "TIMESTAMP"),
    ("drift_type", ("drift_type",), "STRING"),
    ("count_delta", ("count_delta",), "DOUBLE"),
    ("avg_delta", ("avg_delta",), "DOUBLE"),
    ("percent_null_delta", ("percent_null_delta",), "DOUBLE"),
    ("percent_zeros_delta", ("percent_zeros_delta",), "DOUBLE"),
    ("percent_distinct_delta", ("percent_distinct_delta",), "DOUBLE"),
    ("non_null_columns_added", ("non_null_columns_delta", "added"), "INT"),
    ("non_null_columns_missing", ("non_null_columns_delta", "missing"), "INT"),
    ("js_distance", ("js_distance",), "DOUBLE"),
    ("ks_statistic", ("ks_test", "statistic"), "DOUBLE"),
    ("ks_pvalue", ("ks_test", "pvalue"), "DOUBLE"),
    ("wasserstein_distance", ("wasserstein_distance",), "DOUBLE"),
    ("population_stability_index", ("population_stability_index",), "DOUBLE"),
    ("chi_squared_statistic", ("chi_squared_test", "statistic"), "DOUBLE"),
    ("chi_squared_pvalue", ("chi_squared_test", "pvalue"), "DOUBLE"),
    ("tv_distance", ("tv_distance",), "DOUBLE"),
    ("l_infinity_distance", ("l_infinity_distance",), "DOUBLE"),
)

PROFILE_COLUMNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("window_start", ("window", "start"), "TIMESTAMP"),
    ("window_end", ("window", "end"), "TIMESTAMP"),
    ("log_type", ("log_type",), "STRING"),
    ("logging_table_commit_version", ("logging_table_commit_version",), "INT"),
    ("monitor_version", ("monitor_version",), "BIGINT"),
    ("granularity", ("granularity",), "STRING"),
    ("slice_key", ("slice_key",), "STRING"),
    ("slice_value", ("slice_value",), "STRING"),
    ("column_name", ("column_name",), "STRING"),
    ("row_count", ("count",), "BIGINT"),
    ("data_type", ("data_type",), "STRING"),
    ("num_nulls", ("num_nulls",), "BIGINT"),
    ("avg", ("avg",), "DOUBLE"),
    ("min", ("min",), "DOUBLE"),
    ("max", ("max",), "DOUBLE"),
    ("stddev", ("stddev",), "DOUBLE"),
    ("median", ("median",), "DOUBLE"),
    ("num_zeros", ("num_zeros",), "BIGINT"),
    ("num_nan", ("num_nan",), "BIGINT"),
    ("min_length", ("min_length",), "DOUBLE"),
    ("max_length", ("max_length",), "DOUBLE"),
    ("avg_length", ("avg_length",), "DOUBLE"),
    ("distinct_count", ("distinct_count",), "BIGINT"),
    ("percent_nan", ("percent_nan",), "DOUBLE"),
    ("percent_null", ("percent_null",), "DOUBLE"),
    ("percent_zeros", ("percent_zeros",), "DOUBLE"),
    ("percent_distinct", ("percent_distinct",), "DOUBLE"),
)


@dataclass
class UnifiedViewsReport:
    drift_views: dict[str, str] = field(default_factory=dict)
    profile_views: dict[str, str] = field(default_factory=dict)
    alerts_view: str | None = None
    included: dict[str, list[str]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _paths(schema: Any) -> set[tuple[str, ...]]:
    """Column paths of a StructType, one level of struct fields deep, lower-cased."""
    from pyspark.sql.types import StructType

    out: set[tuple[str, ...]] = set()
    for f in schema.fields:
        out.add((f.name.lower(),))
        if isinstance(f.dataType, StructType):
            out |= {(f.name.lower(), s.name.lower()) for s in f.dataType.fields}
    return out


def select_list(
    columns: tuple[tuple[str, tuple[str, ...], str], ...], present: set[tuple[str, ...]] | None
) -> str:
    """CAST expressions in a fixed order; absent columns are typed NULLs (all NULL when present is None)."""
    parts = []
    for name, path, kind in columns:
        if present is not None and tuple(p.lower() for p in path) in present:
            expr = "m." + ".".join(f"`{p}`" for p in path)
        else:
            expr = "NULL"
        parts.append(f"CAST({expr} AS {kind}) AS `{name}`")
    return ", ".join(parts)


def _source_literal(table_name: str) -> str:
    if not re.match(TABLE_NAME_PATTERN, table_name):  # configured names were validated; check again
        raise ValueError(f"not a table name: {table_name!r}")
    return sql_string_literal(table_name)


def union_sql(
    columns: tuple[tuple[str, tuple[str, ...], str], ...], branches: list[tuple[str, str, set]]
) -> str:
    """UNION ALL of (source table, metric table, its column paths); a typed empty SELECT when none."""
    if not branches:
        return f"SELECT CAST(NULL AS STRING) AS `source_table`, {select_list(columns, None)} WHERE 1 = 0"
    return "\nUNION ALL\n".join(
        f"SELECT {_source_literal(source)} AS `source_table`, {select_list(columns, present)}\n"
        f"FROM {qualified(*metric.split('.'))} m"
        for source, metric, present in branches
    )


def view_sql(catalog: str, schema: str, union: str, drift: bool) -> str:
    """The enriched SELECT over a union of metric rows."""
    threshold = f"COALESCE(c.DriftThreshold, g.DriftThreshold, {DEFAULT_THRESHOLD})"
    alert = (
        (
            f",\n  CAST({threshold} AS DOUBLE) AS drift_threshold,\n"
            f"  CASE WHEN m.js_distance > {threshold} THEN true ELSE false END AS is_drift_alert"
        )
        if drift
        else ""
    )
    return (
        f"WITH metrics AS (\n{union}\n)\n"
        "SELECT m.*, c.MonitorGroup AS monitor_group, c.Owner AS owner, c.RunbookUrl AS runbook_url,\n"
        f"  c.LineageUrl AS lineage_url{alert}\n"
        "FROM metrics m\n"
        f"LEFT JOIN {qualified(catalog, schema, TABLES.name)} c ON c.TableName = m.source_table\n"
        f"LEFT JOIN {qualified(catalog, schema, GROUPS.name)} g ON g.GroupName = c.MonitorGroup"
    )
