"""Run untrusted work in a child process bounded in memory, CPU, written bytes and time.

An upload is untrusted: a crafted SVG or a 10-million-triangle STL must not
stall or starve the server, and neither may a plan that a 684-byte file can
make run for minutes. :func:`start_bounded` starts a child under ``RLIMIT_AS``
(memory), ``RLIMIT_CPU`` (a backstop to the parent's wall-clock timeout) and
optionally ``RLIMIT_FSIZE`` (output size) at a lower scheduling priority; the
parent reads its answers from a pipe and kills it when it must. The same pipe
is the child's lifeline: when the parent goes away (killed, crashed), the
child ends instead of working for nobody.

:func:`load_design_bounded` is the design loader run that way; the planning
processes (``fabserver.jobs.planner``) are the other user.

Children are started by a *forkserver*: forking the web server itself (with
its threads and open sockets) is unsafe, and a fresh interpreter per upload
would pay the imports each time.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import DesignError
from ..forking import LIFELINE_THREAD
from ..i18n import Text
from .loader import DEFAULT_TOLERANCE_MM, MAX_BYTES, design_error, load_design, too_complex
from .types import Design

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 2048

# "__main__" first: the forkserver imports the main script once, so a child does
# not import it again (as ``__mp_main__``) for every upload.
_PRELOAD = ["__main__", "fabserver.designs.loader", "fabserver.designs.stl",
            "fabserver.designs.svg", "fabserver.designs.dxf", "fabserver.planning",
            "fabserver.preview"]  # fmt: skip


def preload(modules: list[str]) -> None:
    """Import ``modules`` once in the forkserver (e.g. the machine plugins), so a child
    does not pay their imports; effective when called before the first child starts."""
    for name in modules:
        if name not in _PRELOAD:
            _PRELOAD.append(name)


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux") or sys.platform == "darwin":
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _address_space_bytes() -> int:
    """Current virtual size of this process (``/proc``; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


@dataclass(frozen=True)
class Bounds:
    """What a child may use: memory on top of what it maps at start, CPU seconds,
    bytes per written file (None: no limit), and how much lower its priority is."""

    memory_mb: int = DEFAULT_MEMORY_MB
    cpu_s: int = int(DEFAULT_TIMEOUT_S) + 1
    file_mb: float | None = None
    nice: int = 0


def _apply(bounds: Bounds) -> None:
    # The limit is on top of what the interpreter and its libraries already map,
    # so ``memory_mb`` means "memory the work may take", whatever numpy maps.
    limit = _address_space_bytes() + bounds.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (bounds.cpu_s, bounds.cpu_s + 1))
    if bounds.file_mb is not None:
        size = max(1, int(bounds.file_mb * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        # A write past the limit then fails with EFBIG instead of killing the child.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if bounds.nice:
        os.nice(bounds.nice)


def _lifeline(conn: multiprocessing.connection.Connection) -> None:
    """End the child when the parent closes the pipe or dies (it never writes to it)."""
    with contextlib.suppress(EOFError, OSError):
        conn.recv()
    os._exit(70)


def _bounded_main(
    conn: multiprocessing.connection.Connection,
    bounds: Bounds,
    target: Callable[..., None],
    args: tuple[Any, ...],
) -> None:
    _apply(bounds)
    threading.Thread(target=_lifeline, args=(conn,), name=LIFELINE_THREAD, daemon=True).start()
    try:
        target(conn, *args)
    finally:
        conn.close()


def start_bounded(
    target: Callable[..., None], args: tuple[Any, ...], bounds: Bounds
) -> tuple[multiprocessing.process.BaseProcess, multiprocessing.connection.Connection]:
    """Start ``target(conn, *args)`` in a bounded child; return it and the parent's end.

    ``target`` must be a module-level function (it is sent by name) and sends its
    answers on ``conn``. Close the returned connection to end the child.
    """
    ctx = _context()
    parent_end, child_end = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_bounded_main, args=(child_end, bounds, target, args), daemon=True)
    process.start()
    child_end.close()
    return process, parent_end


def stop_child(
    process: multiprocessing.process.BaseProcess, conn: multiprocessing.connection.Connection
) -> None:
    """Close the pipe, kill the child if it still runs, and reap it."""
    conn.close()
    if process.is_alive():
        process.kill()
    process.join(timeout=5)


def _load_child(
    conn: multiprocessing.connection.Connection, data: bytes, name: str, options: dict
) -> None:
    try:
        design = load_design(data, name, **options)
        conn.send(("ok", design))
    except DesignError as exc:
        conn.send(("error", (exc.message.fr, exc.message.en, exc.detail)))
    except MemoryError:
        conn.send(("error", None))
    except BaseException as exc:  # never a traceback for the maker
        conn.send(("error", (None, None, repr(exc))))


def load_design_bounded(
    data: bytes,
    name: str = "",
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    max_bytes: int = MAX_BYTES,
    tolerance_mm: float = DEFAULT_TOLERANCE_MM,
) -> Design:
    """:func:`.loader.load_design` in a child process, within ``timeout_s`` and ``memory_mb``.

    Raises :class:`DesignError` for an unreadable file, and the "too complex"
    one when the child runs out of time or memory or dies.
    """
    if len(data) > max_bytes:  # refuse before copying the bytes to a child
        return load_design(data, name, max_bytes=max_bytes)
    options = {"max_bytes": max_bytes, "tolerance_mm": tolerance_mm}
    bounds = Bounds(memory_mb=memory_mb, cpu_s=max(1, int(timeout_s) + 1))
    process, receiver = start_bounded(_load_child, (data, name, options), bounds)
    try:
        if not receiver.poll(timeout_s):
            raise too_complex(detail=f"no answer within {timeout_s} s")
        try:
            status, payload = receiver.recv()
        except (EOFError, OSError) as exc:  # the child died: killed by a limit
            raise too_complex(detail=f"child ended without an answer: {exc!r}") from None
    finally:
        stop_child(process, receiver)
    if status == "ok":
        return payload
    if payload is None:
        raise too_complex(detail="MemoryError in the child")
    fr, en, detail = payload
    if fr is None:
        raise design_error(
            "Ce fichier n'a pas pu être lu. Exportez-le à nouveau depuis votre logiciel ; si le"
            " problème persiste, montrez-le à l'équipe du fablab.",
            "This file could not be read. Export it again from your software; if the problem"
            " persists, show it to the fablab staff.",
            detail=detail,
        )
    raise DesignError(Text(fr, en), detail=detail)
