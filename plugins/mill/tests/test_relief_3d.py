"""3D milling checked against trimesh: height map by ray casting, no gouge by exact distances."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from fabserver_mill.heightmap import Grid, rasterise
from fabserver_mill.plan3d import oriented
from fabserver_mill.settings import Tool
from fabserver_mill.strategies3d import finishing_path, finishing_tips, place, roughing_cuts
from scipy.spatial import cKDTree

from fabserver.designs import load_design
from fabserver.testing import require_module
from fabserver.toolpath import EventKind, MoveKind

BALL = Tool(shape="ball", diameter=3.175)
FLAT = Tool(shape="flat", diameter=3.175)
GOUGE_TOLERANCE = 0.01
"""mm the ball may enter the part, measured as the exact distance from its centre to the mesh."""


def corpus_mesh(corpus, name: str) -> trimesh.Trimesh:
    design = load_design((corpus / "stl" / name).read_bytes(), name)
    mesh = design.trimesh.copy()
    if max(design.size) < 1.0:  # octagonal_pocket.stl is in metres (the loader warns)
        mesh.apply_scale(1000.0)
    elif name == "idler_riser.STL":  # in inches
        mesh.apply_scale(25.4)
    return mesh


def placed_mesh(relief) -> trimesh.Trimesh:
    tri = relief.triangles
    mesh = trimesh.Trimesh(tri.reshape(-1, 3), np.arange(len(tri) * 3).reshape(-1, 3))
    mesh.merge_vertices()
    return mesh


def densify(path: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` mm along a polyline (the moves, not only their ends)."""
    a, b = path[:-1], path[1:]
    n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / step).astype(int))
    seg = np.repeat(np.arange(len(a)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    return a[seg] + t[:, None] * (b - a)[seg]


def test_height_map_matches_ray_casting(corpus):
    mesh = corpus_mesh(corpus, "idler_riser.STL")
    lo, hi = mesh.bounds
    grid = Grid.covering(lo[0] - 2, lo[1] - 2, hi[0] + 2, hi[1] + 2, 0.5)
    floor = lo[2] - 1.0
    heights = rasterise(mesh.triangles, grid, floor)
    gx, gy = np.meshgrid(grid.xs, grid.ys)
    origins = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, hi[2] + 10)])
    directions = np.tile([0.0, 0.0, -1.0], (len(origins), 1))
    locations, ray_idx, _ = mesh.ray.intersects_location(origins, directions, multiple_hits=False)
    reference = np.full(gx.size, floor)
    np.maximum.at(reference, ray_idx, locations[:, 2])
    ours = heights.ravel()
    # Never below the surface (vertex splats may only raise a node), equal almost everywhere.
    assert (ours >= reference - 1e-6).all()
    assert np.mean(np.abs(ours - reference) < 1e-6) > 0.97


@pytest.mark.parametrize(
    "name", ["1002_tray_bottom.STL", "plate_holes.STL", "octagonal_pocket.stl"]
)
def test_finishing_never_gouges(corpus, name):
    mesh = corpus_mesh(corpus, name)
    _, triangles = oriented(mesh, "auto")
    relief = place(triangles, 5.0, 1.0, 5.0, 0.2)
    tips = finishing_tips(relief, BALL)
    path = finishing_path(relief, tips, BALL, 0.12)
    reference = placed_mesh(relief)
    pts = densify(path, 0.1)
    lo, hi = reference.bounds
    near = np.all((pts[:, :2] > lo[:2] - BALL.radius) & (pts[:, :2] < hi[:2] + BALL.radius), axis=1)
    pts = pts[near]
    sample = pts[np.random.default_rng(7).choice(len(pts), min(6000, len(pts)), replace=False)]
    centres = sample + np.array([0.0, 0.0, BALL.radius])
    _, distance, _ = trimesh.proximity.closest_point(reference, centres)
    assert (BALL.radius - distance).max() <= GOUGE_TOLERANCE
    # The ball's centre is never inside the part either (its tip is above the surface).
    assert (sample[:, 2] >= reference.bounds[0, 2] - 1e-9).all()
    # And it does touch: on the part's flat top the tip sits on the surface.
    assert np.isclose(tips, relief.heights.max(), atol=1e-9).any()


def test_tray_lying_on_its_side_is_machined_flat(corpus):
    """1002_tray_bottom.STL is a 3.175 mm plate standing in XZ: it is turned to lie flat."""
    mesh = corpus_mesh(corpus, "1002_tray_bottom.STL")
    up, triangles = oriented(mesh, "auto")
    assert up in ("+y", "-y")
    size = np.ptp(triangles.reshape(-1, 3), axis=0)
    assert size[2] == pytest.approx(3.175, abs=1e-3)
    assert size[0] == pytest.approx(355.6, abs=1e-3) and size[1] == pytest.approx(355.6, abs=1e-3)


def test_roughing_leaves_the_allowance(corpus):
    mesh = corpus_mesh(corpus, "idler_riser.STL")
    _, triangles = oriented(mesh, "as_is")
    relief = place(triangles, 5.0, 1.0, 5.0, 0.2)
    allowance = 0.3
    cuts = roughing_cuts(relief, "flat-3.175", FLAT, 2.0, 0.45, allowance, 5.0)
    assert cuts
    # Independent reference: dense samples of the surface, searched within the flat's radius.
    placed = placed_mesh(relief)
    surface, _ = trimesh.sample.sample_surface_even(placed, 200_000, seed=3)
    surface = np.vstack([surface, placed.vertices])
    tree = cKDTree(surface[:, :2])
    worst = np.inf
    for cut in cuts[:: max(1, len(cuts) // 40)]:
        pts = densify(np.column_stack([cut.path, np.full(len(cut.path), cut.levels[0])]), 0.5)
        for p, near in zip(pts, tree.query_ball_point(pts[:, :2], FLAT.radius), strict=True):
            if near:
                worst = min(worst, p[2] - surface[near, 2].max())
    # Surface samples are ~0.1 mm apart: allow that much on slopes.
    assert worst >= allowance - 0.1


def test_relief_sample_end_to_end(plan_with, samples, profiles, mill):
    design = load_design((samples / "mill-relief.stl").read_bytes(), "mill-relief.stl")
    wax = profiles.material("wax")
    result = plan_with(design, wax)
    tp = result.plan.toolpath
    changes = tp.events_of(EventKind.TOOL_CHANGE)
    assert [c.note.split(":")[0] for c in changes] == ["flat-3.175", "ball-3.175"]
    # The part's bottom is 1 mm (stock top) + 8 mm (part) below the stock top: nothing deeper.
    assert tp.xyz[:, 2].min() == pytest.approx(-9.0, abs=1e-6)
    lo, hi = tp.bounds
    assert (lo[:2] >= 0).all() and hi[0] <= mill.work_area.x and hi[1] <= mill.work_area.y
    # The 1 mm slot is narrower than the 3.175 mm ball: reported and drawn.
    assert any("too narrow" in w.en for w in result.warnings)
    assert 'data-role="too_small"' in result.preview.svg
    # Stock: part + 5 mm margins, 1 mm above, 5 mm below; priced by volume.
    sx, sy, sz = result.plan.facts["stock_mm"]
    assert (sx, sy, sz) == pytest.approx((50.0, 40.0, 14.0))
    assert result.estimate.cost_eur == pytest.approx(sx * sy * sz / 1000 * wax.prices["cm3"])
    assert result.estimate.event_time_s >= 2 * mill.timing["tool_change"]
    assert (tp.kind == MoveKind.PLUNGE).any()


@pytest.mark.parametrize("size", [(190.0, 140.0), (60.0, 40.0), (195.0, 20.0)])
def test_grid_is_capped_at_the_finest_step_that_fits(size):
    from fabserver_mill.plan3d import MAX_GRID_NODES, coarsest_needed

    sx, sy = size
    res = coarsest_needed(sx, sy, 0.05)

    def nodes(r):
        return (sx / r + 1) * (sy / r + 1)

    assert nodes(res) <= MAX_GRID_NODES
    assert res == 0.05 or nodes(res - 0.01) > MAX_GRID_NODES


@pytest.mark.reference
@pytest.mark.parametrize("name", ["idler_riser.STL", "octagonal_pocket.stl", "M3x10_screw.stl"])
def test_drop_cutter_matches_opencamlib(corpus, name):
    """The ball's tip height at the grid nodes equals OpenCAMLib's exact drop-cutter, within
    the tolerance allowed on gentle faces sampled at the nodes."""
    ocl = require_module("opencamlib", "opencamlib not installed (pip install opencamlib)").ocl
    from fabserver_mill.strategies3d import GOUGE_TOLERANCE

    mesh = corpus_mesh(corpus, name)
    _, triangles = oriented(mesh, "auto")
    relief = place(triangles, 5.0, 1.0, 5.0, 0.2)
    tips = finishing_tips(relief, BALL)
    g = relief.grid
    # OpenCAMLib keeps raw pointers: every object it uses must stay referenced here.
    surface = ocl.STLSurf()
    for t in relief.triangles:
        surface.addTriangle(ocl.Triangle(*(ocl.Point(*v) for v in t)))
    cutter = ocl.BallCutter(BALL.diameter, 50.0)
    rng = np.random.default_rng(11)
    jj, ii = rng.integers(0, g.ny, 6000), rng.integers(0, g.nx, 6000)
    batch = ocl.BatchDropCutter()
    batch.setSTL(surface)
    batch.setCutter(cutter)
    for j, i in zip(jj, ii, strict=True):
        batch.appendPoint(ocl.CLPoint(g.x0 + i * g.res, g.y0 + j * g.res, relief.floor))
    batch.run()
    exact = np.maximum([p.z for p in batch.getCLPoints()], relief.floor)
    assert np.abs(tips[jj, ii] - exact).max() <= GOUGE_TOLERANCE
