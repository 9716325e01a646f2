"""The run-tracking tables: config tables, the event log and its archive, the raw receipts.

Config tables (``ETLconfig*``, ``ETLOrganisation``) are small and upserted. Run-time
state is an append-only event log, ``ETLProcessingEvents``: every change of a step's
status (and, later, every watermark change) is one appended row carrying the step's
whole state, so parallel tasks never update the same files. ``ETLProcessingSteps``, the
table the reference describes, is a view of the latest event per step.
"""

from __future__ import annotations

from etl_monitor.core.objects import Column, Table, _audit

_PROJECT = Column("ProjectCode", "STRING", "Project code, e.g. CORP.", nullable=False)
_PROCESS = Column(
    "ProcessLoad", "STRING", "Process code within the project, e.g. HR_DAILY.", nullable=False
)
_ACTIVE = Column("IsActive", "BOOLEAN", "False when the row is switched off.")

ORGANISATION = Table(
    "ETLOrganisation",
    "Organisations that own projects. USER-MANAGED through register_organisation().",
    (
        Column(
            "OrganisationCode",
            "STRING",
            "Organisation code, e.g. CORP.",
            nullable=False,
            formerly="OrgCode",
        ),
        Column("OrganisationName", "STRING", "Display name.", formerly="OrgName"),
        Column("OrganisationDescription", "STRING", "Free text.", formerly="Description"),
        _ACTIVE,
        *_audit(),
    ),
    key=("OrganisationCode",),
)

PROJECT = Table(
    "ETLconfigProject",
    "Projects grouping processes. USER-MANAGED through register_project().",
    (
        _PROJECT,
        Column(
            "OrganisationCode",
            "STRING",
            "Owning organisation (ETLOrganisation.OrganisationCode).",
            formerly="OrgCode",
        ),
        Column("ProjectName", "STRING", "Display name."),
        Column("ProjectDescription", "STRING", "Free text.", formerly="Description"),
        Column("ProjectOwner", "STRING", "Team or person accountable.", formerly="Owner"),
        _ACTIVE,
        *_audit(),
    ),
    key=("ProjectCode",),
)

SEQUENCE = Table(
    "ETLconfigSequence",
    "Workflow stages; tasks sharing a SequenceID run in parallel. FRAMEWORK-MANAGED rows 0-6, custom stages use SequenceID >= 10.",
    (
        Column("SequenceID", "INT", "Stage number; stages run in ascending order.", nullable=False),
        Column("SequenceCode", "STRING", "Stage code, e.g. LOAD_DIM."),
        Column("SequenceName", "STRING", "Display name of the stage."),
        Column("SequenceDescription", "STRING", "What the stage does.", formerly="Description"),
        Column("SortOrder", "INT", "Display order on dashboards (the SequenceID by default)."),
        _ACTIVE,
        Column("IsFrameworkManaged", "BOOLEAN", "True for the seven stages seeded by setup()."),
        *_audit(),
    ),
    key=("SequenceID",),
)

PROCESS = Table(
    "ETLconfigProcess",
    "Domain process registry: one row per ProjectCode / ProcessLoad. USER-MANAGED through register_process().",
    (
        _PROJECT,
        _PROCESS,
        Column("ProcessName", "STRING", "Display name."),
        Column("ProcessDescription", "STRING", "Free text.", formerly="Description"),
        Column("ProcessOwner", "STRING", "Team or person accountable.", formerly="Owner"),
        Column(
            "LoadFrequency",
            "STRING",
            "D daily, W weekly, M monthly, Y yearly, A ad hoc (every run).",
        ),
        _ACTIVE,
        Column("MonitorGroup", "STRING", "Monitoring group (ETLmonitorGroups.GroupName) alerted."),
        Column("RunbookUrl", "STRING", "Runbook URL carried into alerts (http or https)."),
        Column("LineageUrl", "STRING", "Lineage URL carried into alerts (http or https)."),
        Column(
            "FreshnessMinutes",
            "INT",
            "Longest allowed age of the last completed run and of each watermark, in minutes; "
            "NULL derives it from LoadFrequency (A: no freshness check).",
        ),
        *_audit(),
    ),
    key=("ProjectCode", "ProcessLoad"),
)

TASKS = Table(
    "ETLconfigTasks",
    "Task catalogue: what runs, in which workflow pass and stage, how often. USER-MANAGED through register_task().",
    (
        _PROJECT,
        _PROCESS,
        Column(
            "TaskID",
            "INT",
            "Task number within the process; 0 is the initiation task.",
            nullable=False,
        ),
        Column(
            "WorkFlowID",
            "INT",
            "Workflow pass: 0 initiation, 1 main load, N the Nth pass.",
            nullable=False,
        ),
        Column(
            "SequenceID",
            "INT",
            "Stage (ETLconfigSequence.SequenceID); same stage runs in parallel.",
            nullable=False,
        ),
        Column("TaskName", "STRING", "Display name."),
        Column("TaskDescription", "STRING", "Free text.", formerly="Description"),
        Column("SourceType", "STRING", "ADF_PIPELINE, DBX_NOTEBOOK, DBX_JOB or DATAFLOW."),
        Column(
            "SourceIdentifier",
            "STRING",
            "What runs the task: ADF pipeline name, Databricks job id or notebook path.",
        ),
        Column(
            "SourceSystemCode",
            "STRING",
            "Code of the source object; also the default watermark name.",
        ),
        Column("TaskMandatory", "BOOLEAN", "A failed mandatory task blocks later stages."),
        _ACTIVE,
        Column(
            "LoadFrequency",
            "STRING",
            "D daily, W weekly (ISO week), M monthly, Y yearly, A every run.",
        ),
        Column(
            "FileNameMask",
            "STRING",
            "Input file name: with date tokens (employees_{yyyyMMdd}), or a base name that "
            "gets _yyyyMMdd, _yyyyMM or _yyyy by LoadFrequency D, M or Y.",
            formerly="FileMask",
        ),
        Column("FileExtension", "STRING", "File extension with its dot, e.g. .csv."),
        Column("InFilePath", "STRING", "Where the task reads its input.", formerly="SourcePath"),
        Column("OutFilePath", "STRING", "Where the task writes its output.", formerly="TargetPath"),
        Column("SLAMinutes", "INT", "Expected maximum duration in minutes; NULL for none."),
        *_audit(),
    ),
    key=("ProjectCode", "ProcessLoad", "TaskID", "WorkFlowID"),
)

PARAMETERS = Table(
    "ETLconfigParameters",
    "Watermarks and flags per process, with their registered values. USER-MANAGED through register_parameter(); run-time changes are events in ETLProcessingEvents.",
    (
        _PROJECT,
        _PROCESS,
        Column("ParameterName", "STRING", "Parameter name, e.g. LoadEmployees.", nullable=False),
        Column("ParameterType", "STRING", "DELTA_DATE, DELTA_ID, FLAG or SYSTEM."),
        Column("ValueDateTime", "TIMESTAMP", "Value of DELTA_DATE and SYSTEM parameters (UTC)."),
        Column("ValueINT", "BIGINT", "Value of DELTA_ID parameters."),
        Column("ValueBIT", "BOOLEAN", "Value of FLAG parameters."),
        Column("ParameterDescription", "STRING", "Free text.", formerly="Description"),
        _ACTIVE,
        *_audit(),
    ),
    key=("ProjectCode", "ProcessLoad", "ParameterName"),
)

SYSLOGS = Table(
    "ETLsysLogs",
    "Raw run receipts from ADF, Databricks jobs and notebooks. APPEND-ONLY.",
    (
        Column(
            "LogID",
            "STRING",
            "Unique id of the receipt (UUID; no identity column, so appends never conflict).",
            nullable=False,
        ),
        Column("LogTime", "TIMESTAMP", "When the receipt was written (UTC).", nullable=False),
        Column("ExecutionID", "STRING", "Execution the receipt belongs to, when known."),
        Column("ProjectCode", "STRING", "Project code, when known."),
        Column("ProcessLoad", "STRING", "Process code, when known."),
        Column("TaskID", "INT", "Task, when known."),
        Column("WorkFlowID", "INT", "Workflow pass, when known."),
        Column("SourceType", "STRING", "ADF_PIPELINE, DBX_NOTEBOOK, DBX_JOB or DATAFLOW."),
        Column("SourceRunID", "STRING", "Run id in the source system (ADF run id, job run id)."),
        Column("Status", "STRING", "Status reported by the source system."),
        Column("LogType", "STRING", "INFO, WARN or ERROR."),
        Column("LogCode", "STRING", "Error or event code."),
        Column("LogMessage", "STRING", "Message, verbatim."),
        Column("Payload", "STRING", "The raw receipt (usually JSON), verbatim."),
        Column("CreatedBy", "STRING", "Who wrote the receipt."),
        Column("ProcessingDate", "DATE", "Business date of the run, when known."),
        Column("CorrelationID", "STRING", "ADF correlation id tying a pipeline's activities."),
        Column("PipelineName", "STRING", "ADF pipeline or Databricks job name."),
        Column("ActivityName", "STRING", "ADF activity or Databricks task name."),
        Column("OperationName", "STRING", "What was logged, e.g. PipelineRun or ActivityRun."),
        Column("Level", "INT", "0 DEBUG, 1 INFO, 2 WARN, 3 ERROR."),
    ),
    key=("LogID",),
    append_only=True,
    cluster_by=("LogTime",),
)

EVENTS = Table(
    "ETLProcessingEvents",
    "Run-time log: every step status change and watermark change is one appended row; ETLProcessingSteps is derived from it. Only maintain() removes rows, after copying them to ETLProcessingEventsArchive.",
    (
        Column(
            "EventID",
            "STRING",
            "Unique id of the event; a retried write reuses it, so readers drop duplicates.",
            nullable=False,
        ),
        Column("EventTime", "TIMESTAMP", "When the event happened (UTC).", nullable=False),
        Column(
            "EventType",
            "STRING",
            "STEP for a step state, WATERMARK for a parameter value change.",
            nullable=False,
        ),
        Column("ExecutionID", "STRING", "Execution (run) id; a retry gets a new one."),
        Column("ProjectCode", "STRING", "Project code."),
        Column("ProcessLoad", "STRING", "Process code."),
        Column("TaskID", "INT", "Task number."),
        Column("WorkFlowID", "INT", "Workflow pass."),
        Column("SequenceID", "INT", "Stage, as configured when the step was queued."),
        Column("ProcessingDate", "DATE", "Business date the execution processes."),
        Column("AttemptNo", "INT", "1 for the first attempt at a task for a date, +1 per retry."),
        Column(
            "Attempts",
            "INT",
            "The execution's retry counter for its process and date: 0 for the first execution, "
            "+1 for each later one (as databricks-etl-monitor counts it).",
        ),
        Column(
            "StatusCode",
            "STRING",
            "Step status after this event: NQUE, RQUE, RUNNING, DONE, FAIL, SKIPPED, CANCELLED.",
        ),
        Column("PreviousStatus", "STRING", "Step status before this event."),
        Column("TaskName", "STRING", "Snapshot of the task's name when queued."),
        Column("SourceType", "STRING", "Snapshot of the task's source type."),
        Column("SourceSystemCode", "STRING", "Snapshot of the task's source system code."),
        Column("TaskMandatory", "BOOLEAN", "Snapshot of the task's mandatory flag."),
        Column("LoadFrequency", "STRING", "Snapshot of the task's load frequency."),
        Column(
            "FileName", "STRING", "File name resolved from the task's mask for the processing date."
        ),
        Column("SourcePath", "STRING", "Snapshot of the task's source path."),
        Column("TargetPath", "STRING", "Snapshot of the task's target path."),
        Column("SLAMinutes", "INT", "Snapshot of the task's SLA in minutes."),
        Column("StartTime", "TIMESTAMP", "When the step started running (UTC)."),
        Column("EndTime", "TIMESTAMP", "When the step ended (UTC)."),
        Column("LogMessage", "STRING", "Message recorded with the event, verbatim."),
        Column("LogType", "STRING", "INFO, WARN or ERROR."),
        Column("LogCode", "STRING", "Error or event code."),
        Column("ExceptionType", "STRING", "Python exception type of a failure."),
        Column("StackTrace", "STRING", "Traceback of a failure."),
        Column("SourceRunID", "STRING", "Run id in the calling system (e.g. ADF pipeline run id)."),
        Column("JobRunID", "STRING", "Databricks job run id, when detected."),
        Column("ClusterID", "STRING", "Databricks cluster id, when detected."),
        Column("ParameterName", "STRING", "WATERMARK events: the parameter changed."),
        Column(
            "ParameterType", "STRING", "WATERMARK events: DELTA_DATE, DELTA_ID, FLAG or SYSTEM."
        ),
        Column("ValueDateTime", "TIMESTAMP", "WATERMARK events: new datetime value (UTC)."),
        Column("ValueINT", "BIGINT", "WATERMARK events: new integer value."),
        Column("ValueBIT", "BOOLEAN", "WATERMARK events: new flag value."),
        Column(
            "Reason",
            "STRING",
            "Why the event was written (e.g. task DONE, manual, reset, mode change).",
        ),
        Column("CreatedBy", "STRING", "Who or what wrote the event."),
        Column(
            "Seq",
            "BIGINT",
            "STEP events: the step's event number (1 when queued, +1 per change); WATERMARK "
            "events: the value's generation (+1 when set, same when advanced). Orders events "
            "without trusting clocks; NULL on rows written before this column existed.",
        ),
        # Last, not beside JobRunID: setup() adds a new column at the end of an existing
        # log, and appends are positional, so a new column must be last in new logs too.
        Column("TaskRunID", "STRING", "Databricks task run id, when detected."),
    ),
    key=("EventID",),
    # Hot paths and one-date views filter on these: liquid clustering where the engine has
    # it, else one partition per processing date (WATERMARK events sit in the NULL one).
    cluster_by=("ProcessingDate", "ProjectCode", "ProcessLoad", "ExecutionID"),
    partition_by=("ProcessingDate",),
    # One small commit per claim and per end. Not Delta's auto compaction (measured on
    # Delta 4.4, clustered: once the log is a few MB it rewrote the whole log after every
    # write, 10 s per append after 10,000 runs and 1M events); maintain() compacts it.
    claimed=True,
)

EVENTS_ARCHIVE = Table(
    "ETLProcessingEventsArchive",
    "Events older than the retention that maintain(archive_after_days=N) moved out of ETLProcessingEvents; the views read both. Same columns.",
    EVENTS.columns,
    key=EVENTS.key,
    cluster_by=EVENTS.cluster_by,
    partition_by=EVENTS.partition_by,
)

CONFIG_TABLES = (ORGANISATION, PROJECT, SEQUENCE, PROCESS, TASKS, PARAMETERS)
RUNTIME_TABLES = (SYSLOGS, EVENTS, EVENTS_ARCHIVE)
ALL_TABLES = CONFIG_TABLES + RUNTIME_TABLES

#: The framework stages: SequenceID, SequenceCode, SequenceName, SequenceDescription.
SEQUENCE_SEEDS: tuple[tuple[int, str, str, str], ...] = (
    (0, "LOAD_GO", "Initiating ETL Processing", "Overall run marker: the initiation task."),
    (1, "LOAD_DB_CONFIG", "Load Configuration Data", "Load configuration data from source."),
    (2, "LOAD_DB_TRAN", "Load Transactional Data", "Load transactional data to staging."),
    (3, "LOAD_DIM", "Process Master Data", "Validate and process staged dimensions."),
    (4, "LOAD_TRAN", "Process Transactional Data", "Validate and process staged transactions."),
    (5, "PRE_PROCESS", "Functional Logic", "Business logic and derivations."),
    (6, "PROCESS_DATA", "Core Data Transformation", "Output and data mart tables."),
)
