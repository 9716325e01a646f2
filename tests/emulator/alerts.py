"""Databricks SQL alerts (``/api/2.0/alerts``, AlertsV2API) and notification destinations."""

from __future__ import annotations

from tests.emulator.common import Route


class AlertService:
    """Alert and notification-destination endpoints; state lives on the emulator."""

    def _init_alerts(self) -> None:
        """Called once from the emulator's constructor: create this service's state."""

    def _alert_routes(self) -> list[Route]:
        return []
