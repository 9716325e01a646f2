"""Load periods and file names: which earlier runs count as "already done" for a task.

D: the same processing date. W: the same ISO week. M: the same month. Y: the same year.
A: every run (nothing counts as done before).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from etl_monitor.core.arguments import FILE_MASK_TOKEN


def period_start(day: date, frequency: str) -> date:
    """First day of the period `day` falls in."""
    if frequency == "W":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if frequency == "M":
        return day.replace(day=1)
    if frequency == "Y":
        return day.replace(month=1, day=1)
    return day


def same_period(a: date, b: date, frequency: str) -> bool:
    """True when `a` and `b` fall in one load period (never for A, every run)."""
    if frequency == "A":
        return False
    return period_start(a, frequency) == period_start(b, frequency)


def period_end(day: date, frequency: str) -> date:
    """Last day of the period `day` falls in (the calendar's last day at the very end)."""
    start = period_start(day, frequency)
    if frequency == "W":
        return start + timedelta(days=min(6, (date.max - start).days))
    if frequency == "M":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    if frequency == "Y":
        return start.replace(month=12, day=31)
    return day


def history_window(day: date, frequencies: set[str] | None = None) -> tuple[date, date]:
    """Dates whose history decides whether tasks of these frequencies are done for `day`.

    The union of the whole periods `day` falls in, for each of `frequencies` (default: all
    of D, W, M, Y): a process of daily tasks reads one day of history, not a year, and a
    monthly task DONE later in its month counts for a backfill of an earlier day.

    Example:
        >>> history_window(date(2026, 12, 31), {"D", "W"})
        (datetime.date(2026, 12, 28), datetime.date(2027, 1, 3))
        >>> history_window(date(2026, 3, 15), {"M"})
        (datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))
    """
    wanted = (frequencies if frequencies is not None else {"D", "W", "M", "Y"}) | {"D"}
    return min(period_start(day, f) for f in wanted), max(period_end(day, f) for f in wanted)


_PART = re.compile(r"yyyy|yy|MM|dd|ww")

#: A mask without tokens is a base name: the date suffix follows the load frequency, as in
#: databricks-etl-monitor (which named no file for W and A; they get the period's first day).
BASE_NAME_SUFFIX = {"D": "_{yyyyMMdd}", "W": "_{yyyyMMdd}", "A": "_{yyyyMMdd}", "M": "_{yyyyMM}"}
BASE_NAME_SUFFIX["Y"] = "_{yyyy}"


def render_file_name(
    mask: str | None, extension: str | None, day: date, frequency: str
) -> str | None:
    """File name for a processing date: ``{yyyy}{MM}{dd}``, ``{yy}``, ``{ww}`` (ISO week) tokens.

    Weekly, monthly and yearly tasks use the first day of their period, so every run in
    the period names the same file. With ``{ww}`` the year is the ISO week-numbering year.
    A mask without tokens gets ``BASE_NAME_SUFFIX``; the extension keeps or gains its dot.

    Example:
        >>> render_file_name("payroll_uk", ".csv", date(2026, 4, 9), "M")
        'payroll_uk_202604.csv'
    """
    if not mask:
        return None
    if not FILE_MASK_TOKEN.search(mask):
        mask += BASE_NAME_SUFFIX.get(frequency, BASE_NAME_SUFFIX["D"])
    start = period_start(day, frequency) if frequency in ("W", "M", "Y") else day
    iso_year, iso_week, _ = start.isocalendar()
    year = iso_year if "ww" in mask else start.year

    def token(match: re.Match[str]) -> str:
        body = match.group(1)
        values = {
            "yyyy": f"{year:04d}",
            "yy": f"{year % 100:02d}",
            "MM": f"{start.month:02d}",
            "dd": f"{start.day:02d}",
            "ww": f"{iso_week:02d}",
        }
        return _PART.sub(lambda p: values[p.group(0)], body)

    name = FILE_MASK_TOKEN.sub(token, mask)
    if not extension:
        return name
    return name + (extension if extension.startswith(".") else "." + extension)
