"""After a kill -9 of a `lifecycle` command, no process of the project is left.

Each command runs with its own local Prefect API (no ``PREFECT_API_URL``), as a user's does, and
is killed with SIGKILL by the fault hook once its flow is running. Every process that carries the
test's home in its environment (the command's children inherit it) must then be gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from data.batches import write_batches
from data.generator import DEFAULT_START
from data.usecases import use_case
from pipelines.audit import read_decisions
from pipelines.prefect_server import local_api
from pipelines.settings import load_settings
from tests.pipelines.cli_runner import cli_env, killed_at

PROC = Path("/proc")
#: The local API gets SIGTERM the moment its parent dies; it stops within a few seconds.
SETTLE_SECONDS = 20.0

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds processes through /proc (Linux only)"
)


def processes_of(home: Path) -> dict[int, str]:
    """PID → command line of every process whose environment names ``home`` as its home."""
    marker = f"LIFECYCLE_HOME={home}".encode()
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return {pid: command.decode(errors="replace") for pid, command in found.items()}


def left_after(home: Path, deadline: float) -> dict[int, str]:
    """The home's processes still alive at ``deadline`` (checked until then, or until none)."""
    left = processes_of(home)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = processes_of(home)
    return left


@pytest.fixture(scope="module")
def raw_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two weeks of raw batches, not validated yet."""
    home = tmp_path_factory.mktemp("orphans")
    case = use_case("card_fraud")
    days = 14
    write_batches(
        (
            (
                DEFAULT_START + timedelta(days=i),
                case.generate_day(i, "none", seed=9, days=days, rows=200),
            )
            for i in range(days)
        ),
        load_settings(home=home).paths.raw,
    )
    return home


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "fault"),
    [
        (("validate",), "validate:after_batch"),
        (("demo", "--days", "20"), "train:after_run_started"),
    ],
    ids=["validate", "demo"],
)
def test_kill_9_leaves_no_process_behind(
    args: tuple[str, ...], fault: str, raw_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(raw_home, home)
    assert "PREFECT_API_URL" not in cli_env(home), "the command starts its own local API"
    killed = killed_at(home, fault, *args)
    assert killed.code == -signal.SIGKILL, f"killed at {fault}\n{killed}"
    assert (home / "prefect" / "local-api.log").exists(), "a local API was started"
    left = left_after(home, time.monotonic() + SETTLE_SECONDS)
    assert left == {}, f"processes outlived the killed `lifecycle {args[0]}`: {left}"
    if args[0] == "validate":  # killed right after the first batch was filed
        records = read_decisions(load_settings(home=home).paths.audit_log)
        assert [r["kind"] for r in records] == ["batch_passed"], "its verdict was not lost"


def test_a_users_prefect_server_is_used_as_it_is(tmp_path: Path) -> None:
    url = "http://prefect.example:4200/api"
    with local_api(tmp_path, {"PREFECT_API_URL": url}) as used:
        assert used == url, "nothing is started when a server is named"
    assert not (tmp_path / "local-api.log").exists(), "no local API was started"


def test_work_given_as_meanwhile_runs_while_the_local_api_boots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    seen: list[tuple[str | None, bool]] = []

    def record() -> None:
        booting = not (tmp_path / "local-api.log").read_bytes()  # nothing logged yet
        seen.append((os.environ.get("PREFECT_API_URL"), booting))

    with local_api(tmp_path, dict(os.environ), meanwhile=record) as url:
        assert seen == [(url, True)], "it ran once, with the API's URL exported, before ready"
    assert "PREFECT_API_URL" not in os.environ


def test_flow_runs_on_the_local_api_alone_skip_heartbeats(tmp_path: Path) -> None:
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    def heartbeat() -> int | None:
        return get_current_settings().flows.heartbeat_frequency

    users = {"PREFECT_API_URL": "http://prefect.example:4200/api"}
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        with local_api(tmp_path / "theirs", users):
            assert heartbeat() == 180, "a user's server keeps Prefect's setting"
        environ = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        with local_api(tmp_path / "ours", environ):
            assert heartbeat() is None, "nothing watches the runs of an API that ends with us"
        assert heartbeat() == 180
