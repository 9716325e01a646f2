"""`ETLMonitorFramework`: the one entry point users see. It validates names and delegates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from etl_monitor.config import registry
from etl_monitor.config.arguments import NonNegative, _Args, validate
from etl_monitor.engine.capabilities import Engine, detect_engine
from etl_monitor.engine.context import Context
from etl_monitor.engine.executor import RetryPolicy, SqlExecutor, check_identifier
from etl_monitor.runs import lifecycle, maintenance, reporting, watermarks
from etl_monitor.runs import queue as steps
from etl_monitor.runs.lifecycle import TaskContext, TaskRun
from etl_monitor.runs.maintenance import MaintenanceReport
from etl_monitor.runs.views import ALL_VIEWS
from etl_monitor.schema.setup import SetupReport, run_setup

DateLike = date | datetime | str | None


class _Compat(_Args):
    """Arguments the reference passes for symmetry; validated, then the step's own values are used."""

    sequence_id: NonNegative | None = None
    processing_date: date | None = None


class ETLMonitorFramework:
    """ETL run tracking in one Unity Catalog schema.

    >>> monitor = ETLMonitorFramework(spark, catalog="main", schema="etl")
    >>> monitor.setup()            # idempotent: tables, views, the seven stages
    """

    def __init__(
        self,
        spark: Any,
        catalog: str = "main",
        schema: str = "etl",
        *,
        engine: Engine | None = None,
        user: str | None = None,
        retry: RetryPolicy | None = None,
        stale_after_minutes: int = 720,
    ):
        check_identifier(catalog, "catalog", allow_dash=True)
        check_identifier(schema, "schema", allow_dash=True)
        self.spark = spark
        self.catalog = catalog
        self.schema = schema
        self.engine = engine or detect_engine(spark)
        self.executor = SqlExecutor(spark, retry)
        self._ctx = Context(
            spark,
            catalog,
            schema,
            self.engine,
            self.executor,
            user_override=user,
            stale_after_minutes=stale_after_minutes,
        )

    def __repr__(self) -> str:
        return f"ETLMonitorFramework(catalog={self.catalog!r}, schema={self.schema!r}, engine={self.engine.name!r})"

    def table_name(self, name: str) -> str:
        """Back-quoted three-part name of one of the framework's tables or views."""
        return self._ctx.name(check_identifier(name, "table"))

    def monitoring(self, workspace_client: Any = None, **options: Any) -> Any:
        """The data profiling submodule on the same catalog and schema (see etl_monitor.monitoring)."""
        from etl_monitor.monitoring import MonitoringFramework

        return MonitoringFramework(
            self.spark, self.catalog, self.schema, workspace_client, engine=self.engine, **options
        )

    def sample_usage(self, workspace_client: Any = None, target: str | None = None) -> str:
        """Copy the sample notebooks into a workspace folder (through databricks-sdk) or a local folder.

        With a workspace client the default folder is
        ``/Workspace/Users/<you>/etl_monitor/sample_usage``; without one, ``target`` (default
        ``./etl_monitor_sample_usage``) on the local disk. Returns where they went.
        """
        from etl_monitor.integrations.samples import copy_to_folder, copy_to_workspace

        if workspace_client is not None:
            return copy_to_workspace(workspace_client, target)
        return copy_to_folder(target or "etl_monitor_sample_usage")

    def publish_dashboard(
        self,
        workspace_client: Any,
        warehouse_id: str,
        parent_path: str = "/Shared/etl_monitor",
        display_name: str = "ETL Monitor",
    ) -> str:
        """Create or update, then publish, the Lakeview dashboard over this schema's views; returns its id."""
        from etl_monitor.integrations.dashboards import publish

        return publish(
            workspace_client, self.catalog, self.schema, warehouse_id, parent_path, display_name
        )

    # -- setup ---------------------------------------------------------------------------
    def setup(self) -> SetupReport:
        """Create or upgrade the schema, tables and views, and seed the seven stages.

        Safe to call on every job start: a second call changes no row.
        """
        return run_setup(self._ctx, ALL_VIEWS)

    # -- registry ------------------------------------------------------------------------
    def register_organisation(
        self,
        org_code: str,
        name: str | None = None,
        description: str | None = None,
        *,
        is_active: bool = True,
    ) -> None:
        """Add or update an organisation."""
        registry.register_organisation(
            self._ctx, org_code, name=name, description=description, is_active=is_active
        )

    def register_project(
        self,
        project_code: str,
        name: str | None = None,
        *,
        org_code: str | None = None,
        description: str | None = None,
        owner: str | None = None,
        is_active: bool = True,
    ) -> None:
        """Add or update a project."""
        registry.register_project(
            self._ctx,
            project_code,
            name=name,
            org_code=org_code,
            description=description,
            owner=owner,
            is_active=is_active,
        )

    def register_process(
        self,
        project_code: str,
        process_load: str,
        name: str | None = None,
        *,
        description: str | None = None,
        owner: str | None = None,
        load_frequency: str = "D",
        is_active: bool = True,
    ) -> None:
        """Add or update a domain process (one ProjectCode / ProcessLoad pair)."""
        registry.register_process(
            self._ctx,
            project_code,
            process_load,
            name=name,
            description=description,
            owner=owner,
            load_frequency=load_frequency,
            is_active=is_active,
        )

    def register_sequence(
        self, sequence_id: int, sequence_code: str, description: str | None = None
    ) -> None:
        """Add or update a custom stage; custom stages use SequenceID >= 10."""
        registry.register_sequence(self._ctx, sequence_id, sequence_code, description=description)

    def register_task(
        self,
        project_code: str,
        process_load: str,
        *,
        task_id: int,
        workflow_id: int,
        sequence_id: int,
        task_name: str | None = None,
        source_type: str = "DBX_NOTEBOOK",
        source_system_code: str | None = None,
        task_mandatory: bool = False,
        is_active: bool = True,
        load_frequency: str = "D",
        file_mask: str | None = None,
        file_extension: str | None = None,
        source_path: str | None = None,
        target_path: str | None = None,
        sla_minutes: int | None = None,
        description: str | None = None,
    ) -> None:
        """Add or update a task of a registered process.

        load_frequency: D daily, W weekly (ISO week), M monthly, Y yearly, A every run.
        file_mask: a file name with date tokens such as ``employees_{yyyyMMdd}``.
        """
        registry.register_task(
            self._ctx,
            project_code,
            process_load,
            task_id=task_id,
            workflow_id=workflow_id,
            sequence_id=sequence_id,
            task_name=task_name,
            source_type=source_type,
            source_system_code=source_system_code,
            task_mandatory=task_mandatory,
            is_active=is_active,
            load_frequency=load_frequency,
            file_mask=file_mask,
            file_extension=file_extension,
            source_path=source_path,
            target_path=target_path,
            sla_minutes=sla_minutes,
            description=description,
        )

    def deactivate_task(
        self, project_code: str, process_load: str, task_id: int, workflow_id: int
    ) -> None:
        """Switch a task off: later executions do not queue it."""
        registry.set_task_active(self._ctx, project_code, process_load, task_id, workflow_id, False)

    def activate_task(
        self, project_code: str, process_load: str, task_id: int, workflow_id: int
    ) -> None:
        """Switch a deactivated task back on."""
        registry.set_task_active(self._ctx, project_code, process_load, task_id, workflow_id, True)

    reactivate_task = activate_task

    def register_parameter(
        self,
        project_code: str,
        process_load: str,
        parameter_name: str,
        parameter_type: str,
        *,
        description: str | None = None,
        value_datetime: Any = None,
        value_int: int | None = None,
        value_bit: bool | None = None,
        is_active: bool = True,
    ) -> None:
        """Add or update a watermark or flag: DELTA_DATE, DELTA_ID, FLAG or SYSTEM."""
        registry.register_parameter(
            self._ctx,
            project_code,
            process_load,
            parameter_name,
            parameter_type,
            description=description,
            value_datetime=value_datetime,
            value_int=value_int,
            value_bit=value_bit,
            is_active=is_active,
        )

    # -- executions and the queue ----------------------------------------------------------
    @staticmethod
    def generate_execution_id() -> str:
        """A new execution id (a UUID); a retry of a run gets a new one."""
        return steps.generate_execution_id()

    def generate_execution_steps(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        processing_date: DateLike = None,
    ) -> int:
        """Queue one step per active task (not those already DONE in their period); returns the count.

        processing_date defaults to the historic date in historic mode, else today (UTC).
        A repeat call for the same execution is a no-op.
        """
        return steps.generate_execution_steps(
            self._ctx, execution_id, project_code, process_load, processing_date
        )

    def get_pending_tasks(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        processing_date: DateLike = None,
        task_id: int | None = None,
        workflow_id: int | None = None,
        sequence_id: int | None = None,
    ) -> list[dict[str, Any]] | str:
        """Runnable steps in workflow / stage order, with file names and watermarks.

        Generates the steps on first call. With task_id and workflow_id: that step's
        status, or 'NULL' when it has none.
        """
        return steps.get_pending_tasks(
            self._ctx,
            execution_id,
            project_code,
            process_load,
            processing_date,
            task_id,
            workflow_id,
            sequence_id,
        )

    def task_status(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
    ) -> str | None:
        """Status of one step (NQUE, RQUE, RUNNING, DONE, FAIL, SKIPPED, CANCELLED) or None."""
        return steps.task_status(
            self._ctx, execution_id, project_code, process_load, task_id, workflow_id
        )

    def skip_task(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
        reason: str | None = None,
    ) -> None:
        """Skip a queued step for this execution only."""
        steps.skip_task(
            self._ctx, execution_id, project_code, process_load, task_id, workflow_id, reason
        )

    def unskip_task(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
    ) -> None:
        """Queue a skipped step again."""
        steps.unskip_task(self._ctx, execution_id, project_code, process_load, task_id, workflow_id)

    def status_reset(
        self,
        project_code: str,
        process_load: str,
        execution_id: str | None = None,
        processing_date: DateLike = None,
        task_id: int | None = None,
        workflow_id: int | None = None,
        *,
        force: bool = False,
    ) -> int:
        """Re-queue failed steps of an execution, one task, or a whole day (day replay); returns the count."""
        return steps.status_reset(
            self._ctx,
            project_code,
            process_load,
            execution_id,
            processing_date,
            task_id,
            workflow_id,
            force,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def _step(
        self,
        function: str,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
        sequence_id: Any,
        processing_date: Any,
        **event: Any,
    ) -> tuple[dict[str, Any], Any, Any]:
        """Validate a lifecycle call: what the caller expects of the step, the step key, the event.

        A mismatch between the expectation and the step is logged; the step's own values win.
        """
        compat = validate(
            _Compat, function, sequence_id=sequence_id, processing_date=processing_date
        )
        expected = {"SequenceID": compat.sequence_id, "ProcessingDate": compat.processing_date}
        key = validate(
            lifecycle.StepKeyArgs,
            function,
            execution_id=execution_id,
            project_code=project_code,
            process_load=process_load,
            task_id=task_id,
            workflow_id=workflow_id,
        )
        return expected, key, lifecycle.parse_event(function, **event)

    def task(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
        sequence_id: int | None = None,
        processing_date: DateLike = None,
        *,
        source_type: str | None = None,
        source_run_id: str | None = None,
    ) -> TaskContext:
        """Context manager recording one task run: RUNNING, then DONE or FAIL / CANCELLED.

        Yields a TaskRun; when ``.active`` is False (DONE, skipped, deactivated or never
        generated) nothing is written and the body should do nothing. An exception in
        the body is recorded and re-raised unchanged.
        """
        expected, key, event = self._step(
            "task",
            execution_id,
            project_code,
            process_load,
            task_id,
            workflow_id,
            sequence_id,
            processing_date,
            source_type=source_type,
            source_run_id=source_run_id,
        )
        return TaskContext(self._ctx, key, event, expected)

    def start_task(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
        sequence_id: int | None = None,
        processing_date: DateLike = None,
        source_type: str | None = None,
        *,
        timestamp: datetime | str | None = None,
        source_run_id: str | None = None,
        log_message: str | None = None,
    ) -> TaskRun:
        """Record that a task started (for jobs and ADF that cannot use ``task()``)."""
        expected, key, event = self._step(
            "start_task",
            execution_id,
            project_code,
            process_load,
            task_id,
            workflow_id,
            sequence_id,
            processing_date,
            source_type=source_type,
            timestamp=timestamp,
            source_run_id=source_run_id,
            log_message=log_message,
        )
        return lifecycle.start(self._ctx, key, event, expected)

    def end_task(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
        sequence_id: int | None = None,
        processing_date: DateLike = None,
        *,
        timestamp: datetime | str | None = None,
        log_message: str | None = None,
        log_type: str = "INFO",
        log_code: str | None = None,
        source_run_id: str | None = None,
    ) -> str:
        """Record DONE; a DELTA_DATE watermark named by the task's SourceSystemCode advances to its start time."""
        expected, key, event = self._step(
            "end_task",
            execution_id,
            project_code,
            process_load,
            task_id,
            workflow_id,
            sequence_id,
            processing_date,
            timestamp=timestamp,
            log_message=log_message,
            log_type=log_type,
            log_code=log_code,
            source_run_id=source_run_id,
        )
        return lifecycle.end(self._ctx, key, event, expected=expected)

    def fail_task(
        self,
        execution_id: str,
        project_code: str,
        process_load: str,
        task_id: int,
        workflow_id: int,
        sequence_id: int | None = None,
        processing_date: DateLike = None,
        *,
        timestamp: datetime | str | None = None,
        log_message: str | None = None,
        log_type: str = "ERROR",
        log_code: str | None = None,
        source_run_id: str | None = None,
    ) -> str:
        """Record FAIL with a message (verbatim), type and code."""
        expected, key, event = self._step(
            "fail_task",
            execution_id,
            project_code,
            process_load,
            task_id,
            workflow_id,
            sequence_id,
            processing_date,
            timestamp=timestamp,
            log_message=log_message,
            log_type=log_type,
            log_code=log_code,
            source_run_id=source_run_id,
        )
        return lifecycle.fail(self._ctx, key, event, expected=expected)

    # -- watermarks and modes --------------------------------------------------------------
    def advance_watermark(
        self,
        project_code: str,
        process_load: str,
        parameter_name: str,
        new_datetime_value: datetime | date | str | None = None,
        new_int_value: int | None = None,
        execution_id: str | None = None,
    ) -> bool:
        """Move a DELTA_DATE or DELTA_ID watermark forward (never back); inside task() it lands with DONE."""
        return watermarks.advance_watermark(
            self._ctx,
            project_code,
            process_load,
            parameter_name,
            new_datetime_value,
            new_int_value,
            execution_id,
        )

    def get_active_watermark(
        self, project_code: str, process_load: str, parameter_name: str
    ) -> Any:
        """Current value of a parameter, typed by its ParameterType."""
        return watermarks.get_active_watermark(
            self._ctx, project_code, process_load, parameter_name
        )

    def set_flag(
        self, project_code: str, process_load: str, parameter_name: str, value: bool
    ) -> None:
        """Set a FLAG parameter."""
        watermarks.set_flag(self._ctx, project_code, process_load, parameter_name, value)

    def watermark_history(
        self, project_code: str, process_load: str, parameter_name: str
    ) -> list[dict[str, Any]]:
        """Every change of a parameter, oldest first."""
        return watermarks.watermark_history(self._ctx, project_code, process_load, parameter_name)

    def restore_watermark(
        self, project_code: str, process_load: str, parameter_name: str, before_execution_id: str
    ) -> Any:
        """Set a parameter back to its value before an execution changed it; returns that value."""
        return watermarks.restore_watermark(
            self._ctx, project_code, process_load, parameter_name, before_execution_id
        )

    def set_processing_mode(
        self,
        project_code: str,
        process_load: str,
        is_bulk_mode: bool = False,
        is_historic_mode: bool = False,
        historic_date: DateLike = None,
        parameter_name: str | None = None,
    ) -> int:
        """Bulk (full reload), historic (a past processing date) or, with no flags, live mode."""
        return watermarks.set_processing_mode(
            self._ctx,
            project_code,
            process_load,
            is_bulk_mode,
            is_historic_mode,
            historic_date,
            parameter_name,
        )

    # -- reporting -------------------------------------------------------------------------
    def maintain(
        self, archive_after_days: int | None = None, vacuum: bool = True
    ) -> MaintenanceReport:
        """Keep run tracking fast after years of history; safe while tasks run.

        Compacts every table (``OPTIMIZE`` where the engine has it, else the same Delta
        operation on the table's files), optionally moves STEP events of processing dates
        older than `archive_after_days` to ``ETLProcessingEventsArchive`` (the views read
        both), and deletes unreferenced files older than 7 days. Schedule it daily.

        Args:
            archive_after_days: archive step events of dates older than this; None keeps all.
            vacuum: delete files no snapshot of the last 7 days references.

        Returns:
            The events archived and the files of each table before and after.

        Raises:
            InvalidArgumentError: archive_after_days is not a positive integer.

        Example:
            >>> monitor.maintain(archive_after_days=400)  # doctest: +SKIP
        """
        return maintenance.maintain(self._ctx, archive_after_days=archive_after_days, vacuum=vacuum)

    def get_status(
        self,
        project_code: str,
        process_load: str,
        execution_id: str | None = None,
        processing_date: DateLike = None,
        summary_mode: bool = False,
    ) -> Any:
        """Task detail, or run rollups with summary_mode=True, as a DataFrame."""
        return reporting.get_status(
            self._ctx, project_code, process_load, execution_id, processing_date, summary_mode
        )

    def stale_tasks(
        self,
        project_code: str | None = None,
        process_load: str | None = None,
        older_than_minutes: int | None = None,
    ) -> list[dict[str, Any]]:
        """RUNNING steps older than the stale threshold: their process probably died."""
        return reporting.stale_tasks(self._ctx, project_code, process_load, older_than_minutes)

    def log_receipt(self, source_type: str, payload: str | None = None, **fields: Any) -> str:
        """Store a raw run receipt in ETLsysLogs (execution_id, project_code, status, log_message, ...)."""
        return reporting.log_receipt(self._ctx, source_type=source_type, payload=payload, **fields)
