"""Migration transitions as data: each an ordered tuple of named, idempotent steps.

A :class:`Transition` goes from one phase to the next (or back); its steps run in
order and the runner (:mod:`slotcap.migration.engine.runner`) journals each one, so that a
killed run resumes at the first step not recorded done, and the inverse transition
can start from any partial state (every step tolerates whatever part of its
counterpart ran: ``IF EXISTS``, INVALID indexes dropped, half-built tables removed).

A step is either *atomic* — one transaction the runner opens (on PostgreSQL through
``ddl.postgres.locked``, with a short ``lock_timeout`` and retries), in which the runner
also records the step as done — or manages its own transactions (``CREATE INDEX
CONCURRENTLY``, keyset batches), each of them idempotent, and is recorded after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from slotcap.errors import MigrationError
from slotcap.migration.engine.checkpoint import checkpoint
from slotcap.migration.state import Phase
from slotcap.sqldb import SqlConnection

__all__ = [
    "Step",
    "StepContext",
    "StepPaused",
    "Transition",
    "transition_name",
]

Progress = Callable[[str], None]


def transition_name(start: Phase, end: Phase) -> str:
    return f"{start.value}->{end.value}"


class StepPaused(MigrationError):
    """A step stopped on purpose and left its transition open (phase 2's validation
    while rows await manual review): not a failure of the run."""

    code = "migration_paused"


@attrs.define
class StepContext:
    """What a step may use: progress output, batch size, and a place for its detail."""

    transition: str
    progress: Progress
    batch_size: int = 1000
    #: Receives the backfill's per-batch events (else they go to ``progress`` as text).
    backfill_progress: Callable[[Any], None] | None = None
    step: str = ""
    #: Per-step detail for the report, keyed by step name.
    details: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: The transition's closing validation report, if one of its steps ran it.
    validation: Any = None
    backfill: Any = None

    @property
    def detail(self) -> dict[str, Any]:
        return self.details.setdefault(self.step, {})

    def batch(self) -> None:
        """Call after each committed batch of a batch loop (a kill point for the tests)."""
        checkpoint(f"{self.transition}:{self.step}:batch")


StepFn = Callable[[SqlConnection, StepContext], None]


@attrs.frozen
class Step:
    name: str
    run: StepFn
    #: True: one transaction opened by the runner (the done-row is written in it).
    atomic: bool
    #: What the step waits for, in a lock-timeout message.
    what: str = ""
    #: Run again on resume even if recorded done: the backfill, so that rows a legacy
    #: writer added meanwhile are filled before the validation that follows it.
    always: bool = False


@attrs.frozen
class Transition:
    start: Phase
    end: Phase
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        return transition_name(self.start, self.end)

    @property
    def forward(self) -> bool:
        return self.end.rank > self.start.rank

    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)
