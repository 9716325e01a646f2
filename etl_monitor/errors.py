"""The library's exception hierarchy: every error it raises on purpose derives from ETLMonitorError."""

from __future__ import annotations


class ETLMonitorError(Exception):
    """Base class of every error etl_monitor raises on purpose."""


class InvalidArgumentError(ETLMonitorError, ValueError):
    """An argument is malformed or outside its allowed values; nothing was written."""

    def __init__(self, message: str, *, argument: str | None = None, value: object = None):
        super().__init__(message)
        self.argument = argument
        self.value = value


class InvalidIdentifierError(InvalidArgumentError):
    """A catalog, schema, table or column name does not match the allowed pattern."""


class ValidationFailedError(ETLMonitorError):
    """A configuration (not a single argument) failed validation; the CLI exits with 1."""


class NotFoundError(ETLMonitorError, LookupError):
    """A referenced object (catalog, process, task, sequence, parameter) does not exist."""


class CatalogNotFoundError(NotFoundError):
    """The Unity Catalog catalog named for the framework does not exist or is not visible."""


class StepStateError(ETLMonitorError, ValueError):
    """A step is not in a state that allows the requested change (e.g. skipping a DONE step)."""


class EngineError(ETLMonitorError, RuntimeError):
    """The Spark engine could not be started or configured."""


class ConcurrentWriteError(ETLMonitorError, RuntimeError):
    """A write kept losing Delta commit conflicts after every retry."""


class SchemaConflictError(ETLMonitorError):
    """The schema holds objects under the framework's names that it cannot use or convert."""


class InternalError(ETLMonitorError, RuntimeError):
    """A bug in etl_monitor itself (not in the call or the engine); the message says what failed."""
