"""Argument models for the public API (pydantic v2), turned into the library's own errors.

Every public call validates all of its arguments before it reads or writes anything, so
an invalid call raises `InvalidArgumentError` naming the argument, the bad value and
what is allowed, and leaves the tables untouched.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from etl_monitor.engine.timestamps import utc
from etl_monitor.errors import InternalError, InvalidArgumentError

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
CODE_HINT = "1-64 characters of letters, digits, '_', '-' or '.', starting with a letter or digit"
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$"
NAME_HINT = "1-128 characters of letters, digits, '_', '-' or '.'"

LOAD_FREQUENCIES = ("D", "W", "M", "Y", "A")
SOURCE_TYPES = ("ADF_PIPELINE", "DBX_NOTEBOOK", "DBX_JOB", "DATAFLOW")
PARAMETER_TYPES = ("DELTA_DATE", "DELTA_ID", "FLAG", "SYSTEM")
FILE_MASK_TOKEN = re.compile(r"\{([^{}]*)\}")
FILE_MASK_TOKEN_BODY = re.compile(r"^(yyyy|yy|MM|dd|ww|[-_.])+$")
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1

INT_MIN, INT_MAX = -(2**31), 2**31 - 1

#: The calendar dates every engine stores and reads back exactly, in every driver time zone
#: (a day's margin at the top keeps a UTC+14 driver's local time inside year 9999), and
#: that every consumer of the views reads (SQL Server's datetime starts in 1753).
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(9999, 12, 30)
#: The instants the same holds for: the first and last microsecond of those days, UTC.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST_INSTANT = datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=timezone.utc)
DAY_RANGE = f"from {EARLIEST_DAY} to {LATEST_DAY}"
INSTANT_RANGE = f"from {EARLIEST_DAY}T00:00:00Z to {LATEST_DAY}T23:59:59.999999Z"

#: ISO-8601 text a date or an instant may be given as (no bare numbers: those are refused,
#: not read as seconds since 1970).
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?"
)


Code = Annotated[str, StringConstraints(strict=True, pattern=CODE_PATTERN)]
Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(strict=True, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strict=True, max_length=512)]
Path = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=2048)]
Message = Annotated[str, StringConstraints(strict=True, max_length=1_000_000)]
Extension = Annotated[str, StringConstraints(strict=True, pattern=r"^\.?[A-Za-z0-9]{1,16}$")]
NonNegative = Annotated[StrictInt, Field(ge=0, le=INT_MAX)]
#: A value for an INT column.
Int32 = Annotated[StrictInt, Field(ge=INT_MIN, le=INT_MAX)]


#: Unicode categories no one-line value (a path, a name, a prefix) may hold: controls (NUL,
#: newline, tab, escape), format characters (bidirectional overrides, zero-width marks),
#: line and paragraph separators, lone surrogates, private-use and unassigned code points.
UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def line_problem(value: str, max_length: int = 4096) -> str | None:
    """What makes `value` unusable as a one-line value (a path, a name, a prefix), or None.

    Empty or blank text, more than `max_length` characters, a character of `UNPRINTABLE`,
    or white space at either end.
    """
    if not value.strip():
        return "is empty" if not value else "is blank"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    for char in value:
        if unicodedata.category(char) in UNPRINTABLE:
            return (
                f"contains the character {char!r} (U+{ord(char):04X}): control, format and "
                "separator characters are not allowed"
            )
    if value != value.strip():
        return "has white space at its start or end"
    return None


def check_line(value: Any, function: str, argument: str, max_length: int = 1024) -> str:
    """`value` as a one-line text argument, or InvalidArgumentError naming `argument`.

    Example:
        >>> check_line("/Shared/etl", "publish_alerts", "parent_path")
        '/Shared/etl'
    """
    problem = (
        f"is a {type(value).__name__}, not text"
        if not isinstance(value, str)
        else line_problem(value, max_length)
    )
    if problem:
        raise InvalidArgumentError(
            f"{function}(): {argument}={_shown(value)} {problem}", argument=argument, value=value
        )
    return value


def check_value(
    kind: Any, function: str | None, argument: str, value: Any, hint: str | None = None
) -> Any:
    """`value` validated as the annotated type `kind` (e.g. ``StrictBool``, ``Code | None``).

    Args:
        kind: the type, with its constraints.
        function: the public call, named first in the message (None: not named).
        argument: the argument's name.
        value: what was given.
        hint: what is allowed (default: the argument's entry in `HINTS`); a pattern
            mismatch is then explained by the hint alone, not by the pattern.

    Raises:
        InvalidArgumentError: naming `argument`, the value and what is allowed.
    """
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as error:
        item = error.errors()[0]
        allowed = hint or HINTS.get(argument)
        text = f"{function}(): " if function else ""
        text += f"invalid {argument}={_shown(value)}"
        if item["type"] != "string_pattern_mismatch" or allowed is None:
            text += ": " + item["msg"].removeprefix("Value error, ")
        raise InvalidArgumentError(
            text + (f" (allowed: {allowed})" if allowed else ""), argument=argument, value=value
        ) from None


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


@dataclass(frozen=True)
class Accepts:
    """What a caller may pass where a validator converts to the field's narrower type."""

    type: Any


def _iso_text(value: str, what: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not an ISO-8601 {what}")
    return value


def _as_instant(value: Any) -> Any:
    """A datetime, a date (its midnight) or ISO-8601 text; nothing else (no numbers, no bytes)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return _iso_text(value, "date and time", _ISO_INSTANT)
    raise ValueError(f"a value of type {type(value).__name__} is not an instant")


def _in_range_utc(value: datetime) -> datetime:
    """The instant as aware UTC (naive means UTC), refused outside `INSTANT_RANGE`."""
    try:
        moment = utc(value)
    except (OverflowError, ValueError):
        moment = None
    if moment is None or not EARLIEST_INSTANT <= moment <= LATEST_INSTANT:
        raise ValueError(f"outside the supported range ({INSTANT_RANGE})")
    return moment


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _as_day(value: Any) -> Any:
    """A date, a datetime (its own calendar date) or ISO-8601 text; nothing else."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        if _ISO_DAY.fullmatch(value):
            return value
        _iso_text(value, "date", _ISO_INSTANT)
        return _DATETIME.validate_python(value).date()
    raise ValueError(f"a value of type {type(value).__name__} is not a date")


def _in_day_range(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"outside the supported range ({DAY_RANGE})")
    return value


#: An instant: a datetime (naive = UTC), a date (midnight UTC) or ISO-8601 text; stored UTC.
Instant = Annotated[
    datetime,
    BeforeValidator(_as_instant),
    AfterValidator(_in_range_utc),
    Accepts(datetime | date | str),
]
#: A processing date: a date, a datetime (its date) or ISO text.
Day = Annotated[date, BeforeValidator(_as_day), AfterValidator(_in_day_range), Accepts(date | str)]

#: What each argument accepts, used in error messages.
HINTS: dict[str, str] = {
    "organisation_code": CODE_HINT,
    "project_code": CODE_HINT,
    "process_load": CODE_HINT,
    "parameter_name": NAME_HINT,
    "source_system_code": NAME_HINT,
    "load_frequency": "one of " + ", ".join(LOAD_FREQUENCIES),
    "source_type": "one of " + ", ".join(SOURCE_TYPES),
    "parameter_type": "one of " + ", ".join(PARAMETER_TYPES),
    "task_id": "an integer from 0 to 2147483647",
    "workflow_id": "an integer from 0 to 2147483647",
    "sequence_id": "an integer from 0 to 2147483647 (custom stages: 10 and above)",
    "sla_minutes": "a positive integer number of minutes, or None",
    "file_extension": "1-16 letters or digits, with or without a leading '.'",
    "file_name_mask": "a base name, or text whose {tokens} combine yyyy, yy, MM, dd, ww and - _ .",
    "value_int": f"an integer from {BIGINT_MIN} to {BIGINT_MAX}, or None",
    "value_datetime": f"a datetime, a date or an ISO-8601 string, {INSTANT_RANGE}, or None",
    "value_bit": "True, False or None",
    "value": "True or False",
}


class _Args(BaseModel):
    """An argument model; its fields, in order, are the public call's signature (see `signatures`).

    ``KEYWORD_ONLY`` fields must be named; ``RENAMED`` maps earlier argument names to
    today's. An empty string for an optional argument means "not given", as it did in
    databricks-etl-monitor 1.0, whose defaults were ``''``.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="forbid", frozen=True)
    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ()
    RENAMED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _empty_is_none(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            k: None
            if v == "" and isinstance(v, str) and k in fields and not fields[k].is_required()
            else v
            for k, v in data.items()
        }


class SessionArgs(_Args):
    """What a facade is built with besides its session, catalog and schema."""

    user: ShortText | None = None
    stale_after_minutes: Annotated[StrictInt, Field(gt=0, le=5_256_000)] = 720
    parallelism: Annotated[StrictInt, Field(ge=1, le=64)] = 8


HINTS["stale_after_minutes"] = "a positive whole number of minutes up to 5256000 (ten years)"
HINTS["parallelism"] = "a whole number from 1 to 64"


class OrganisationArgs(_Args):
    organisation_code: Code
    organisation_name: ShortText | None = None
    organisation_description: Text | None = None
    is_active: StrictBool = True

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("is_active",)
    RENAMED: ClassVar[dict[str, str]] = {
        "org_code": "organisation_code",
        "name": "organisation_name",
        "description": "organisation_description",
    }


class ProjectArgs(_Args):
    project_code: Code
    project_name: ShortText | None = None
    project_description: Text | None = None
    organisation_code: Code | None = None
    owner: ShortText | None = None
    is_active: StrictBool = True

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("owner", "is_active")
    RENAMED: ClassVar[dict[str, str]] = {
        "org_code": "organisation_code",
        "name": "project_name",
        "description": "project_description",
    }


#: http(s), a host, no whitespace and none of {}<>" (the URL goes into alert templates verbatim).
URL_PATTERN = r'^https?://[^\s/?#{}<>"]+[^\s{}<>"]*$'
#: A monitoring group's name, as ETLmonitorGroups accepts it.
GROUP_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
HINTS["monitor_group"] = "1-64 letters, digits or '_', not starting with a digit"
HINTS["freshness_minutes"] = (
    "a positive whole number of minutes up to 5256000 (ten years), or None to derive it "
    "from load_frequency"
)
URL_HINT = (
    'an http:// or https:// URL with a host, without spaces or any of {}<>" '
    "(at most 2048 characters)"
)
Url = Annotated[str, StringConstraints(strict=True, max_length=2048)]


class ProcessArgs(_Args):
    project_code: Code
    process_load: Code
    name: ShortText | None = None
    description: Text | None = None
    owner: ShortText | None = None
    load_frequency: Literal["D", "W", "M", "Y", "A"] = "D"
    is_active: StrictBool = True
    # Alert settings (after databricks-etl-monitor 1.0's arguments, keyword-only).
    monitor_group: (
        Annotated[str, StringConstraints(strict=True, pattern=GROUP_NAME_PATTERN)] | None
    ) = None
    runbook_url: Url | None = None
    lineage_url: Url | None = None
    freshness_minutes: Annotated[StrictInt, Field(gt=0, le=5_256_000)] | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = (
        "is_active",
        "monitor_group",
        "runbook_url",
        "lineage_url",
        "freshness_minutes",
    )

    @field_validator("runbook_url", "lineage_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.fullmatch(URL_PATTERN, url):
            raise ValueError(f"not {URL_HINT}")
        return url


class SequenceArgs(_Args):
    sequence_id: Annotated[StrictInt, Field(ge=10, le=INT_MAX)]
    sequence_code: Code
    description: Text | None = None
    sequence_name: ShortText | None = None
    sort_order: Int32 | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("sequence_name", "sort_order")


class TaskKeyArgs(_Args):
    project_code: Code
    process_load: Code
    task_id: NonNegative
    workflow_id: NonNegative


class TaskArgs(_Args):
    project_code: Code
    process_load: Code
    task_id: NonNegative
    workflow_id: NonNegative
    sequence_id: NonNegative
    task_name: ShortText | None = None
    source_type: Literal["ADF_PIPELINE", "DBX_NOTEBOOK", "DBX_JOB", "DATAFLOW"] | None = (
        "DBX_NOTEBOOK"
    )
    source_identifier: Path | None = None
    source_system_code: Name | None = None
    task_description: Text | None = None
    load_frequency: Literal["D", "W", "M", "Y", "A"] = "D"
    task_mandatory: StrictBool = True
    file_name_mask: ShortText | None = None
    file_extension: Extension | None = None
    in_file_path: Path | None = None
    out_file_path: Path | None = None
    is_active: StrictBool = True
    sla_minutes: Annotated[StrictInt, Field(gt=0, le=525_600)] | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("is_active", "sla_minutes")
    RENAMED: ClassVar[dict[str, str]] = {
        "file_mask": "file_name_mask",
        "source_path": "in_file_path",
        "target_path": "out_file_path",
        "description": "task_description",
    }

    @field_validator("file_name_mask")
    @classmethod
    def _mask_tokens(cls, mask: str | None) -> str | None:
        if mask is None:
            return None
        if mask.count("{") != mask.count("}"):
            raise ValueError("unbalanced braces")
        for token in FILE_MASK_TOKEN.findall(mask):
            if not FILE_MASK_TOKEN_BODY.fullmatch(token):
                raise ValueError(f"unknown date token {{{token}}}")
        return mask

    @field_validator("file_extension")
    @classmethod
    def _leading_dot(cls, ext: str | None) -> str | None:
        return "." + ext.lstrip(".") if ext else ext

    @model_validator(mode="after")
    def _initiation_task(self) -> TaskArgs:
        initiation = (self.task_id, self.workflow_id, self.sequence_id) == (0, 0, 0)
        if (self.task_id == 0 or self.workflow_id == 0) and not initiation:
            raise ValueError(
                "the initiation task must have task_id=0, workflow_id=0 and sequence_id=0; "
                "other tasks use task_id >= 1 and workflow_id >= 1"
            )
        return self


EXECUTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
ExecutionId = Annotated[str, StringConstraints(strict=True, pattern=EXECUTION_ID_PATTERN)]
HINTS["execution_id"] = (
    "1-128 characters of letters, digits, '_', '-', '.' or ':' (a UUID or an ADF run id)"
)
HINTS["processing_date"] = (
    f"a date, a datetime or an ISO date string such as '2026-04-09', {DAY_RANGE}, or None"
)
HINTS["timestamp"] = f"a datetime, a date or an ISO-8601 string, {INSTANT_RANGE}, or None for now"
HINTS["log_type"] = "one of INFO, WARN, ERROR"


Attempts = Annotated[StrictInt, Field(ge=0, le=INT_MAX)]
HINTS["attempts"] = "the execution's retry counter (0 for the first execution), or None"
SourceType = Literal["ADF_PIPELINE", "DBX_NOTEBOOK", "DBX_JOB", "DATAFLOW"]
LogType = Literal["INFO", "WARN", "ERROR"]


class StepKeyArgs(_Args):
    """Identifies one step: an execution and a task."""

    execution_id: ExecutionId
    project_code: Code
    process_load: Code
    task_id: NonNegative
    workflow_id: NonNegative


class RunArgs(_Args):
    """An execution of a process, optionally narrowed to a date, a stage or a task."""

    execution_id: ExecutionId | None = None
    project_code: Code
    process_load: Code
    processing_date: Day | None = None
    task_id: NonNegative | None = None
    workflow_id: NonNegative | None = None
    sequence_id: NonNegative | None = None
    attempts: Attempts | None = None


#: What a call may say about its step besides the key: column -> argument.
STEP_FACTS = {
    "SequenceID": "sequence_id",
    "ProcessingDate": "processing_date",
    "Attempts": "attempts",
}


class _Execution(_Args):
    """A call about one execution of a process (the first three arguments of them all)."""

    execution_id: ExecutionId
    project_code: Code
    process_load: Code

    def run(self) -> RunArgs:
        """The execution, date, stage and task the call names, as a filter."""
        return RunArgs(**self.model_dump(include=set(RunArgs.model_fields)))

    @property
    def key(self) -> StepKeyArgs:
        """The step's key (for calls that name a task and its workflow pass)."""
        return StepKeyArgs(**self.model_dump(include=set(StepKeyArgs.model_fields)))

    @property
    def expected(self) -> dict[str, Any]:
        """What the caller says about the step besides its key; a mismatch is an error."""
        return {column: getattr(self, name, None) for column, name in STEP_FACTS.items()}


class GenerateArgs(_Execution):
    processing_date: Day | None = None


class PendingArgs(_Execution):
    processing_date: Day | None = None
    sequence_id: NonNegative | None = None
    workflow_id: NonNegative | None = None
    task_id: NonNegative | None = None


class TaskStatusArgs(_Execution):
    """task_status(): the order is processing_date, workflow_id, sequence_id, task_id."""

    processing_date: Day | None = None
    workflow_id: NonNegative | None = None
    sequence_id: NonNegative | None = None
    task_id: NonNegative | None = None


class _StepCall(_Execution):
    """A call that names one step; the step's sequence_id and date, when given, must match it."""

    @model_validator(mode="after")
    def _workflow_given(self) -> _StepCall:
        if getattr(self, "workflow_id", 0) is None:
            raise ValueError(
                "workflow_id is required: a task is named by task_id and workflow_id "
                "(and sequence_id, checked against the step)"
            )
        return self

    @property
    def event(self) -> EventArgs:
        """What the call records besides the step key."""
        return EventArgs(**self.model_dump(include=set(EventArgs.model_fields)))


class SkipArgs(_StepCall):
    task_id: NonNegative
    workflow_id: NonNegative
    sequence_id: NonNegative | None = None
    processing_date: Day | None = None
    reason: ShortText | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("reason",)


class UnskipArgs(_StepCall):
    task_id: NonNegative
    workflow_id: NonNegative
    sequence_id: NonNegative | None = None
    processing_date: Day | None = None


class _Lifecycle(_StepCall):
    """start / end / fail / task: the task, then its stage and workflow pass, then the date."""

    task_id: NonNegative
    sequence_id: NonNegative | None = None
    workflow_id: NonNegative | None = None
    processing_date: Day | None = None


class StartArgs(_Lifecycle):
    attempts: Attempts | None = None
    source_type: SourceType | None = None
    source_run_id: ShortText | None = None
    timestamp: Instant | None = None
    log_message: Message | None = None
    log_type: LogType | None = None
    log_code: ShortText | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("log_message", "log_type", "log_code")


class EndArgs(_Lifecycle):
    attempts: Attempts | None = None
    status: Literal["DONE", "FAIL"] = "DONE"
    log_message: Message | None = None
    log_type: LogType | None = None
    log_code: ShortText | None = None
    timestamp: Instant | None = None
    source_run_id: ShortText | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("source_run_id",)


class FailArgs(_Lifecycle):
    attempts: Attempts | None = None
    log_message: Message | None = None
    log_code: ShortText | None = None
    timestamp: Instant | None = None
    log_type: LogType = "ERROR"
    source_run_id: ShortText | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("log_type", "source_run_id")


class TaskCallArgs(_Lifecycle):
    source_type: SourceType | None = None
    log_message: Message | None = None
    log_type: LogType | None = None
    log_code: ShortText | None = None
    attempts: Attempts | None = None
    source_run_id: ShortText | None = None

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("attempts", "source_run_id")


class EventArgs(_Args):
    """What start / end / fail record besides the step key."""

    timestamp: Instant | None = None
    log_message: Message | None = None
    log_type: LogType | None = None
    log_code: ShortText | None = None
    source_run_id: ShortText | None = None
    source_type: SourceType | None = None


class _ProcessRuns(_Args):
    """Runs of a process: a date, an execution, a workflow pass, a stage, a task, an attempt."""

    project_code: Code
    process_load: Code
    processing_date: Day | None = None
    execution_id: ExecutionId | None = None
    workflow_id: NonNegative | None = None
    sequence_id: NonNegative | None = None
    task_id: NonNegative | None = None
    attempts: Attempts | None = None

    def run(self) -> RunArgs:
        return RunArgs(**self.model_dump(include=set(RunArgs.model_fields)))


class ResetArgs(_ProcessRuns):
    remark: ShortText | None = None
    force: StrictBool = False

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("force",)


class StatusArgs(_ProcessRuns):
    summary_mode: StrictBool = False


class ParameterArgs(_Args):
    project_code: Code
    process_load: Code
    parameter_name: Name
    parameter_type: Literal["DELTA_DATE", "DELTA_ID", "FLAG", "SYSTEM"]
    description: Text | None = None
    value_datetime: Instant | None = None
    value_int: Annotated[StrictInt, Field(ge=BIGINT_MIN, le=BIGINT_MAX)] | None = None
    value_bit: StrictBool | None = None
    is_active: StrictBool = True

    KEYWORD_ONLY: ClassVar[tuple[str, ...]] = ("is_active",)

    @model_validator(mode="after")
    def _value_matches_type(self) -> ParameterArgs:
        allowed = {
            "DELTA_DATE": "value_datetime",
            "SYSTEM": "value_datetime",
            "DELTA_ID": "value_int",
            "FLAG": "value_bit",
        }[self.parameter_type]
        for name in ("value_datetime", "value_int", "value_bit"):
            if name != allowed and getattr(self, name) is not None:
                raise ValueError(
                    f"{name} does not apply to a {self.parameter_type} parameter; use {allowed}"
                )
        return self


M = TypeVar("M", bound=BaseModel)


def renamed(model: type[BaseModel], function: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments with earlier names (the model's ``RENAMED``) replaced by today's.

    Raises:
        InvalidArgumentError: both names of one argument were given.
    """
    out = dict(arguments)
    for old, new in getattr(model, "RENAMED", {}).items():
        if old in out:
            if new in out:
                raise InvalidArgumentError(
                    f"{function}(): give {new}= or its earlier name {old}=, not both",
                    argument=new,
                    value=out[new],
                )
            out[new] = out.pop(old)
    return out


def validate(model: type[M], function: str, **arguments: Any) -> M:
    """Build `model` from keyword arguments or raise InvalidArgumentError naming the culprit."""
    arguments = renamed(model, function, arguments)
    try:
        return model(**arguments)
    except ValidationError as error:
        raise _refusal(model, function, error) from None
    except Exception as error:  # a check that raised something else is a bug in the check
        raise InternalError(
            f"{function}(): checking the arguments failed with {type(error).__name__}: "
            f"{_shown(error)}; this is a bug in etl_monitor, not in the call"
        ) from error


def _shown(value: Any, limit: int = 200) -> str:
    """A value's repr for a message, cut to `limit` characters (a 10 MB argument stays out)."""
    try:
        text = repr(value) if not isinstance(value, BaseException) else str(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _refusal(model: type[BaseModel], function: str, error: ValidationError) -> InvalidArgumentError:
    """The InvalidArgumentError for a failed validation: every problem, the first argument named."""
    problems = []
    first_arg: str | None = None
    first_value: Any = None
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if not str(p).isdigit()]
        arg = loc[0] if loc else None  # a model-level check has no location
        value = item.get("input")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            text = f"unexpected argument {arg!r} (allowed: {', '.join(model.model_fields)})"
        elif arg and arg in model.model_fields:
            hint = HINTS.get(arg)
            text = f"invalid {arg}={_shown(value)}: {message}" + (
                f" (allowed: {hint})" if hint else ""
            )
        else:
            text = message
        if first_arg is None and arg is not None:
            first_arg, first_value = arg, value
        if text not in problems:
            problems.append(text)
    return InvalidArgumentError(
        f"{function}(): " + "; ".join(problems), argument=first_arg, value=first_value
    )
