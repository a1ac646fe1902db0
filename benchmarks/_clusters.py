"""Private PostgreSQL clusters for the restart and failover tests and benchmark: a
primary with a synchronous standby, on free loopback ports, in a temporary directory,
never the shared server.

``primary_with_standby()`` runs Debian's ``initdb``, ``pg_ctl`` and ``pg_basebackup``
(as the ``postgres`` OS user when run as root: initdb refuses root) and yields a
:class:`Pair`; every server is stopped (immediate) and the directory removed on the way
out. Durability is PostgreSQL's default (``fsync``, ``synchronous_commit`` on) and the
standby is synchronous (``synchronous_standby_names = '*'``): a commit is acknowledged
only once the standby has it, which is what the failover test's "nothing lost" rests on.
Only initdb's own final sync is skipped (``--no-sync``: it concerns the empty template
files, not a commit).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from benchmarks._pooler import free_port

__all__ = ["Node", "Pair", "pg_bin", "primary_with_standby"]

_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
shared_buffers = 16MB
max_connections = 60
wal_level = replica
max_wal_senders = 4
hot_standby = on
synchronous_standby_names = '*'
wal_sender_timeout = 5s
wal_receiver_status_interval = 1s
# A standby retries a lost primary every 5 s by default; until it is back, a synchronous
# primary's commits wait. Half a second keeps the restart test short (docs/runbook.md).
wal_retrieve_retry_interval = 500ms
logging_collector = off
"""


def pg_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin directory holding initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


@attrs.frozen
class Node:
    bin: Path
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def ctl(self, *args: str, timeout: float = 60) -> None:
        _run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30",
              "-l", str(self.data / "server.log"), *args], timeout=timeout)

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@attrs.frozen
class Pair:
    primary: Node
    standby: Node

    def url(self, database: str) -> str:
        """The libpq multi-host URL an application fails over with."""
        return (f"postgresql://postgres@127.0.0.1:{self.primary.port},"
                f"127.0.0.1:{self.standby.port}/{database}"
                "?target_session_attrs=read-write&connect_timeout=2")


def _as_postgres(command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def _run(command: Sequence[str], *, timeout: float = 60) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-800:]}")


def _owned_tempdir() -> Path:
    root = Path(tempfile.mkdtemp(prefix="slotcap-cluster-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


@contextlib.contextmanager
def primary_with_standby() -> Iterator[Pair]:
    bin_dir = pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
    root = _owned_tempdir()
    primary = Node(bin_dir, root / "primary", free_port())
    standby = Node(bin_dir, root / "standby", free_port())
    try:
        _run([str(bin_dir / "initdb"), "-D", str(primary.data), "-U", "postgres",
              "-A", "trust", "--no-sync", "--no-instructions"])
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS.format(port=primary.port, sockets=root))
        primary.ctl("start")
        _run([str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
              "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream",
              "--checkpoint=fast", "--no-sync"])
        with (standby.data / "postgresql.auto.conf").open("a") as conf:
            # Promoted, it has no standby of its own: waiting for one would hang commits.
            conf.write(f"port = {standby.port}\nsynchronous_standby_names = ''\n")
        standby.ctl("start")
        _wait_synchronous(primary)
        yield Pair(primary, standby)
    finally:
        for node in (standby, primary):
            if (node.data / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    node.ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


def _wait_synchronous(primary: Node, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
            ).fetchone()
        if row is not None and row[0] >= 1:
            return
        time.sleep(0.1)
    raise RuntimeError("the standby did not become synchronous within "
                       f"{timeout:g}s: {primary.log()[-800:]}")
