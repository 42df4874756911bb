"""``folder``: drop the file into a watched folder (shared drive, USB mount, hot folder).

The file appears atomically: it is written under a hidden temporary name in the
same folder, flushed to disk, then renamed, so a program watching the folder
never picks up half a file. Without ``overwrite`` an existing file with the same
name is never replaced: if it holds the same bytes the job is already there (a
retried dispatch), otherwise the send is refused.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import os
import shutil
import uuid
from pathlib import Path

from ..durable import fsync_dir
from ..i18n import Text
from .base import (
    Connector,
    ConnectorSettings,
    DispatchError,
    MachineState,
    Receipt,
    TransientDispatchError,
)

TEMP_PREFIX = ".fabserver-"


class FolderSettings(ConnectorSettings):
    """Folder names as the profile writes them; ``folder`` and ``mount`` read them as paths."""

    path: str
    # The share or USB stick ``path`` lives on. When it is not mounted the send is
    # retried later (the stick may come back), and nothing is written into the
    # empty directory left behind, where the machine would never see it.
    mount_point: str | None = None
    overwrite: bool = False
    create: bool = False  # create ``path`` when missing (never the mount point itself)

    @property
    def folder(self) -> Path:
        return Path(self.path)

    @property
    def mount(self) -> Path | None:
        return None if self.mount_point is None else Path(self.mount_point)


class FolderConnector(Connector[FolderSettings]):
    type = "folder"
    description = Text("Dépôt dans un dossier surveillé", "Drop into a watched folder")
    Settings = FolderSettings

    def check(self) -> None:
        super().check()
        folder, mount = self.config.folder, self.config.mount
        if not folder.is_absolute():
            raise self._fail("path", "give an absolute path")
        if mount is not None and not (mount.is_absolute() and folder.is_relative_to(mount)):
            raise self._fail("mount_point", f"must be an absolute folder containing {folder}")

    @property
    def folder(self) -> Path:
        return self.config.folder

    def _ready_folder(self) -> Path:
        config = self.config
        folder = config.folder
        mount = config.mount
        if mount is not None and not os.path.ismount(mount):
            raise TransientDispatchError(
                Text(
                    f"{mount} n'est pas monté : branchez la clé USB ou vérifiez le partage réseau.",
                    f"{mount} is not mounted: plug the USB stick in or check the network share.",
                ),
                detail=f"{mount}: not a mount point",
            )
        if config.create and not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            return folder
        raise DispatchError(
            Text(
                f"Le dossier {folder} est introuvable : corrigez « path » dans le profil "
                "de la machine ou créez le dossier.",
                f"Folder {folder} is missing: fix 'path' in the machine profile or create it.",
            ),
            detail=f"{folder}: not a directory",
        )

    def send(self, file: Path, remote_name: str) -> Receipt:
        folder = self._ready_folder()
        target = folder / remote_name
        if target.parent != folder or remote_name.startswith("."):
            raise DispatchError(
                Text(f"Nom de fichier refusé : {remote_name}", f"File name refused: {remote_name}")
            )
        temp = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}.part"
        try:
            with open(file, "rb") as source, open(temp, "xb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            already = self._publish(temp, target)
        except OSError as error:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise _os_error(error, folder) from error
        fsync_dir(folder)
        if already:
            message = Text(
                f"Déjà déposé dans {folder} : {remote_name}",
                f"Already in {folder}: {remote_name}",
            )
        else:
            message = Text(
                f"Déposé dans {folder} : {remote_name}", f"Dropped into {folder}: {remote_name}"
            )
        return Receipt(message, remote_ref=str(target))

    def _publish(self, temp: Path, target: Path) -> bool:
        """Rename ``temp`` to ``target``; True when an identical file was already there."""
        if self.config.overwrite:
            os.replace(temp, target)
            return False
        try:
            # link() fails if the target exists: an atomic "create, never replace".
            os.link(temp, target)
        except FileExistsError:
            return _same_as_waiting(temp, target)
        except OSError as error:
            # Some file systems (FAT on USB sticks, some SMB shares) have no hard
            # links: fall back to check-then-rename, racy only against other writers.
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            if target.exists():
                return _same_as_waiting(temp, target)
            os.replace(temp, target)
            return False
        temp.unlink()
        return False

    def status(self) -> MachineState | None:
        """Files still waiting in the folder (a watcher usually takes them away)."""
        try:
            folder = self._ready_folder()
        except DispatchError as error:
            return MachineState("offline", message=error.message)
        waiting = sorted(
            p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
        )
        return MachineState(
            "idle" if not waiting else "queued",
            message=Text(
                f"{len(waiting)} fichier(s) en attente dans le dossier",
                f"{len(waiting)} file(s) waiting in the folder",
            ),
            details={"waiting": waiting},
        )


def _same_as_waiting(temp: Path, target: Path) -> bool:
    """True when the file already waiting under the name is this one (a resend); the
    temporary copy goes either way. A different file there is an error to fix."""
    same = filecmp.cmp(temp, target, shallow=False)
    temp.unlink()
    if same:
        return True
    raise DispatchError(
        Text(
            f"Un autre fichier nommé {target.name} attend déjà dans {target.parent} ; "
            "retirez-le ou activez « overwrite ».",
            f"A different file named {target.name} is already waiting in "
            f"{target.parent}; remove it or set 'overwrite'.",
        )
    )


def _os_error(error: OSError, folder: Path) -> DispatchError:
    transient = error.errno in (
        errno.ENOSPC,
        errno.EIO,
        errno.ESTALE,
        errno.ETIMEDOUT,
        errno.EAGAIN,
    )
    kind = TransientDispatchError if transient else DispatchError
    return kind(
        Text(
            f"Écriture impossible dans {folder} : {error.strerror}",
            f"Cannot write into {folder}: {error.strerror}",
        ),
        detail=repr(error),
    )
