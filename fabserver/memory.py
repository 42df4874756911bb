"""Give the memory a finished stage freed back to the system, so the next stage's peak is lower.

glibc's allocator keeps freed blocks for reuse: in one arena per thread that
allocated, and at the top of each heap. A plan's stages (loading, slicing, the
regions, gap fill on threads of their own) free tens of MiB of temporaries that
would otherwise count in the peak of the stages after them. ``malloc_trim(0)``
returns those free pages (a few milliseconds). Elsewhere than on glibc this is a
no-op.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache


@cache
def _trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's name (ctypes.util costs 30 ms to import)
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_freed_memory() -> None:
    """Return the allocator's free pages to the system (glibc only)."""
    trim = _trim()
    if trim is not None:
        trim(0)
