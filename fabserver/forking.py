"""Whether this process may fork a helper now (gap fill, the G-code text).

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
