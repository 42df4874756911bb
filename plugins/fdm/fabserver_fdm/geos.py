"""Shapely's vectorised operations, spread over the machine's cores.

GEOS releases Python's lock while it works, so an element-wise operation over
the array of all layers splits into one slice per core at no cost but a thread.
"""

from __future__ import annotations

import itertools
import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely

from fabserver.forking import LIFELINE_THREAD, only_threads_named, widen_pipe

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


_children_at_work = 0  # forked by pieces_in_child and not yet reaped
_children_lock = threading.Lock()


def _count_child(change: int) -> None:
    global _children_at_work
    with _children_lock:
        _children_at_work += change


def _forget_children() -> None:
    """In a forked child: its parent's children are not its own."""
    global _children_at_work, _children_lock
    _children_at_work = 0
    _children_lock = threading.Lock()


def _child_at_work() -> bool:
    """Whether a stage forked by :func:`pieces_in_child` is at work on the other core.

    Meanwhile this process's element-wise calls stay on the calling thread: the two
    cores are this thread's and the child's, and pool threads would only take turns
    with the child, the longer of the two (gap fill beside the regions and the walk:
    on 3DBenchy the walk waited 0.10-0.15 s less for it, the plan 0.08 s shorter).
    """
    return _children_at_work > 0


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
    a forked child reads the same inputs (copy-on-write, nothing is copied up
    front) on the other core. Its result comes in pieces (gap fill, layer run by
    layer run): each piece is sent back pickled as soon as it is made, so the
    caller works on the first while the child makes the next. The items are those
    of a direct call: should the child fail in any way, the rest are made in this
    process (the call again, the items already received skipped), so an error of
    the stage is raised here. Where forking is not safe — no ``fork``, or threads
    of others in this process that a child would copy mid-work (a web server's) —
    the generator runs on a thread.
    """
    if WORKERS < 2:  # one core: each piece made when it is asked for
        return iter(func(*args))
    if not hasattr(os, "fork") or not _fork_safe():
        return _pieces_on_thread(func, *args)
    read_fd, write_fd = os.pipe()
    # Before the child can write: a run of 3DBenchy's gap fill pickles to about 400 kB,
    # and the child goes on with the next runs (on 3DBenchy it stood blocked through
    # the rest of the regions and the walk's set-up with the default 64 kB).
    widen_pipe(read_fd)
    try:
        pid = os.fork()
    except OSError:  # no room for another process (a bounded planning process's limits)
        os.close(read_fd)
        os.close(write_fd)
        return _pieces_on_thread(func, *args)
    if pid == 0:  # the child: compute, send piece by piece, leave without exit handlers
        status = 1
        try:
            _forget_children()
            os.close(read_fd)
            with os.fdopen(write_fd, "wb") as out:
                for item in func(*args):
                    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
                    out.write(len(data).to_bytes(8, "little"))
                    out.write(data)
                    out.flush()
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    _count_child(+1)
    return _ChildPieces(pid, read_fd, func, args)


class _ChildPieces:
    """The items of :func:`pieces_in_child`; reaps the child even when not read to the end."""

    def __init__(self, pid: int, read_fd: int, func: Callable[..., Any], args: tuple) -> None:
        self._pid, self._func, self._args = pid, func, args
        self._src = os.fdopen(read_fd, "rb")
        self._received = 0
        self._rest: Iterator[Any] | None = None  # made here, after a failed child

    def __iter__(self) -> _ChildPieces:
        return self

    def __next__(self) -> Any:
        if self._src is not None:
            item = self._read()
            if item is not _END:
                self._received += 1
                return item
        if self._rest is None:  # the child sent everything
            raise StopIteration
        return next(self._rest)

    def _read(self) -> Any:
        """The child's next item; at its end or on a failure, reaps it and returns _END
        (after a failure, with the rest to be made here in ``_rest``)."""
        head = self._src.read(8)
        if len(head) == 8:
            size = int.from_bytes(head, "little")
            data = self._src.read(size)
            if len(data) == size:
                try:
                    return pickle.loads(data)
                except Exception:  # a torn piece: made again below
                    pass
        self._src.close()
        self._src = None
        _, status = os.waitpid(self._pid, 0)
        self._pid = -1
        _count_child(-1)
        if status != 0 or head:  # died, or stopped mid-piece: the rest is made here
            self._rest = itertools.islice(self._func(*self._args), self._received, None)
        return _END

    def __del__(self) -> None:
        if self._src is not None:
            self._src.close()
        if self._pid > 0:
            self._pid, pid = -1, self._pid
            _count_child(-1)
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass


_END = object()


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
