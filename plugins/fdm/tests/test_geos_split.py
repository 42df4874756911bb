"""Element-wise GEOS calls go to the pool only when there is enough work to share."""

from __future__ import annotations

import threading

import fabserver_fdm.geos as geos
import numpy as np
import pytest
import shapely


def _calls(monkeypatch, geoms: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``buffer`` of ``geoms`` through :func:`geos.elementwise`, and the threads it ran on."""
    monkeypatch.setattr(geos, "WORKERS", 2)
    threads: list[str] = []

    def recorded(g, distance):
        threads.append(threading.current_thread().name)
        return shapely.buffer(g, distance)

    return geos.elementwise(recorded, geoms, -0.5), threads


def test_many_vertices_are_shared_with_the_pool(monkeypatch):
    circles = shapely.buffer(shapely.points(np.arange(100.0) * 30, 0), 10, quad_segs=32)
    assert shapely.get_num_coordinates(circles).sum() >= geos.MIN_SPLIT_POINTS
    out, threads = _calls(monkeypatch, circles)
    assert len(threads) > 1 and all(t.startswith("geos") for t in threads)
    assert shapely.equals_identical(out, shapely.buffer(circles, -0.5)).all()


@pytest.mark.parametrize("count", [10, 65])
def test_a_small_part_is_worked_on_this_thread(monkeypatch, count):
    """A small part's layers (a screw's 65 outlines of 48 points) are one call here."""
    outlines = shapely.buffer(shapely.points(np.zeros(count), np.zeros(count)), 2, quad_segs=12)
    out, threads = _calls(monkeypatch, outlines)
    assert threads == [threading.current_thread().name]
    assert shapely.equals_identical(out, shapely.buffer(outlines, -0.5)).all()


def test_while_a_forked_stage_works_calls_stay_on_this_thread(monkeypatch, tmp_path):
    """The other core is the child's: the pool would only take turns with it."""
    import os

    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    monkeypatch.setattr(geos, "_fork_safe", lambda: True)  # beside a test runner's threads
    monkeypatch.setattr(geos, "WORKERS", 2)
    circles = shapely.buffer(shapely.points(np.arange(100.0) * 30, 0), 10, quad_segs=32)
    go_on = tmp_path / "go-on"

    def waiting():
        yield 1
        while not go_on.exists():  # the child holds on until the test lets it end
            threading.Event().wait(0.01)
        yield 2

    pieces = geos.pieces_in_child(waiting)
    assert next(pieces) == 1
    out, threads = _calls(monkeypatch, circles)
    assert threads == [threading.current_thread().name]
    assert shapely.equals_identical(out, shapely.buffer(circles, -0.5)).all()
    go_on.touch()
    assert list(pieces) == [2]  # the child is reaped with its last piece
    out, threads = _calls(monkeypatch, circles)
    assert len(threads) > 1 and all(t.startswith("geos") for t in threads)
