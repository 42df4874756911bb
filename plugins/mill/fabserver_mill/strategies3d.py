"""3D milling from a height map: orientation, roughing in Z levels, parallel finishing.

Coordinates: the stock's top is z = 0, its lower-left corner x = y = 0; the
part sits ``margin`` inside it and ``stock_top`` below its top.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from fabserver.designs.indexed import IndexedMesh

from .assemble import Cut
from .dropcutter import ball_tips
from .heightmap import Grid, conservative, drop_cutter, rasterise, tool_envelope
from .morphology import binary_opening, centres_of_mass, label
from .passes import step_levels
from .settings import Tool

UP_CHOICES = {
    "+z": (0, 0, 1),
    "-z": (0, 0, -1),
    "+y": (0, 1, 0),
    "-y": (0, -1, 0),
    "+x": (1, 0, 0),
    "-x": (-1, 0, 0),
}

COLLINEAR = 1e-6
"""mm: finishing points whose height is this close to the line through their
neighbours are dropped (exactly what the straight move between them does)."""

UNCUT_REPORT = 0.1
"""mm of material beyond the tool's own round that is worth reporting."""


#: The turn that brings each side of the part up (+Z), as a rotation matrix (rows: where
#: the turned X, Y and Z come from). Every entry is 0 or ±1: turned coordinates are the
#: same numbers, moved between axes, so the drop-cutter sees the mesh exactly as drawn.
_TURN_UP = {
    (0, 0, 1): ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    (0, 0, -1): ((-1, 0, 0), (0, 1, 0), (0, 0, -1)),
    (1, 0, 0): ((0, 0, -1), (0, 1, 0), (1, 0, 0)),
    (-1, 0, 0): ((0, 0, 1), (0, 1, 0), (-1, 0, 0)),
    (0, 1, 0): ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
    (0, -1, 0): ((0, 0, -1), (1, 0, 0), (0, -1, 0)),
}


def up_rotation(direction: tuple[float, float, float]) -> np.ndarray:
    """``(4, 4)`` transform turning the side facing ``direction`` (an axis, ±X, ±Y or ±Z) to +Z."""
    matrix = np.eye(4)
    matrix[:3, :3] = _TURN_UP[tuple(round(c) for c in direction)]
    return matrix


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``(n, 3)`` points moved by a ``(4, 4)`` transform: an identity leaves them as they
    are (not even a sign of zero changes), any other multiplies homogeneous coordinates."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        return points.copy()
    if np.abs(matrix - np.eye(4)).max() < 1e-8:
        return np.ascontiguousarray(points.copy())
    stack = np.column_stack((points, np.ones(len(points))))
    return np.dot(matrix, stack.T).T[:, :3]


def choose_up(mesh: IndexedMesh) -> tuple[str, np.ndarray]:
    """The side to machine from: least material hidden under overhangs, then the lowest part.

    For each of the six axis directions, a coarse height map gives the volume under
    the part's top surface; the part's own volume is the same in every direction,
    so the smallest one hides least from a tool coming from above. Ties (within 1 %)
    go to the flattest placement, which needs the thinnest stock.
    """
    scores = []
    for name, direction in UP_CHOICES.items():
        matrix = up_rotation(direction)
        tri = transform_points(mesh.triangles.reshape(-1, 3), matrix).reshape(-1, 3, 3)
        lo, hi = tri.reshape(-1, 3).min(axis=0), tri.reshape(-1, 3).max(axis=0)
        res = max(hi[0] - lo[0], hi[1] - lo[1]) / 120.0
        grid = Grid.covering(lo[0], lo[1], hi[0], hi[1], res)
        heights = rasterise(tri, grid, lo[2])
        volume = float((heights - lo[2]).sum()) * res * res
        scores.append((name, volume, hi[2] - lo[2], matrix))
    best = min(s[1] for s in scores)
    close = [s for s in scores if s[1] <= best * 1.01 + 1e-9]
    name, _, _, matrix = min(close, key=lambda s: s[2])
    return name, matrix


@dataclass
class Relief:
    """The part placed in its stock and sampled on a grid."""

    grid: Grid
    heights: np.ndarray  # (ny, nx) part surface, floor outside
    floor: float  # z of the part's bottom
    stock: tuple[float, float, float]  # x, y, z sizes, mm
    triangles: np.ndarray  # (n, 3, 3) placed, for reference checks


def place(
    triangles: np.ndarray, margin: float, stock_top: float, bottom: float, res: float
) -> Relief:
    """Move the part into its stock: ``margin`` around, top ``stock_top`` under z = 0."""
    pts = triangles.reshape(-1, 3)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    shift = np.array([margin - lo[0], margin - lo[1], -stock_top - hi[2]])
    placed = triangles + shift
    size = hi - lo
    stock = (size[0] + 2 * margin, size[1] + 2 * margin, size[2] + stock_top + bottom)
    floor = -stock_top - size[2]
    grid = Grid.covering(0.0, 0.0, stock[0], stock[1], res)
    heights = rasterise(placed, grid, floor)
    return Relief(grid, heights, floor, stock, placed)


def _runs(mask_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indices of the runs of True in a row."""
    padded = np.concatenate([[False], mask_row, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return edges[0::2], edges[1::2] - 1


def _segment_clear(mask: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    n = max(abs(b[0] - a[0]), abs(b[1] - a[1])) + 1
    jj = np.rint(np.linspace(a[0], b[0], n)).astype(int)
    ii = np.rint(np.linspace(a[1], b[1], n)).astype(int)
    return bool(mask[jj, ii].all())


def rough_chains(mask: np.ndarray, row_step: int) -> list[list[tuple[int, int]]]:
    """Zig-zag chains over the rows of ``mask`` (every ``row_step`` rows): node (j, i) lists.

    A chain continues into the next row while the link stays where the tool may
    go; otherwise a new chain starts (the tool lifts between chains).
    """
    rows = range(0, mask.shape[0], row_step)
    runs: dict[int, list[tuple[int, int]]] = {}
    for j in rows:
        starts, ends = _runs(mask[j])
        if len(starts):
            runs[j] = list(zip(starts.tolist(), ends.tolist(), strict=True))
    chains: list[list[tuple[int, int]]] = []
    row_list = sorted(runs)
    next_row = {a: b for a, b in itertools.pairwise(row_list)}
    while runs:
        j = min(runs)
        i0, i1 = runs[j].pop(0)
        if not runs[j]:
            del runs[j]
        chain = [(j, i0), (j, i1)]
        rightward = False  # the next row goes the other way
        while True:
            nj = next_row.get(j)
            if nj is None or nj not in runs or nj - j != row_step:
                break
            here = chain[-1]
            best = None
            for k, (a, b) in enumerate(runs[nj]):
                enter = (nj, a) if rightward else (nj, b)
                if _segment_clear(mask, here, enter):
                    dist = abs(enter[1] - here[1])
                    if best is None or dist < best[0]:
                        best = (dist, k, enter)
            if best is None:
                break
            _, k, enter = best
            a, b = runs[nj].pop(k)
            if not runs[nj]:
                del runs[nj]
            leave = (nj, b) if rightward else (nj, a)
            chain += [enter, leave]
            rightward = not rightward
            j = nj
        chains.append(chain)
    return chains


def roughing_cuts(
    relief: Relief,
    tool_id: str,
    tool: Tool,
    step_down: float,
    step_over: float,
    allowance: float,
    ramp_angle: float,
) -> list[Cut]:
    """Z levels with the flat tool, leaving ``allowance`` on the part."""
    g = relief.grid
    grown = conservative(relief.heights) + allowance
    tips = drop_cutter(grown, g.res, tool.radius + allowance, "flat")
    levels = step_levels(0.0, relief.floor + allowance, step_down)
    row_step = max(1, int(step_over * tool.diameter / g.res))
    cuts: list[Cut] = []
    z_top = 0.0
    for level in levels:
        mask = tips <= level + 1e-9
        for chain in rough_chains(mask, row_step):
            nodes = np.array(chain)
            xy = np.column_stack([g.x0 + nodes[:, 1] * g.res, g.y0 + nodes[:, 0] * g.res])
            keep = np.concatenate([[True], np.any(np.diff(xy, axis=0) != 0, axis=1)])
            xy = xy[keep]
            cuts.append(
                Cut(xy, False, z_top, np.array([level]), "rough", tool_id, ramp_angle=ramp_angle)
            )
        z_top = float(level)
    return cuts


GOUGE_TOLERANCE = 0.003
"""mm the ball may enter a gentle face between grid nodes (second-order error of the grid)."""


def finishing_tips(relief: Relief, tool: Tool) -> np.ndarray:
    """Tip heights of the finishing tool over the whole grid (drop-cutter)."""
    if tool.shape == "ball":
        return ball_tips(relief.triangles, relief.grid, relief.floor, tool.radius, GOUGE_TOLERANCE)
    return drop_cutter(conservative(relief.heights), relief.grid.res, tool.radius, tool.shape)


def lift_steep(tips: np.ndarray, res: float) -> np.ndarray:
    """Raise both ends of every move along X steeper than 45° to the higher end.

    Tip heights are exact at the nodes only. Between two nodes the tool climbing
    a wall follows a circle of its own radius, which a straight move steeper than
    45° would cut through (by up to ~0.1 mm at a 0.2 mm grid); on gentler slopes
    the chord stays within a few microns of the circle.
    """
    step = np.diff(tips, axis=1)
    steep = np.abs(step) > res
    top = np.maximum(tips[:, :-1], tips[:, 1:])
    out = tips.copy()
    out[:, :-1] = np.where(steep, np.maximum(out[:, :-1], top), out[:, :-1])
    out[:, 1:] = np.where(steep, np.maximum(out[:, 1:], top), out[:, 1:])
    return out


def finishing_path(relief: Relief, tips: np.ndarray, tool: Tool, step_over: float) -> np.ndarray:
    """Parallel raster along X, zig-zag, linked at the row ends over the highest tip between rows.

    Returns ``(m, 3) float``.
    """
    g = relief.grid
    row_step = max(1, int(step_over * tool.diameter / g.res))
    rows = list(range(0, g.ny, row_step))
    if rows[-1] != g.ny - 1:
        rows.append(g.ny - 1)
    xs = g.xs
    tips = lift_steep(tips, g.res)
    # Interior points on the straight line through their neighbours say nothing.
    second = np.abs(tips[:, :-2] - 2.0 * tips[:, 1:-1] + tips[:, 2:])
    keep = np.ones_like(tips, dtype=bool)
    keep[:, 1:-1] = second > COLLINEAR
    parts = []
    for k, j in enumerate(rows):
        idx = np.flatnonzero(keep[j])
        if k % 2:
            idx = idx[::-1]
        row = np.column_stack([xs[idx], np.full(len(idx), g.ys[j]), tips[j, idx]])
        if k > 0:
            prev_j = rows[k - 1]
            i_end = idx[0]
            lift = float(tips[prev_j : j + 1, i_end].max())
            parts.append(np.array([[xs[i_end], g.ys[prev_j], lift], [xs[i_end], g.ys[j], lift]]))
        parts.append(row)
    return np.vstack(parts)


def unreached(relief: Relief, tips: np.ndarray, tool: Tool) -> tuple[np.ndarray, np.ndarray]:
    """Where the finishing tool cannot reach the part ``(ny, nx) bool``, and the surface it leaves.

    The tool leaves its own round at the foot of every wall (at most its radius
    high); more than that means a slot or corner narrower than the tool. Heights
    are compared with the map the tool followed (the 3×3 safety margin included).
    """
    left = tool_envelope(tips, relief.grid.res, tool.radius, tool.shape)
    excess = left - conservative(relief.heights)
    return binary_opening(excess > tool.radius + UNCUT_REPORT), left


def mask_regions(mask: np.ndarray, grid: Grid) -> tuple[int, float, list[tuple[float, float]]]:
    """Connected regions of a node mask: count, area (mm²) and their centres."""
    labels, count = label(mask)
    if count == 0:
        return 0, 0.0, []
    centres = centres_of_mass(mask, labels, count)
    pts = [(grid.x0 + c[1] * grid.res, grid.y0 + c[0] * grid.res) for c in centres]
    return count, float(mask.sum()) * grid.res**2, pts
