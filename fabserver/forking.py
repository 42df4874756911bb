"""Work in a forked child: whether a fork is safe now, and results streamed back from one.

A fork copies only the calling thread. A thread that held a lock at that moment (a
web server's, a logger's) would leave it held for ever in the child, so a helper is
forked only when every other thread is one that waits holding nothing: an idle
pool's, or a planning process's lifeline (:data:`LIFELINE_THREAD`, see
:mod:`fabserver.designs.bounded`).

:func:`pieces_in_child` runs a generator in a forked child and hands its items back
one by one: a forked child reads the caller's data as it is (copy-on-write, nothing
copied up front) and works on the other core without sharing the interpreter's lock.
FDM gap fill runs that way beside the regions, and ``fabserver plan`` reads its
design while the planning code is imported.
"""

from __future__ import annotations

import itertools
import os
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any

LIFELINE_THREAD = "lifeline"
"""The name of the thread a bounded planning process watches its parent with."""


def only_threads_named(prefixes: tuple[str, ...]) -> bool:
    """Whether every thread but the calling one has a name starting with one of ``prefixes``."""
    current = threading.current_thread()
    return all(t is current or t.name.startswith(prefixes) for t in threading.enumerate())


def pieces_in_child(
    func: Callable[..., Iterator[Any]],
    *args: Any,
    otherwise: Callable[..., Iterator[Any]] | None = None,
) -> Iterator[Any]:
    """The items of the generator ``func(*args)``, made in a forked child.

    Each item is sent back pickled as soon as it is made, so the caller works on
    the first while the child makes the next. The items are those of a direct
    call: should the child fail in any way, the rest are made in this process
    (the call again, the items already received skipped), so an error of the
    stage is raised here. The caller checks that forking is safe
    (:func:`only_threads_named`); where the system cannot fork, the items come
    from ``otherwise(func, *args)`` (by default the call itself, in this process).
    """
    read_fd, write_fd = os.pipe()
    _widen_pipe(read_fd)  # before the child can write
    try:
        pid = os.fork()
    except OSError:  # no fork here, or no room for another process (a bounded plan's limits)
        os.close(read_fd)
        os.close(write_fd)
        return (otherwise or _here)(func, *args)
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


def _here(func: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
    return iter(func(*args))


def children_at_work() -> int:
    """Children of :func:`pieces_in_child` not reaped yet: at work on another core."""
    return _children_at_work


_children_at_work = 0
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


# Bytes a pipe may hold: Linux's default ceiling for an unprivileged process
# (/proc/sys/fs/pipe-max-size). A run of 3DBenchy's gap fill pickles to about
# 400 kB against the 64 kB a pipe holds by default.
PIPE_BYTES = 1 << 20


def _widen_pipe(fd: int) -> None:
    """Let the pipe hold ``PIPE_BYTES``, where the system allows it: the child then
    goes on with its next pieces instead of standing blocked on a full pipe until
    the caller asks for this one (on 3DBenchy gap fill stood through the rest of
    the regions and the walk's set-up). A thread reading the pipe ahead did as well
    but held the pieces in a heap of its own: 1–2 MiB more at the plan's peak."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or over the user's limit
        pass


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
