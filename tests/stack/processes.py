"""Start and stop the team stack's services as local processes, each in its own process group.

The same topology as ``deploy/compose.yaml`` without Docker: an MLflow tracking server and a
Prefect server on one PostgreSQL, a Prefect worker, and ``lifecycle serve --workers 2``. Each
service logs to a file under the stack's folder; a service that dies or does not answer in time
fails with the tail of its log. Stopping signals the whole group (uvicorn workers, the flow
runs a worker spawned), then kills what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(os.environ.get("VIRTUAL_ENV") or Path(__file__).resolve().parents[2] / ".venv") / "bin"


class ServiceError(RuntimeError):
    """A service exited early or never became ready; the message holds its log's tail."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Service:
    """One running process group, its log, and when it became ready."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    ready_seconds: float | None = None

    def wait_ready(self, url: str | None, timeout: float) -> float:
        """Poll ``url`` until it answers 200 (or, with no url, until ``timeout`` passes alive)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited ({self.process.returncode}):\n{_tail(self.log)}"
                )
            if url is None:
                time.sleep(0.5)
                continue
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    self.ready_seconds = time.monotonic() - self.started
                    return self.ready_seconds
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        if url is None:
            self.ready_seconds = time.monotonic() - self.started
            return self.ready_seconds
        raise ServiceError(
            f"{self.name} not ready at {url} after {timeout:.0f} s:\n{_tail(self.log)}"
        )

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL whatever remains."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class Stack:
    """The services started so far, stopped in reverse order."""

    folder: Path
    services: list[Service] = field(default_factory=list)

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> Service:
        """Start ``command`` in a new session (its own process group), logging to a file."""
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(command),
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=Path(__file__).resolve().parents[2],
            )
        service = Service(name, process, log, time.monotonic())
        self.services.append(service)
        return service

    def stop(self) -> None:
        """Stop every service, the last started first."""
        for service in reversed(self.services):
            service.stop()

    def group_ids(self) -> list[int]:
        """The process group ids of the services (to check none is left afterwards)."""
        return [service.process.pid for service in self.services]


def alive_in_groups(group_ids: Sequence[int], settle: float = 10.0) -> list[str]:
    """Processes still running in these process groups after ``settle`` seconds of exiting."""
    deadline = time.monotonic() + settle
    while (alive := _alive(group_ids)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return alive


def _alive(group_ids: Sequence[int]) -> list[str]:
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgid = os.getpgid(int(entry.name))
            if pgid in group_ids:
                state = (entry / "stat").read_text().split(") ")[-1].split()[0]
                if state != "Z":
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    alive.append(f"{entry.name} {cmdline[:120]}")
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return alive
