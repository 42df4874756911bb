"""Shapely's vectorised operations, spread over the machine's cores.

GEOS releases Python's lock while it works, so an element-wise operation over
the array of all layers splits into one slice per core at no cost but a thread.
"""

from __future__ import annotations

import itertools
import os
import pickle
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


def in_child(func, *args: Any) -> Callable[[], Any]:
    """Start ``func(*args)`` in a forked process; the returned call waits for its result.

    For a stage that is mostly Python and numpy between its GEOS calls (gap fill):
    on a thread it would share the interpreter's lock with the caller's own walk;
    a forked child reads the same inputs (copy-on-write, nothing is copied up
    front) on the other core and sends back only its result, pickled. The result
    is the same as a direct call: should the child fail in any way, the waiting
    call computes it in this process instead (and so raises what a direct call
    raises). Where forking is not safe — no ``fork``, one core, or threads of
    others in this process that a child would copy mid-work (a web server's) —
    it runs on a thread (:func:`in_background`).
    """
    if WORKERS < 2 or not hasattr(os, "fork") or not _fork_safe():
        return in_background(func, *args)
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no room for another process (a bounded planning process's limits)
        os.close(read_fd)
        os.close(write_fd)
        return in_background(func, *args)
    if pid == 0:  # the child: compute, send, leave without the parent's exit handlers
        status = 1
        try:
            os.close(read_fd)
            data = pickle.dumps(func(*args), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return _ChildResult(pid, read_fd, func, args)


class _ChildResult:
    """The waiting call of :func:`in_child`; reaps the child even when never called."""

    def __init__(self, pid: int, read_fd: int, func: Callable[..., Any], args: tuple) -> None:
        self._pid, self._fd, self._func, self._args = pid, read_fd, func, args

    def __call__(self) -> Any:
        chunks = []
        with os.fdopen(self._fd, "rb") as src:
            self._fd = -1
            while chunk := src.read(1 << 20):
                chunks.append(chunk)
        _, status = os.waitpid(self._pid, 0)
        self._pid = -1
        if status == 0:
            try:
                return pickle.loads(b"".join(chunks))
            except Exception:  # a torn result: computed again below
                pass
        return self._func(*self._args)

    def __del__(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        if self._pid > 0:
            try:
                os.kill(self._pid, 9)
                os.waitpid(self._pid, 0)
            except OSError:
                pass


# Threads a fork may leave behind: they hold no lock while they wait. The GEOS
# pool's idle workers, and the lifeline of a bounded planning process
# (``fabserver.designs.bounded``), blocked reading its pipe.
FORK_SAFE_THREADS = ("geos_", "lifeline")


def _fork_safe() -> bool:
    """Whether every other thread of this process is one a fork may leave behind."""
    current = threading.current_thread()
    return all(t is current or t.name.startswith(FORK_SAFE_THREADS) for t in threading.enumerate())


def intersection(a, b):
    return elementwise(shapely.intersection, a, b)


def difference(a, b):
    return elementwise(shapely.difference, a, b)


def union(a, b):
    return elementwise(shapely.union, a, b)


def buffer(a, distance, **kwargs):
    return elementwise(shapely.buffer, a, distance, **kwargs)
