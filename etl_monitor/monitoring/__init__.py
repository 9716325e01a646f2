"""Databricks data profiling monitors for the tables listed in Delta config tables, and unified views."""

from .framework import CoverageReport, MonitoringFramework
from .provision import ApplyReport, ImpactReport, MonitoringPolicy, TableOutcome

__all__ = [
    "ApplyReport",
    "CoverageReport",
    "ImpactReport",
    "MonitoringFramework",
    "MonitoringPolicy",
    "TableOutcome",
]
