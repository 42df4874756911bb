"""Gap fill's Delaunay triangulation (GEOS) gives what scipy's Qhull gives."""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity
from fabserver_fdm.gapfill import _delaunay, gap_fill_lines, gap_fill_pieces

from fabserver.testing import require_module


def _canonical(simplices: np.ndarray, neighbours: np.ndarray) -> set:
    """Each triangle's corners, each side's neighbour, whatever the numbering."""
    out = set()
    for i, corners in enumerate(simplices.tolist()):
        for j in range(3):
            nb = int(neighbours[i, j])
            out.add((frozenset(corners), corners[j], frozenset(simplices[nb]) if nb >= 0 else None))
    return out


def test_triangles_and_neighbours_as_qhull_gives_them():
    spatial = require_module("scipy.spatial", "scipy's Qhull is the reference triangulation")
    points = np.random.default_rng(7).random((400, 2)) * 50.0
    simplices, neighbours = _delaunay(points)
    qhull = spatial.Delaunay(points)
    assert len(simplices) == len(qhull.simplices)
    assert _canonical(simplices, neighbours) == _canonical(qhull.simplices, qhull.neighbors)


def test_cocircular_rows_give_a_consistent_triangulation():
    """A strip's sides are rows of cocircular samples: each side of a triangle is
    shared with the neighbour named for it."""
    x = np.arange(0.0, 10.0, 0.2)
    points = np.concatenate(
        [np.column_stack([x, np.zeros_like(x)]), np.column_stack([x, np.ones_like(x)])]
    )
    simplices, neighbours = _delaunay(points)
    assert len(simplices) == 2 * len(x) - 2  # a convex strip of 2n points: 2n - 2 triangles
    for i, j in zip(*np.nonzero(neighbours >= 0), strict=True):
        side = set(simplices[i].tolist()) - {int(simplices[i, j])}
        assert side <= set(simplices[neighbours[i, j]].tolist())
        assert i in neighbours[neighbours[i, j]]


def test_a_strip_gets_one_centre_line_as_wide_as_the_strip():
    strip = shapely.box(0.0, 0.0, 10.0, 0.6)
    lines, layer, widths = gap_fill_lines(np.array([strip]))
    assert len(lines) == 1 and layer.tolist() == [0]
    assert np.allclose(lines[0][:, 1], 0.3)
    assert np.allclose(widths[0], 0.6)


def _strips(layers: int) -> np.ndarray:
    """A stack of layers, each with narrow strips (gaps) of its own length and angle."""
    out = []
    for k in range(layers):
        strips = [
            shapely.affinity.rotate(shapely.box(0, 3 * i, 4 + k % 5 + i, 3 * i + 0.3), 7 * k + i)
            for i in range(k % 4)
        ]
        out.append(shapely.union_all(strips) if strips else shapely.Polygon())
    return np.array(out, dtype=object)


def test_gap_fill_in_runs_of_layers_is_the_whole_line_for_line():
    """The runs handed on one by one add up to the lines made all at once, and each run
    says truly which layers are complete (no later run has lines below)."""
    gaps = _strips(40)
    lines, layer, widths = gap_fill_lines(gaps)
    assert len(lines) > 20
    for pieces in (1, 2, 3, 7, 100):
        got_lines, got_layer, got_widths, done_before = [], [], [], 0
        for done, piece_lines, piece_layer, piece_widths in gap_fill_pieces(gaps, pieces):
            assert done >= done_before
            assert (piece_layer >= done_before).all() and (piece_layer <= done).all()
            done_before = done
            got_lines += piece_lines
            got_layer.append(piece_layer)
            got_widths += piece_widths
        assert done_before == len(gaps)
        np.testing.assert_array_equal(np.concatenate(got_layer), layer)
        assert len(got_lines) == len(lines)
        for a, b in zip(got_lines, lines, strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(got_widths, widths, strict=True):
            np.testing.assert_array_equal(a, b)


def test_gap_fill_on_one_core_is_the_pipelined_one_line_for_line(monkeypatch):
    """With the pool, each run is triangulated while the previous run's lines are
    made; on one core, one after the other: the same lines either way."""
    import fabserver_fdm.geos as geos

    gaps = _strips(40)
    monkeypatch.setattr(geos, "WORKERS", 2)
    pipelined = list(gap_fill_pieces(gaps, 5))
    monkeypatch.setattr(geos, "WORKERS", 1)
    serial = list(gap_fill_pieces(gaps, 5))
    assert len(pipelined) == len(serial) > 2
    for (done_a, lines_a, layer_a, widths_a), (done_b, lines_b, layer_b, widths_b) in zip(
        pipelined, serial, strict=True
    ):
        assert done_a == done_b
        np.testing.assert_array_equal(layer_a, layer_b)
        for a, b in zip(lines_a + widths_a, lines_b + widths_b, strict=True):
            np.testing.assert_array_equal(a, b)


def test_an_edge_shorter_than_its_clearance_lies_within_its_gap():
    """The clearance spares GEOS's ``contains`` only where it would say yes: edges
    shorter than it, starting in their gap, lie within it; and they are most edges."""
    from fabserver_fdm.gapfill import _Samples

    gaps = _strips(12)
    gaps[3] = shapely.Point(0, 0).buffer(2.0).difference(shapely.Point(0, 0).buffer(1.6))
    parts = shapely.get_parts(gaps)
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    samples = _Samples(parts)
    ends, part, clear = samples.edges(samples.jobs)
    length = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1)
    starts_in = shapely.intersects_xy(parts[part], ends[:, 0, 0], ends[:, 0, 1])
    sure = starts_in & (length < clear)
    within = shapely.contains(parts[part], shapely.linestrings(ends))
    assert within[sure].all()
    assert sure.sum() > 0.8 * within.sum()
