"""Height maps of a mesh and of a tool riding on it (drop-cutter), over a regular grid.

The part's height map is the highest mesh point above each grid node: every
triangle is crossed with the grid rows it spans, and the nodes of each crossing
get the height of the triangle's plane, all at once per chunk, reduced with
``np.maximum.at``. Vertices are splatted on their nearest node so
that peaks narrower than a cell are not lost.

The tool's tip height at each node is a grey-scale dilation of that map with
the tool's profile (:func:`.morphology.dilate`): a ball of radius r sits
``r - sqrt(r² - d²)`` higher at distance d from its axis, a flat end mill not at all.
Where node samples miss the geometry, :mod:`.dropcutter` completes it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .morphology import dilate, erode

PAIR_CHUNK = 2_000_000
"""Pairs expanded per vectorised step: bounds the memory (~100 MB)."""


@dataclass(frozen=True)
class Grid:
    """Nodes ``x0 + i·res`` (i < nx) by ``y0 + j·res`` (j < ny), millimetres."""

    x0: float
    y0: float
    res: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, x0: float, y0: float, x1: float, y1: float, res: float) -> Grid:
        nx = math.floor((x1 - x0) / res + 1e-9) + 1
        ny = math.floor((y1 - y0) / res + 1e-9) + 1
        return cls(x0, y0, res, nx, ny)

    @property
    def xs(self) -> np.ndarray:
        return self.x0 + self.res * np.arange(self.nx)

    @property
    def ys(self) -> np.ndarray:
        return self.y0 + self.res * np.arange(self.ny)


def rasterise(triangles: np.ndarray, grid: Grid, floor: float) -> np.ndarray:
    """Highest mesh point over each node: faces sampled at the nodes, vertices splatted.

    triangles : (n, 3, 3) float, millimetres
    Returns ``(ny, nx) float``: height at each node, ``floor`` where no triangle is above it.
    """
    heights = rasterise_faces(triangles, grid, floor)
    verts = np.asarray(triangles, dtype=float).reshape(-1, 3)
    vi = np.rint((verts[:, 0] - grid.x0) / grid.res).astype(np.int64)
    vj = np.rint((verts[:, 1] - grid.y0) / grid.res).astype(np.int64)
    ok = (vi >= 0) & (vi < grid.nx) & (vj >= 0) & (vj < grid.ny)
    np.maximum.at(heights.reshape(-1), vj[ok] * grid.nx + vi[ok], verts[ok, 2])
    return heights


def rasterise_faces(triangles: np.ndarray, grid: Grid, floor: float) -> np.ndarray:
    """Height of the highest face exactly above each node (``floor`` where none is).

    Two vectorised expansions: (triangle, grid row) pairs, whose crossing with the
    row gives an x-interval; then (triangle, row, node) triples inside it, whose
    height comes from the triangle's plane. Only covered nodes are visited, not the
    whole bounding box (long thin triangles of flat faces would waste most of it).
    """
    heights = np.full(grid.ny * grid.nx, floor, dtype=float)
    tri = np.asarray(triangles, dtype=float)
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    # Walls seen edge-on cover no node; their tops are the neighbours' edges.
    tri = tri[np.abs(det) > 1e-12]
    if len(tri):
        ys = tri[:, :, 1]
        j0 = np.clip(np.ceil((ys.min(axis=1) - grid.y0) / grid.res - 1e-9), 0, grid.ny)
        j1 = np.clip(np.floor((ys.max(axis=1) - grid.y0) / grid.res + 1e-9), -1, grid.ny - 1)
        rows = np.maximum(j1 - j0 + 1, 0).astype(np.int64)
        for t, j in _expand_chunks(rows, j0.astype(np.int64)):
            _rasterise_rows(heights, tri[t], j, grid)
    return heights.reshape(grid.ny, grid.nx)


def _expand_chunks(counts: np.ndarray, first: np.ndarray):
    """Yield ``(owner, value)`` arrays: ``first[k] + 0..counts[k]-1`` for each k, in chunks."""
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    for start in range(0, total, PAIR_CHUNK):
        q = np.arange(start, min(start + PAIR_CHUNK, total), dtype=np.int64)
        owner = np.searchsorted(ends, q, side="right")
        yield owner, first[owner] + (q - (ends[owner] - counts[owner]))


def _rasterise_rows(heights: np.ndarray, tri: np.ndarray, j: np.ndarray, grid: Grid) -> None:
    """Max-merge the nodes of row ``j[k]`` covered by triangle ``tri[k]`` into ``heights``."""
    y = grid.y0 + j * grid.res
    a = tri
    b = np.roll(tri, -1, axis=1)
    ay, by = a[:, :, 1], b[:, :, 1]
    dy = by - ay
    # Rows were taken with a rounding tolerance: a row a hair outside a triangle
    # (a node on its edge) crosses it at its extreme.
    yc = np.clip(y, ay.min(axis=1), ay.max(axis=1))[:, None]
    crosses = ((ay - yc) * (by - yc) <= 0) & (dy != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = a[:, :, 0] + (yc - ay) / dy * (b[:, :, 0] - a[:, :, 0])
    xmin = np.where(crosses, x, np.inf).min(axis=1)
    xmax = np.where(crosses, x, -np.inf).max(axis=1)
    i0 = np.clip(np.ceil((xmin - grid.x0) / grid.res - 1e-9), 0, grid.nx)
    i1 = np.clip(np.floor((xmax - grid.x0) / grid.res + 1e-9), -1, grid.nx - 1)
    i0 = np.where(np.isfinite(i0), i0, 0).astype(np.int64)
    i1 = np.where(np.isfinite(i1), i1, -1).astype(np.int64)
    n = np.maximum(i1 - i0 + 1, 0)
    # The plane of each triangle: z = z0 + gx·(x - x0) + gy·(y - y0).
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    normal = np.cross(e1, e2)
    gx = -normal[:, 0] / normal[:, 2]
    gy = -normal[:, 1] / normal[:, 2]
    for k, i in _expand_chunks(n, i0):
        px = grid.x0 + i * grid.res - tri[k, 0, 0]
        py = y[k] - tri[k, 0, 1]
        z = tri[k, 0, 2] + gx[k] * px + gy[k] * py
        np.maximum.at(heights, j[k] * grid.nx + i, z)


SQUARE = np.ones((3, 3), dtype=bool)
"""A node and its eight neighbours."""


def conservative(heights: np.ndarray) -> np.ndarray:
    """Each node takes the highest of its 3×3 neighbourhood.

    Nodes sample the surface; a wall between two nodes would otherwise be seen up
    to a cell too far, and the side of the tool would enter it.
    """
    return dilate(heights, SQUARE)


def tool_kernel(radius: float, res: float, shape: str) -> tuple[np.ndarray, np.ndarray]:
    """Footprint ``(k, k) bool`` and the tool's surface above its tip ``(k, k) float``, negated."""
    n = math.ceil(radius / res - 1e-9)
    d = res * np.hypot(*np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1)))
    footprint = d <= radius + 1e-9
    if shape == "ball":
        lift = radius - np.sqrt(np.clip(radius * radius - d * d, 0.0, None))
    else:
        lift = np.zeros_like(d)
    return footprint, np.where(footprint, -lift, 0.0)


def drop_cutter(heights: np.ndarray, res: float, radius: float, shape: str) -> np.ndarray:
    """Lowest tip height at each node for which the tool does not enter the surface.

    heights : (ny, nx) float, the part's height map
    Returns ``(ny, nx) float``.
    """
    footprint, structure = tool_kernel(radius, res, shape)
    if shape == "ball":
        return dilate(heights, footprint, structure)
    return dilate(heights, footprint)


def tool_envelope(tips: np.ndarray, res: float, radius: float, shape: str) -> np.ndarray:
    """The surface the tool leaves when its tip follows ``tips`` everywhere (grey erosion)."""
    footprint, structure = tool_kernel(radius, res, shape)
    if shape == "ball":
        return erode(tips, footprint, structure)
    return erode(tips, footprint)
