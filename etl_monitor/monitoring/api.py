"""The two Databricks monitor APIs behind one small interface.

`DataQualityApi` uses ``w.data_quality`` (monitors keyed by table id); `LegacyApi` uses
``w.quality_monitors`` (keyed by full name) for SDKs that lack the new one. Both turn the
API's answer into the same comparable form, so a re-run with an unchanged config makes
no mutating call. Fields the API does not return (warehouse id, skip_builtin_dashboard)
and fields only sent on create (assets_dir) are never compared.

Updates touch only what changed: the data-quality update sends a leaf-level
``update_mask`` (`update_mask`), so settings made outside this library (custom metrics,
warehouse, assets dir) are kept; the legacy update, a full replacement, sends the current
values of the fields this library does not manage. Changes the service refuses to make
in place (`recreate_reasons`) are not updates: the plan reports them as delete + create.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from etl_monitor.engine import retry
from etl_monitor.engine.retry import RetryPolicy

log: logging.Logger = logging.getLogger("etl_monitor.monitoring.api")

T = TypeVar("T")

_GRANULARITY_ENUM = {
    "5 minutes": "AGGREGATION_GRANULARITY_5_MINUTES",
    "30 minutes": "AGGREGATION_GRANULARITY_30_MINUTES",
    "1 hour": "AGGREGATION_GRANULARITY_1_HOUR",
    "1 day": "AGGREGATION_GRANULARITY_1_DAY",
    "1 week": "AGGREGATION_GRANULARITY_1_WEEK",
    "2 weeks": "AGGREGATION_GRANULARITY_2_WEEKS",
    "3 weeks": "AGGREGATION_GRANULARITY_3_WEEKS",
    "4 weeks": "AGGREGATION_GRANULARITY_4_WEEKS",
    "1 month": "AGGREGATION_GRANULARITY_1_MONTH",
    "1 year": "AGGREGATION_GRANULARITY_1_YEAR",
}
_GRANULARITY_TEXT = {v: k for k, v in _GRANULARITY_ENUM.items()}
#: Profile type -> the data_profiling_config field that holds it.
PROFILE_FIELDS = {"SNAPSHOT": "snapshot", "TIMESERIES": "time_series", "INFERENCE": "inference_log"}
#: Monitor states (the suffix of DataProfilingStatus / MonitorInfoStatus).
ACTIVE, PENDING, BROKEN = "ACTIVE", "PENDING", ("ERROR", "FAILED")


def default_assets_dir(table_name: str) -> str:
    """Where the dashboard and other workspace assets of a monitor go unless configured."""
    return f"/Workspace/Shared/etl_monitor/monitors/{table_name}"


@dataclass(frozen=True)
class Desired:
    """The monitor a config row asks for, in comparable form (``assets_dir`` is create-only)."""

    table_name: str
    profile_type: str
    output_schema_name: str
    timestamp_column: str | None = None
    granularities: tuple[str, ...] = ()
    prediction_column: str | None = None
    label_column: str | None = None
    model_id_column: str | None = None
    problem_type: str | None = None
    baseline_table_name: str | None = None
    slicing_exprs: tuple[str, ...] = ()
    schedule_cron: str | None = None
    schedule_timezone: str | None = None
    notification_emails: tuple[str, ...] = ()
    assets_dir: str | None = None

    def comparable(self) -> dict[str, Any]:
        """The compared fields by name (all but the table name and the assets dir)."""
        fields = {k: v for k, v in self.__dict__.items() if k not in ("table_name", "assets_dir")}
        if not self.schedule_cron:
            fields["schedule_timezone"] = None
        return fields


@dataclass
class Actual:
    """What the API says a monitor is (``raw``: the SDK object, for fields not compared)."""

    object_id: str | None
    fields: dict[str, Any]
    status: str | None = None
    profile_metrics_table: str | None = None
    drift_metrics_table: str | None = None
    dashboard_id: str | None = None
    monitor_version: int | None = None
    raw: Any = None
    #: Set when the table's monitor is of a kind this library does not manage (it has no
    #: data profiling config): its name, such as ``"anomaly detection"``.
    other_kind: str | None = None

    @property
    def state(self) -> str | None:
        """ACTIVE, PENDING, ERROR, FAILED or DELETE_PENDING, whichever API answered."""
        if self.status is None:
            return None
        return self.status.removeprefix("DATA_PROFILING_STATUS_").removeprefix("MONITOR_STATUS_")


def differences(desired: Desired, actual: Actual) -> list[str]:
    """Names of the fields where the monitor differs from the config (its state is not one)."""
    want = desired.comparable()
    return sorted(k for k, v in want.items() if actual.fields.get(k) != v)


def recreate_reasons(desired: Desired, actual: Actual) -> list[str]:
    """Why the monitor cannot be brought to the config by an update, if it cannot.

    The service refuses to change a monitor's output schema or to switch it to or from a
    time-series profile, and a monitor in ERROR or FAILED state has to be deleted and
    created again (terraform-provider-databricks gives up on those states too).

    Args:
        desired: what the config asks for.
        actual: what the API answered.

    Returns:
        One sentence per reason; empty when an update (or nothing) will do.
    """
    reasons = []
    if actual.state in BROKEN:
        reasons.append(f"the monitor is in state {actual.state}")
    have = actual.fields.get("output_schema_name")
    if have != desired.output_schema_name:
        reasons.append(f"the output schema changes from {have} to {desired.output_schema_name}")
    before, after = actual.fields.get("profile_type"), desired.profile_type
    if before != after and "TIMESERIES" in (before, after):
        reasons.append(f"the profile type changes from {before} to {after}")
    return reasons


_SERIES_FIELDS = ("timestamp_column", "granularities")
_INFERENCE_FIELDS = ("prediction_column", "label_column", "model_id_column", "problem_type")


def update_mask(desired: Desired, actual: Actual, changes: list[str]) -> list[str]:
    """The leaf-level ``update_mask`` paths of a data-quality update for ``changes``.

    Each changed field maps to the deepest path that holds it (for example
    ``data_profiling_config.schedule.quartz_cron_expression``), so fields this library
    does not manage are left as they are. A switch between snapshot and inference
    profiles names both sub-objects (one is set, the other cleared); a removed schedule
    names ``data_profiling_config.schedule``.

    Args:
        desired: what the config asks for.
        actual: what the API answered.
        changes: field names from `differences`.

    Returns:
        The sorted, distinct mask paths.

    Raises:
        ValueError: a change the service cannot update (see `recreate_reasons`).
    """
    base = "data_profiling_config"
    paths: set[str] = set()
    profile = PROFILE_FIELDS[desired.profile_type]
    handled: set[str] = set()
    if "output_schema_name" in changes:
        raise ValueError("the output schema cannot be updated: delete and create the monitor")
    if "profile_type" in changes:
        before = PROFILE_FIELDS.get(actual.fields.get("profile_type") or "", "snapshot")
        paths |= {f"{base}.{before}", f"{base}.{profile}"}
        handled = {"profile_type", *_SERIES_FIELDS, *_INFERENCE_FIELDS}
    for name in changes:
        if name in handled:
            continue
        if name in _SERIES_FIELDS:
            paths.add(f"{base}.{profile}.{name}")
        elif name in _INFERENCE_FIELDS:
            paths.add(f"{base}.inference_log.{name}")
        elif name in ("baseline_table_name", "slicing_exprs"):
            paths.add(f"{base}.{name}")
        elif name == "schedule_cron":
            paths.add(
                f"{base}.schedule.quartz_cron_expression"
                if desired.schedule_cron
                else f"{base}.schedule"
            )
        elif name == "schedule_timezone":
            paths.add(
                f"{base}.schedule.timezone_id" if desired.schedule_cron else f"{base}.schedule"
            )
        elif name == "notification_emails":
            paths.add(f"{base}.notification_settings.on_failure.email_addresses")
        else:  # pragma: no cover - every comparable field is mapped above
            raise ValueError(f"no update_mask path for {name!r}")
    return sorted(paths)


@dataclass
class TableInfo:
    full_name: str
    table_id: str | None
    columns: list[str] = field(default_factory=list)


def is_transient(error: BaseException) -> bool:
    """Whether one more attempt of the call is worth it, on top of what the SDK did.

    The rule, from the SDK's own retry (``databricks/sdk/_base_client.py`` ``_is_retryable``
    and ``retries.py``): the SDK retries, until ``retry_timeout_seconds`` (default 300 s),
    every 429 and 503 (its error customizer gives them ``retry_after_secs``, from the
    ``Retry-After`` header or 1 s, and ``retried`` retries any error carrying it), dropped
    connections, timeouts and a few "transient" messages; when it gives up it raises the
    built-in ``TimeoutError`` (or ``RuntimeError``) chained to the last error, which is not
    retried here: that would multiply the SDK's retry time. What the SDK raises at once,
    and is worth another try, is recognised by its error classes (``databricks.sdk.errors``):
    ``InternalError`` (with ``Unknown`` and ``DataLoss``, 500), ``DeadlineExceeded`` (504),
    ``TemporarilyUnavailable`` and ``TooManyRequests`` (with ``ResourceExhausted`` and
    ``RequestLimitExceeded``, which the service may also send with another status), and the
    409 conflicts ``ResourceConflict`` / ``Aborted`` other than "already exists". Calls that
    are not safe to repeat use a narrower rule (`is_transient_create`, `is_refused`).

    Args:
        error: what the call raised.

    Returns:
        True when `with_retries` should try again.
    """
    from databricks.sdk import errors

    if not isinstance(error, errors.DatabricksError):
        return False  # TimeoutError: the SDK's retries ran out; connection errors: retried
    if isinstance(error, (errors.ResourceAlreadyExists, errors.AlreadyExists)):
        return False
    return isinstance(
        error,
        (
            errors.InternalError,
            errors.DeadlineExceeded,
            errors.TemporarilyUnavailable,
            errors.TooManyRequests,
            errors.ResourceConflict,
        ),
    )


def is_transient_create(error: BaseException) -> bool:
    """`is_transient` for a create: a plain 409 ``ResourceConflict`` is a real conflict there.

    ``Aborted`` (a concurrent change) is still retried; an "already exists" after a retried
    create is handled by the caller (the first attempt may have succeeded).

    Args:
        error: what the create raised.

    Returns:
        True when the create should be tried again.
    """
    from databricks.sdk import errors

    if type(error) is errors.ResourceConflict:
        return False
    return is_transient(error)


def is_refused(error: BaseException) -> bool:
    """Whether the service certainly did not start the call: it refused it (429/503).

    A 500 or 504 may come after the work began (a refresh may be running), so a call that
    must not run twice, such as starting a refresh, is retried only on these.

    Args:
        error: what the call raised.

    Returns:
        True for ``TooManyRequests`` (and its subclasses) and ``TemporarilyUnavailable``.
    """
    from databricks.sdk import errors

    return isinstance(error, (errors.TooManyRequests, errors.TemporarilyUnavailable))


def is_already_exists(error: BaseException) -> bool:
    """Whether a create failed because the monitor already exists (409)."""
    from databricks.sdk import errors

    return isinstance(error, (errors.ResourceAlreadyExists, errors.AlreadyExists))


def is_not_found(error: BaseException) -> bool:
    """Whether the SDK said the table, schema or monitor does not exist (404)."""
    from databricks.sdk import errors

    return isinstance(error, errors.NotFound)


def with_retries(
    action: Callable[[], T],
    what: str,
    attempts: int = 4,
    base: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Call ``action``, retrying what ``transient`` accepts with jittered exponential backoff.

    Args:
        action: the SDK call.
        what: a label for the log.
        attempts: calls at most (the first included).
        base: the first backoff ceiling in seconds (doubled per attempt, at most 10 s).
        sleep: how to wait (tests pass a recorder).
        transient: which errors are worth another attempt (default `is_transient`).

    Returns:
        What ``action`` returned.

    Raises:
        Exception: the last error, once it is not transient or the attempts are used up.
    """
    policy = RetryPolicy(max_attempts=attempts, base_delay=base, max_delay=10.0, min_delay=base / 2)
    return retry.call(action, policy=policy, transient=transient, what=what, sleep=sleep)


def _value(enum_or_str: Any) -> str | None:
    if enum_or_str is None:
        return None
    return getattr(enum_or_str, "value", enum_or_str)


class _Base:
    name = "base"

    def __init__(self, workspace_client: Any):
        self.w = workspace_client
        self._tables: dict[str, TableInfo] = {}
        self._schemas: dict[str, str] = {}
        self._lock = threading.Lock()
        self._schema_lock = threading.Lock()

    def table(self, full_name: str, *, cached: bool = True) -> TableInfo:
        """Table id and columns (cached unless cached=False); raises the SDK's NotFound for a missing table."""
        with self._lock:
            if cached and full_name in self._tables:
                return self._tables[full_name]
        info = with_retries(lambda: self.w.tables.get(full_name), f"tables.get {full_name}")
        table = TableInfo(full_name, info.table_id, [c.name for c in (info.columns or [])])
        with self._lock:
            self._tables[full_name] = table
        return table

    def schema_id(self, full_name: str) -> str:
        """The id of schema ``full_name``, looked up once (concurrent callers wait for it)."""
        with self._schema_lock:
            with self._lock:
                if full_name in self._schemas:
                    return self._schemas[full_name]
            info = with_retries(lambda: self.w.schemas.get(full_name), f"schemas.get {full_name}")
            with self._lock:
                self._schemas[full_name] = info.schema_id
            return info.schema_id

    def get(self, d: Desired) -> Actual | None:  # pragma: no cover - each API defines it
        raise NotImplementedError

    def _create(
        self, d: Desired, call: Callable[[], Any], convert: Callable[[Any], Actual]
    ) -> Actual:
        """Run a create with retries; an "already exists" after a retried error is success.

        A create that got a 500 or 504 may have been carried out by the service; its retry
        then answers "already exists". That monitor is read back (as `provision` does for a
        plain "already exists") and returned as the created one.
        """
        retried: list[BaseException] = []

        def transient(error: BaseException) -> bool:
            again = is_transient_create(error)
            if again:
                retried.append(error)
            return again

        try:
            return convert(with_retries(call, f"create {d.table_name}", transient=transient))
        except Exception as error:
            if not (retried and is_already_exists(error)):
                raise
            actual = self.get(d)
            if actual is None or actual.other_kind is not None:
                raise
            log.info(
                "create %s: already exists after a retried %s; read back",
                d.table_name,
                type(retried[-1]).__name__,
            )
            return actual


class DataQualityApi(_Base):
    """``w.data_quality``: the current API."""

    name = "data_quality"

    def _config(self, d: Desired, *, create: bool = False) -> Any:
        from databricks.sdk.service import dataquality as dq

        grans = [dq.AggregationGranularity(_GRANULARITY_ENUM[g]) for g in d.granularities]
        config = dq.DataProfilingConfig(
            output_schema_id=self.schema_id(d.output_schema_name),
            assets_dir=(d.assets_dir or default_assets_dir(d.table_name)) if create else None,
            baseline_table_name=d.baseline_table_name,
            slicing_exprs=list(d.slicing_exprs) or None,
            schedule=dq.CronSchedule(
                quartz_cron_expression=d.schedule_cron, timezone_id=d.schedule_timezone or "UTC"
            )
            if d.schedule_cron
            else None,
            notification_settings=dq.NotificationSettings(
                on_failure=dq.NotificationDestination(email_addresses=list(d.notification_emails))
            )
            if d.notification_emails
            else None,
        )
        if d.profile_type == "SNAPSHOT":
            config.snapshot = dq.SnapshotConfig()
        elif d.profile_type == "TIMESERIES":
            config.time_series = dq.TimeSeriesConfig(
                timestamp_column=d.timestamp_column, granularities=grans
            )
        else:
            config.inference_log = dq.InferenceLogConfig(
                problem_type=dq.InferenceProblemType(f"INFERENCE_PROBLEM_TYPE_{d.problem_type}"),
                timestamp_column=d.timestamp_column,
                granularities=grans,
                prediction_column=d.prediction_column,
                model_id_column=d.model_id_column,
                label_column=d.label_column,
            )
        return config

    def _actual(self, found: Any, output_schema_name: str | None) -> Actual:
        c = found.data_profiling_config
        fields: dict[str, Any] = {
            "profile_type": "INFERENCE"
            if c.inference_log
            else "TIMESERIES"
            if c.time_series
            else "SNAPSHOT",
            "baseline_table_name": c.baseline_table_name,
            "slicing_exprs": tuple(c.slicing_exprs or ()),
            "schedule_cron": c.schedule.quartz_cron_expression if c.schedule else None,
            "schedule_timezone": c.schedule.timezone_id if c.schedule else None,
            "notification_emails": tuple(c.notification_settings.on_failure.email_addresses or ())
            if c.notification_settings and c.notification_settings.on_failure
            else (),
            "timestamp_column": None,
            "granularities": (),
            "prediction_column": None,
            "label_column": None,
            "model_id_column": None,
            "problem_type": None,
        }
        # the answer names the output schema by id: the config's name when it is that schema
        # (compared by id: two spellings of one name share it), else a name resolved earlier
        if output_schema_name is not None and (
            self.schema_id(output_schema_name) == c.output_schema_id
        ):
            fields["output_schema_name"] = output_schema_name
        else:
            with self._lock:
                names = sorted(n for n, i in self._schemas.items() if i == c.output_schema_id)
            fields["output_schema_name"] = names[0] if names else c.output_schema_id
        series = c.inference_log or c.time_series
        if series:
            fields["timestamp_column"] = series.timestamp_column
            fields["granularities"] = tuple(
                _GRANULARITY_TEXT.get(_value(g), _value(g)) for g in series.granularities or ()
            )
        if c.inference_log:
            i = c.inference_log
            fields.update(
                prediction_column=i.prediction_column,
                label_column=i.label_column,
                model_id_column=i.model_id_column,
                problem_type=(_value(i.problem_type) or "").removeprefix("INFERENCE_PROBLEM_TYPE_")
                or None,
            )
        return Actual(
            found.object_id,
            fields,
            _value(c.status),
            c.profile_metrics_table_name,
            c.drift_metrics_table_name,
            c.dashboard_id,
            c.monitor_version,
            raw=found,
        )

    def _get(self, table_name: str) -> Any:
        table = self.table(table_name)
        try:
            monitor = with_retries(
                lambda: self.w.data_quality.get_monitor("table", table.table_id),
                f"get_monitor {table_name}",
            )
        except Exception as error:
            if is_not_found(error):
                return None
            raise
        return monitor

    def get(self, d: Desired) -> Actual | None:
        """The monitor on ``d.table_name`` (None when there is none).

        A monitor without a data profiling config (an anomaly detection monitor) is
        returned with ``other_kind`` set and no compared fields.
        """
        monitor = self._get(d.table_name)
        if monitor is None:
            return None
        if monitor.data_profiling_config is None:
            kind = "anomaly detection" if monitor.anomaly_detection_config else "unknown kind"
            return Actual(monitor.object_id, {}, raw=monitor, other_kind=kind)
        return self._actual(monitor, d.output_schema_name)

    def state(self, table_name: str) -> str | None:
        """ACTIVE, PENDING, ERROR... of the monitor on ``table_name`` (None: no monitor;
        OTHER_KIND: a monitor without a data profiling config)."""
        monitor = self._get(table_name)
        if monitor is None:
            return None
        if monitor.data_profiling_config is None:
            return "OTHER_KIND"
        return self._actual(monitor, None).state

    def create(self, d: Desired) -> Actual:
        """Create the monitor, with its assets dir (configured, or `default_assets_dir`)."""
        from databricks.sdk.service import dataquality as dq

        table = self.table(d.table_name)
        monitor = dq.Monitor(
            object_type="table",
            object_id=table.table_id,
            data_profiling_config=self._config(d, create=True),
        )
        return self._create(
            d,
            lambda: self.w.data_quality.create_monitor(monitor=monitor),
            lambda created: self._actual(created, d.output_schema_name),
        )

    def update(self, d: Desired, actual: Actual, changes: list[str]) -> Actual:
        """Send only ``changes``, as a leaf-level update mask (see `update_mask`)."""
        from databricks.sdk.service import dataquality as dq

        table = self.table(d.table_name)
        mask = ",".join(update_mask(d, actual, changes))
        monitor = dq.Monitor(
            object_type="table", object_id=table.table_id, data_profiling_config=self._config(d)
        )
        updated = with_retries(
            lambda: self.w.data_quality.update_monitor(
                "table", table.table_id, monitor, update_mask=mask
            ),
            f"update {d.table_name}",
        )
        return self._actual(updated, d.output_schema_name)

    def delete(self, table_name: str) -> None:
        table = self.table(table_name)
        with_retries(
            lambda: self.w.data_quality.delete_monitor("table", table.table_id),
            f"delete {table_name}",
        )

    def refresh(self, table_name: str) -> str:
        from databricks.sdk.service import dataquality as dq

        table = self.table(table_name)
        refresh = with_retries(
            lambda: self.w.data_quality.create_refresh(
                "table", table.table_id, dq.Refresh(object_type="table", object_id=table.table_id)
            ),
            f"refresh {table_name}",
            transient=is_refused,
        )
        return str(refresh.refresh_id)

    def refresh_state(self, table_name: str, refresh_id: str) -> str:
        table = self.table(table_name)
        refresh = with_retries(
            lambda: self.w.data_quality.get_refresh("table", table.table_id, int(refresh_id)),
            f"get_refresh {table_name}",
        )
        return (_value(refresh.state) or "UNKNOWN").removeprefix("MONITOR_REFRESH_STATE_")


class LegacyApi(_Base):
    """``w.quality_monitors``: the older API, keyed by full table name, for SDKs without data_quality."""

    name = "quality_monitors"

    def _kwargs(self, d: Desired) -> dict[str, Any]:
        from databricks.sdk.service import catalog as c

        kwargs: dict[str, Any] = {
            "output_schema_name": d.output_schema_name,
            "baseline_table_name": d.baseline_table_name,
            "slicing_exprs": list(d.slicing_exprs) or None,
            "schedule": c.MonitorCronSchedule(
                quartz_cron_expression=d.schedule_cron, timezone_id=d.schedule_timezone or "UTC"
            )
            if d.schedule_cron
            else None,
            "notifications": c.MonitorNotifications(
                on_failure=c.MonitorDestination(email_addresses=list(d.notification_emails))
            )
            if d.notification_emails
            else None,
        }
        if d.profile_type == "SNAPSHOT":
            kwargs["snapshot"] = c.MonitorSnapshot()
        elif d.profile_type == "TIMESERIES":
            kwargs["time_series"] = c.MonitorTimeSeries(
                timestamp_col=d.timestamp_column, granularities=list(d.granularities)
            )
        else:
            kwargs["inference_log"] = c.MonitorInferenceLog(
                problem_type=c.MonitorInferenceLogProblemType(f"PROBLEM_TYPE_{d.problem_type}"),
                timestamp_col=d.timestamp_column,
                granularities=list(d.granularities),
                prediction_col=d.prediction_column,
                model_id_col=d.model_id_column,
                label_col=d.label_column,
            )
        return kwargs

    @staticmethod
    def _actual(info: Any) -> Actual:
        series = info.inference_log or info.time_series
        fields: dict[str, Any] = {
            "profile_type": "INFERENCE"
            if info.inference_log
            else "TIMESERIES"
            if info.time_series
            else "SNAPSHOT",
            "output_schema_name": info.output_schema_name,
            "baseline_table_name": info.baseline_table_name,
            "slicing_exprs": tuple(info.slicing_exprs or ()),
            "schedule_cron": info.schedule.quartz_cron_expression if info.schedule else None,
            "schedule_timezone": info.schedule.timezone_id if info.schedule else None,
            "notification_emails": tuple(info.notifications.on_failure.email_addresses or ())
            if info.notifications and info.notifications.on_failure
            else (),
            "timestamp_column": series.timestamp_col if series else None,
            "granularities": tuple(series.granularities or ()) if series else (),
            "prediction_column": None,
            "label_column": None,
            "model_id_column": None,
            "problem_type": None,
        }
        if info.inference_log:
            i = info.inference_log
            fields.update(
                prediction_column=i.prediction_col,
                label_column=i.label_col,
                model_id_column=i.model_id_col,
                problem_type=(_value(i.problem_type) or "").removeprefix("PROBLEM_TYPE_") or None,
            )
        return Actual(
            None,
            fields,
            _value(info.status),
            info.profile_metrics_table_name,
            info.drift_metrics_table_name,
            info.dashboard_id,
            info.monitor_version,
            raw=info,
        )

    def _get(self, table_name: str) -> Any:
        self.table(table_name)
        try:
            return with_retries(
                lambda: self.w.quality_monitors.get(table_name=table_name), f"get {table_name}"
            )
        except Exception as error:
            if is_not_found(error):
                return None
            raise

    def get(self, d: Desired) -> Actual | None:
        """The monitor on ``d.table_name`` (None when there is none)."""
        info = self._get(d.table_name)
        if info is None:
            return None
        actual = self._actual(info)
        have = actual.fields["output_schema_name"]
        # two spellings of one schema name are one schema: compare by id
        if (
            have != d.output_schema_name
            and have
            and (self.schema_id(have) == self.schema_id(d.output_schema_name))
        ):
            actual.fields["output_schema_name"] = d.output_schema_name
        return actual

    def state(self, table_name: str) -> str | None:
        """ACTIVE, PENDING, ERROR... of the monitor on ``table_name`` (None: no monitor)."""
        info = self._get(table_name)
        return None if info is None else self._actual(info).state

    def create(self, d: Desired) -> Actual:
        """Create the monitor, with its assets dir (configured, or `default_assets_dir`)."""
        assets = d.assets_dir or default_assets_dir(d.table_name)
        return self._create(
            d,
            lambda: self.w.quality_monitors.create(
                table_name=d.table_name, assets_dir=assets, **self._kwargs(d)
            ),
            self._actual,
        )

    def update(self, d: Desired, actual: Actual, changes: list[str]) -> Actual:
        """A full replacement (the legacy API has no mask) that keeps what is not managed here.

        Custom metrics, the data classification config, the dashboard and the
        new-classification-tag notifications are sent back as the API answered them.
        """
        from databricks.sdk.service import catalog as c

        kwargs = self._kwargs(d)
        current = actual.raw
        if current is not None:
            kwargs.update(
                custom_metrics=current.custom_metrics,
                data_classification_config=current.data_classification_config,
                dashboard_id=current.dashboard_id,
            )
            if kwargs["schedule"] is not None and current.schedule is not None:
                kwargs["schedule"].pause_status = current.schedule.pause_status
            tags = (
                current.notifications.on_new_classification_tag_detected
                if current.notifications
                else None
            )
            if tags is not None:
                notes = kwargs.get("notifications") or c.MonitorNotifications()
                notes.on_new_classification_tag_detected = tags
                kwargs["notifications"] = notes
        info = with_retries(
            lambda: self.w.quality_monitors.update(table_name=d.table_name, **kwargs),
            f"update {d.table_name}",
        )
        return self._actual(info)

    def delete(self, table_name: str) -> None:
        with_retries(
            lambda: self.w.quality_monitors.delete(table_name=table_name), f"delete {table_name}"
        )

    def refresh(self, table_name: str) -> str:
        info = with_retries(
            lambda: self.w.quality_monitors.run_refresh(table_name=table_name),
            f"refresh {table_name}",
            transient=is_refused,
        )
        return str(info.refresh_id)

    def refresh_state(self, table_name: str, refresh_id: str) -> str:
        info = with_retries(
            lambda: self.w.quality_monitors.get_refresh(
                table_name=table_name, refresh_id=int(refresh_id)
            ),
            f"get_refresh {table_name}",
        )
        return _value(info.state) or "UNKNOWN"


def make_api(workspace_client: Any, prefer: str | None = None) -> _Base:
    """The data_quality API when the SDK has it (or `prefer="quality_monitors"`), else the legacy one."""
    if prefer == "quality_monitors" or not hasattr(workspace_client, "data_quality"):
        return LegacyApi(workspace_client)
    return DataQualityApi(workspace_client)
