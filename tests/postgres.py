"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary cluster, loopback only.

`find_postgres_bin` looks for ``initdb`` and ``pg_ctl`` on ``PATH``, then under
``/usr/lib/postgresql/<version>/bin`` (where Debian's ``postgresql`` package puts them without
linking ``initdb``). PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` system user and every command runs through ``runuser``. `postgres_unavailable`
says in one line why a server cannot be started here, for ``pytest.skip``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "postgres"


def find_postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, newest Debian version first; None if absent."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _as_root() -> bool:
    return os.geteuid() == 0


def postgres_unavailable() -> str | None:
    """Why a throwaway server cannot start on this machine, or None when it can."""
    if find_postgres_bin() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does it)"
    if _as_root():
        if shutil.which("runuser") is None:
            return "running as root without runuser, so PostgreSQL cannot drop to its own user"
        try:
            import pwd

            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no {SYSTEM_USER!r} system user to run it as"
    return None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running server: connect with `url(database)`; the superuser has no password."""

    port: int
    user: str
    data_dir: Path

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        """A SQLAlchemy/libpq URL on loopback (``driver`` e.g. ``postgresql+psycopg``)."""
        return f"{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database and return its libpq URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _command(args: list[str]) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *args] if _as_root() else args


@contextmanager
def running_postgres(port: int | None = None) -> Iterator[PostgresServer]:
    """Start a fresh cluster in a temporary folder; stop it and delete the folder on exit."""
    reason = postgres_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    binaries = find_postgres_bin()
    assert binaries is not None
    port = port or free_port()
    user = SYSTEM_USER if _as_root() else os.environ.get("USER", "postgres")
    root = Path(tempfile.mkdtemp(prefix="lifecycle-pg-"))
    data_dir = root / "data"
    if _as_root():
        shutil.chown(root, user=SYSTEM_USER)
    log = root / "server.log"
    try:
        subprocess.run(
            _command(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
        subprocess.run(
            _command(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        yield PostgresServer(port=port, user=user, data_dir=data_dir)
    finally:
        if (data_dir / "postmaster.pid").exists():
            subprocess.run(
                _command([str(binaries / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)
