"""Process-level wiring done once at an entry point: Prefect's environment and code lineage.

Prefect reads its settings from the environment when it is first imported, so the CLI calls
:func:`prefect_environment` and applies the result *before* importing any flow module.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pipelines.settings import REPO_ROOT, Settings

#: Packages whose loggers reach the Prefect API in a flow run (serving runs outside flows).
PROJECT_LOGGERS = ("data", "features", "training", "monitoring", "pipelines")


def prefect_environment(settings: Settings, current: Mapping[str, str]) -> dict[str, str]:
    """Environment variables Prefect and MLflow should see, given the current environment.

    By default flows run against Prefect's local ephemeral API with its database under the run
    home. A user's own ``PREFECT_*`` values (e.g. ``PREFECT_API_URL`` of a server) always win.
    """
    defaults = {
        # MLflow would copy this repo's uv.lock into every model; the model states its own
        # requirements (training.registry.pip_requirements), so skip the seconds that costs.
        "MLFLOW_LOG_UV_FILES": "false",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # MLflow's INFO lines (database migrations, environment inference) are not for users.
        "MLFLOW_LOGGING_LEVEL": "ERROR",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",  # we load via features.model_io only
        "PREFECT_HOME": str(settings.paths.prefect),
        # The ephemeral server needs ~12 s to start on 2 busy cores; the 20 s default is tight.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        # No usage telemetry from a laptop demo; it also contends for the SQLite file.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Flow and task runs log at INFO to the Prefect API, so the Prefect UI shows each run's
        # lines (`make prefect-ui`); the project's own loggers go there too while a run is on.
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_LOGGING_TO_API_ENABLED": "true",
        "PREFECT_LOGGING_EXTRA_LOGGERS": ",".join(PROJECT_LOGGERS),
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        # The console stays quiet: our commands print their own progress and turn expected
        # failures into one line, where Prefect would print each task's INFO lines and the
        # traceback of an expected failure. PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=INFO shows
        # them. The root logger's INFO lets the project's loggers (which have no level of
        # their own) reach the API; other libraries' lines still stop at the console handler,
        # e.g. SQLAlchemy's pool racing the local API server's shutdown, which would print a
        # traceback after a command that succeeded.
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_ROOT_LEVEL": "INFO",
    }
    return {key: value for key, value in defaults.items() if key not in current}


@contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs started in this thread within the block send Prefect no heartbeats.

    Heartbeats let a Prefect server notice a crashed flow run. Prefect 3.8 ends every flow run
    by joining its heartbeat thread, which sleeps in 1 s steps: an empty flow run took 1.10 s
    with heartbeats and 0.10 s without. A local API that ends with the command watches no
    runs, so its runs skip them (:func:`pipelines.prefect_server.local_api`); a user's server
    keeps Prefect's setting.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def code_revision(root: Path = REPO_ROOT) -> str:
    """The git commit of the code that runs, with ``-dirty`` if it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head}-dirty" if dirty else head
