"""The one shape of plan and apply: what each object's fate is, and the report over them.

Five features converge something outside the run tables on what the config says: the
catalogue (config rows), data profiling monitors, SQL alerts, Workflows jobs and the
Lakeview dashboard. Each decides one `Outcome` per object (its ``kind``, its ``action``:
add, create, update, unchanged...) and returns a `Reconciliation`: the outcomes, what
they count per action and kind, whether anything is left to write, and the workspace
calls made (`CallCounter`). A feature only says how its objects are read and compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol


class Outcome(Protocol):
    """One object's fate in a plan or an apply."""

    @property
    def action(self) -> str:
        """What is (or would be) done to the object: add, create, update, unchanged..."""
        ...


def _kind(outcome: Outcome) -> str | None:
    return getattr(outcome, "kind", None)


class Reconciliation:
    """The report of a plan or an apply: its outcomes, counted.

    A subclass names its outcomes (`decided`), the actions it always counts, even at
    zero (``ACTIONS``), and the actions that write (``WRITES``).
    """

    ACTIONS: ClassVar[tuple[str, ...]] = ()
    WRITES: ClassVar[frozenset[str]] = frozenset(
        {"add", "create", "created", "update", "updated", "recreate"}
    )

    def decided(self) -> Sequence[Outcome]:
        """Every object's outcome, in the order they were decided."""
        raise NotImplementedError

    def tally(self, action: str, kind: str | None = None) -> int:
        """How many outcomes have `action` (and, when given, `kind`)."""
        return sum(1 for o in self.decided() if o.action == action and kind in (None, _kind(o)))

    def of(self, action: str, kind: str | None = None) -> list[Any]:
        """The outcomes with `action` (and, when given, `kind`)."""
        return [o for o in self.decided() if o.action == action and kind in (None, _kind(o))]

    @property
    def counts(self) -> dict[str, int]:
        """Outcomes per action: ``ACTIONS`` first (zeros included), then the others seen."""
        out = dict.fromkeys(self.ACTIONS, 0)
        for o in self.decided():
            out[o.action] = out.get(o.action, 0) + 1
        return out

    @property
    def pending(self) -> bool:
        """True when an outcome writes (in a plan: when applying it would write)."""
        return any(o.action in self.WRITES for o in self.decided())


class CallCounter:
    """Counts the workspace calls of a report that has ``calls`` and ``mutating_calls``."""

    calls: int
    mutating_calls: int

    def read(self) -> None:
        """Count a call that changes nothing (a paged list counts once)."""
        self.calls += 1

    def write(self) -> None:
        """Count a call that creates, updates or deletes."""
        self.calls += 1
        self.mutating_calls += 1
