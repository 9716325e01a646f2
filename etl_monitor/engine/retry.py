"""The one retry policy: bounded exponential backoff with jitter, run by ``tenacity``.

Every loop that tries an action again (a Delta commit that met a concurrent writer, the
bookkeeping of a task's start, end or failure, a compaction that lost its commit race, a
Databricks API call the SDK did not retry) goes through `call` with a `RetryPolicy`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")
log: logging.Logger = logging.getLogger("etl_monitor.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter.

    Args:
        max_attempts: calls at most, the first included.
        base_delay: the first backoff ceiling in seconds, doubled per attempt.
        max_delay: the largest ceiling in seconds.
        min_delay: the shortest wait in seconds (0: full jitter).
    """

    max_attempts: int = 10
    base_delay: float = 0.05
    max_delay: float = 2.0
    min_delay: float = 0.0

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` (1 first): uniform up to the ceiling."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(min(self.min_delay, ceiling), ceiling)


def call(
    action: Callable[[], T],
    *,
    policy: RetryPolicy,
    transient: Callable[[BaseException], bool],
    what: str,
    level: int = logging.INFO,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `action`, again after each error `transient` accepts, at most `policy.max_attempts` times.

    Args:
        action: what to do.
        policy: how often and how long to wait.
        transient: which errors are worth another attempt.
        what: a label for the log.
        level: the log level of each retry.
        on_retry: called with the attempt number and the error before each wait.
        sleep: how to wait (tests pass a recorder).

    Returns:
        What `action` returned.

    Raises:
        Exception: the last error, once it is not transient or the attempts are used up.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert error is not None
        if on_retry is not None:
            on_retry(state.attempt_number, error)
        log.log(
            level,
            "%s: %s, retry %d in %.3fs: %s",
            what,
            type(error).__name__,
            state.attempt_number,
            state.next_action.sleep if state.next_action else 0.0,
            error,
        )

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts),
        wait=lambda state: policy.delay(state.attempt_number),
        retry=tenacity.retry_if_exception(transient),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    return retrying(action)
