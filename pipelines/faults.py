"""Fault injection: named points where a test can kill the process, to prove crash safety.

A step that changes two stores calls ``checkpoint("<flow>:after_<step>")`` between its writes.
When ``LIFECYCLE_FAULT`` names that point, the process dies there at once with SIGKILL: no
``finally``, no atexit, no flush, exactly as a power cut or an OOM kill would leave it. The tests
then re-run the command and check that the interrupted change is finished. Unset (always, in
normal use), a checkpoint does nothing.
"""

from __future__ import annotations

import os
import signal

FAULT_VARIABLE = "LIFECYCLE_FAULT"


def checkpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``LIFECYCLE_FAULT`` equals ``name``; else return."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
