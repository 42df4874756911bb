"""Shapely's vectorised operations, spread over the machine's cores.

GEOS releases Python's lock while it works, so an element-wise operation over
the array of all layers splits into one slice per core at no cost but a thread.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely

from fabserver import forking
from fabserver.forking import LIFELINE_THREAD, children_at_work, only_threads_named

WORKERS = max(1, min(4, os.cpu_count() or 1))
MIN_SPLIT = 32  # fewer elements than this: not worth a thread
# Fewer vertices than this in all (about 2 ms of buffering, a small part's whole
# layer set): the call is made on this thread. Handing slices to the pool and
# waking it costs some 0.1 ms of CPU a call, and a second core, when the machine
# has one free at all, saves less than that on so little work.
MIN_SPLIT_POINTS = 5000
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
    shared = n >= MIN_SPLIT and not _child_at_work() and _points(args) >= MIN_SPLIT_POINTS
    pool = _get_pool() if shared else None
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


def _child_at_work() -> bool:
    """Whether a stage forked by :func:`pieces_in_child` is at work on the other core.

    Meanwhile this process's element-wise calls stay on the calling thread: the two
    cores are this thread's and the child's, and pool threads would only take turns
    with the child, the longer of the two (gap fill beside the regions and the walk:
    on 3DBenchy the walk waited 0.10-0.15 s less for it, the plan 0.08 s shorter).
    """
    return children_at_work() > 0


def _points(args: tuple) -> int:
    """Vertices of the geometry arrays among ``args``: the measure of a call's work."""
    return sum(
        int(shapely.get_num_coordinates(a).sum())
        for a in args
        if isinstance(a, np.ndarray) and a.dtype == object
    )


def pieces_in_child(func: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
    """Start the generator ``func(*args)`` in a forked process; iterate its items here.

    For a stage that is mostly Python and numpy between its GEOS calls (gap fill):
    on a thread it would share the interpreter's lock with the caller's own walk;
    a forked child (:func:`fabserver.forking.pieces_in_child`) reads the same inputs
    on the other core and sends its result back in pieces (gap fill, layer run by
    layer run), so the caller works on the first while the child makes the next.
    Where forking is not safe — no ``fork``, or threads of others in this process
    that a child would copy mid-work (a web server's) — the generator runs on a
    thread; on one core, each piece is made when it is asked for.
    """
    if WORKERS < 2:
        return iter(func(*args))
    if not hasattr(os, "fork") or not _fork_safe():
        return _pieces_on_thread(func, *args)
    return forking.pieces_in_child(func, *args, otherwise=_pieces_on_thread)


def _pieces_on_thread(func: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
    """The items of ``func(*args)``, made ahead on a thread of its own: its GEOS work,
    which releases Python's lock, runs beside the caller's; an exception is raised
    again where it was met."""
    items: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            for item in func(*args):
                items.put((True, item))
            items.put((False, None))
        except BaseException as exc:  # handed to the reader
            items.put((False, exc))

    threading.Thread(target=run, name="geos-background", daemon=True).start()

    def read() -> Iterator[Any]:
        while True:
            ok, item = items.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item

    return read()


# Threads a fork may leave behind: they hold no lock while they wait. The GEOS
# pool's idle workers, and the lifeline of a bounded planning process, blocked
# reading its pipe.
FORK_SAFE_THREADS = ("geos_", LIFELINE_THREAD)


def _fork_safe() -> bool:
    """Whether every other thread of this process is one a fork may leave behind."""
    return only_threads_named(FORK_SAFE_THREADS)


def intersection(a, b):
    return elementwise(shapely.intersection, a, b)


def difference(a, b):
    return elementwise(shapely.difference, a, b)


def union(a, b):
    return elementwise(shapely.union, a, b)


def buffer(a, distance, **kwargs):
    return elementwise(shapely.buffer, a, distance, **kwargs)
