"""Databricks data profiling monitors for the tables listed in Delta config tables, and unified views."""

from etl_monitor.monitoring.framework import CoverageReport, MonitoringFramework
from etl_monitor.monitoring.provision import (
    ApplyReport,
    ImpactReport,
    MonitoringPolicy,
    TableOutcome,
)

__all__ = [
    "ApplyReport",
    "CoverageReport",
    "ImpactReport",
    "MonitoringFramework",
    "MonitoringPolicy",
    "TableOutcome",
]
