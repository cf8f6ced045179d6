"""README "The stages, one command each" runs literally, in order, from a fresh home.

The block is parsed from README.md, so the README cannot drift from what the commands do. Each
command runs through bash from a folder laid out like a fresh clone (``data/`` and ``.venv/``
of this checkout), with ``.venv/bin`` on PATH as `source .venv/bin/activate` puts it and a
fresh ``LIFECYCLE_HOME``. A comment's ``exit N`` is the exit code it promises (0 when absent)
and each ``"quoted"`` text in it must appear in the command's output. The server line (ending
in ``&``) runs in the background on a free port, is checked on /health, and is stopped by the
README's ``kill %1`` line; the port in the server and curl lines is replaced by the free one.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from features.contract import load_contract

from .pipelines.cli_runner import cli_env

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
HEADING = "## The stages, one command each"
README_PORT = "8000"
COMMAND_TIMEOUT_S = 300
SERVER_START_TIMEOUT_S = 90

#: The whole block on a busy 2-core machine: 440 to 705 s at load average 5 to 7 (~155 s of CPU).
WHOLE_BLOCK_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Step:
    """One command of the block: the shell text, and what its comment promises."""

    command: str
    comment: str
    exit_code: int
    fragments: tuple[str, ...]

    @property
    def background(self) -> bool:
        return self.command.endswith("&")


@dataclass
class Done:
    """What one step printed, for the failure message."""

    step: Step
    code: int | None
    output: str
    seconds: float


@dataclass
class Server:
    """The README's background server, on the test's own port."""

    port: int
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)


def stage_block(readme: str) -> str:
    """The first ```bash block after the heading, as text."""
    after = readme.split(HEADING + "\n", 1)[1]
    match = re.search(r"```bash\n(.*?)```", after, re.DOTALL)
    assert match, f"no ```bash block under {HEADING!r}"
    return match.group(1)


def logical_lines(block: str) -> list[str]:
    """Lines with backslash continuations joined; blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def split_comment(line: str) -> tuple[str, str]:
    """``(command, comment)``: the comment starts at a ``#`` after blank space, outside quotes."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip(), line[index + 1 :].strip()
    return line.strip(), ""


def parse_step(line: str) -> Step:
    command, comment = split_comment(line)
    code = re.match(r"exit (\d+)", comment)
    return Step(
        command=command,
        comment=comment,
        exit_code=int(code.group(1)) if code else 0,
        fragments=tuple(re.findall(r'"([^"]+)"', comment)),
    )


def readme_steps() -> list[Step]:
    return [parse_step(line) for line in logical_lines(stage_block(README.read_text()))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_port(command: str, port: int) -> str:
    """The command with the README's port replaced by the test's."""
    return re.sub(rf"\b{README_PORT}\b", str(port), command)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A folder laid out like a fresh clone: the repository's data and venv, nothing else."""
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("data", ".venv"):
        (work / name).symlink_to(REPO / name)
    return work


def shell_env(work: Path) -> dict[str, str]:
    """The CLI tests' clean environment, a fresh home, and the venv activated."""
    env = cli_env(work / ".lifecycle")
    env["VIRTUAL_ENV"] = str(work / ".venv")
    env["PATH"] = f"{work / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_step(step: Step, work: Path, port: int) -> Done:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", with_port(step.command, port)],
        cwd=work,
        env=shell_env(work),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    return Done(step, done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def start_server(step: Step, work: Path, port: int) -> Server:
    command = with_port(step.command.removesuffix("&").strip(), port)
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=work,
        env=shell_env(work),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return Server(port, process)


def wait_healthy(server: Server) -> float:
    """Seconds until /health answered 200; fails when the server died or never answered."""
    started = time.monotonic()
    while time.monotonic() - started < SERVER_START_TIMEOUT_S:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited with {server.process.returncode}:\n{stop(server)}")
        try:
            if httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"no /health within {SERVER_START_TIMEOUT_S} s:\n{stop(server)}")


def stop(server: Server) -> str:
    """Stop the server's process group (as `kill %1` does) and return what it printed."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        output, _ = server.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        output, _ = server.process.communicate()
    return output


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers a failing test left running are stopped."""
    started: list[Server] = []
    yield started
    for server in started:
        stop(server)


def transcript(done: list[Done]) -> str:
    return "\n".join(
        f"$ {d.step.command}  -> exit {d.code} in {d.seconds:.1f} s\n{d.output}" for d in done
    )


def test_the_block_parses_into_commands_with_promises() -> None:
    steps = readme_steps()
    assert len(steps) >= 10, steps
    assert all(step.comment for step in steps), "every command says what it does"
    assert [s for s in steps if s.background], "the server runs in the background"
    assert any(s.command.startswith("kill %") for s in steps), "the block stops the server"
    assert any(s.exit_code == 1 for s in steps), "the validation gate's exit 1 is shown"
    assert split_comment('a --reason "x # y"   # z "w"') == ('a --reason "x # y"', 'z "w"')


def test_the_sample_requests_and_labels_name_the_same_rows() -> None:
    contract = load_contract(REPO / "data" / "contracts" / "card_fraud.yaml")
    sample = REPO / "data" / "sample"
    requests = json.loads((sample / "requests.json").read_text())
    with (sample / "labels.csv").open(newline="") as handle:
        labels = list(csv.DictReader(handle))
    assert len(requests) == len(labels) == 40, "the README says 40"
    fields = {contract.id_column, *contract.features}
    assert all(set(row) == fields for row in requests), "the id and the features, no more"
    ids = [row[contract.id_column] for row in requests]
    assert ids == [row[contract.id_column] for row in labels], "one label per scored row"
    assert {row[contract.label_column] for row in labels} == {"0", "1"}, "both classes"


@pytest.mark.e2e
@pytest.mark.timeout(WHOLE_BLOCK_TIMEOUT_S)
def test_readme_stage_commands_run_literally(clone: Path, servers: list[Server]) -> None:
    port = free_port()
    done: list[Done] = []
    for step in readme_steps():
        if step.background:
            server = start_server(step, clone, port)
            servers.append(server)
            seconds = wait_healthy(server)
            done.append(Done(step, None, "(running; /health 200)", seconds))
            continue
        if step.command.startswith("kill %"):
            started = time.monotonic()
            server = servers.pop()
            server.log.append(stop(server))
            done.append(Done(step, None, server.log[-1], time.monotonic() - started))
            continue
        result = run_step(step, clone, port)
        done.append(result)
        assert result.code == step.exit_code, f"exit {result.code}\n{transcript(done)}"
        for fragment in step.fragments:
            assert fragment in result.output, f"{fragment!r} not printed\n{transcript(done)}"
    assert not servers, f"the block leaves no server running\n{transcript(done)}"
    timings = ", ".join(f"{d.step.command.split()[1]} {d.seconds:.0f}s" for d in done)
    print(f"README stages: {sum(d.seconds for d in done):.0f} s ({timings})")
