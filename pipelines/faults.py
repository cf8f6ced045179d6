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
import socket

FAULT_VARIABLE = "LIFECYCLE_FAULT"


def checkpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``LIFECYCLE_FAULT`` equals ``name``; else return."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def this_process() -> str:
    """``host:pid`` of this process, recorded on work that a crash could leave half done."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(identity: str) -> bool:
    """Whether the process named by :func:`this_process` is known to be dead.

    Only a process on this host can be checked; one elsewhere (or an unreadable identity) is
    not known to be gone, and the caller falls back to the work's age.
    """
    host, _, pid = identity.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False
