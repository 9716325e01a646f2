"""Instants in and out of Spark, always UTC, whatever the driver's TZ or the session time zone.

PySpark hands TIMESTAMP values back as naive datetimes in the driver's local time zone
(classic: ``datetime.fromtimestamp``; Spark Connect: ``astimezone()`` then drops the zone).
`from_spark` undoes exactly that, so every instant the library reads is an aware UTC
datetime. Values a user passes are different: a naive datetime there means UTC (`utc`).
In SQL, text and dates derived from a TIMESTAMP depend on ``spark.sql.session.timeZone``;
`utc_iso_text` and `utc_date` derive them from epoch microseconds, with no zone at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
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


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_micros(value: datetime) -> int:
    """Microseconds since the epoch (naive means UTC), as SQL's ``unix_micros`` gives them."""
    return (utc(value) - _EPOCH) // timedelta(microseconds=1)


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


_DAY_MICROS = 86_400_000_000


def iso_text(value: datetime) -> str:
    """A UTC instant as `utc_iso_text` renders it in SQL: ``2026-04-09T06:30:00.000``."""
    moment = utc(value)
    assert moment is not None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def utc_iso_text(expression: str) -> str:
    """SQL for a TIMESTAMP as UTC ISO-8601 text (``yyyy-MM-ddTHH:mm:ss.SSS``), in any session zone.

    Built from the instant's epoch microseconds with date and integer functions only, so
    no time zone takes part: ``date_format`` uses the session zone, and inside a view
    JVM Spark formats with the zone captured when the view was created while
    ``current_timezone()`` returns the reader's, so no zone-shifting trick is safe there.
    NULL in, NULL out.
    """
    micros = f"unix_micros({expression})"
    of_day = f"pmod({micros}, {_DAY_MICROS})"

    def part(divisor: int, modulus: int, width: int) -> str:
        return f"lpad(CAST(pmod(div({of_day}, {divisor}), {modulus}) AS STRING), {width}, '0')"

    return (
        f"concat(CAST({utc_date(expression)} AS STRING), 'T', {part(3_600_000_000, 24, 2)}, ':', "
        f"{part(60_000_000, 60, 2)}, ':', {part(1_000_000, 60, 2)}, '.', {part(1_000, 1000, 3)})"
    )


def utc_date(expression: str) -> str:
    """SQL for the UTC calendar date of a TIMESTAMP, in any session time zone.

    Integer floor division (``div`` truncates toward zero, so the remainder is taken off
    first): dividing as DOUBLE rounds the last microseconds of 9999-12-30 up a day.
    """
    micros = f"unix_micros({expression})"
    return (
        f"date_from_unix_date(CAST(div({micros} - pmod({micros}, {_DAY_MICROS}), "
        f"{_DAY_MICROS}) AS INT))"
    )
