"""Stages run in a forked child give what the same stage gives run in the process."""

from __future__ import annotations

import os
from pathlib import Path

import fabserver_fdm.geos as geos
import fabserver_fdm.layers as layers
import numpy as np
import pytest
import shapely
from fabserver_fdm import FdmPlugin
from fabserver_fdm.geos import pieces_in_child

from fabserver.designs import load_design
from fabserver.forking import PIPE_BYTES
from fabserver.planning import run_plan, write_outputs
from fabserver.profiles import load_profiles
from fabserver.testing import CORPUS, CORPUS_MISSING, SAMPLES, require

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


@pytest.fixture(autouse=True)
def _forks(monkeypatch):
    """Fork even under a test runner that keeps threads of its own (pytest-xdist's)."""
    monkeypatch.setattr(geos, "_fork_safe", lambda: True)
    monkeypatch.setattr(layers, "GAP_FILL_FORK_OUTLINE_POINTS", 0)  # a sample's few gaps too
    if geos.WORKERS < 2:
        monkeypatch.setattr(geos, "WORKERS", 2)


def _in_process(func, *args):
    """What ``pieces_in_child`` stands for: the call itself, made in this process."""
    return iter(list(func(*args)))


def _gcode(model: Path, tmp_path: Path, name: str) -> bytes:
    profiles = load_profiles()
    design = load_design(model.read_bytes(), model.name)
    options = {"perimeters": 2, "fill_density": "15%", "fill_pattern": "grid"}
    result = run_plan(
        FdmPlugin(),
        design,
        profiles.machine("printer-1"),
        profiles.material("pla-1.75"),
        options,
        profiles.policy,
        draw=False,
    )
    out = tmp_path / f"{name}.gcode"
    write_outputs(result.plan, out)
    return out.read_bytes()


@pytest.mark.parametrize(
    "where, name", [("samples", "fdm-bracket.stl"), ("corpus", "3DBenchy.stl")]
)
def test_gap_fill_in_a_child_gives_the_same_gcode(where, name, tmp_path, monkeypatch):
    """Byte for byte, the G-code with gap fill forked off equals the one made in one process."""
    root = SAMPLES if where == "samples" else CORPUS / "stl"
    model = root / name
    require(model.is_file(), CORPUS_MISSING)
    forked = _gcode(model, tmp_path, "forked")
    monkeypatch.setattr(layers, "pieces_in_child", _in_process)
    serial = _gcode(model, tmp_path, "serial")
    assert b";TYPE:Gap fill" in serial  # the stage forked off has work to do
    assert forked == serial


def test_no_fork_beside_threads_of_others(monkeypatch):
    """A thread that may be mid-work (a web server's) keeps the stage on a thread."""
    import threading

    monkeypatch.undo()  # the real check
    here = threading.current_thread()
    lifeline, server = threading.Thread(name="lifeline"), threading.Thread(name="waitress-0")
    monkeypatch.setattr(threading, "enumerate", lambda: [here, lifeline])
    assert geos._fork_safe()
    monkeypatch.setattr(threading, "enumerate", lambda: [here, lifeline, server])
    assert not geos._fork_safe()
    assert list(pieces_in_child(lambda: iter([os.getpid()]))) == [os.getpid()]


def _squares(count: int):
    for i in range(count):
        yield np.arange(i + 1) ** 2


def test_pieces_come_from_another_process_in_order():
    assert list(pieces_in_child(lambda: iter([os.getpid()]))) != [os.getpid()]
    got = list(pieces_in_child(_squares, 5))
    assert len(got) == 5
    for i, piece in enumerate(got):
        np.testing.assert_array_equal(piece, np.arange(i + 1) ** 2)


def _dies_after_two(parent: int):
    yield "first"
    yield "second"
    if os.getpid() != parent:
        os._exit(3)  # a child that dies midway
    yield "third, made here"


def test_a_child_that_dies_midway_leaves_the_rest_to_the_caller():
    assert list(pieces_in_child(_dies_after_two, os.getpid())) == [
        "first",
        "second",
        "third, made here",
    ]


def _refuses_after_one(message: str):
    yield 1
    raise ValueError(message)


def test_an_error_of_a_piece_reaches_the_caller():
    pieces = pieces_in_child(_refuses_after_one, "no gap")
    assert next(pieces) == 1
    with pytest.raises(ValueError, match="no gap"):
        next(pieces)


def test_pieces_on_a_thread_beside_threads_of_others(monkeypatch):
    import threading

    monkeypatch.setattr(geos, "_fork_safe", lambda: False)
    assert list(pieces_in_child(lambda: iter([os.getpid()]))) == [os.getpid()]
    assert len(list(pieces_in_child(_squares, 3))) == 3
    pieces = pieces_in_child(_refuses_after_one, "on a thread")
    assert next(pieces) == 1
    with pytest.raises(ValueError, match="on a thread"):
        next(pieces)
    assert threading.current_thread() is threading.main_thread()


def test_the_pipe_holds_several_pieces():
    """A run of 3DBenchy's gap fill is ~400 kB: the child goes on with the next runs
    while the caller is busy, instead of waiting on a pipe of 64 kB."""
    fcntl = pytest.importorskip("fcntl")
    ceiling = Path("/proc/sys/fs/pipe-max-size")
    require(ceiling.is_file(), "needs Linux's pipe sizes")
    pieces = pieces_in_child(_squares, 2)
    held = fcntl.fcntl(pieces._src.fileno(), fcntl.F_GETPIPE_SZ)
    assert len(list(pieces)) == 2
    assert held >= min(PIPE_BYTES, int(ceiling.read_text()))


def test_pieces_left_unread_leave_no_child():
    pieces = pieces_in_child(_squares, 3)
    child = pieces._pid
    assert child > 0  # forked
    next(pieces)
    del pieces
    with pytest.raises(ChildProcessError):  # reaped already: not a child any more
        os.waitpid(child, os.WNOHANG)


def _walls_regions(points_round: int):
    """Regions of three layers of a 1.3 mm wall (gaps between its loops) beside a disc
    drawn with ``points_round`` vertices; and what their gaps are made from."""
    from fabserver_fdm.regions import build_regions
    from fabserver_fdm.settings import OPTIONS, PrintSettings

    profiles = load_profiles()
    values = {o.name: o.default for o in OPTIONS}
    s = PrintSettings.resolve(profiles.machine("printer-1"), profiles.material("pla-1.75"), values)
    layer = shapely.union(
        shapely.box(0, 0, 30, 1.3), shapely.Point(15, 20).buffer(8, points_round // 4)
    )
    slices = np.array([layer] * 3, dtype=object)
    made = []
    regions = build_regions(
        slices,
        layers.layer_flows(s, 0.2, True),
        layers.layer_flows(s, 0.2, False),
        2,
        4,
        3,
        s.printer.infill_overlap,
        on_gaps=made.append,
    )
    return regions, made[0]


def test_the_gaps_are_made_where_their_gap_fill_is(monkeypatch):
    """The regions hand on what the gaps are made from: a small part's gaps and gap fill
    are made in the process, a big part's in the forked child, gaps and all; either
    way the lines are those of the regions' own gaps."""
    from fabserver_fdm.gapfill import gap_fill_lines

    monkeypatch.undo()
    forks = []
    monkeypatch.setattr(layers, "pieces_in_child", lambda *a: forks.append(a) or iter([]))
    regions, to_make = _walls_regions(64)
    assert to_make.outline_points < layers.GAP_FILL_FORK_OUTLINE_POINTS
    pieces = list(layers.start_gap_fill(to_make))
    assert not forks
    lines, layer, _ = gap_fill_lines(regions.gaps)
    assert len(lines) >= 3 and sorted(set(layer.tolist())) == [0, 1, 2]
    made = [g for piece in pieces for g in piece[1]]
    assert len(made) == len(lines)
    for a, b in zip(made, lines, strict=True):
        np.testing.assert_array_equal(a, b)

    _, big = _walls_regions(4000)
    assert big.outline_points >= layers.GAP_FILL_FORK_OUTLINE_POINTS
    layers.start_gap_fill(big)
    assert len(forks) == 1 and forks[0][1] is big  # the child makes the gaps
