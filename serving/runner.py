"""Run an ASGI app in a real uvicorn server on a background thread, for tests and the demo.

``with run_in_thread(app) as base_url:`` starts uvicorn on a free loopback port, waits until it
accepts connections (the app's lifespan startup has run, so the model is loaded if there is
one), yields ``http://127.0.0.1:<port>``, and on exit asks the server to stop and waits for the
lifespan shutdown (which flushes the prediction log).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class ServerStartError(RuntimeError):
    """The server thread ended or timed out before accepting connections."""


def _bound_port(server: uvicorn.Server) -> int:
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets or []:
            return int(sock.getsockname()[1])
    raise ServerStartError("uvicorn reports started but has no listening socket")


@contextlib.contextmanager
def run_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 60.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a daemon thread for the duration of the ``with`` block.

    Args:
        app: The ASGI app (e.g. from :func:`serving.app.create_app`).
        host: Interface to bind; loopback by default.
        port: Port to bind; 0 picks a free one.
        startup_timeout: Seconds to wait for startup (lifespan included) before giving up.
        log_level: uvicorn's log level; access logs are off.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:54321``.

    Raises:
        ServerStartError: The server failed to start (port taken, lifespan error) or timed out.
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run()
        except BaseException as exc:  # SystemExit on startup failure included
            failure.append(exc)

    thread = threading.Thread(target=serve, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            reason = f": {failure[0]!r}" if failure else ""
            raise ServerStartError(f"uvicorn stopped during startup{reason}")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(10)
            raise ServerStartError(f"uvicorn did not start within {startup_timeout:g} s")
        time.sleep(0.01)
    try:
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{_bound_port(server)}"
    finally:
        server.should_exit = True
        thread.join(30)
