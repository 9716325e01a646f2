"""Every instant is UTC and every date the date given, whatever the driver's TZ or the session zone.

What needs no engine: no session starts here; tests/engines/test_time_zones.py runs the rest on every
engine.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from conftest import set_driver_time_zone
from etl_monitor.engine.timestamps import from_spark, rows_from_spark, utc

P, L = "CORP", "HR_DAILY"
UTC = timezone.utc


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_from_spark_inverts_pyspark_local_conversion(zone: str):
    """PySpark's naive local datetimes (classic and Connect conversions) map back to the instant."""
    set_driver_time_zone(zone)
    instant = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # Europe's spring-forward morning
    classic = datetime.fromtimestamp(instant.timestamp())  # what classic PySpark returns
    connect = instant.astimezone().replace(tzinfo=None)  # what Spark Connect returns
    assert from_spark(classic) == from_spark(connect) == instant
    assert utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)  # user input: naive is UTC
    assert rows_from_spark([("x", 1)]) == [("x", 1)]
    set_driver_time_zone(None)
