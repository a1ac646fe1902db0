"""PostgreSQL's lock policy for DDL: short ``lock_timeout``, retries with backoff.

A live reservations table must never queue behind a DDL statement: an ``ALTER TABLE``
waiting for ``ACCESS EXCLUSIVE`` blocks every later reader and writer of the table
for as long as it waits. So every statement that takes a strong lock runs with a short
``lock_timeout`` and, when it times out, the whole (small) transaction is rolled back
and retried after a backoff — the app sees at most ``lock_timeout`` of delay per try.

The statements that run under it are in :mod:`slotcap.migration.ddl.postgres`. The
policy and the observer of hold times are passed in (a run's ``StepContext`` carries
them); without one, :data:`DEFAULT_POLICY` and no observer.
"""

from __future__ import annotations

import enum
import math
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeAlias, TypeVar

import attrs

from slotcap.errors import ConfigurationError, MigrationLockTimeout
from slotcap.sql import SqlConnection


def lock_failures() -> tuple[type[BaseException], ...]:
    """The errors a retry may cure: a lock not had in time, a deadlock victim.

    psycopg is looked up only once it is loaded: before a PostgreSQL connection was
    opened none of its exceptions can be raised (and an SQLite-only install has none),
    so importing slotcap never imports it.
    """
    errors = sys.modules.get("psycopg.errors")  # loaded with psycopg itself
    if errors is None:
        return ()
    return (errors.LockNotAvailable, errors.DeadlockDetected)

__all__ = [
    "APPLICATION_NAME",
    "DEFAULT_POLICY",
    "Again",
    "HoldLog",
    "HoldObserver",
    "LockPolicy",
    "blocking_sessions",
    "configure_session",
    "execute_with_lock_timeout",
    "lock_failures",
    "locked",
    "with_lock_retries",
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
#: The policy of a run that was given none (the CLI builds one from its options).
DEFAULT_POLICY = LockPolicy()

#: Told of every successful strong-lock transaction of :func:`locked`: (what, seconds
#: from the start of the successful try to its commit).
HoldObserver: TypeAlias = Callable[[str, float], None]


class HoldLog:
    """A :data:`HoldObserver` that keeps the latest ``keep`` holds (thread-safe): what
    the lock-wait tests and the live-migration benchmark pass to a run."""

    def __init__(self, keep: int = 1000) -> None:
        self._keep = keep
        self._holds: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def __call__(self, what: str, seconds: float) -> None:
        with self._lock:
            self._holds.append((what, seconds))
            del self._holds[:-self._keep]

    def holds(self) -> list[tuple[str, float]]:
        """(what, seconds) of every hold heard, oldest first."""
        with self._lock:
            return list(self._holds)

    def longest(self) -> float:
        """The longest hold heard (0.0 when none)."""
        return max((s for _what, s in self.holds()), default=0.0)


# -- sessions ------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def configure_session(conn: SqlConnection) -> None:
    """A migration session that behaves: named ``slotcap migrate``, no statement timeout
    by default (index builds, validations and batches are long by design; catalogue DDL
    sets its own short one inside :func:`locked`), and a bounded idle-in-transaction time.
    Never through a pooler (the settings would stay on a server connection others use)."""
    if conn.pooled:
        raise ConfigurationError(
            "migrations need a direct connection, not one through a pooler (pgbouncer=true): "
            "pass --direct-url or set SLOTCAP_DIRECT_DATABASE_URL"
        )
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


def _blockers_now(conn: SqlConnection) -> list[str]:
    """The sessions in the way, best effort: the lock failure is what is reported, and
    naming its blockers must never replace it with another error (the transaction may
    be aborted, the connection gone), so any failure here reads as "none found"."""
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


class Again(enum.Enum):
    """What a try returns when it did its part without finishing (e.g. an index build
    that left the index INVALID): the next try comes on the same schedule."""

    AGAIN = enum.auto()


def with_lock_retries(
    conn: SqlConnection,
    attempt: Callable[[float], T | Again],
    *,
    what: str,
    policy: LockPolicy = DEFAULT_POLICY,
    weak: bool = False,
) -> T:
    """The one retry loop of the lock policy: call ``attempt(wait)`` (``wait``: this
    try's ``lock_timeout`` in seconds) on the policy's schedule until it returns a
    value; a lock failure it raises is retried and its blockers remembered; when the
    budget runs out, :class:`~slotcap.errors.MigrationLockTimeout` naming them."""
    blockers: list[str] = []
    tries = 0
    for pause, wait in policy.schedule(weak=weak):
        if pause:
            time.sleep(pause)
        tries += 1
        try:
            result = attempt(wait)
        except lock_failures():
            blockers = _blockers_now(conn) or blockers
            continue
        if result is not Again.AGAIN:
            return result
    raise _give_up(what, policy, tries, blockers)


def execute_with_lock_timeout(conn: SqlConnection, sql: str, wait: float) -> None:
    """One statement outside any transaction (``CONCURRENTLY`` cannot run in one, so
    no ``SET LOCAL``) under a session ``lock_timeout`` of ``wait`` seconds, reset after."""
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (_ms(wait),))
    try:
        conn.execute(sql)
    finally:
        conn.execute("RESET lock_timeout")


def locked(
    conn: SqlConnection,
    work: Callable[[SqlConnection], T],
    *,
    what: str,
    policy: LockPolicy = DEFAULT_POLICY,
    on_hold: HoldObserver | None = None,
    weak: bool = False,
) -> T:
    """Run ``work`` in one transaction under a short ``lock_timeout``, retrying lock
    failures on the policy's schedule (``weak``: the statement takes only locks that
    queue no app query, so it may wait longer and has no statement timeout).

    Each successful strong try's hold time goes to ``on_hold``, when given."""

    def attempt(wait: float) -> T:
        began = time.monotonic()
        with conn.transaction():
            # set_config(..., true) is SET LOCAL: it ends with the transaction.
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true), "
                "set_config('statement_timeout', %s, true)",
                (_ms(wait), "0" if weak else _ms(policy.statement_timeout)),
            )
            result = work(conn)
        if not weak and on_hold is not None:
            on_hold(what, time.monotonic() - began)
        return result

    return with_lock_retries(conn, attempt, what=what, policy=policy, weak=weak)
