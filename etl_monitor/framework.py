"""`ETLMonitorFramework`: the one entry point users see. It validates names and delegates."""

from __future__ import annotations

from typing import Any

from . import registry
from .bootstrap import SetupReport, run_setup
from .context import Context
from .engines import Engine, detect_engine
from .sql import RetryPolicy, SqlExecutor, check_identifier


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
    ):
        check_identifier(catalog, "catalog", allow_dash=True)
        check_identifier(schema, "schema", allow_dash=True)
        self.spark = spark
        self.catalog = catalog
        self.schema = schema
        self.engine = engine or detect_engine(spark)
        self.executor = SqlExecutor(spark, retry)
        self._ctx = Context(spark, catalog, schema, self.engine, self.executor, user_override=user)

    def __repr__(self) -> str:
        return f"ETLMonitorFramework(catalog={self.catalog!r}, schema={self.schema!r}, engine={self.engine.name!r})"

    def table_name(self, name: str) -> str:
        """Back-quoted three-part name of one of the framework's tables or views."""
        return self._ctx.name(check_identifier(name, "table"))

    # -- setup ---------------------------------------------------------------------------
    def setup(self) -> SetupReport:
        """Create or upgrade the schema, tables and views, and seed the seven stages.

        Safe to call on every job start: a second call changes no row.
        """
        return run_setup(self._ctx)

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
