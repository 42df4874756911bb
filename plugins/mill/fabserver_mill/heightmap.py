"""Height maps of a mesh and of a tool riding on it (drop-cutter), over a regular grid.

The part's height map is the highest mesh point above each grid node: every
triangle is tested against the nodes of its bounding box, all (triangle, node)
pairs of a chunk at once with barycentric coordinates, and the heights are
reduced with ``np.maximum.at``. Vertices are splatted on their nearest node so
that peaks narrower than a cell are not lost.

The tool's tip height at each node is a grey-scale dilation of that map with
the tool's profile (``scipy.ndimage.grey_dilation``): a ball of radius r sits
``r - sqrt(r² - d²)`` higher at distance d from its axis, a flat end mill not at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

PAIR_CHUNK = 2_000_000
"""(triangle, node) pairs tested per vectorised step: bounds the memory (~100 MB)."""


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
    """Highest mesh point over each node.

    triangles : (n, 3, 3) float, millimetres
    Returns ``(ny, nx) float``: height at each node, ``floor`` where no triangle is above it.
    """
    heights = np.full(grid.ny * grid.nx, floor, dtype=float)
    tri = np.asarray(triangles, dtype=float)
    v0 = tri[:, 0]
    e1 = tri[:, 1] - v0
    e2 = tri[:, 2] - v0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    # Walls seen edge-on cover no node; their tops are the neighbours' edges.
    flat = np.abs(det) > 1e-12
    tri, v0, e1, e2, det = tri[flat], v0[flat], e1[flat], e2[flat], det[flat]
    lo = tri[:, :, :2].min(axis=1)
    hi = tri[:, :, :2].max(axis=1)
    i0 = np.clip(np.ceil((lo[:, 0] - grid.x0) / grid.res - 1e-9), 0, grid.nx).astype(np.int64)
    i1 = np.clip(np.floor((hi[:, 0] - grid.x0) / grid.res + 1e-9), -1, grid.nx - 1).astype(np.int64)
    j0 = np.clip(np.ceil((lo[:, 1] - grid.y0) / grid.res - 1e-9), 0, grid.ny).astype(np.int64)
    j1 = np.clip(np.floor((hi[:, 1] - grid.y0) / grid.res + 1e-9), -1, grid.ny - 1).astype(np.int64)
    width = np.maximum(i1 - i0 + 1, 0)
    counts = width * np.maximum(j1 - j0 + 1, 0)
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    inv_det = 1.0 / det
    for start in range(0, total, PAIR_CHUNK):
        q = np.arange(start, min(start + PAIR_CHUNK, total), dtype=np.int64)
        t = np.searchsorted(ends, q, side="right")
        local = q - (ends[t] - counts[t])
        i = i0[t] + local % width[t]
        j = j0[t] + local // width[t]
        px = grid.x0 + i * grid.res - v0[t, 0]
        py = grid.y0 + j * grid.res - v0[t, 1]
        u = (px * e2[t, 1] - py * e2[t, 0]) * inv_det[t]
        v = (e1[t, 0] * py - e1[t, 1] * px) * inv_det[t]
        inside = (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1.0 + 1e-9)
        z = v0[t, 2] + u * e1[t, 2] + v * e2[t, 2]
        np.maximum.at(heights, (j * grid.nx + i)[inside], z[inside])
    # Peaks: each vertex on its nearest node.
    verts = np.asarray(triangles, dtype=float).reshape(-1, 3)
    vi = np.rint((verts[:, 0] - grid.x0) / grid.res).astype(np.int64)
    vj = np.rint((verts[:, 1] - grid.y0) / grid.res).astype(np.int64)
    ok = (vi >= 0) & (vi < grid.nx) & (vj >= 0) & (vj < grid.ny)
    np.maximum.at(heights, vj[ok] * grid.nx + vi[ok], verts[ok, 2])
    return heights.reshape(grid.ny, grid.nx)


def conservative(heights: np.ndarray) -> np.ndarray:
    """Each node takes the highest of its 3×3 neighbourhood.

    Nodes sample the surface; a wall between two nodes would otherwise be seen up
    to a cell too far, and the side of the tool would enter it.
    """
    return ndimage.maximum_filter(heights, size=3, mode="nearest")


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
        return ndimage.grey_dilation(
            heights, footprint=footprint, structure=structure, mode="nearest"
        )
    return ndimage.maximum_filter(heights, footprint=footprint, mode="nearest")


def tool_envelope(tips: np.ndarray, res: float, radius: float, shape: str) -> np.ndarray:
    """The surface the tool leaves when its tip follows ``tips`` everywhere (grey erosion)."""
    footprint, structure = tool_kernel(radius, res, shape)
    if shape == "ball":
        return ndimage.grey_erosion(tips, footprint=footprint, structure=structure, mode="nearest")
    return ndimage.minimum_filter(tips, footprint=footprint, mode="nearest")
