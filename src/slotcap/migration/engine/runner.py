"""Run a transition step by step, journaled in ``slotcap_migration_state``.

The record of one transition is a ``begin`` row, one ``step`` row per step done and
the settled ``apply`` (forward) or ``rollback`` row at the end. An atomic step's row
is written in the step's own transaction, so the record never says "done" for work
that was rolled back, nor misses work that was committed; a step that manages its own
transactions is idempotent and recorded right after it returns. Rerunning the same
command continues at the first step not recorded done.

Before and after every step the runner passes the checkpoint
``"<from>-><to>:<step>:before"`` / ``":after"`` (:meth:`StepContext.reached`: the
kill-point tests' hook, when one is installed on the context).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slotcap.migration import state
from slotcap.migration.ddl.names import STATE
from slotcap.migration.engine.steps import Step, StepContext, Transition
from slotcap.migration.state import Phase
from slotcap.sql import Dialect, SqlConnection

__all__ = ["OnStep", "run_transition"]

#: Called after each step with (step name, seconds, detail).
OnStep = Callable[[str, float, dict[str, Any]], None]


def _begin(conn: SqlConnection, t: Transition) -> None:
    detail = {"transition": t.name, "from": t.start.value, "to": t.end.value}
    with conn.transaction():
        # Phase 1: the record must exist before anything can be journaled; it is
        # created with the begin row, in one transaction.
        state.create_state_table(conn)
        state.record(conn, t.start, "begin", detail=detail)


def _record_step(conn: SqlConnection, t: Transition, step: Step) -> None:
    # The last step of the rollback to legacy drops the record itself.
    if STATE in conn.tables():
        state.record(conn, t.start, "step", detail={"transition": t.name, "step": step.name})


def _run_step(conn: SqlConnection, t: Transition, step: Step, ctx: StepContext) -> None:
    if not step.atomic:
        step.run(conn, ctx)
        _record_step(conn, t, step)
        return

    began = [0.0]

    def work(c: SqlConnection) -> None:
        began[0] = time.monotonic()
        step.run(c, ctx)
        _record_step(c, t, step)

    if conn.dialect is Dialect.POSTGRES:
        ctx.locked(conn, work, what=step.what or f"{t.name} {step.name}")
    else:
        with conn.transaction():
            work(conn)
    # From the start of the successful attempt to its commit: an upper bound of how long
    # the step's locks were held (it includes that attempt's wait for them).
    ctx.details.setdefault(step.name, {})["transaction_seconds"] = round(
        time.monotonic() - began[0], 4)


def run_transition(
    conn: SqlConnection,
    t: Transition,
    ctx: StepContext,
    *,
    done: tuple[str, ...] | None = None,
    on_step: OnStep | None = None,
) -> None:
    """Run ``t`` from its start (``done`` None: a ``begin`` row first) or resume it
    after the steps in ``done``; record the settled row at the end."""
    if done is None:
        _begin(conn, t)
        done = ()
    ctx.transition = t.name
    for step in t.steps:
        if step.name in done and not step.always:
            continue
        label = f"{t.name}:{step.name}"
        ctx.step = step.name
        ctx.reached(f"{label}:before")
        started = time.monotonic()
        _run_step(conn, t, step, ctx)
        seconds = time.monotonic() - started
        ctx.reached(f"{label}:after")
        if on_step is not None:
            on_step(step.name, seconds, ctx.details.get(step.name, {}))
    if t.end is Phase.LEGACY:
        return  # the record went with phase 1's tables
    validation = None if ctx.validation is None else ctx.validation.to_dict()
    detail: dict[str, Any] = {"transition": t.name, "steps": ctx.details}
    state.record(conn, t.end, "apply" if t.forward else "rollback",
                 validation=validation, detail=detail)
