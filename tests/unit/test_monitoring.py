"""The monitoring submodule against an emulated workspace (real databricks-sdk) and the embedded engine.

What needs no engine: no session starts here; tests/engines/test_monitoring.py runs the rest on every
engine.
"""

from __future__ import annotations

import pytest

from tests.emulator import DatabricksEmulator

COLUMNS = ["id", "ts", "region", "amount", "pred", "label", "model"]


@pytest.fixture(scope="module")
def emulator():
    with DatabricksEmulator() as emu:
        yield emu


@pytest.mark.parametrize(
    "error, transient",
    [
        ("InternalError", True),
        ("Unknown", True),
        ("DataLoss", True),
        ("DeadlineExceeded", True),
        ("ResourceConflict", True),
        ("Aborted", True),
        ("ResourceExhausted", True),
        ("RequestLimitExceeded", True),
        ("ResourceAlreadyExists", False),
        ("AlreadyExists", False),
        ("BadRequest", False),
        ("NotFound", False),
        ("PermissionDenied", False),
    ],
)
def test_is_transient_follows_the_sdk_error_classes(error: str, transient: bool):
    from databricks.sdk import errors

    from etl_monitor.monitoring.api import is_transient

    assert is_transient(getattr(errors, error)("x")) is transient


def test_errors_the_sdk_already_retried_are_not_retried_again(emulator):
    from databricks.sdk import errors

    from etl_monitor.monitoring.api import DataQualityApi, Desired, is_transient, with_retries

    # the SDK retries every 429/503 (they carry retry_after_secs) and raises TimeoutError at
    # the end (checked end to end below), so that is all that reaches this library
    assert not is_transient(TimeoutError("Timed out after 0:05:00"))
    calls: list[int] = []

    def gave_up() -> None:
        calls.append(1)
        raise TimeoutError("Timed out after 0:05:00")

    with pytest.raises(TimeoutError):
        with_retries(gave_up, "x", sleep=lambda _: None)
    assert calls == [1]
    slept: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise errors.Unknown("x")
        return "ok"

    assert with_retries(flaky, "x", sleep=slept.append) == "ok" and len(slept) == 2
    # end to end: persistent 429 with Retry-After 1 and a 1 s SDK budget -> one request only
    emulator.add_schema("main.retry_src")
    emulator.add_table("main.retry_src.t", COLUMNS)
    api = DataQualityApi(emulator.client(retry_timeout_seconds=1))
    emulator.fail(
        "POST",
        "/api/data-quality/v1/monitors",
        429,
        "REQUEST_LIMIT_EXCEEDED",
        times=None,
        retry_after=1,
    )
    emulator.reset_log()
    try:
        with pytest.raises(TimeoutError):
            api.create(Desired("main.retry_src.t", "SNAPSHOT", "main.retry_src"))
    finally:
        emulator.clear_faults()
    assert emulator.count("POST", "/api/data-quality/v1/monitors") == 1


@pytest.mark.parametrize(
    "error, create, refresh",
    [
        ("InternalError", True, False),
        ("DeadlineExceeded", True, False),
        ("Aborted", True, False),
        ("ResourceConflict", False, False),
        ("ResourceAlreadyExists", False, False),
        ("TooManyRequests", True, True),
        ("RequestLimitExceeded", True, True),
        ("TemporarilyUnavailable", True, True),
        ("PermissionDenied", False, False),
    ],
)
def test_calls_not_safe_to_repeat_retry_less(error: str, create: bool, refresh: bool):
    from databricks.sdk import errors

    from etl_monitor.monitoring.api import is_refused, is_transient_create

    assert is_transient_create(getattr(errors, error)("x")) is create
    assert is_refused(getattr(errors, error)("x")) is refresh
