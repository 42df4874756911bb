"""Whether this process may fork a helper now (gap fill, the G-code text), and the
pipes such helpers send their work back through.

A fork copies only the calling thread. A thread that held a lock at that moment (a
web server's, a logger's) would leave it held for ever in the child, so a helper is
forked only when every other thread is one that waits holding nothing: an idle
pool's, or a planning process's lifeline (:data:`LIFELINE_THREAD`, see
:mod:`fabserver.designs.bounded`).
"""

from __future__ import annotations

import threading

LIFELINE_THREAD = "lifeline"
"""The name of the thread a bounded planning process watches its parent with."""


def only_threads_named(prefixes: tuple[str, ...]) -> bool:
    """Whether every thread but the calling one has a name starting with one of ``prefixes``."""
    current = threading.current_thread()
    return all(t is current or t.name.startswith(prefixes) for t in threading.enumerate())


PIPE_BYTES = 1 << 20
"""Bytes a helper's pipe may hold: Linux's default ceiling for an unprivileged process
(``/proc/sys/fs/pipe-max-size``), against the 64 kB a pipe holds by default."""


def widen_pipe(fd: int) -> None:
    """Let the pipe ``fd`` hold :data:`PIPE_BYTES`, where the system allows it: a helper
    then writes its work in a few large pieces and goes on, instead of standing blocked
    on a full pipe until its parent reads. Elsewhere than on Linux, or over the user's
    limit, the pipe keeps its size."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass
