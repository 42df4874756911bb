"""Load a design in a child process bounded in time and memory.

An upload is untrusted: a crafted SVG or a 10-million-triangle STL must not
stall or starve the server. The child runs :func:`.loader.load_design` under
``RLIMIT_AS`` (memory) and ``RLIMIT_CPU`` (a backstop to the wall-clock
timeout); the parent waits at most ``timeout_s`` and kills it otherwise. Either
way the caller gets the same :class:`DesignError` as for any unreadable file.

The child is started by a *forkserver*: forking the web server itself (with
its threads and open sockets) is unsafe, and a fresh interpreter per upload
would pay the imports each time.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import resource
import sys

from ..errors import DesignError
from ..i18n import Text
from .loader import DEFAULT_TOLERANCE_MM, MAX_BYTES, design_error, load_design, too_complex
from .types import Design

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 2048

# "__main__" first: the forkserver imports the main script once, so a child does
# not import it again (as ``__mp_main__``) for every upload.
_PRELOAD = ["__main__", "fabserver.designs.loader", "fabserver.designs.stl",
            "fabserver.designs.svg", "fabserver.designs.dxf"]  # fmt: skip


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


def _child(
    conn: multiprocessing.connection.Connection,
    data: bytes,
    name: str,
    options: dict,
    memory_mb: int,
    cpu_s: int,
) -> None:
    # The limit is on top of what the interpreter and its libraries already map,
    # so ``memory_mb`` means "memory the parse may take", whatever numpy maps.
    limit = _address_space_bytes() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    try:
        design = load_design(data, name, **options)
        conn.send(("ok", design))
    except DesignError as exc:
        conn.send(("error", (exc.message.fr, exc.message.en, exc.detail)))
    except MemoryError:
        conn.send(("error", None))
    except BaseException as exc:  # never a traceback for the maker
        conn.send(("error", (None, None, repr(exc))))
    finally:
        conn.close()


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
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    options = {"max_bytes": max_bytes, "tolerance_mm": tolerance_mm}
    cpu_s = max(1, int(timeout_s) + 1)
    process = ctx.Process(
        target=_child, args=(sender, data, name, options, memory_mb, cpu_s), daemon=True
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            raise too_complex(detail=f"no answer within {timeout_s} s")
        try:
            status, payload = receiver.recv()
        except (EOFError, OSError) as exc:  # the child died: killed by a limit
            raise too_complex(detail=f"child ended without an answer: {exc!r}") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(timeout=5)
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
