"""Databricks Workflows jobs (``/api/2.2/jobs/...``, JobsAPI)."""

from __future__ import annotations

from tests.emulator.common import Route


class JobsService:
    """Jobs endpoints; state lives on the emulator."""

    def _init_jobs(self) -> None:
        """Called once from the emulator's constructor: create this service's state."""

    def _jobs_routes(self) -> list[Route]:
        return []
