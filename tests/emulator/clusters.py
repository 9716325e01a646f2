"""The one Clusters endpoint Databricks Connect asks: ``clusters/get``, to check the runtime.

``DatabricksSession.builder.profile(...)`` reads the cluster's ``spark_version`` through
databricks-sdk before it connects, and refuses a runtime older than the client.
"""

from __future__ import annotations

from typing import Any

from tests.emulator.common import JSON, ApiError, Route


class ClustersService:
    """Clusters the emulator knows, by id (`add_cluster`); state lives on the emulator."""

    def _init_clusters(self) -> None:
        """Called once from the emulator's constructor: create this service's state."""
        self.clusters: dict[str, JSON] = {}

    def add_cluster(self, cluster_id: str, spark_version: str, state: str = "RUNNING") -> None:
        """Register a cluster, e.g. ``add_cluster("0101-abc", "15.4.x-scala2.12")``."""
        self.clusters[cluster_id] = {
            "cluster_id": cluster_id,
            "cluster_name": f"cluster {cluster_id}",
            "spark_version": spark_version,
            "state": state,
        }

    def _clusters_routes(self) -> list[Route]:
        return [("GET", "/api/2\\.[01]/clusters/get", self._cluster_get)]

    def _cluster_get(self, params: dict[str, str], query: dict[str, str], body: Any) -> JSON:
        cluster = self.clusters.get(query.get("cluster_id", ""))
        if cluster is None:
            # The service answers 400 INVALID_PARAMETER_VALUE "Cluster <id> does not exist".
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                f"Cluster {query.get('cluster_id')} does not exist",
            )
        return dict(cluster)
