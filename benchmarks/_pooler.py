"""A private PgBouncer (transaction pooling) in front of a PostgreSQL server, for the
pooled benchmark and the topology tests.

``running_pgbouncer(server_url)`` writes a generated ini into a temporary directory,
starts Debian's ``pgbouncer`` on a free loopback port (as the ``postgres`` OS user when
run as root: PgBouncer refuses to run as root), waits until it answers, yields a
:class:`Pooler` and stops it (SIGTERM, then SIGKILL) on the way out. The pool is small
on purpose (``default_pool_size``): several clients then really share one server
connection, which is what breaks session state and prepared statements.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import attrs

__all__ = ["Pooler", "PoolerMissing", "free_port", "pgbouncer_binary", "running_pgbouncer"]

_START_TIMEOUT = 15.0


class PoolerMissing(RuntimeError):
    """pgbouncer is not installed (Debian: apt-get install pgbouncer)."""


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)),
        None,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.frozen
class Pooler:
    port: int
    directory: Path

    def url(self, database: str, *, user: str = "postgres", pooled_flag: bool = True) -> str:
        """A client URL through the pooler; ``?pgbouncer=true`` (Prisma's mark) unless
        ``pooled_flag`` is False (a pooled URL slotcap is not told about)."""
        flag = "?pgbouncer=true" if pooled_flag else ""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}{flag}"

    @property
    def admin_url(self) -> str:
        """PgBouncer's own console (``SHOW POOLS``, ``SHOW SERVERS``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/pgbouncer"

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _ini(server_host: str, server_port: int, port: int, directory: Path, pool_size: int) -> str:
    return f"""\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
max_client_conn = 400
max_db_connections = {pool_size}
server_reset_query =
server_check_delay = 1
server_login_retry = 1
query_wait_timeout = 30
ignore_startup_parameters = extra_float_digits
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
log_connections = 0
log_disconnections = 0
"""


def _server(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


@contextlib.contextmanager
def running_pgbouncer(server_url: str, *, pool_size: int = 2) -> Iterator[Pooler]:
    """PgBouncer 1.18+ in transaction mode in front of ``server_url``'s server."""
    binary = pgbouncer_binary()
    if binary is None:
        raise PoolerMissing("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    host, server_port = _server(server_url)
    directory = Path(tempfile.mkdtemp(prefix="slotcap-pgbouncer-"))
    port = free_port()
    (directory / "users.txt").write_text('"postgres" ""\n"root" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(_ini(host, server_port, port, directory, pool_size))
    command = [binary, "-q", str(ini)]
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(directory, account.pw_uid, account.pw_gid)
        for path in directory.iterdir():
            os.chown(path, account.pw_uid, account.pw_gid)
        command = [binary, "-q", "-u", "postgres", str(ini)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pooler = Pooler(port=port, directory=directory)
    try:
        _wait_until_listening(process, port, pooler)
        yield pooler
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # immediate shutdown: nothing to drain
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, pooler: Pooler) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"pgbouncer exited with {process.returncode}: "
                               f"{err.strip()[-500:]} {pooler.log()[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {port} within {_START_TIMEOUT}s")
