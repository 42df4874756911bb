"""A design read ahead in a forked child (``fabserver plan``): the same design, the same errors."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fabserver.designs import ahead
from fabserver.designs.ahead import DesignAhead
from fabserver.designs.loader import load_design
from fabserver.errors import DesignError
from fabserver.forking import PIPE_BYTES
from fabserver.testing import SAMPLES, require

BRACKET = SAMPLES / "design-bracket.stl"
STICKER = SAMPLES / "vinyl-sticker.svg"


@pytest.fixture
def forkable(monkeypatch):
    """A fork allowed beside the test runner's own threads (a plan command has none)."""
    monkeypatch.setattr(ahead, "only_threads_named", lambda prefixes: True)


@pytest.mark.parametrize("in_band", [ahead.IN_BAND_BYTES, 0], ids=["default", "all-out-of-band"])
@pytest.mark.parametrize("path", [BRACKET, STICKER], ids=["mesh", "drawing"])
def test_a_design_read_ahead_is_the_one_read_here(forkable, monkeypatch, path, in_band):
    monkeypatch.setattr(ahead, "IN_BAND_BYTES", in_band)
    data = path.read_bytes()
    reading = DesignAhead(data, path.name)
    assert reading.forked
    got = reading.result()
    assert not reading.forked
    here = load_design(data, path.name)
    assert type(got) is type(here)
    assert got.facts == here.facts
    assert [w.to_dict() for w in got.warnings] == [w.to_dict() for w in here.warnings]
    if path is BRACKET:
        np.testing.assert_array_equal(got.mesh.vertices, here.mesh.vertices)
        np.testing.assert_array_equal(got.mesh.faces, here.mesh.faces)
        assert got.mesh.vertices.flags.writeable  # this process's own memory
    else:
        np.testing.assert_array_equal(got.bounds, here.bounds)
        assert len(got.paths) == len(here.paths)
        for mine, theirs in zip(got.paths, here.paths, strict=True):
            np.testing.assert_array_equal(mine.points, theirs.points)
            assert (mine.closed, mine.stroke, mine.fill) == (
                theirs.closed,
                theirs.stroke,
                theirs.fill,
            )


def test_arrays_too_small_to_share_travel_in_the_pickle(forkable, monkeypatch):
    monkeypatch.setattr(ahead, "IN_BAND_BYTES", 1 << 40)
    data = BRACKET.read_bytes()
    got = DesignAhead(data, BRACKET.name).result()
    np.testing.assert_array_equal(got.mesh.faces, load_design(data, BRACKET.name).mesh.faces)


@pytest.mark.parametrize(
    "data",
    [
        b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\n",
        b"\0" * 80 + (5).to_bytes(4, "little") + b"\0" * 50,  # 5 triangles announced, 1 given
        b"AC1027" + b"\0" * 200,  # a DWG
    ],
)
def test_a_bad_design_read_ahead_gives_the_error_read_here(forkable, data):
    with pytest.raises(DesignError) as here:
        load_design(data, "part.stl")
    reading = DesignAhead(data, "part.stl")
    assert reading.forked
    with pytest.raises(DesignError) as ahead_error:
        reading.result()
    assert ahead_error.value.message == here.value.message
    assert ahead_error.value.detail == here.value.detail


def test_a_stream_that_does_not_unpickle_is_read_here(forkable, monkeypatch):
    monkeypatch.setattr(ahead, "_receive", lambda src: (b"not a pickle", []))
    reading = DesignAhead(BRACKET.read_bytes(), BRACKET.name)
    assert reading.forked
    assert reading.result().face_count == load_design(BRACKET.read_bytes()).face_count


def test_without_a_safe_fork_the_design_is_read_when_asked(monkeypatch):
    monkeypatch.setattr(ahead, "only_threads_named", lambda prefixes: False)
    reading = DesignAhead(BRACKET.read_bytes(), BRACKET.name)
    assert not reading.forked
    assert reading.result().face_count == load_design(BRACKET.read_bytes()).face_count


def test_a_large_file_is_read_when_asked(forkable, monkeypatch):
    data = BRACKET.read_bytes()
    monkeypatch.setattr(ahead, "AHEAD_MAX_BYTES", len(data) - 1)
    reading = DesignAhead(data, BRACKET.name)
    assert not reading.forked
    assert reading.result().face_count == load_design(data).face_count


def test_a_3mf_is_measured_by_its_inflated_size(forkable, monkeypatch):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3D/3dmodel.model", "<model>" + " " * 100_000 + "</model>")
    data = packed.getvalue()
    assert ahead.content_bytes(data) > 100_000 > 10 * len(data)
    monkeypatch.setattr(ahead, "AHEAD_MAX_BYTES", 50_000)
    reading = DesignAhead(data, "part.3mf")
    assert not reading.forked
    with pytest.raises(DesignError):  # not a model: read here, and refused as here
        reading.result()


def test_the_pipe_holds_a_design_in_few_pieces(forkable):
    fcntl = pytest.importorskip("fcntl")
    ceiling = Path("/proc/sys/fs/pipe-max-size")
    require(ceiling.is_file(), "needs Linux's pipe sizes")
    reading = DesignAhead(BRACKET.read_bytes(), BRACKET.name)
    held = fcntl.fcntl(reading._src.fileno(), fcntl.F_GETPIPE_SZ)
    reading.result()
    assert held >= min(PIPE_BYTES, int(ceiling.read_text()))


def test_a_design_never_asked_for_leaves_no_process_behind(forkable):
    reading = DesignAhead(BRACKET.read_bytes(), BRACKET.name)
    pid = reading._pid
    del reading
    with pytest.raises(ChildProcessError):  # killed and reaped
        os.waitpid(pid, os.WNOHANG)


def test_readers_are_reaped(forkable):
    readers = [DesignAhead(BRACKET.read_bytes(), BRACKET.name) for _ in range(3)]
    pids = [reader._pid for reader in readers]
    for reader in readers:
        reader.result()
    ahead._reap_exited(wait=True)
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
