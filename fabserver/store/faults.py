"""Storage faults: refuse to start on a data directory that cannot be written, and
recognise a write failure (disk full, read-only) while running.

A server that starts on a read-only directory answers every upload with an error;
better to say so at start, with the path and what to do. While running, the file
store writes atomically (temporary file, then rename) and the database rolls back a
failed transaction, so a failed write loses nothing already stored: the maker is
told to try again later rather than shown a generic error.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from ..errors import FabError
from ..i18n import Text

# errno values that mean "the storage refuses writes", not a bug.
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}
)
# How SQLite and PostgreSQL word the same conditions.
_DATABASE_WORDS = (
    "readonly database",
    "read-only",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
    "no space left",
    "could not extend file",
)

STORAGE_FAULT = Text(
    "Le serveur ne peut pas enregistrer pour l'instant (disque plein ou en lecture seule). "
    "Rien de ce qui était déjà enregistré n'est perdu ; réessayez dans quelques minutes. "
    "L'équipe est prévenue.",
    "The server cannot save anything right now (disk full or read-only). Nothing already "
    "saved is lost; try again in a few minutes. The staff have been told.",
)


class DataDirError(FabError):
    """The data directory cannot be written: the server must not start on it."""


def is_storage_fault(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the disk refuses writes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _STORAGE_ERRNOS:
            return True
        text = str(current).lower()
        if type(current).__name__ in ("OperationalError", "DiskFull") and any(
            word in text for word in _DATABASE_WORDS
        ):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def check_data_dir(data_dir: Path) -> None:
    """Raise :class:`DataDirError` unless the data directory (and the file store in it)
    can be created and written, and its existing database files opened for writing.

    Writes and removes a small probe file, because permission bits say nothing for
    root nor about read-only mounts or immutable folders."""
    data_dir = Path(data_dir)
    folders = [data_dir, data_dir / "files" / "objects"]
    try:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            _probe(folder)
        for name in ("fabserver.sqlite3", "queue.sqlite3"):
            path = data_dir / name
            if path.exists():
                with open(path, "ab"):
                    pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = Path(exc.filename) if exc.filename else data_dir
        raise DataDirError(
            Text(
                f"Le dossier de données {data_dir} n'est pas accessible en écriture "
                f"({where} : {reason}). fabserver y garde sa base, les fichiers envoyés et "
                "la file d'attente : donnez-lui les droits d'écriture, libérez de la place "
                "ou choisissez un autre dossier (--data ou FABSERVER_DATA).",
                f"The data directory {data_dir} cannot be written ({where}: {reason}). "
                "fabserver keeps its database, the uploaded files and the queue there: "
                "make it writable, free some space or choose another folder "
                "(--data or FABSERVER_DATA).",
            ),
            detail=f"{where}: {exc!r}",
        ) from exc


def _probe(folder: Path) -> None:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".write-check-")
    try:
        os.write(fd, b"fabserver")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)
