"""PostgreSQL's safe-DDL recipes, shared by every phase.

A live reservations table must never queue behind a DDL statement: an ``ALTER TABLE``
waiting for ``ACCESS EXCLUSIVE`` blocks every later reader and writer of the table
for as long as it waits. So every statement that takes a strong lock runs with a short
``lock_timeout`` and, when it times out, the whole (small) transaction is rolled back
and retried after a backoff — the app sees at most ``lock_timeout`` of delay per try.

Long work runs under weak locks: ``CREATE INDEX CONCURRENTLY`` (``SHARE UPDATE
EXCLUSIVE``; an interrupted build leaves an INVALID index that is dropped and rebuilt
here), constraints added ``NOT VALID`` (no scan) then ``VALIDATE CONSTRAINT`` (a scan
that does not block writes), and ``SET NOT NULL`` only once a validated
``CHECK (col IS NOT NULL)`` lets PostgreSQL 12+ skip the scan.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import attrs

from slotcap.errors import MigrationLockTimeout
from slotcap.migration.ddl.names import q
from slotcap.sqldb import SqlConnection

__all__ = [
    "APPLICATION_NAME",
    "DEFAULT_POLICY",
    "LockPolicy",
    "blocking_sessions",
    "configure_session",
    "constraint_state",
    "create_index_concurrently",
    "current_policy",
    "drop_constraints",
    "drop_index_concurrently",
    "index_state",
    "lock_holds",
    "locked",
    "reset_lock_holds",
    "type_exists",
    "using_policy",
    "validate_constraint",
]

T = TypeVar("T")

#: How migration sessions show in ``pg_stat_activity`` (stores show as ``slotcap``).
APPLICATION_NAME = "slotcap migrate"
#: A migration session never sits idle inside a transaction for long; if its client
#: hangs there, the server ends the session (and releases its locks) after this.
IDLE_IN_TRANSACTION_TIMEOUT = "60s"


@attrs.frozen
class LockPolicy:
    """How long one try may wait for a lock, how the waits grow, and the total budget.

    GitLab's ``with_lock_retries`` shape: the first try waits ``start`` seconds, each
    retry a little longer (``growth``), never more than ``cap`` (pgroll's 500 ms), with
    a jittered pause between tries; after ``budget`` seconds of tries and pauses the
    statement gives up with :class:`~slotcap.errors.MigrationLockTimeout`. An app query
    queued behind a strong-lock request waits at most the current try's timeout.

    Statements under weak locks (``CREATE INDEX CONCURRENTLY``, ``VALIDATE
    CONSTRAINT``) queue nobody from the app, so they wait up to ``weak_timeout`` per try.
    """

    start: float = 0.1
    cap: float = 0.45
    growth: float = 1.3
    budget: float = 180.0
    pause: float = 0.05
    max_pause: float = 2.0
    weak_timeout: float = 5.0
    #: ``statement_timeout`` of catalogue DDL once the lock is had (short: it is
    #: catalogue-only work); scans and batches run without one.
    statement_timeout: float = 30.0

    def __attrs_post_init__(self) -> None:
        if not 0 < self.start <= self.cap:
            raise ValueError("lock timeout start must be > 0 and <= its cap")
        if self.budget <= 0 or self.growth < 1 or self.pause < 0:
            raise ValueError("lock retry budget must be > 0, growth >= 1, pause >= 0")

    def timeout(self, attempt: int) -> float:
        """The lock timeout of try ``attempt`` (0, 1, …): within [start, cap]."""
        grown = self.start * math.pow(self.growth, min(attempt, 200))
        return min(self.cap, grown)

    def pause_before(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered pause before retry ``attempt`` (1, 2, …)."""
        ceiling = min(self.max_pause, self.pause * math.ldexp(1.0, min(attempt, 30)))
        draw = (rng or _RNG).random()
        return ceiling * (0.5 + draw / 2)

    def schedule(
        self, *, weak: bool = False, rng: random.Random | None = None
    ) -> Iterator[tuple[float, float]]:
        """(pause before the try, the try's lock timeout) pairs; their total never
        exceeds ``budget`` (the first try always runs)."""
        spent = 0.0
        attempt = 0
        while True:
            pause = 0.0 if attempt == 0 else self.pause_before(attempt, rng)
            wait = max(self.weak_timeout, self.timeout(attempt)) if weak \
                else self.timeout(attempt)
            if attempt > 0 and spent + pause + wait > self.budget:
                return
            if attempt == 0:
                wait = min(wait, self.budget)
            spent += pause + wait
            yield pause, wait
            attempt += 1


_RNG = random.Random()  # noqa: S311 - jitter, not crypto
DEFAULT_POLICY = LockPolicy()
_POLICY: contextvars.ContextVar[LockPolicy] = contextvars.ContextVar(
    "slotcap_lock_policy", default=DEFAULT_POLICY)


def current_policy() -> LockPolicy:
    """The policy of the current context (the CLI sets it from its options)."""
    return _POLICY.get()


@contextlib.contextmanager
def using_policy(policy: LockPolicy) -> Iterator[LockPolicy]:
    """Make ``policy`` the one every lock-taking statement of this context uses."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


# -- hold-time instrumentation -------------------------------------------------------------
_HOLDS: list[tuple[str, float]] = []
_HOLDS_LOCK = threading.Lock()


def _record_hold(what: str, seconds: float) -> None:
    with _HOLDS_LOCK:
        _HOLDS.append((what, seconds))
        del _HOLDS[:-1000]  # bounded: a long-lived process keeps the latest only


def lock_holds() -> list[tuple[str, float]]:
    """(what, seconds) of every successful strong-lock transaction since the last reset:
    from the start of the successful try to its commit."""
    with _HOLDS_LOCK:
        return list(_HOLDS)


def reset_lock_holds() -> None:
    with _HOLDS_LOCK:
        _HOLDS.clear()


# -- sessions ------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def configure_session(conn: SqlConnection) -> None:
    """A migration session that behaves: named ``slotcap migrate``, no statement timeout
    by default (index builds, validations and batches are long by design; catalogue DDL
    sets its own short one inside :func:`locked`), and a bounded idle-in-transaction time."""
    conn.execute(
        "SELECT set_config('application_name', %s, false), "
        "set_config('statement_timeout', '0', false), "
        "set_config('idle_in_transaction_session_timeout', %s, false)",
        (APPLICATION_NAME, IDLE_IN_TRANSACTION_TIMEOUT),
    )


_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _query_line(query: str | None) -> str:
    # First line only, string literals masked (a psql user's literal may be a patient's
    # name); bound parameters never appear in pg_stat_activity.
    lines = (query or "").strip().splitlines()
    text = _LITERAL.sub("'…'", lines[0] if lines else "")
    return text if len(text) <= 60 else text[:57] + "…"


def blocking_sessions(conn: SqlConnection, limit: int = 3) -> list[str]:
    """Other sessions holding locks on this schema's tables, oldest transaction first,
    each as ``pid 123 (app 'psql', idle in transaction 8.0 s in transaction: SELECT …)``."""
    rows = conn.execute(
        "SELECT a.pid, a.application_name, a.state, "
        "extract(epoch FROM now() - a.xact_start)::float8, a.query "
        "FROM pg_stat_activity a WHERE a.pid IN ("
        "  SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "  JOIN pg_namespace n ON n.oid = c.relnamespace "
        "  WHERE l.granted AND l.locktype = 'relation' AND n.nspname = current_schema() "
        "  AND c.relkind IN ('r', 'p') AND l.pid <> pg_backend_pid()) "
        "ORDER BY a.xact_start NULLS LAST LIMIT %s",
        (limit,),
    )
    found = []
    for pid, app, state, age, query in rows:
        age_text = "?" if age is None else f"{float(age):.1f} s"
        found.append(f"pid {pid} (app {str(app or '')!r}, {state or 'unknown'}, "
                     f"{age_text} in transaction: {_query_line(query)})")
    return found


def _is_lock_failure(exc: BaseException) -> bool:
    import psycopg.errors

    return isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected)


def _blockers_now(conn: SqlConnection) -> list[str]:
    try:
        return blocking_sessions(conn)
    except Exception:
        return []


def _give_up(
    what: str, policy: LockPolicy, tries: int, blockers: list[str]
) -> MigrationLockTimeout:
    named = "; ".join(blockers) if blockers else "no blocking session found any more"
    return MigrationLockTimeout(
        f"{what}: lock not had in {tries} tries within the {policy.budget:g} s retry budget "
        f"(each try waited at most {policy.cap:g} s); blocked by {named}; nothing was "
        "changed by this try — end that session or wait, then run the same command again "
        "(it resumes)"
    )


def locked(
    conn: SqlConnection,
    work: Callable[[SqlConnection], T],
    *,
    what: str,
    policy: LockPolicy | None = None,
    weak: bool = False,
) -> T:
    """Run ``work`` in one transaction under a short ``lock_timeout``, retrying lock
    failures on the policy's schedule (``weak``: the statement takes only locks that
    queue no app query, so it may wait longer and has no statement timeout).

    Each successful strong try's hold time is recorded (:func:`lock_holds`)."""
    policy = policy or current_policy()
    blockers: list[str] = []
    tries = 0
    for pause, wait in policy.schedule(weak=weak):
        if pause:
            time.sleep(pause)
        tries += 1
        began = time.monotonic()
        try:
            with conn.transaction():
                # set_config(..., true) is SET LOCAL: it ends with the transaction.
                conn.execute(
                    "SELECT set_config('lock_timeout', %s, true), "
                    "set_config('statement_timeout', %s, true)",
                    (_ms(wait), "0" if weak else _ms(policy.statement_timeout)),
                )
                result = work(conn)
        except Exception as exc:
            if not _is_lock_failure(exc):
                raise
            blockers = _blockers_now(conn) or blockers
            continue
        if not weak:
            _record_hold(what, time.monotonic() - began)
        return result
    raise _give_up(what, policy, tries, blockers)


def type_exists(conn: SqlConnection, name: str) -> bool:
    return bool(
        conn.scalar(
            "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typname = %s AND n.nspname = current_schema()",
            (name,),
        )
    )


def constraint_state(conn: SqlConnection, table: str, name: str) -> bool | None:
    """None when absent, else whether the constraint is validated."""
    rows = conn.execute(
        "SELECT c.convalidated FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND t.relname = %s AND c.conname = %s",
        (table, name),
    )
    return bool(rows[0][0]) if rows else None


def validate_constraint(
    conn: SqlConnection, table: str, name: str, *, policy: LockPolicy | None = None
) -> None:
    """``VALIDATE CONSTRAINT`` unless already valid: a scan under SHARE UPDATE EXCLUSIVE,
    which lets inserts and updates continue."""
    if constraint_state(conn, table, name) is False:
        sql = f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}"
        locked(conn, lambda c: c.execute(sql), what=f"validate {name}", policy=policy,
               weak=True)


def index_state(conn: SqlConnection, name: str) -> bool | None:
    """None when absent, else whether the index is valid (an interrupted CONCURRENTLY
    build leaves an invalid one behind that still slows every write)."""
    rows = conn.execute(
        "SELECT i.indisvalid FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = %s",
        (name,),
    )
    return bool(rows[0][0]) if rows else None


def _with_session_lock_timeout(conn: SqlConnection, sql: str, wait: float) -> None:
    # CONCURRENTLY cannot run in a transaction block, so no SET LOCAL: set and reset.
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (_ms(wait),))
    try:
        conn.execute(sql)
    finally:
        conn.execute("RESET lock_timeout")


def drop_index_concurrently(
    conn: SqlConnection, name: str, *, policy: LockPolicy | None = None
) -> None:
    policy = policy or current_policy()
    sql = f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
    blockers: list[str] = []
    tries = 0
    for pause, wait in policy.schedule(weak=True):
        time.sleep(pause)
        tries += 1
        try:
            _with_session_lock_timeout(conn, sql, wait)
            return
        except Exception as exc:
            if not _is_lock_failure(exc):
                raise
            blockers = _blockers_now(conn) or blockers
    raise _give_up(f"drop index {name}", policy, tries, blockers)


def create_index_concurrently(
    conn: SqlConnection,
    name: str,
    table: str,
    definition: str,
    *,
    policy: LockPolicy | None = None,
) -> None:
    """Build ``name`` without blocking writes; ``definition`` is the column list part
    (built from constants). An INVALID leftover of an interrupted run is dropped first:
    ``IF NOT EXISTS`` alone would keep it forever."""
    policy = policy or current_policy()
    sql = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {q(table)} {definition}"
    blockers: list[str] = []
    tries = 0
    for pause, wait in policy.schedule(weak=True):
        time.sleep(pause)
        state = index_state(conn, name)
        if state is True:
            return
        if state is False:
            drop_index_concurrently(conn, name, policy=policy)
        tries += 1
        try:
            _with_session_lock_timeout(conn, sql, wait)
        except Exception as exc:
            if not _is_lock_failure(exc):
                raise
            blockers = _blockers_now(conn) or blockers
            continue
        if index_state(conn, name) is True:
            return
    raise _give_up(f"create index {name}", policy, tries, blockers)


# -- helper checks (the NOT NULL recipe's steps live in transitions.postgres) ------


def drop_constraints(conn: SqlConnection, table: str, names: Iterable[str], *, what: str) -> None:
    """Take helper checks away again (a NULL was found: nothing stays half-applied)."""
    clauses = ", ".join(f"DROP CONSTRAINT IF EXISTS {q(n)}" for n in names)
    locked(conn, lambda c: c.execute(f"ALTER TABLE {q(table)} {clauses}"), what=what)
