"""Prefect's local API for one command, as a child process that cannot outlive the command.

Left to itself, Prefect starts a temporary API server (uvicorn in a child process) on first use
and stops it at exit. A ``kill -9`` of the command skips that exit, and the server lives on,
reparented to PID 1, holding ~190 MB and the home's SQLite file. This module starts the same
server itself, so that it ends with its parent however the parent ends:

- on Linux the kernel delivers SIGTERM to the server the moment its parent dies
  (``PR_SET_PDEATHSIG``, set in the child before it runs any code);
- everywhere, a watchdog thread in the server notices that its parent changed and stops it,
  killing it outright if a graceful stop takes longer than :data:`GRACE_SECONDS`.

A user's own ``PREFECT_API_URL`` (a Prefect server) is used as it is: nothing is started.
Run as ``python -m pipelines.prefect_server --port P --parent PID`` only by :func:`local_api`.

``python -m pipelines.prefect_server ui --prefect-home HOME/prefect`` (``make prefect-ui``) is
the other way in: Prefect's own server with its UI on the same database, to browse the runs,
their logs and artifacts after the commands have ended.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

API_URL_VARIABLE: Final = "PREFECT_API_URL"
STARTUP_TIMEOUT_VARIABLE: Final = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
DEFAULT_STARTUP_SECONDS: Final = 120.0
#: How long the server may take to stop once its parent is gone before it is killed.
GRACE_SECONDS: Final = 10.0
WATCH_INTERVAL_SECONDS: Final = 0.5
LOG_FILE_NAME: Final = "local-api.log"
# The environment Prefect gives its own temporary server: no UI, ephemeral mode. Its log is a
# file of warnings and errors: the console handler, silenced for the commands
# (pipelines.runtime), writes it again, from WARNING as Python's default root level has it.
SERVER_ENVIRONMENT: Final = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
}
UI_HOST: Final = "127.0.0.1"
UI_PORT: Final = 4200
_PR_SET_PDEATHSIG: Final = 1


class LocalApiError(RuntimeError):
    """Prefect's local API did not come up; the message says where its log is."""


@contextlib.contextmanager
def local_api(
    prefect_home: Path,
    environ: Mapping[str, str] = os.environ,
    meanwhile: Callable[[], object] | None = None,
) -> Iterator[str]:
    """Make sure flows have a Prefect API for the duration of the block; yield its URL.

    With ``PREFECT_API_URL`` set, that server is used and nothing is started. Otherwise a local
    server is started on a free port with its database under ``prefect_home``, exported as
    ``PREFECT_API_URL`` for this process (before Prefect is imported, since Prefect reads its
    settings once), and stopped when the block ends; flow runs in this thread send it no
    heartbeats (:func:`pipelines.runtime.without_heartbeats`). ``meanwhile`` runs while it boots
    in its own process (e.g. the command's heavy imports), so the two overlap.

    Raises:
        LocalApiError: The server exited or did not answer within the startup timeout.
    """
    existing = environ.get(API_URL_VARIABLE)
    if existing:
        if meanwhile is not None:
            meanwhile()
        yield existing
        return
    prefect_home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log_path = prefect_home / LOG_FILE_NAME
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, "--port", str(port), "--parent", str(os.getpid())],
            env={**environ, **SERVER_ENVIRONMENT},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    try:
        os.environ[API_URL_VARIABLE] = url
        if meanwhile is not None:
            meanwhile()
        _wait_until_healthy(process, url, _startup_seconds(environ), log_path)
        from pipelines.runtime import without_heartbeats  # imports Prefect: after the URL is set

        with without_heartbeats():  # nothing watches the runs of an API that ends with us
            yield url
    finally:
        _send_queued_logs()
        os.environ.pop(API_URL_VARIABLE, None)
        _stop(process)


def _send_queued_logs(timeout: float = 5.0) -> None:
    """Send the run logs still queued for the API before it stops.

    Prefect ships logs from a background worker; once the server is gone, each queued batch
    would print "Error logging to API" after a command that succeeded.
    """
    handlers = sys.modules.get("prefect.logging.handlers")
    if handlers is not None:
        handlers.APILogWorker.drain_all(timeout=timeout)


def _startup_seconds(environ: Mapping[str, str]) -> float:
    """Prefect's own startup-timeout setting, so one variable governs both servers."""
    try:
        return float(environ.get(STARTUP_TIMEOUT_VARIABLE, DEFAULT_STARTUP_SECONDS))
    except ValueError:
        return DEFAULT_STARTUP_SECONDS


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to send SIGTERM when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalApiError(
                f"Prefect's local API exited with code {process.returncode} while starting; "
                f"its log: {log_path}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    _stop(process)
    raise LocalApiError(
        f"Prefect's local API did not answer within {timeout:g} s (raise "
        f"{STARTUP_TIMEOUT_VARIABLE} on a slow machine); its log: {log_path}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --------------------------------------------------------------------------- the server side


def _watch_parent(parent: int) -> None:
    """Stop this server once ``parent`` is gone: SIGTERM first, then a hard exit."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    os._exit(1)


def _serve(port: int, parent: int) -> None:
    import uvicorn

    if os.getppid() != parent:  # the parent died before this process got going
        return
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
    )


def ui_environment(
    prefect_home: Path, host: str, port: int, environ: Mapping[str, str]
) -> dict[str, str]:
    """The environment of a Prefect server with its UI on the database under ``prefect_home``.

    The browser is pointed at this server (``PREFECT_UI_API_URL``); a ``PREFECT_API_URL`` of
    the caller's, which the UI would call instead, is dropped.
    """
    environment = {key: value for key, value in environ.items() if key != API_URL_VARIABLE}
    return {
        **environment,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_UI_ENABLED": "1",
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


def serve_ui(prefect_home: Path, host: str = UI_HOST, port: int = UI_PORT) -> None:
    """Replace this process with ``prefect server start`` on the home's database, UI included."""
    prefect_home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", host, "--port", str(port)]
    print(f"Prefect UI on http://{host}:{port} (database under {prefect_home})", flush=True)
    os.execve(sys.executable, command, ui_environment(prefect_home, host, port, os.environ))


def main(argv: list[str] | None = None) -> None:
    """Run the local API server (the child side of :func:`local_api`), or ``ui``."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["ui"]:
        ui = argparse.ArgumentParser(prog="python -m pipelines.prefect_server ui")
        ui.add_argument(
            "--prefect-home", type=Path, required=True, help="the run home's prefect folder"
        )
        ui.add_argument("--host", default=UI_HOST)
        ui.add_argument("--port", type=int, default=UI_PORT)
        options = ui.parse_args(arguments[1:])
        serve_ui(options.prefect_home, options.host, options.port)
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True, help="stop when this PID is gone")
    args = parser.parse_args(arguments)
    _serve(args.port, args.parent)


if __name__ == "__main__":
    main()
