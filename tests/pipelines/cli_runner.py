"""Run the `lifecycle` console script as a user does: a real process, its exit code and output.

Shared by the CLI tests. Each call runs the installed script in a subprocess with
``LIFECYCLE_HOME`` set to a test folder and a clean environment, so what a test asserts is what
a person at a terminal (or a CI log) sees.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

LIFECYCLE = Path(sys.executable).parent / "lifecycle"
# Variables that make rich or typer colour the output or act as if on a terminal. (Any
# LIFECYCLE_* or PREFECT_* variable is dropped too: the run uses the test's home and API.)
DROPPED_VARIABLES = (
    "FORCE_COLOR",
    "PY_COLORS",
    "CLICOLOR_FORCE",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
)
COMMAND_TIMEOUT_S = 300


@dataclass(frozen=True)
class Run:
    """One finished `lifecycle` process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"$ lifecycle {' '.join(self.args)}  -> exit {self.code}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )

    @property
    def error_lines(self) -> list[str]:
        """The non-blank lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def cli_env(home: Path, prefect_api: str | None = None) -> dict[str, str]:
    """The caller's environment, minus anything that would change the run, plus the home."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LIFECYCLE_", "PREFECT_")) and key not in DROPPED_VARIABLES
    }
    env.update(
        LIFECYCLE_HOME=str(home),
        NO_COLOR="1",
        _TYPER_FORCE_DISABLE_TERMINAL="1",
        # Typer's help and usage errors: wide enough that option help seldom wraps.
        TERMINAL_WIDTH="200",
    )
    if prefect_api is not None:
        env["PREFECT_API_URL"] = prefect_api
    return env


@dataclass(frozen=True)
class Started:
    """A `lifecycle` process still running."""

    args: tuple[str, ...]
    process: subprocess.Popen[str]

    def finish(self) -> Run:
        """Wait for the process and collect what it printed."""
        try:
            stdout, stderr = self.process.communicate(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            pytest.fail(f"lifecycle {self.args} took over {COMMAND_TIMEOUT_S} s\n{stdout}{stderr}")
        return Run(self.args, self.process.returncode, stdout, stderr)


def start(home: Path, *args: str, prefect_api: str | None = None) -> Started:
    """Start `lifecycle ARGS` with ``home`` as LIFECYCLE_HOME, without waiting for it."""
    process = subprocess.Popen(
        [str(LIFECYCLE), *args],
        env=cli_env(home, prefect_api),
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Started(args, process)


def lifecycle(home: Path, *args: str, prefect_api: str | None = None) -> Run:
    """Run `lifecycle ARGS` with ``home`` as LIFECYCLE_HOME and return what it did."""
    return start(home, *args, prefect_api=prefect_api).finish()


def killed_at(home: Path, fault: str, *args: str, prefect_api: str | None = None) -> Run:
    """Run `lifecycle ARGS` with the fault hook armed at ``fault`` (see `pipelines.faults`)."""
    env = {**cli_env(home, prefect_api), "LIFECYCLE_FAULT": fault}
    done = subprocess.run(
        [str(LIFECYCLE), *args],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    return Run(tuple(args), done.returncode, done.stdout, done.stderr)


def plain(text: str) -> str:
    """Rendered help as one line of words: no box drawing, bullets, code marks or wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─•`]", " ", text).split())


def assert_user_error(run: Run, *fragments: str) -> None:
    """The pipeline refused bad input the way the CLI promises: exit 2, one `error:` line."""
    assert "Traceback" not in run.stderr, f"no Python traceback reaches the user\n{run}"
    assert run.code == 2, f"a user error exits with code 2\n{run}"
    assert len(run.error_lines) == 1, f"the error is exactly one line on stderr\n{run}"
    line = run.error_lines[0]
    assert line.startswith("error: "), f"the line starts with 'error: '\n{run}"
    for fragment in fragments:
        assert fragment in line, f"the message names {fragment!r}\n{run}"


def assert_usage_error(run: Run, *fragments: str) -> None:
    """Typer refused a value before any command code ran: exit 2, its usage error, no trace."""
    assert "Traceback" not in run.stderr, f"no Python traceback reaches the user\n{run}"
    assert run.code == 2, f"a usage error exits with code 2\n{run}"
    assert "Usage: lifecycle" in run.stderr, f"the usage line is printed\n{run}"
    message = plain(run.stderr)
    for fragment in fragments:
        assert fragment in message, f"the message names {fragment!r}\n{run}"


def files_under(folder: Path) -> list[str]:
    """Names of the files below ``folder`` (relative, sorted); empty if it does not exist."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each file's bytes and modification time, to prove a command left them alone."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.glob("*"))}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
