"""Writes that survive a power cut: what the file store and the folder dispatcher share."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename into ``folder`` durable (POSIX): a file fsynced then renamed is only
    safe once its folder is. A no-op where folders cannot be opened or synced (Windows,
    some network file systems), where nothing more can be done."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
