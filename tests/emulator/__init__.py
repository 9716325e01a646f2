"""A local emulator of the Databricks workspace REST API, for the real ``databricks-sdk``."""

from tests.emulator.common import ApiError, RecordedRequest
from tests.emulator.server import DatabricksEmulator

__all__ = ["ApiError", "DatabricksEmulator", "RecordedRequest"]
