"""Shapely's vectorised operations, spread over the machine's cores.

GEOS releases Python's lock while it works, so an element-wise operation over
the array of all layers splits into one slice per core at no cost but a thread.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely

WORKERS = max(1, min(4, os.cpu_count() or 1))
MIN_SPLIT = 32  # fewer elements than this: not worth a thread
SLICES_PER_WORKER = 4
_pool: ThreadPoolExecutor | None = None
_pool_pid = -1
_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor | None:
    """The process's pool, made on first use (a pool inherited through fork has no threads)."""
    global _pool, _pool_pid
    if WORKERS < 2:
        return None
    with _pool_lock:  # gap fill's thread and the caller's may ask at once
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="geos")
            _pool_pid = os.getpid()
        return _pool


def elementwise(func, *args: Any, **kwargs: Any) -> np.ndarray:
    """``func(*args, **kwargs)`` with every (n,) array argument cut into one slice per core."""
    n = max((len(a) for a in args if isinstance(a, np.ndarray) and a.ndim == 1), default=0)
    pool = _get_pool() if n >= MIN_SPLIT else None
    if pool is None:
        return func(*args, **kwargs)
    # Several slices per core: layers differ a lot in cost (a hull's layers against
    # a chimney's), and a core that finishes early takes the next slice.
    pieces = min(WORKERS * SLICES_PER_WORKER, max(WORKERS, n // MIN_SPLIT))
    bounds = np.linspace(0, n, pieces + 1).astype(int)

    def part(lo: int, hi: int) -> np.ndarray:
        sliced = [
            a[lo:hi] if isinstance(a, np.ndarray) and a.ndim == 1 and len(a) == n else a
            for a in args
        ]
        return func(*sliced, **kwargs)

    futures = [pool.submit(part, lo, hi) for lo, hi in itertools.pairwise(bounds)]
    return np.concatenate([f.result() for f in futures])


def in_background(func, *args: Any) -> Callable[[], Any]:
    """Start ``func(*args)`` on a thread of its own; the returned call waits for its result.

    For a stage whose inputs are ready long before its output is needed (gap fill,
    from the regions, while the infill is laid out): its GEOS work, which releases
    Python's lock, runs beside the caller's. The result is the same as a direct
    call; an exception is raised again by the waiting call.
    """
    if WORKERS < 2:
        value = func(*args)
        return lambda: value
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["value"] = func(*args)
        except BaseException as exc:  # handed to the waiting caller
            done["error"] = exc

    thread = threading.Thread(target=run, name="geos-background", daemon=True)
    thread.start()

    def wait() -> Any:
        thread.join()
        if "error" in done:
            raise done["error"]
        return done["value"]

    return wait


def intersection(a, b):
    return elementwise(shapely.intersection, a, b)


def difference(a, b):
    return elementwise(shapely.difference, a, b)


def union(a, b):
    return elementwise(shapely.union, a, b)


def buffer(a, distance, **kwargs):
    return elementwise(shapely.buffer, a, distance, **kwargs)
