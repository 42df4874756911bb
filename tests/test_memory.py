"""Freed memory goes back to the system between a plan's stages (glibc)."""

from __future__ import annotations

import platform

import pytest

from fabserver.memory import _trim, release_freed_memory


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_small_blocks_are_returned():
    assert _trim() is not None
    # Many small blocks (below glibc's mmap threshold) freed all but the last: the
    # heap cannot shrink from its top, only trimming gives the pages back.
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # 125 MiB
    keep = blocks[-1]
    del blocks
    before = _rss_kib()
    release_freed_memory()
    assert _rss_kib() < before - 50 * 1024
    assert len(keep) == 64 * 1024


def test_release_is_harmless_anywhere():
    release_freed_memory()
    release_freed_memory()
