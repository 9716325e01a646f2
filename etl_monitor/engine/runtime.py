"""Where the code runs: the Databricks job run id and cluster id, when they can be detected."""

from __future__ import annotations

import json
import os
from contextlib import suppress
from typing import Any


def databricks_ids(spark: Any = None) -> dict[str, str | None]:
    """``JobRunID`` and ``ClusterID`` of the current Databricks run; None outside Databricks.

    Tries the environment, the notebook context (tags ``jobRunId`` /
    ``multitaskParentRunId`` and ``clusterId``), then the Spark conf. Never raises.
    """
    ids: dict[str, str | None] = {
        "JobRunID": os.environ.get("DATABRICKS_JOB_RUN_ID"),
        "ClusterID": os.environ.get("DB_CLUSTER_ID"),
    }
    with suppress(Exception):  # only inside a Databricks notebook or job
        from IPython import get_ipython  # type: ignore[import-not-found]

        dbutils = get_ipython().user_ns["dbutils"]  # type: ignore[union-attr]
        context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
        tags = json.loads(context.toJson()).get("tags", {})
        ids["JobRunID"] = (
            ids["JobRunID"] or tags.get("jobRunId") or tags.get("multitaskParentRunId")
        )
        ids["ClusterID"] = ids["ClusterID"] or tags.get("clusterId")
    if ids["ClusterID"] is None and spark is not None:
        with suppress(Exception):
            ids["ClusterID"] = (
                spark.conf.get("spark.databricks.clusterUsageTags.clusterId", None) or None
            )
    return ids
