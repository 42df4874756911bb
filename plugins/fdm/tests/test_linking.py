"""Infill lines joined along the area and hooked onto its outline."""

from __future__ import annotations

import numpy as np
import shapely
from fabserver_fdm.linking import Outline, add_anchors, link_lines

ROLE = 2
AREA = shapely.difference(shapely.box(0, 0, 20, 10), shapely.box(8, 3, 12, 7))  # a frame


def _zigzag() -> list[np.ndarray]:
    """Horizontal lines across the frame, alternating direction, ends on its outline."""
    lines = []
    for i, y in enumerate(np.arange(0.5, 10.0, 1.0)):
        if 3 <= y <= 7:
            pieces = [np.array([[0.0, y], [8.0, y]]), np.array([[12.0, y], [20.0, y]])]
        else:
            pieces = [np.array([[0.0, y], [20.0, y]])]
        lines += [p[::-1] if i % 2 else p for p in pieces]
    return lines


def test_an_outline_shared_by_several_calls_gives_what_the_bare_area_gives():
    seq = _zigzag()
    roles = np.full(len(seq), ROLE)
    outline = Outline(AREA)
    for _ in range(2):  # the second call reads what the first worked out
        shared = add_anchors(link_lines(seq, roles, {ROLE: 3.0}, outline), ROLE, outline, 2.0)
        bare = add_anchors(link_lines(seq, roles, {ROLE: 3.0}, AREA), ROLE, AREA, 2.0)
        assert len(shared) == len(bare) < len(seq)  # some lines were joined
        for (a, ra), (b, rb) in zip(shared, bare, strict=True):
            assert ra == rb
            np.testing.assert_array_equal(a, b)


def test_links_leave_the_area_only_along_its_outline():
    seq = _zigzag()
    linked = link_lines(seq, np.full(len(seq), ROLE), {ROLE: 3.0}, Outline(AREA))
    for pts, _ in linked:
        path = shapely.LineString(pts)
        assert shapely.covered_by(path, shapely.buffer(AREA, 1e-6))


def test_an_empty_area_joins_nothing():
    seq = _zigzag()
    linked = link_lines(seq, np.full(len(seq), ROLE), {ROLE: 3.0}, Outline(shapely.Polygon()))
    assert len(linked) == len(seq)
    assert add_anchors(linked, ROLE, Outline(None), 2.0) == linked
