"""Hostile values for every argument of the public API, as hypothesis strategies.

`refused(method, argument)` draws values the call must refuse: wrong types (numbers and
bytes where a date is wanted, floats and bools where an integer is), values outside the
documented ranges, names with a trailing newline, quotes, ``--`` or NUL, over-long text.
`accepted_text` and `accepted_instants` draw nasty values the library must accept and
give back exactly. Every argument of every public method has an entry (`KIND`); a unit
test holds that, so a new argument cannot go untried.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from etl_monitor.core.arguments import (
    CODE_PATTERN,
    EARLIEST_DAY,
    EARLIEST_INSTANT,
    EXECUTION_ID_PATTERN,
    GROUP_NAME_PATTERN,
    LATEST_DAY,
    LATEST_INSTANT,
    NAME_PATTERN,
    URL_PATTERN,
)

P, L = "CORP", "HR_DAILY"
E = "hostile-exec-1"

#: Valid arguments for each public method: a hostile value replaces one of them.
BASE: dict[str, dict[str, Any]] = {
    "register_organisation": {"organisation_code": "ORG"},
    "register_project": {"project_code": P},
    "register_process": {"project_code": P, "process_load": L},
    "register_sequence": {"sequence_id": 10, "sequence_code": "S10"},
    "register_task": {
        "project_code": P,
        "process_load": L,
        "task_id": 1,
        "workflow_id": 1,
        "sequence_id": 2,
    },
    "deactivate_task": {"project_code": P, "process_load": L, "task_id": 1, "workflow_id": 1},
    "activate_task": {"project_code": P, "process_load": L, "task_id": 1, "workflow_id": 1},
    "register_parameter": {
        "project_code": P,
        "process_load": L,
        "parameter_name": "W1",
        "parameter_type": "DELTA_DATE",
    },
    "generate_execution_steps": {"execution_id": E, "project_code": P, "process_load": L},
    "get_pending_tasks": {"execution_id": E, "project_code": P, "process_load": L},
    "task_status": {"execution_id": E, "project_code": P, "process_load": L},
    "skip_task": {
        "execution_id": E,
        "project_code": P,
        "process_load": L,
        "task_id": 1,
        "workflow_id": 1,
    },
    "unskip_task": {
        "execution_id": E,
        "project_code": P,
        "process_load": L,
        "task_id": 1,
        "workflow_id": 1,
    },
    "status_reset": {"project_code": P, "process_load": L},
    "task": {"execution_id": E, "project_code": P, "process_load": L, "task_id": 1},
    "start_task": {"execution_id": E, "project_code": P, "process_load": L, "task_id": 1},
    "end_task": {"execution_id": E, "project_code": P, "process_load": L, "task_id": 1},
    "fail_task": {"execution_id": E, "project_code": P, "process_load": L, "task_id": 1},
    "advance_watermark": {"project_code": P, "process_load": L, "parameter_name": "W1"},
    "get_active_watermark": {"project_code": P, "process_load": L, "parameter_name": "W1"},
    "watermark_history": {"project_code": P, "process_load": L, "parameter_name": "W1"},
    "set_flag": {"project_code": P, "process_load": L, "parameter_name": "F", "value": True},
    "restore_watermark": {
        "project_code": P,
        "process_load": L,
        "parameter_name": "W1",
        "before_execution_id": E,
    },
    "set_processing_mode": {"project_code": P, "process_load": L},
    "maintain": {},
    "get_status": {"project_code": P, "process_load": L},
    "stale_tasks": {},
    "log_receipt": {"source_type": "ADF_PIPELINE"},
}

#: What each argument is, which decides its hostile values.
KIND: dict[str, str] = {
    **dict.fromkeys(["project_code", "process_load", "organisation_code", "sequence_code"], "code"),
    **dict.fromkeys(["parameter_name", "source_system_code"], "name"),
    **dict.fromkeys(["execution_id", "before_execution_id"], "execution_id"),
    "monitor_group": "group",
    **dict.fromkeys(["task_id", "workflow_id", "attempts"], "int32+"),
    "sequence_id": "int32+",
    "sort_order": "int32",
    **dict.fromkeys(["value_int", "new_int_value"], "bigint"),
    **dict.fromkeys(["processing_date", "historic_date"], "day"),
    **dict.fromkeys(["timestamp", "value_datetime", "new_datetime_value"], "instant"),
    **dict.fromkeys(
        [
            "is_active",
            "value_bit",
            "value",
            "force",
            "summary_mode",
            "vacuum",
            "is_bulk_mode",
            "is_historic_mode",
            "task_mandatory",
        ],
        "bool",
    ),
    **dict.fromkeys(
        [
            "organisation_name",
            "project_name",
            "name",
            "owner",
            "sequence_name",
            "task_name",
            "reason",
            "remark",
            "log_code",
            "source_run_id",
            "correlation_id",
            "pipeline_name",
            "activity_name",
            "operation_name",
        ],
        "text512",
    ),
    **dict.fromkeys(
        [
            "organisation_description",
            "project_description",
            "description",
            "task_description",
        ],
        "text4000",
    ),
    **dict.fromkeys(["source_identifier", "in_file_path", "out_file_path"], "path"),
    **dict.fromkeys(["log_message", "payload"], "message"),
    **dict.fromkeys(["runbook_url", "lineage_url"], "url"),
    "file_name_mask": "mask",
    "file_extension": "extension",
    "load_frequency": "frequency",
    "source_type": "source_type",
    "parameter_type": "parameter_type",
    "log_type": "log_type",
    "sla_minutes": "sla_minutes",
    "freshness_minutes": "freshness_minutes",
    "older_than_minutes": "older_than_minutes",
    "archive_after_days": "archive_after_days",
    "level": "level",
}
#: An argument whose meaning (and so its kind) differs between methods.
KIND_IN = {
    ("register_sequence", "sequence_id"): "custom_sequence",
    ("end_task", "status"): "end_status",
    ("log_receipt", "status"): "text512",
}


def kind_of(method: str, argument: str) -> str:
    return KIND_IN.get((method, argument)) or KIND[argument]


#: Values of the wrong type for anything but the types given.
_ANYTHING = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.binary(max_size=12),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
    st.tuples(st.integers()),
    st.complex_numbers(max_magnitude=10),
    st.just(object()),
    st.just(Ellipsis),
    st.dates(),
    st.datetimes(),
)


def _wrong_type(*allowed: type) -> st.SearchStrategy[Any]:
    def wrong(value: Any) -> bool:
        if isinstance(value, bool):
            return bool not in allowed
        return not isinstance(value, allowed)

    return _ANYTHING.filter(wrong)


#: Strings that no name, code or id may be: a trailing newline, quotes, SQL, NUL, emoji...
BAD_NAMES = [
    " ",
    "x\n",
    "\nx",
    "x\r\n",
    "x ",
    " x",
    "a b",
    "x;",
    "x'--",
    "'; DROP TABLE t; --",
    "x\x00",
    "x" * 129,
    "émile",
    "😀",
    "\u202ertl",
    "x/y",
    "`x`",
    "x${y}",
    "a\tb",
]


def _not_matching(pattern: str) -> st.SearchStrategy[str]:
    compiled = re.compile(pattern)
    return st.one_of(
        st.sampled_from(BAD_NAMES),
        st.text(min_size=1, max_size=70).filter(lambda s: not compiled.fullmatch(s)),
        st.text(alphabet="abc_-.", min_size=1, max_size=8).map(lambda s: s + "\n"),
    ).filter(lambda s: not compiled.fullmatch(s))


def _outside(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(max_value=low - 1).filter(lambda n: n >= -(2**80)),
        st.integers(min_value=high + 1, max_value=2**80),
        st.sampled_from([low - 1, high + 1, 2**31, 2**63, -(2**63) - 1]).filter(
            lambda n: not low <= n <= high
        ),
    )


_BAD_DAY_TEXT = [
    "2026-13-01",
    "2026-02-30",
    "12/04/2026",
    "20260409",
    "2026-04-09\n",
    " 2026-04-09",
    "1899-12-31",
    "9999-12-31",
    "10000-01-01",
    "0001-01-01",
    "yesterday",
    "1700000000",
    "86400",
    "2026-04-09T25:00",
    "2026-W15-4",
    "x",
]
_BAD_INSTANT_TEXT = [
    *_BAD_DAY_TEXT,
    "1899-12-31T23:59:59Z",
    "9999-12-31T00:00:00Z",
    "9999-12-30T23:00:00-05:00",
    "1900-01-01T00:00:00+01:00",
    "2026-04-09 10:00 PM",
    "2026-04-09T10:00:00.1234567",
    "now",
    "0",
]


def _early(timezones: bool) -> st.SearchStrategy[datetime]:
    if timezones:  # any zone: 10:00 local on 1899-12-31 is before 1900 in UTC even at UTC-12
        return st.datetimes(max_value=datetime(1899, 12, 31, 10), timezones=st.timezones())
    return st.datetimes(max_value=datetime(1899, 12, 31, 23, 59, 59, 999_999))


def _late(timezones: bool) -> st.SearchStrategy[datetime]:
    if timezones:  # 14:00 local on 9999-12-31 is after 9999-12-30 in UTC even at UTC+14
        return st.datetimes(min_value=datetime(9999, 12, 31, 14), timezones=st.timezones())
    return st.datetimes(min_value=datetime(9999, 12, 31))


def _too_long(limit: int) -> st.SearchStrategy[str]:
    return st.integers(1, 3).map(lambda n: "x" * (limit + n))


_SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2).flatmap(
    lambda s: st.sampled_from([s, "a" + s, s + "b"])
)


def _texts(limit: int | None) -> st.SearchStrategy[Any]:
    parts = [_SURROGATES, _wrong_type(str)]
    if limit is not None:
        parts.append(_too_long(limit))
    return st.one_of(*parts)


def _literal(values: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([v.lower() for v in values] + [v + "\n" for v in values] + [" ", "X"]),
        st.text(max_size=14).filter(lambda s: s not in values and s != ""),
        st.sampled_from([v.encode() for v in values]),
        _wrong_type(str),
    )


def _hostile_of_kind(kind: str) -> st.SearchStrategy[Any]:
    if kind == "code":
        return st.one_of(_not_matching(CODE_PATTERN), _wrong_type(str))
    if kind == "name":
        return st.one_of(_not_matching(NAME_PATTERN), _wrong_type(str))
    if kind == "execution_id":
        return st.one_of(_not_matching(EXECUTION_ID_PATTERN), _wrong_type(str))
    if kind == "group":
        return st.one_of(_not_matching(GROUP_NAME_PATTERN), _wrong_type(str))
    if kind == "int32+":
        return st.one_of(_outside(0, 2**31 - 1), _wrong_type(int))
    if kind == "custom_sequence":
        return st.one_of(_outside(10, 2**31 - 1), _wrong_type(int))
    if kind == "int32":
        return st.one_of(_outside(-(2**31), 2**31 - 1), _wrong_type(int))
    if kind == "bigint":
        return st.one_of(_outside(-(2**63), 2**63 - 1), _wrong_type(int))
    if kind == "bool":
        return _wrong_type(bool)
    if kind == "day":
        return st.one_of(
            st.sampled_from(_BAD_DAY_TEXT),
            st.dates(max_value=EARLIEST_DAY - timedelta(days=1)),
            st.just(LATEST_DAY + timedelta(days=1)),
            _early(False),
            st.datetimes(min_value=datetime(9999, 12, 31)),
            _wrong_type(str, date),
            st.integers(0, 2**40).map(str),
        )
    if kind == "instant":
        return st.one_of(
            st.sampled_from(_BAD_INSTANT_TEXT),
            _early(True),
            _late(True),
            _early(False),
            _late(False),
            st.dates(max_value=date(1899, 12, 31)),
            st.just(date(9999, 12, 31)),
            _wrong_type(str, date),
            st.integers(0, 2**40).map(str),
        )
    if kind == "text512":
        return _texts(512)
    if kind == "text4000":
        return _texts(4000)
    if kind == "path":
        return _texts(2048)
    if kind == "message":
        return _texts(None)
    if kind == "url":
        return st.one_of(
            st.sampled_from(
                [
                    "https://example.com/run\n",
                    "ftp://example.com",
                    "http://",
                    "https:// example.com",
                    "javascript:alert(1)",
                    'https://example.com/"x',
                    "https://example.com/{x}",
                    "https://example.com/<b>",
                    "example.com",
                    "https://" + "x" * 2048,
                ]
            ),
            st.text(max_size=30).filter(lambda s: s and not re.fullmatch(URL_PATTERN, s)),
            _texts(2048),
        )
    if kind == "mask":
        return st.one_of(
            st.sampled_from(["{yyyy", "x}", "{bad}", "{yyyy}}", "{yyyy MM}", "{}x{"]),
            _texts(512),
        )
    if kind == "extension":
        return st.one_of(
            st.sampled_from([".", "..csv", "c sv", "csv\n", "x" * 17, ".c;sv", ".😀"]),
            _wrong_type(str),
        )
    if kind == "frequency":
        return _literal(("D", "W", "M", "Y", "A"))
    if kind == "source_type":
        return _literal(("ADF_PIPELINE", "DBX_NOTEBOOK", "DBX_JOB", "DATAFLOW"))
    if kind == "parameter_type":
        return _literal(("DELTA_DATE", "DELTA_ID", "FLAG", "SYSTEM"))
    if kind == "log_type":
        return _literal(("INFO", "WARN", "ERROR"))
    if kind == "end_status":
        return _literal(("DONE", "FAIL"))
    if kind == "sla_minutes":
        return st.one_of(_outside(1, 525_600), _wrong_type(int))
    if kind in ("freshness_minutes", "older_than_minutes"):
        return st.one_of(_outside(1, 5_256_000), _wrong_type(int))
    if kind == "archive_after_days":
        return st.one_of(_outside(1, 36_500), _wrong_type(int))
    if kind == "level":
        return st.one_of(_outside(0, 3), _wrong_type(int))
    raise KeyError(kind)


def refused(method: str, argument: str, *, required: bool) -> st.SearchStrategy[Any]:
    """Values `method` must refuse for `argument` (an empty string means "not given" only
    for an optional argument, as in databricks-etl-monitor 1.0)."""
    kind = kind_of(method, argument)
    strategy = _hostile_of_kind(kind)
    if required:
        strategy = st.one_of(strategy, st.sampled_from([None, ""]))
    else:
        strategy = strategy.filter(lambda v: not (v is None or (isinstance(v, str) and v == "")))
    if kind == "bool" and not required and argument != "value_bit":
        strategy = strategy.filter(lambda v: v is not None)
    return strategy


# -- values that must be accepted and read back exactly ---------------------------------------
NASTY_TEXT = [
    "'; DROP TABLE t; --",
    'it\'s "quoted" `backticked`',
    "a\x00b",
    "line1\nline2\r\n",
    "😀 emoji and ﷺ",
    "\u202eright-to-left\u202c",
    "${x} {{y}} %s :p ?",
    "\\ back \\\\ slashes \\'",
    "/* comment */ -- comment",
]

#: Text of any valid Unicode (no lone surrogates), with the nasty cases first.
accepted_text = st.one_of(
    st.sampled_from(NASTY_TEXT),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=60),
)

#: Instants inside the documented range, in any zone or naive (= UTC), and its ends.
accepted_instants = st.one_of(
    st.sampled_from(
        [
            EARLIEST_INSTANT,
            LATEST_INSTANT,
            EARLIEST_INSTANT.replace(tzinfo=None),
            LATEST_INSTANT.replace(tzinfo=None),
            datetime(1900, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
            datetime(9999, 12, 30, 13, 59, 59, tzinfo=timezone(timedelta(hours=-10))),
        ]
    ),
    st.datetimes(min_value=datetime(1900, 1, 1, 14), max_value=datetime(9999, 12, 30, 10)).flatmap(
        lambda d: st.sampled_from(
            [
                d,
                d.replace(tzinfo=timezone.utc),
                d.replace(tzinfo=timezone(timedelta(hours=5, minutes=45))),
            ]
        )
    ),
)

accepted_days = st.one_of(
    st.sampled_from([EARLIEST_DAY, LATEST_DAY]),
    st.dates(min_value=EARLIEST_DAY, max_value=LATEST_DAY),
)
