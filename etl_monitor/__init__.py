"""etl_monitor: ETL process monitoring in Delta tables and views on Unity Catalog."""

from etl_monitor import _compat
from etl_monitor.errors import (
    CatalogNotFoundError,
    ConcurrentWriteError,
    EngineError,
    ETLMonitorError,
    InternalError,
    InvalidArgumentError,
    InvalidIdentifierError,
    NotFoundError,
    SchemaConflictError,
    StepStateError,
)
from etl_monitor.framework import ETLMonitorFramework

__version__ = "0.1.0"

_compat.install()

__all__ = [
    "CatalogNotFoundError",
    "ConcurrentWriteError",
    "ETLMonitorError",
    "ETLMonitorFramework",
    "EngineError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidIdentifierError",
    "NotFoundError",
    "SchemaConflictError",
    "StepStateError",
    "__version__",
]
