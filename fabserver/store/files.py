"""Content-addressed file storage: a file's name is the sha256 of its bytes.

Names given by makers are never used as paths. Every write goes to a temporary
file in the same folder, is fsynced, renamed into place and the folder fsynced,
so a file the server has acknowledged survives a power cut.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class StoredFileMissing(FileNotFoundError):
    """A file the database refers to is no longer in the store (removed by retention)."""


class FileStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / "objects" / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise StoredFileMissing(exc.errno, exc.strerror, exc.filename) from None

    def put(self, data: bytes) -> str:
        """Store ``data``; return its sha256. Storing the same bytes twice is a no-op."""
        sha = hashlib.sha256(data).hexdigest()
        if not self._refresh(sha):
            self._write(sha, lambda f: f.write(data))
        return sha

    def put_file(self, source: Path | str) -> str:
        """Store a file by streaming it (machine files may be large)."""
        digest = hashlib.sha256()
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        sha = digest.hexdigest()
        if not self._refresh(sha):
            self._write(sha, lambda out: _copy(source, out))
        return sha

    def _refresh(self, sha: str) -> bool:
        """True when the file is already stored; its date is then made current, so that
        retention (which spares recent files) does not remove it before its new row is
        committed."""
        try:
            os.utime(self.path(sha))
        except FileNotFoundError:
            return False
        except OSError:  # stored, but not ours to touch (another user, read-only mount)
            pass
        return True

    def _write(self, sha: str, fill) -> None:
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                fill(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)


def _copy(source: Path | str, out: BinaryIO) -> None:
    with open(source, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            out.write(chunk)


def fsync_dir(folder: Path) -> None:
    """Make a rename into ``folder`` durable (POSIX); a no-op where folders cannot be
    opened or synced (some network shares and FAT file systems refuse)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
