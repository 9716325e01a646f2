"""Steps and the queue: generation, idempotency, retries, period rules, pending, skip, reset.

What needs no engine: no session starts here; tests/engines/test_queue.py runs the rest on every
engine.
"""

from __future__ import annotations

from datetime import date

from etl_monitor.tracking.periods import (
    history_window,
    period_end,
    period_start,
    render_file_name,
    same_period,
)

P, L = "CORP", "HR_DAILY"


def test_period_helpers():
    assert period_start(date(2026, 4, 12), "W") == date(2026, 4, 6)
    assert same_period(date(2025, 12, 29), date(2026, 1, 4), "W")
    assert not same_period(date(2026, 4, 9), date(2026, 4, 9), "A")
    assert history_window(date(2026, 1, 2)) == (date(2025, 12, 29), date(2026, 12, 31))
    day = date(2024, 2, 14)  # a leap year's February
    assert history_window(day, set()) == (day, day)
    assert history_window(day, {"W"}) == (date(2024, 2, 12), date(2024, 2, 18))
    assert history_window(day, {"M"}) == (date(2024, 2, 1), date(2024, 2, 29))
    assert history_window(day, {"Y"}) == (date(2024, 1, 1), date(2024, 12, 31))
    assert history_window(date(2026, 2, 28), {"M", "W"}) == (date(2026, 2, 1), date(2026, 3, 1))
    assert [period_end(date(9999, 12, 30), f) for f in "DWMY"] == [
        date(9999, 12, 30),
        *[date(9999, 12, 31)] * 3,
    ]
    assert render_file_name("sales_{yyyyMM}", "csv", date(2026, 4, 9), "M") == "sales_202604.csv"
    assert render_file_name("w_{yyyy}-{ww}", None, date(2024, 12, 31), "W") == "w_2025-01"
    assert render_file_name("y_{yy}_{MM}{dd}", "txt", date(2026, 4, 9), "Y") == "y_26_0101.txt"
    assert (
        render_file_name("d_{dd}.{MM}.{yyyy}", "csv", date(2026, 4, 9), "D") == "d_09.04.2026.csv"
    )
    assert render_file_name(None, "csv", date(2026, 4, 9), "D") is None
