"""The one SQL executor: every statement the library issues goes through `SqlExecutor`.

It logs, notifies listeners (tests capture statements for the dialect check), counts
statements and writes, and retries transient Delta commit conflicts with bounded
exponential backoff and full jitter. User values never enter SQL text: they travel as
query parameters or as DataFrame rows (`temp_rows`, `append`).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from etl_monitor.engine import retry
from etl_monitor.engine.probe import UNBOUND_PARAMETER_MARKER, quiet_client
from etl_monitor.engine.retry import RetryPolicy
from etl_monitor.engine.timestamps import rows_from_spark
from etl_monitor.errors import ConcurrentWriteError, InvalidIdentifierError

log: logging.Logger = logging.getLogger("etl_monitor.engine.executor")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_CATALOG_OR_SCHEMA = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$")

#: Substrings of error messages that mean "another writer committed first; try again".
CONFLICT_MARKERS: tuple[str, ...] = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT_",
    "Failed to commit transaction",
    "Transaction conflict",
    "concurrent transaction",
    "CommitFailedException",
    # Sail: a reader listing _delta_log while another writer commits can see a gap.
    "Missing commit file",
)

#: Errors of a CREATE OR REPLACE VIEW while another session replaces the same views: a
#: Hive-style metastore (the local JVM engines) replaces a view by drop-then-create, so a
#: concurrent `setup()` can see the view gone, or back, or a view it reads missing.
VIEW_RACE_MARKERS: tuple[str, ...] = ("TABLE_OR_VIEW_ALREADY_EXISTS", "TABLE_OR_VIEW_NOT_FOUND")


#: Errors of a name whose catalog or namespace the engine cannot have (so no such table).
UNADDRESSABLE_NAME_MARKERS = (
    "REQUIRES_SINGLE_PART_NAMESPACE",
    "CATALOG_NOT_FOUND",
    "SCHEMA_NOT_FOUND",
)
_PARAMETER_OR_QUOTED = re.compile(
    r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|`[^`]*`|(?<![:\w]):([A-Za-z_]\w*)"
)


def bind_parameters_as_subqueries(text: str, names: Sequence[str], view: str) -> str:
    """Rewrite each ``:name`` outside quotes as ``(SELECT `name` FROM view)``.

    For engines that drop named parameters: the values then travel as a one-row temporary
    view, never as SQL text.

    Raises:
        InvalidIdentifierError: the text names a parameter that is not in `names`.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in names:
            raise InvalidIdentifierError(
                f"query parameter {name!r} has no value; given: {sorted(names)}",
                argument="args",
                value=name,
            )
        return f"(SELECT {quote(name)} FROM {view})"

    return _PARAMETER_OR_QUOTED.sub(replace, text)


def _parameter_schema(args: Mapping[str, Any]) -> Any:
    """A StructType for one row of parameter values (NULLs typed as STRING)."""
    from datetime import date, datetime
    from decimal import Decimal

    from pyspark.sql import types as T

    def spark_type(value: Any) -> Any:
        if isinstance(value, bool):
            return T.BooleanType()
        if isinstance(value, int):
            return T.LongType()
        if isinstance(value, float):
            return T.DoubleType()
        if isinstance(value, Decimal):
            return T.DecimalType(38, 10)
        if isinstance(value, datetime):
            return T.TimestampType()
        if isinstance(value, date):
            return T.DateType()
        return T.StringType()

    return T.StructType([T.StructField(k, spark_type(v), True) for k, v in args.items()])


def is_transient_conflict(error: BaseException) -> bool:
    """True when an exception is a Delta commit conflict that a retry can resolve."""
    return _mentions(error, CONFLICT_MARKERS)


def is_view_race(error: BaseException) -> bool:
    """True when a view replacement failed on another session replacing views meanwhile."""
    return _mentions(error, VIEW_RACE_MARKERS) or is_transient_conflict(error)


def _mentions(error: BaseException, markers: tuple[str, ...]) -> bool:
    text = f"{type(error).__name__}: {error}".lower()
    return any(marker.lower() in text for marker in markers)


def check_identifier(value: object, what: str = "identifier", *, allow_dash: bool = False) -> str:
    """Return `value` if it is a safe SQL identifier, else raise InvalidIdentifierError."""
    pattern = _CATALOG_OR_SCHEMA if allow_dash else _IDENTIFIER
    if not isinstance(value, str) or not pattern.fullmatch(value):
        allowed = (
            "1-255 letters, digits, '_' or '-'"
            if allow_dash
            else "1-255 letters, digits or '_', not starting with a digit"
        )
        raise InvalidIdentifierError(
            f"invalid {what} {value!r}: allowed are {allowed}", argument=what, value=value
        )
    return value


def quote(identifier: str) -> str:
    """Back-quote one validated identifier part."""
    return f"`{identifier}`"


def qualified(*parts: str) -> str:
    """`catalog`.`schema`.`table` from validated parts."""
    return ".".join(quote(p) for p in parts)


def in_filters(
    within: Mapping[str, Sequence[Any]], qualifier: str = ""
) -> tuple[str, dict[str, Any], Any]:
    """One ``IN`` filter per column, ANDed: as recorded text and as a DataFrame condition.

    Returns:
        The text with ``:name`` markers (for the statement log and the dialect check),
        the marker values, and the same filter as a Column whose values are typed
        literals of the plan, never SQL text.
    """
    from pyspark.sql import functions as F

    prefix = f"{qualifier}." if qualifier else ""
    texts, args, condition = [], {}, None
    for column, values in within.items():
        markers = [f"{column}{n}" for n in range(len(values))]
        texts.append(f"{prefix}{quote(column)} IN ({', '.join(':' + m for m in markers)})")
        args.update(zip(markers, values, strict=True))
        test = F.col(f"{prefix}{quote(column)}").isin(list(values))
        condition = test if condition is None else condition & test
    return " AND ".join(texts), args, condition


def sql_string_literal(text: str) -> str:
    """Render framework-owned text (comments, paths) as a Spark SQL string literal.

    Only for text the library itself controls; user values go through parameters or rows.
    """
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


@dataclass(frozen=True)
class Statement:
    """One statement as the executor saw it."""

    text: str
    args: Mapping[str, Any] | None
    kind: str  # "query" | "write" | "ddl" | "meta" are SQL; "append" | "schema-merge" | "merge" are DataFrame writes, "catalog" a catalog call
    table: str | None = None

    @property
    def is_sql(self) -> bool:
        """False for DataFrame writes and catalog calls, whose text only describes them."""
        return self.kind not in ("append", "schema-merge", "merge", "catalog")


_WRITE_TARGET = re.compile(r"^\s*(?:MERGE\s+INTO|UPDATE|DELETE\s+FROM)\s+(\S+)", re.IGNORECASE)
_table_locks: dict[str, threading.Lock] = {}
_table_locks_guard = threading.Lock()


def _table_lock(table: str) -> threading.Lock:
    with _table_locks_guard:
        return _table_locks.setdefault(table.lower(), threading.Lock())


_listeners: list[Callable[[Statement], None]] = []
_sessions_dropping_parameters: set[int] = set()
_listeners_lock = threading.Lock()
_view_counter = itertools.count()


def add_statement_listener(listener: Callable[[Statement], None]) -> Callable[[], None]:
    """Call `listener` with every statement any executor issues; returns a remover."""
    with _listeners_lock:
        _listeners.append(listener)

    def remove() -> None:
        with _listeners_lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


class SqlExecutor:
    """Runs statements against one SparkSession, with capture, counting and conflict retries."""

    def __init__(self, spark: Any, retry: RetryPolicy | None = None, engine: Any = None):
        """
        Args:
            spark: the session every statement runs on.
            retry: how transient commit conflicts are retried.
            engine: the session's `capabilities.Engine`; it picks the path for named
                parameters (`Engine.query_parameters`) and for MERGE (`Engine.merge_path`).
                None: parameters are tried and the DataFrame MERGE is used.
        """
        self.spark = spark
        self.retry: RetryPolicy = retry or RetryPolicy()
        self.engine = engine
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._parameters_as_subqueries = engine is not None and not engine.query_parameters

    @property
    def parameters_as_subqueries(self) -> bool:
        """True once this session was seen to drop named parameters (`UNBOUND_PARAMETER_MARKER`)."""
        return self._parameters_as_subqueries or id(self.spark) in _sessions_dropping_parameters

    @parameters_as_subqueries.setter
    def parameters_as_subqueries(self, value: bool) -> None:
        self._parameters_as_subqueries = value
        if value:
            _sessions_dropping_parameters.add(id(self.spark))

    # -- bookkeeping -------------------------------------------------------------------
    def _record(self, statement: Statement) -> None:
        with self._lock:
            self.stats["statements"] += 1
            self.stats[statement.kind] += 1
        log.debug("%s: %s", statement.kind, statement.text)
        with _listeners_lock:
            listeners = list(_listeners)
        for listener in listeners:
            listener(statement)

    def _with_retry(
        self,
        statement: Statement,
        action: Callable[[], Any],
        transient: Callable[[BaseException], bool] = is_transient_conflict,
    ) -> Any:
        def attempt() -> Any:
            self._record(statement)
            return action()

        def counted(_attempt: int, _error: BaseException) -> None:
            with self._lock:
                self.stats["retries"] += 1

        what = f"concurrent writer ({statement.kind} {statement.table or statement.text[:80]!r})"
        try:
            return retry.call(
                attempt, policy=self.retry, transient=transient, what=what, on_retry=counted
            )
        except Exception as error:
            if not transient(error):
                raise
            raise ConcurrentWriteError(
                f"gave up after {self.retry.max_attempts} attempts on a {what}: {error}"
            ) from error

    # -- statements ----------------------------------------------------------------------
    def query(self, text: str, args: Mapping[str, Any] | None = None) -> list[Any]:
        """Run a SELECT (named parameters allowed) and return its rows; transient errors are retried.

        TIMESTAMP values come back as aware UTC datetimes (`timestamps.rows_from_spark`).
        """
        statement = Statement(text, dict(args) if args else None, "query")
        if not args:
            return rows_from_spark(
                self._with_retry(statement, lambda: self.spark.sql(text).collect())
            )
        if not self.parameters_as_subqueries:
            try:
                with quiet_client():  # an unbound parameter is expected here, and handled
                    rows = self._with_retry(
                        statement, lambda: self.spark.sql(text, args=dict(args)).collect()
                    )
                return rows_from_spark(rows)
            except Exception as error:
                if UNBOUND_PARAMETER_MARKER not in str(error):
                    raise
                log.debug("this engine drops named parameters; binding them as a one-row view")
                self.parameters_as_subqueries = True
        with self.temp_rows([tuple(args.values())], _parameter_schema(args)) as view:
            bound = bind_parameters_as_subqueries(text, list(args), view)
            rows = self._with_retry(
                Statement(bound, None, "query"), lambda: self.spark.sql(bound).collect()
            )
        return rows_from_spark(rows)

    def select_in(
        self, table: str, columns: Mapping[str, str], within: Mapping[str, Sequence[Any]]
    ) -> list[Any]:
        """The rows of `table` whose columns hold one of the given values.

        Built with the DataFrame API, so the values are typed literals of the plan (never
        SQL text) and a partition column among them prunes the scan on every engine (a
        list of query parameters does not survive every engine's parameter handling).

        Args:
            table: the validated, quoted table name.
            columns: output name -> expression over the table's columns (framework text).
            within: column -> the values it may hold (an IN filter each, ANDed).

        Returns:
            The rows, TIMESTAMPs as aware UTC datetimes.
        """
        from pyspark.sql import functions as F

        selected = ", ".join(f"{e} AS {quote(n)}" for n, e in columns.items())
        filters, args, condition = in_filters(within)
        statement = Statement(f"SELECT {selected} FROM {table} WHERE {filters}", args, "query")

        def run() -> list[Any]:
            df = self.spark.table(table).where(condition)
            return df.select(*(F.expr(e).alias(n) for n, e in columns.items())).collect()

        return rows_from_spark(self._with_retry(statement, run))

    def dataframe(self, text: str, args: Mapping[str, Any] | None = None) -> Any:
        """A lazy DataFrame for a SELECT (recorded now, executed by the caller)."""
        self._record(Statement(text, dict(args) if args else None, "query"))
        if not args:
            return self.spark.sql(text)
        if not self.parameters_as_subqueries:
            try:
                with quiet_client():
                    df = self.spark.sql(text, args=dict(args))
                    df.schema  # noqa: B018 - analyses now, so a dropped parameter shows here
                return df
            except Exception as error:
                if UNBOUND_PARAMETER_MARKER not in str(error):
                    raise
                self.parameters_as_subqueries = True
        name = f"etlm_args_{uuid.uuid4().hex[:12]}_{next(_view_counter)}"
        self.spark.createDataFrame(
            [tuple(args.values())], _parameter_schema(args)
        ).createOrReplaceTempView(name)
        return self.spark.sql(bind_parameters_as_subqueries(text, list(args), quote(name)))

    def execute(self, text: str, *, kind: str = "write") -> list[Any]:
        """Run DDL or DML (no parameters: DML parameters are not portable), retrying conflicts.

        MERGE / UPDATE / DELETE of one table are serialised within this process: racing
        them only wastes work, since Delta would let one win and fail the rest.
        Conflicts with other processes are retried.
        """
        target = _WRITE_TARGET.match(text)
        statement = Statement(text, None, kind, target.group(1) if target else None)
        if target is None:
            return self._with_retry(statement, lambda: self.spark.sql(text).collect())
        with _table_lock(target.group(1)):
            return self._with_retry(statement, lambda: self.spark.sql(text).collect())

    def replace_view(self, text: str) -> None:
        """Run one CREATE OR REPLACE VIEW, retrying while another session replaces views.

        Two `setup()` calls at once (two jobs starting together) replace the same views;
        where the metastore drops and re-creates a view, either may briefly see it (or a
        view it reads) gone or back. The statement is idempotent, so it is run again.

        Raises:
            ConcurrentWriteError: still racing after the retry policy's attempts.
        """
        statement = Statement(text, None, "ddl")
        self._with_retry(statement, lambda: self.spark.sql(text).collect(), is_view_race)

    def table_exists(self, name: str) -> bool:
        """Whether the engine has a table or view of this (one- to three-part, unquoted) name.

        A name the engine cannot address, such as ``main.s.t`` on a Spark whose only catalog
        is ``spark_catalog``, is a table it does not have: False, not an error.
        """
        self._record(Statement(f"<table exists {name}>", None, "catalog", name))
        try:
            return bool(self.spark.catalog.tableExists(name))
        except Exception as error:
            if any(marker in str(error) for marker in UNADDRESSABLE_NAME_MARKERS):
                return False
            raise

    def table_schema(self, table: str) -> Any:
        """The StructType of a table as the engine resolves it."""
        self._record(Statement(f"SELECT * FROM {table} LIMIT 0", None, "meta", table))
        return self.spark.table(table).schema

    def append(self, table: str, rows: Sequence[Sequence[Any]], schema: Any) -> None:
        """Blind append of rows (positional, in the table's column order) to a table."""
        if not rows:
            return
        statement = Statement(f"<append {len(rows)} rows to {table}>", None, "append", table)

        def run() -> None:
            self.spark.createDataFrame(list(rows), schema).write.mode("append").insertInto(table)

        self._with_retry(statement, run)

    def append_once(
        self, table: str, rows: Sequence[Sequence[Any]], schema: Any, token: str
    ) -> None:
        """Append rows unless an append with the same `token` already landed in `table`.

        Delta's idempotent writes: the commit records `token` as its transaction id, and
        a later write with that id is skipped, atomically, by every writer. A blind
        append: it never conflicts with other writers, so nothing is serialised. Only
        for engines with `Engine.idempotent_append`.

        Args:
            table: the validated, quoted target table name.
            rows: the rows, positional in the table's column order.
            schema: the table's StructType.
            token: the id of the write: at most one write per token lands while the
                table keeps it (``delta.setTransactionRetentionDuration``; the event
                log keeps them a week).
        """
        statement = Statement(f"<append once {len(rows)} rows to {table}>", None, "append", table)

        def run() -> None:
            (
                self.spark.createDataFrame(list(rows), schema)
                .write.format("delta")
                .mode("append")
                .option("txnAppId", token)
                .option("txnVersion", 1)
                .insertInto(table)
            )

        self._with_retry(statement, run)

    def merge_new_rows(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        schema: Any,
        *,
        key: str,
        within: Mapping[str, Sequence[Any]],
    ) -> None:
        """Insert the rows whose `key` is not in `table` yet: an insert-only MERGE, one commit.

        The MERGE reads only the target rows whose `within` columns (partition or
        clustering columns) hold the given values, so its cost does not grow with the
        table. Neither a SQL MERGE's parameters (refused by some engines in commands)
        nor a subquery (refused in MERGE conditions) can say that, so the MERGE is built
        with the DataFrame API: the values are typed literals of the plan, never SQL text.
        Serialised per table within this process, conflicts with others retried.

        Args:
            table: the validated, quoted target table name.
            rows: the rows, positional in the table's column order.
            schema: the table's StructType.
            key: the column that identifies a row.
            within: column -> the values the rows have in it.
        """
        if self.engine is not None and self.engine.merge_path != "dataframe":
            self._merge_new_rows_sql(table, rows, schema, key, within)
            return
        from pyspark.sql import functions as F

        name = table.rsplit(".", 1)[-1]  # the target's columns are qualified by its name
        filters, args, condition = in_filters(within, name)
        for column in (*within, key):
            condition &= F.col(f"{name}.{quote(column)}") == F.col(f"s.{quote(column)}")
        matches = " AND ".join(f"{name}.{quote(c)} = s.{quote(c)}" for c in (*within, key))
        statement = Statement(
            f"MERGE INTO {table} USING <{len(rows)} rows> s ON {filters} AND {matches} "
            "WHEN NOT MATCHED THEN INSERT *",
            args,
            "merge",
            table,
        )

        def run() -> None:
            source = self.spark.createDataFrame(list(rows), schema).alias("s")
            source.mergeInto(table, condition).whenNotMatched().insertAll().merge()

        with _table_lock(table):
            self._with_retry(statement, run)

    def _merge_new_rows_sql(
        self, table: str, rows: Any, schema: Any, key: str, within: Any
    ) -> None:
        """`merge_new_rows` for clients without ``DataFrame.mergeInto`` (PySpark 3.5).

        The rows travel as a temporary view. Where the server binds parameters in commands,
        the target's `within` filter is named parameters (the same pruning as the DataFrame
        MERGE); elsewhere the join on the `within` columns alone keeps the MERGE correct.
        """
        matches = " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in (*within, key))
        filters, args, _ = in_filters(within, "t")
        bound = self.engine is not None and self.engine.merge_path == "sql_parameters"
        on = f"{filters} AND {matches}" if bound else matches
        with _table_lock(table), self.temp_rows(rows, schema) as view:
            text = (
                f"MERGE INTO {table} AS t USING {view} AS s ON {on} WHEN NOT MATCHED THEN INSERT *"
            )
            statement = Statement(text, args if bound else None, "merge", table)
            self._with_retry(
                statement,
                lambda: (
                    self.spark.sql(text, args=args) if bound else self.spark.sql(text)
                ).collect(),
            )

    def merge_schema(self, table: str, schema: Any) -> None:
        """Add missing columns by an empty append with mergeSchema (engines without ALTER)."""
        statement = Statement(f"<mergeSchema append to {table}>", None, "schema-merge", table)

        def run() -> None:
            (
                self.spark.createDataFrame([], schema)
                .write.format("delta")
                .mode("append")
                .option("mergeSchema", "true")
                .saveAsTable(table)
            )

        self._with_retry(statement, run)

    @contextmanager
    def temp_rows(self, rows: Sequence[Sequence[Any]], schema: Any) -> Iterator[str]:
        """Expose rows as a uniquely named temporary view for MERGE / INSERT ... SELECT."""
        name = f"etlm_src_{uuid.uuid4().hex[:12]}_{next(_view_counter)}"
        self.spark.createDataFrame(list(rows), schema).createOrReplaceTempView(name)
        try:
            yield quote(name)
        finally:
            try:
                self.spark.catalog.dropTempView(name)
            except Exception:  # best effort: a leftover temp view dies with the session
                log.debug("could not drop temp view %s", name)
