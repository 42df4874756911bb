"""Reading a design in a forked process while a one-shot command imports the rest.

``fabserver plan`` imports the planning code and its plugin after the reader's own
imports (numpy), on one core; reading a design (3DBenchy: 0.15 s of parsing,
merging and checking) needs none of that code. So the command forks once the
reader is imported: the child reads the design on the other core while the parent
imports, and sends it back through a pipe.

The design's large arrays travel out of band (pickle protocol 5): the parent reads
their bytes straight into arrays numpy allocates, with no other copy, so they are
the arrays a design read here would have (numpy asks for huge pages for large ones:
arrays left in shared memory were on 4 KiB pages, and copying 47 MB out of it took
0.25 s). The child is not waited for once its stream is read: giving back its memory
(hundreds of MiB after a large mesh) takes a while; it is reaped later.

Should the child fail in any way (a design error included), its stream ends short
and the design is read again here, so errors are raised as they would be here.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import zipfile
from typing import BinaryIO

import numpy as np

from ..forking import only_threads_named, widen_pipe
from .loader import load_design
from .types import Design

AHEAD_MAX_BYTES = 24 << 20
"""Larger files (a 3MF by its inflated size) are read when asked for, in this process. The overlap saves at most
the imports' time (some 0.05 s), while the parent's later stages, on a heap the
reader did not warm, pay more for large meshes: 3DBenchy (11 MB) 0.04 s sooner, a
16 MB sphere 0.03-0.06 s sooner in two sittings of three, a 32 MB pair of spheres
the same to 0.3 s later, the 65 MB sphere 0.4 s later in two sittings of three."""
IN_BAND_BYTES = 1 << 16
"""Arrays smaller than this travel inside the pickle."""


def content_bytes(data: bytes) -> int:
    """The bytes the reader goes through: a zip's (3MF) once inflated, from its directory."""
    if data[:4] != b"PK\x03\x04":
        return len(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):  # the reader will say what is wrong
        return len(data)


class DesignAhead:
    """A design being read in a forked child; :meth:`result` waits for it."""

    def __init__(self, data: bytes, name: str) -> None:
        self._data, self._name = data, name
        self._pid = -1
        self._src: BinaryIO | None = None
        _reap_exited()
        if (
            content_bytes(data) > AHEAD_MAX_BYTES
            or not hasattr(os, "fork")
            or not only_threads_named(())
        ):
            return  # read when asked for, in this process
        read_fd, write_fd = os.pipe()
        widen_pipe(read_fd)
        try:
            pid = os.fork()
        except OSError:  # no room for another process
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # the child: read, send, leave without exit handlers
            try:
                os.close(read_fd)
                _send(load_design(data, name), write_fd)
            finally:
                os._exit(0)  # a stream cut short tells the parent it failed
        os.close(write_fd)
        self._pid, self._src = pid, os.fdopen(read_fd, "rb")

    @property
    def forked(self) -> bool:
        """Whether a child is reading the design (not yet asked for)."""
        return self._src is not None

    def result(self) -> Design:
        """The design, as :func:`load_design` gives it (or raises)."""
        if self._src is None:
            return load_design(self._data, self._name)
        src, self._src = self._src, None
        with src:
            received = _receive(src)
        _exiting.append(self._pid)
        _reap_exited()
        if received is None:  # failed: read here, so that its errors are raised here
            return load_design(self._data, self._name)
        body, buffers = received
        try:
            return pickle.loads(body, buffers=buffers)
        except Exception:  # whole but unreadable (never seen): read here as well
            return load_design(self._data, self._name)

    def __del__(self) -> None:
        if self._src is not None:  # never asked for (the machine refused the design's kind)
            self._src.close()
            try:
                os.kill(self._pid, 9)
                os.waitpid(self._pid, 0)
            except OSError:
                pass


_exiting: list[int] = []
"""Children that sent their design and may still be exiting."""


def _reap_exited(wait: bool = False) -> None:
    """Reap the children of :data:`_exiting` that have ended (``wait``: all of them)."""
    for pid in list(_exiting):
        try:
            done, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _exiting.remove(pid)


# At exit every reader is reaped, so that its time and memory count in the command's
# own (``time fabserver plan``), as the work of any other stage does.
atexit.register(_reap_exited, wait=True)


def _send(design: Design, fd: int) -> None:
    """Write ``design`` to ``fd``: the pickle, then each large array's bytes."""
    buffers: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < IN_BAND_BYTES:
            return True
        buffers.append(raw)
        return False

    body = pickle.dumps(design, protocol=5, buffer_callback=out_of_band)
    with os.fdopen(fd, "wb") as out:
        out.write(len(body).to_bytes(8, "little"))
        out.write(body)
        out.write(len(buffers).to_bytes(8, "little"))
        for raw in buffers:
            out.write(raw.nbytes.to_bytes(8, "little"))
            out.write(raw)


def _receive(src: BinaryIO) -> tuple[bytes, list[np.ndarray]] | None:
    """What :func:`_send` wrote; None if the stream ends short (the child failed)."""
    body = _exactly(src, _size(src))
    count = _size(src)
    if body is None or count is None:
        return None
    buffers = []
    for _ in range(count):
        size = _size(src)
        if size is None:
            return None
        array = np.empty(size, np.uint8)  # numpy's memory, as a design read here
        view, got = memoryview(array), 0
        while got < size:
            more = src.readinto(view[got:])
            if not more:
                return None
            got += more
        buffers.append(array)
    return body, buffers


def _size(src: BinaryIO) -> int | None:
    head = src.read(8)
    return int.from_bytes(head, "little") if len(head) == 8 else None


def _exactly(src: BinaryIO, size: int | None) -> bytes | None:
    if size is None:
        return None
    data = src.read(size)
    return data if len(data) == size else None
