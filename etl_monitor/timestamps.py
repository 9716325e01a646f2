"""Instants in and out of Spark, always UTC, whatever the driver's TZ or the session time zone.

PySpark hands TIMESTAMP values back as naive datetimes in the driver's local time zone
(classic: ``datetime.fromtimestamp``; Spark Connect: ``astimezone()`` then drops the zone).
`from_spark` undoes exactly that, so every instant the library reads is an aware UTC
datetime. Values a user passes are different: a naive datetime there means UTC (`utc`).
In SQL, text and dates derived from a TIMESTAMP depend on ``spark.sql.session.timeZone``;
`utc_wall_clock` renders an expression whose text and date are those of UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def utc(value: datetime | date | None) -> datetime | None:
    """A user-supplied instant as aware UTC: naive means UTC already; a date means its midnight UTC.

    Args:
        value: a datetime (naive = UTC, aware = converted), a date, or None.

    Returns:
        An aware UTC datetime, or None.
    """
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def from_spark(value: Any) -> Any:
    """A value PySpark returned, with TIMESTAMP datetimes made aware UTC (others unchanged).

    A naive datetime from PySpark is wall-clock time in the driver's local zone;
    ``astimezone`` on a naive value takes it as local time, which is the exact inverse.
    """
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


def rows_from_spark(rows: Iterable[Any]) -> list[Any]:
    """Collected Rows with every top-level TIMESTAMP field as an aware UTC datetime."""
    out = []
    for row in rows:
        values = tuple(row)
        if not any(isinstance(v, datetime) for v in values):
            out.append(row)
            continue
        converted = tuple(from_spark(v) for v in values)
        fields = getattr(row, "__fields__", None)
        out.append(type(row)(*converted) if fields is None else _row(fields, converted))
    return out


def _row(fields: list[str], values: tuple) -> Any:
    from pyspark.sql import Row

    return Row(*fields)(*values)


def utc_wall_clock(expression: str) -> str:
    """SQL for a TIMESTAMP whose text, date and hour read as UTC in any session time zone.

    ``to_utc_timestamp(ts, tz)`` shifts an instant by the zone's offset, so formatting the
    result in session zone ``tz`` shows the UTC wall clock of ``ts``. Use it only for
    ``date_format`` / ``CAST(... AS DATE)``, never to store or compare instants.
    """
    return f"to_utc_timestamp({expression}, current_timezone())"
