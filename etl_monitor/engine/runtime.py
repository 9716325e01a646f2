"""Where the code runs: the Databricks job run, task run and cluster ids, when they can be detected.

What each kind of compute exposes, and so the order in which the sources are asked (the
first source that knows a value wins, per value):

1. explicit values given by the caller;
2. the task's parameters: the notebook widgets ``job_run_id`` / ``task_run_id`` (a job passes
   ``{{job.run_id}}`` / ``{{task.run_id}}`` to them: dynamic value references work on every
   compute, classic, standard (shared) access mode and serverless), then the same names as
   ``--job_run_id=...`` / ``--task_run_id=...`` command-line arguments (Python script and
   wheel tasks get their parameters as arguments);
3. environment variables: ``DB_CLUSTER_ID`` (documented by Databricks on classic compute)
   and ``DATABRICKS_JOB_RUN_ID`` / ``DATABRICKS_TASK_RUN_ID`` (not set by Databricks: this
   library's own, for a job to set through ``spark_env_vars`` or serverless job environment
   variables). Databricks documents no variable holding a run id, on any compute;
4. the session's Spark conf: ``spark.databricks.job.parentRunId`` (job run),
   ``spark.databricks.job.runId`` (task run) and
   ``spark.databricks.clusterUsageTags.clusterId``: set on classic compute, undocumented but
   widely relied on; read in one request (on Spark Connect a conf read is a round trip);
5. the py4j notebook context (tags ``multitaskParentRunId`` / ``jobRunId``, ``runId``,
   ``clusterId``): classic compute only; standard access mode and serverless refuse it.

Nothing here raises or waits on anything but the session itself. Cached per session, since
they cannot change for it: the cluster id found in the Spark conf, and a conf that refused
the keys (not asked again). Run ids are read each time: one process may run many notebooks.
"""

from __future__ import annotations

import json
import os
import sys
import weakref
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

#: The keys of the returned mapping (ETLProcessingEvents columns).
JOB_RUN, TASK_RUN, CLUSTER = "JobRunID", "TaskRunID", "ClusterID"

#: Widget / parameter names a job passes ``{{job.run_id}}`` and ``{{task.run_id}}`` to.
PARAMETERS = {JOB_RUN: "job_run_id", TASK_RUN: "task_run_id"}
#: Environment variables, in the order asked.
ENVIRONMENT = {
    JOB_RUN: ("DATABRICKS_JOB_RUN_ID",),
    TASK_RUN: ("DATABRICKS_TASK_RUN_ID",),
    CLUSTER: ("DB_CLUSTER_ID",),
}
#: Spark conf keys set on classic Databricks compute.
CONF = {
    JOB_RUN: "spark.databricks.job.parentRunId",
    TASK_RUN: "spark.databricks.job.runId",
    CLUSTER: "spark.databricks.clusterUsageTags.clusterId",
}
#: Notebook context tags (classic compute), in the order asked.
CONTEXT_TAGS = {
    JOB_RUN: ("multitaskParentRunId", "jobRunId"),
    TASK_RUN: ("runId",),
    CLUSTER: ("clusterId",),
}

_cluster_by_session: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()
#: Sessions whose conf refused the keys (serverless may): not asked again.
_conf_refused: weakref.WeakSet[Any] = weakref.WeakSet()


def databricks_ids(
    spark: Any = None,
    *,
    job_run_id: object = None,
    task_run_id: object = None,
    cluster_id: object = None,
) -> dict[str, str | None]:
    """``JobRunID``, ``TaskRunID`` and ``ClusterID`` of the current Databricks run.

    Args:
        spark: the session, for its Spark conf; None skips that source.
        job_run_id: an explicit job run id; wins over every detected one.
        task_run_id: an explicit task run id; wins over every detected one.
        cluster_id: an explicit cluster id; wins over every detected one.

    Returns:
        The three ids as strings; None for each one no source knows (always, off Databricks).
        Never raises.
    """
    ids: dict[str, str | None] = {
        JOB_RUN: _text(job_run_id),
        TASK_RUN: _text(task_run_id),
        CLUSTER: _text(cluster_id),
    }
    sources: tuple[Callable[[], Mapping[str, str | None]], ...] = (
        _from_widgets,
        _from_argv,
        _from_environment,
        lambda: _from_conf(spark, missing=[k for k, v in ids.items() if v is None]),
        _from_notebook_context,
    )
    for source in sources:
        if all(ids.values()):
            break
        with suppress(Exception):
            for key, value in source().items():
                ids[key] = ids[key] or _text(value)
    return ids


def forget_cached() -> None:
    """Drop what is cached per session (tests, or a session whose conf was changed)."""
    _cluster_by_session.clear()
    _conf_refused.clear()


def _text(value: object) -> str | None:
    """A run id as text; None for nothing, blanks and unresolved ``{{...}}`` references."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or text.startswith("{{"):
        return None
    return text


def notebook_dbutils() -> Any:
    """The notebook's ``dbutils``: IPython's user namespace, ``__main__``, or a ``__main__`` caller.

    Returns:
        The object, or None where there is none (a plain Python process). Never raises.
    """
    with suppress(Exception):
        from IPython import get_ipython  # type: ignore[import-not-found]

        shell = get_ipython()
        if shell is not None and shell.user_ns.get("dbutils") is not None:
            return shell.user_ns["dbutils"]
    with suppress(Exception):
        found = getattr(sys.modules.get("__main__"), "dbutils", None)
        if found is not None:
            return found
    with suppress(Exception):  # cells executed into a __main__ namespace of their own
        frame = sys._getframe(1)
        while frame is not None:
            names = frame.f_globals
            if names.get("__name__") == "__main__" and names.get("dbutils") is not None:
                return names["dbutils"]
            frame = frame.f_back
    return None


def _from_widgets() -> dict[str, str | None]:
    dbutils = notebook_dbutils()
    if dbutils is None:
        return {}
    found: dict[str, str | None] = {}
    for key, name in PARAMETERS.items():
        try:  # a missing widget raises in Databricks' dbutils
            found[key] = dbutils.widgets.get(name)
        except Exception:
            found[key] = None
    return found


def _from_argv() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    args = sys.argv[1:]
    for key, name in PARAMETERS.items():
        flag = f"--{name}"
        for i, arg in enumerate(args):
            if arg.startswith(flag + "="):
                found[key] = arg[len(flag) + 1 :]
            elif arg == flag and i + 1 < len(args):
                found[key] = args[i + 1]
    return found


def _from_environment() -> dict[str, str | None]:
    return {
        key: next((os.environ[n] for n in names if os.environ.get(n)), None)
        for key, names in ENVIRONMENT.items()
    }


def _from_conf(spark: Any, *, missing: list[str]) -> dict[str, str | None]:
    """The missing ids from the Spark conf: one request; the cluster id cached per session."""
    if spark is None or not missing:
        return {}
    found: dict[str, str | None] = {}
    with suppress(TypeError):  # a session that takes no weak reference is not cached
        if CLUSTER in missing and spark in _cluster_by_session:
            found[CLUSTER] = _cluster_by_session[spark]
            missing = [k for k in missing if k != CLUSTER]
    with suppress(TypeError):
        if spark in _conf_refused:
            return found
    if missing:
        try:
            values = read_conf(spark, [CONF[k] for k in missing])
        except Exception:
            with suppress(TypeError):
                _conf_refused.add(spark)
            return found
        found.update({k: _text(values.get(CONF[k])) for k in missing})
        if CLUSTER in missing:
            with suppress(TypeError):
                _cluster_by_session[spark] = found[CLUSTER]
    return found


def read_conf(spark: Any, keys: list[str]) -> dict[str, str | None]:
    """Conf values of `keys` (None when unset). On Spark Connect one request answers all keys."""
    client = getattr(spark, "client", None) if _is_connect(spark) else None
    if client is not None:
        from pyspark.sql.connect import proto  # type: ignore[import-not-found]

        operation = proto.ConfigRequest.Operation(
            get_with_default=proto.ConfigRequest.GetWithDefault(
                pairs=[proto.KeyValue(key=k) for k in keys]
            )
        )
        return dict(client.config(operation).pairs)
    return {k: spark.conf.get(k, None) for k in keys}  # classic: in-process calls


def _is_connect(spark: Any) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _from_notebook_context() -> dict[str, str | None]:
    dbutils = notebook_dbutils()
    if dbutils is None:
        return {}
    context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
    data = json.loads(context.toJson())
    tags = data.get("tags") or {}
    found = {
        key: next((tags[t] for t in names if tags.get(t)), None)
        for key, names in CONTEXT_TAGS.items()
    }
    current = data.get("currentRunId")
    if not found[TASK_RUN] and isinstance(current, dict):
        found[TASK_RUN] = current.get("id")
    return found
