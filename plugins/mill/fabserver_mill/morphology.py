"""Grey and binary morphology on height maps, with numpy alone.

scipy.ndimage does these well, but importing it costs about 0.3 s of every 3D
plan's start-up, more than the filters themselves take on a mill's grids. The
operations are short to write: a tool kernel is a few hundred offsets, each one a
shifted view of the map (edges repeated, ``mode="nearest"``) raised or lowered by
the tool's surface and folded into the result. The sums and the maximum are the
ones scipy computes, so the maps are the same to the last bit. Rows are taken in
bands so the working arrays stay in the processor's cache.
"""

from __future__ import annotations

import numpy as np

from fabserver.designs.indexed import connected_components

BAND_CELLS = 1 << 14
"""Grid nodes per band: ~128 KiB working arrays."""


def dilate(
    heights: np.ndarray, footprint: np.ndarray, lift: np.ndarray | None = None
) -> np.ndarray:
    """Highest ``heights + lift`` over the footprint around each node (grey dilation).

    footprint : (k, k) bool, odd and symmetric (a tool's round)
    lift : (k, k) float or None (a flat footprint: a maximum filter)
    """
    return _fold(heights, footprint, lift, np.maximum, np.add)


def erode(heights: np.ndarray, footprint: np.ndarray, lift: np.ndarray | None = None) -> np.ndarray:
    """Lowest ``heights - lift`` over the footprint around each node (grey erosion)."""
    return _fold(heights, footprint, lift, np.minimum, np.subtract)


def _fold(heights, footprint, lift, reduce, shift) -> np.ndarray:
    heights = np.asarray(heights, dtype=np.float64)
    ny, nx = heights.shape
    n = footprint.shape[0] // 2
    padded = np.pad(heights, n, mode="edge")
    offsets = [
        (int(dy), int(dx), None if lift is None else float(lift[dy, dx]))
        for dy, dx in zip(*np.nonzero(footprint), strict=True)
    ]
    out = np.empty_like(heights)
    rows = max(1, BAND_CELLS // max(nx, 1))
    work = np.empty((rows, nx))
    for y0 in range(0, ny, rows):
        y1 = min(ny, y0 + rows)
        band, moved = out[y0:y1], work[: y1 - y0]
        first = True
        for dy, dx, amount in offsets:
            view = padded[y0 + dy : y1 + dy, dx : dx + nx]
            if amount is not None:
                shift(view, amount, out=moved)
                view = moved
            if first:
                band[...] = view
                first = False
            else:
                reduce(band, view, out=band)
    return out


CROSS = np.array([[False, True, False], [True, True, True], [False, True, False]])
"""The four neighbours and the node itself."""


def binary_opening(mask: np.ndarray) -> np.ndarray:
    """The mask eroded then dilated by :data:`CROSS`, outside the grid counting as empty.

    What ``scipy.ndimage.binary_opening`` does with its default structure: lone nodes
    and one-node-wide threads go.
    """
    return _binary_fold(_binary_fold(mask, np.logical_and), np.logical_or)


def _binary_fold(mask: np.ndarray, combine) -> np.ndarray:
    padded = np.pad(np.asarray(mask, dtype=bool), 1, constant_values=False)
    ny, nx = mask.shape
    out = padded[1 : ny + 1, 1 : nx + 1].copy()
    for dy, dx in ((0, 1), (1, 0), (1, 2), (2, 1)):
        combine(out, padded[dy : dy + ny, dx : dx + nx], out=out)
    return out


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Regions of nodes joined through their four neighbours: ``(labels, count)``.

    Labels run from 1 in the order of each region's first node row by row (0 outside
    the mask), as ``scipy.ndimage.label`` numbers them.
    """
    mask = np.asarray(mask, dtype=bool)
    flat = mask.ravel()
    ny, nx = mask.shape
    rank = np.cumsum(flat) - 1  # each masked node's place among the masked ones
    index = np.arange(mask.size).reshape(ny, nx)
    across = index[:, :-1][mask[:, :-1] & mask[:, 1:]]
    down = index[:-1][mask[:-1] & mask[1:]]
    roots = connected_components(
        int(flat.sum()),
        rank[np.concatenate([across, down])],
        rank[np.concatenate([across + 1, down + nx])],
    )
    first_nodes, number = np.unique(roots, return_inverse=True)
    labels = np.zeros(mask.size, dtype=np.int64)
    labels[flat] = number.reshape(-1) + 1
    return labels.reshape(ny, nx), len(first_nodes)


def centres_of_mass(mask: np.ndarray, labels: np.ndarray, count: int) -> list[tuple[float, float]]:
    """``(row, column)`` centre of each labelled region, summed as scipy's ``center_of_mass``."""
    weights = mask.astype(np.float64).ravel()
    normaliser = np.bincount(labels.ravel(), weights=weights)[1 : count + 1]
    rows = np.ogrid[: mask.shape[0], : mask.shape[1]]
    sums = [
        np.bincount(labels.ravel(), weights=(mask * axis.astype(float)).ravel())[1 : count + 1]
        for axis in rows
    ]
    return [(float(r), float(c)) for r, c in zip(*(s / normaliser for s in sums), strict=True)]
