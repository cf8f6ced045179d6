"""Wiring between the project's settings and the serving app (which never sees the settings).

One worker (the default) serves an app built here in the CLI's process. Several workers
(``lifecycle serve --workers N``, :func:`run_workers`) are processes that uvicorn spawns, each
building its own app with :func:`worker_app` from the settings the CLI resolved (handed over in
the environment): each worker loads, smoke-tests and polls the champion itself, batches its own
requests and appends to the shared prediction log: the files under the home (see
:func:`serving.log_store.append_lines`), or the PostgreSQL tables of ``log_database_url`` that
every replica shares (:func:`log_store`). ``/metrics`` covers every worker through
prometheus-client's multiprocess mode, in a fresh folder per start:
``<home>/serving/metrics-<pid>`` (see :func:`multiprocess_metrics`).

What stays per worker: the ids a worker remembers having scored (``matched`` in the answer to
``POST /v1/labels`` counts only the ids scored by the worker that took the labels) and each
worker's moment of swapping to a new champion (each polls on its own clock, so for up to
``poll_seconds`` two workers may answer with different versions; each answer names its version).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from features.contract import DatasetContract, load_contract
from pipelines.settings import Settings, load_settings
from serving.config import ServingConfig
from serving.log_store import LogStore, open_log_store

if TYPE_CHECKING:
    from fastapi import FastAPI

# Not LIFECYCLE_*: the settings refuse unknown variables of their own prefix.
WORKER_SETTINGS_VARIABLE = "_LIFECYCLE_SERVE_WORKER_SETTINGS"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client at import
WORKER_APP = "pipelines.serve:worker_app"


def serving_config(
    settings: Settings,
    contract: DatasetContract | None = None,
    *,
    poll_seconds: float | None = None,
) -> ServingConfig:
    """The app's configuration: registry, contract, log folders and the serving section.

    ``poll_seconds`` overrides the section's alias-polling period (the demo polls faster).
    """
    section = settings.serving
    if poll_seconds is not None:
        section = section.model_copy(update={"poll_seconds": poll_seconds})
    return ServingConfig(
        tracking_uri=settings.resolved_tracking_uri,
        contract=contract or load_contract(settings.contract),
        predictions_dir=settings.paths.predictions,
        labels_dir=settings.paths.labels,
        settings=section,
    )


def log_store(settings: Settings, contract: DatasetContract | None = None) -> LogStore:
    """Where the prediction and label logs are: PostgreSQL with ``log_database_url``, else files.

    The files are ``settings.paths.predictions`` and ``settings.paths.labels``; ``contract``
    defaults to the settings' (loaded from its file). Nothing is contacted until first use;
    close the store when done.
    """
    return open_log_store(
        settings.log_database_url,
        settings.paths.predictions,
        settings.paths.labels,
        contract or load_contract(settings.contract),
    )


def worker_app() -> FastAPI:
    """App factory of one worker process: settings as the CLI resolved them, then the app.

    Raises:
        RuntimeError: Called outside a server started by :func:`run_workers`.
    """
    from serving.app import create_app

    given = os.environ.get(WORKER_SETTINGS_VARIABLE)
    if given is None:
        raise RuntimeError(f"{WORKER_APP} runs only in workers started by `lifecycle serve`")
    flags = json.loads(given)
    config = flags.pop("config")
    settings = load_settings(config=Path(config) if config else None, **flags)
    serving = serving_config(settings)
    return create_app(serving, log_store=log_store(settings, serving.contract), freeze_heap=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def multiprocess_metrics(home: Path) -> Iterator[Path]:
    """A fresh, empty ``<home>/serving/metrics-<pid>`` as ``PROMETHEUS_MULTIPROC_DIR``.

    Folders left by servers that died without cleaning up (their pid is gone) are removed
    first; this one is removed, and the variable restored, on exit.
    """
    base = home / "serving"
    base.mkdir(parents=True, exist_ok=True)
    for stale in base.glob("metrics-*"):
        suffix = stale.name.removeprefix("metrics-")
        if suffix.isdigit() and not _pid_alive(int(suffix)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = base / f"metrics-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    previous = os.environ.get(MULTIPROC_DIR_VARIABLE)
    os.environ[MULTIPROC_DIR_VARIABLE] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_DIR_VARIABLE, None)
        else:
            os.environ[MULTIPROC_DIR_VARIABLE] = previous
        shutil.rmtree(folder, ignore_errors=True)


def run_workers(
    settings: Settings,
    config_file: Path | None,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
) -> None:
    """Serve with ``workers`` uvicorn worker processes until interrupted (blocks).

    Each worker rebuilds the same settings (home, contract, config file; the environment is
    inherited) and its own app; the metrics folder is set before any worker starts, so each
    imports prometheus-client in multiprocess mode.
    """
    import uvicorn

    flags = {
        "home": str(settings.home),
        "contract": str(settings.contract),
        "config": str(config_file.expanduser().resolve()) if config_file else None,
    }
    with multiprocess_metrics(settings.home):
        os.environ[WORKER_SETTINGS_VARIABLE] = json.dumps(flags)
        try:
            uvicorn.run(
                WORKER_APP,
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                access_log=settings.serving.access_log,
            )
        finally:
            os.environ.pop(WORKER_SETTINGS_VARIABLE, None)
