"""Travels that would cross their island's outer wall go round it inside (assemble._detours),
and the part of its own layer each end lies in is found among every layer's parts."""

from __future__ import annotations

import numpy as np
import shapely
from fabserver_fdm import assemble
from fabserver_fdm.assemble import MAX_DETOUR, _detours, _part_near


def _c_shape() -> shapely.Polygon:
    """A C opening to the right: a 30 × 30 square less a 20 × 10 slot from its right side."""
    return shapely.box(0, 0, 30, 30).difference(shapely.box(10, 10, 30, 20))


def test_a_travel_across_the_mouth_of_a_c_goes_round_inside_it():
    outline = np.array([_c_shape(), _c_shape()])
    walkway = shapely.buffer(outline, -1.0, join_style="mitre")
    # Layer 1: from the lower arm to the upper arm, straight across the slot.
    a = np.array([[0.0, 0.0], [25.0, 5.0]])
    b = np.array([[0.0, 0.0], [25.0, 25.0]])
    layer = np.array([0, 1])
    ways = _detours(a, b, layer, np.array([False, True]), outline, walkway)
    assert list(ways) == [1]
    full = shapely.LineString(np.vstack([a[1], ways[1], b[1]]))
    assert outline[1].covers(full)
    assert full.length <= MAX_DETOUR * np.linalg.norm(b[1] - a[1])
    # Round by the closed side, x < 10: the way never crosses the slot.
    assert not full.intersects(shapely.box(10.5, 10.5, 30, 19.5))


def test_travels_inside_the_outline_or_between_islands_stay_straight():
    two = shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)])
    outline = np.array([two])
    walkway = shapely.buffer(outline, -1.0, join_style="mitre")
    a = np.array([[2.0, 2.0], [5.0, 5.0]])
    b = np.array([[8.0, 8.0], [25.0, 5.0]])  # inside one island; to the other island
    assert _detours(a, b, np.zeros(2, int), np.ones(2, bool), outline, walkway) == {}


def test_a_way_round_much_longer_than_the_travel_is_not_taken(monkeypatch):
    # A square ring cut by a 0.5 mm slit in its bottom wall: the ends either side of the
    # slit are 2.7 mm apart, the way round the ring some 140 mm.
    ring = shapely.box(0, 0, 40, 40).difference(shapely.box(5, 5, 35, 35))
    outline = np.array([ring.difference(shapely.box(20, -1, 20.5, 6))])
    walkway = shapely.buffer(outline, -1.0, join_style="mitre")
    assert len(shapely.get_parts(walkway[0])) == 1  # both ends in one part
    a, b = np.array([[18.9, 2.5]]), np.array([[21.6, 2.5]])
    assert _detours(a, b, np.zeros(1, int), np.ones(1, bool), outline, walkway) == {}
    # Allowed a way round 100 times as long, it goes round.
    monkeypatch.setattr(assemble, "MAX_DETOUR", 100.0)
    ways = _detours(a, b, np.zeros(1, int), np.ones(1, bool), outline, walkway)
    assert list(ways) == [0]
    assert outline[0].covers(shapely.LineString(np.vstack([a[0], ways[0], b[0]])))


def _near_by_tree(parts, part_layer, ends, end_layer, none):
    """The plain formulation: every part's box near each point, its layer's, within 1 mm,
    the last the tree lists."""
    found = np.full(len(ends), none)
    xy = shapely.get_coordinates(ends)
    q, r = shapely.STRtree(parts).query(shapely.box(*(xy - 1.0).T, *(xy + 1.0).T))
    mine = part_layer[r] == end_layer[q]
    q, r = q[mine], r[mine]
    near = shapely.dwithin(parts[r], ends[q], 1.0)
    found[q[near]] = r[near]
    return found


def test_the_part_near_each_end_is_its_own_layers_as_a_tree_of_all_parts_gives():
    rng = np.random.default_rng(3)
    # Six layers of the same islands stacked on one spot, some split by a narrow neck
    # (two parts of a layer within 1 mm of one point), one layer empty.
    layers = []
    for k in range(6):
        if k == 4:
            layers.append(shapely.Polygon())
            continue
        islands = [shapely.box(0, 0, 10, 10), shapely.box(10.6 + 0.1 * k, 0, 20, 10)]
        islands.append(shapely.box(30, 30, 40, 40 + k))
        layers.append(shapely.MultiPolygon(islands))
    walkway = np.array(layers)
    parts, part_layer = shapely.get_parts(walkway, return_index=True)
    xy = rng.uniform(-2, 42, size=(400, 2))
    xy[:50] = np.column_stack([rng.uniform(9.5, 11.2, 50), rng.uniform(0, 10, 50)])  # the neck
    end_layer = rng.integers(0, 6, size=len(xy))
    ends = shapely.points(xy)
    found = _part_near(parts, part_layer, ends, end_layer, -1)
    assert np.array_equal(found, _near_by_tree(parts, part_layer, ends, end_layer, -1))
    assert (found >= 0).sum() > 100 and (found == -1).sum() > 50
    assert (part_layer[found[found >= 0]] == end_layer[found >= 0]).all()
    # Points within 1 mm of two parts of their layer were among them.
    close = shapely.dwithin(parts[None, :], ends[:, None], 1.0) & (
        part_layer[None, :] == end_layer[:, None]
    )
    assert (close.sum(axis=1) > 1).sum() > 10
