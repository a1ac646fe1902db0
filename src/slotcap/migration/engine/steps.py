"""Migration transitions as data: each an ordered tuple of named, idempotent steps.

A :class:`Transition` goes from one phase to the next (or back); its steps run in
order and the runner (:mod:`slotcap.migration.engine.runner`) journals each one, so that a
killed run resumes at the first step not recorded done, and the inverse transition
can start from any partial state (every step tolerates whatever part of its
counterpart ran: ``IF EXISTS``, INVALID indexes dropped, half-built tables removed).

A step is either *atomic* — one transaction the runner opens (on PostgreSQL through
``ddl.lock_policy.locked``, with a short ``lock_timeout`` and retries), in which the runner
also records the step as done — or manages its own transactions (``CREATE INDEX
CONCURRENTLY``, keyset batches), each of them idempotent, and is recorded after.

Everything a run decides besides the data travels on the :class:`StepContext` its
steps are given: the lock policy, who hears each strong lock's hold time, and the
checkpoint hook (absent unless a test installs one: the kill-point tests pass one that
SIGKILLs the process at a named checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

import attrs

from slotcap.errors import StepPaused
from slotcap.migration.backfill_report import BackfillProgress, BackfillReport
from slotcap.migration.ddl import lock_policy
from slotcap.migration.ddl.lock_policy import DEFAULT_POLICY, HoldObserver, LockPolicy
from slotcap.migration.state import Phase
from slotcap.migration.validation.report import ValidationReport
from slotcap.sql import SqlConnection

__all__ = [
    "Checkpoint",
    "Step",
    "StepContext",
    "StepPaused",  # defined in slotcap.errors; still importable from here
    "Transition",
    "table_problems",
    "transition_name",
]

T = TypeVar("T")
Progress = Callable[[str], None]
#: Called with every checkpoint label a run passes: ``"<from>-><to>:<step>:before"`` /
#: ``":after"`` around each step, ``":batch"`` after each committed batch.
Checkpoint: TypeAlias = Callable[[str], None]


def transition_name(start: Phase, end: Phase) -> str:
    return f"{start.value}->{end.value}"


@attrs.define
class StepContext:
    """What a step may use: progress output, batch size, the lock policy, the hold
    observer and the checkpoint hook, and a place for its detail."""

    transition: str
    progress: Progress
    batch_size: int = 1000
    #: Receives the backfill's per-batch events (else they go to ``progress`` as text).
    backfill_progress: Callable[[BackfillProgress], None] | None = None
    step: str = ""
    #: Per-step detail for the report, keyed by step name.
    details: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: The transition's closing validation report, if one of its steps ran it.
    validation: ValidationReport | None = None
    #: The report of the last backfill pass, if the transition ran one.
    backfill: BackfillReport | None = None
    #: PostgreSQL: how every lock-taking statement of the run waits and retries.
    lock_policy: LockPolicy = DEFAULT_POLICY
    #: Told of every successful strong-lock transaction's hold time.
    on_hold: HoldObserver | None = None
    #: Told of every checkpoint label passed (None: nobody listens).
    checkpoint: Checkpoint | None = None

    @property
    def detail(self) -> dict[str, Any]:
        return self.details.setdefault(self.step, {})

    def reached(self, label: str) -> None:
        """Pass the checkpoint ``label`` (the hook's, when one is installed)."""
        if self.checkpoint is not None:
            self.checkpoint(label)

    def batch(self) -> None:
        """Call after each committed batch of a batch loop (a kill point for the tests)."""
        self.reached(f"{self.transition}:{self.step}:batch")

    def locked(
        self, conn: SqlConnection, work: Callable[[SqlConnection], T], *, what: str,
        weak: bool = False,
    ) -> T:
        """:func:`~slotcap.migration.ddl.lock_policy.locked` under this run's policy,
        its hold time told to this run's observer."""
        return lock_policy.locked(conn, work, what=what, policy=self.lock_policy,
                                  on_hold=self.on_hold, weak=weak)


StepFn = Callable[[SqlConnection, StepContext], None]


@attrs.frozen
class Step:
    """One named step: ``Step("add-columns", fn, atomic=True, what="add …")``; every
    field after ``run`` is given by keyword."""

    name: str
    run: StepFn
    #: True: one transaction opened by the runner (the done-row is written in it).
    atomic: bool = attrs.field(kw_only=True)
    #: What the step waits for, in a lock-timeout message.
    what: str = attrs.field(default="", kw_only=True)
    #: Run again on resume even if recorded done: the backfill, so that rows a legacy
    #: writer added meanwhile are filled before the validation that follows it.
    always: bool = attrs.field(default=False, kw_only=True)
    #: The transition's check (pgroll's "validate"): runs the checklist of the phase
    #: reached, read-only; at most one per transition, and its last step.
    check: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class Transition:
    """One move between adjacent phases, as data: *apply* is its steps in order, *undo*
    is the transition named by :attr:`inverse` (it starts from any partial state of
    this one), *check* is its :attr:`check` step. :func:`table_problems` says whether
    a table of them keeps those promises."""

    start: Phase
    end: Phase
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        return transition_name(self.start, self.end)

    @property
    def forward(self) -> bool:
        return self.end.rank > self.start.rank

    @property
    def inverse(self) -> tuple[Phase, Phase]:
        """The (from, to) of the transition that undoes this one."""
        return (self.end, self.start)

    @property
    def check(self) -> Step | None:
        """The step that checks the phase reached, if the transition has one."""
        return next((s for s in self.steps if s.check), None)

    def step_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)


def table_problems(table: Mapping[tuple[Phase, Phase], Transition]) -> list[str]:
    """What is wrong with a dialect's table of transitions (empty: nothing). Every
    transition is filed under its own (from, to), goes between adjacent phases, has
    unique step names and an inverse in the table; a forward one ends with its check,
    and no step is both a check and run inside the runner's transaction."""
    order = list(Phase)
    problems: list[str] = []
    for key, t in table.items():
        if key != (t.start, t.end):
            problems.append(f"{t.name} is filed under {key[0].value}->{key[1].value}")
        if abs(order.index(t.start) - order.index(t.end)) != 1:
            problems.append(f"{t.name} does not go between adjacent phases")
        names = t.step_names()
        if len(set(names)) != len(names):
            problems.append(f"{t.name} repeats a step name: {names}")
        if t.inverse not in table:
            problems.append(f"{t.name} has no inverse transition")
        checks = [s for s in t.steps if s.check]
        if t.forward and (len(checks) != 1 or t.steps[-1] is not checks[0]):
            problems.append(f"{t.name} does not end with exactly one check step")
        if not t.forward and checks:
            problems.append(f"{t.name} goes back but has a check step")
        problems.extend(f"{t.name}:{s.name} is a check run as an atomic step"
                        for s in checks if s.atomic)
    return problems
