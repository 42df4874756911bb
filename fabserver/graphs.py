"""Connected components of a graph given by its edges, without importing scipy.

scipy's import alone costs a print of a small part a fifth of its time; the
slicer only needs the weakly connected components of a sparse graph. This module
offers that subset with scipy's call shapes (``coo_matrix((data, (row, col)),
shape=...)`` then ``connected_components(graph, directed=..., connection="weak")``)
and scipy's labelling: components numbered in the order of their smallest node.
"""

from __future__ import annotations

import numpy as np

from .designs.indexed import connected_components as _roots


class coo_matrix:
    """The edges of a sparse graph (its values are ignored: any stored entry is an edge)."""

    def __init__(self, entries: tuple, shape: tuple[int, int]) -> None:
        _, (row, col) = entries
        self.row = np.asarray(row, dtype=np.int64)
        self.col = np.asarray(col, dtype=np.int64)
        self.shape = (int(shape[0]), int(shape[1]))


def connected_components(
    graph: coo_matrix,
    directed: bool = True,
    connection: str = "weak",
    return_labels: bool = True,
) -> tuple[int, np.ndarray]:
    """``(count, labels)``: weakly connected components, labelled like scipy's."""
    if directed and connection != "weak":
        raise NotImplementedError("only weakly connected components are offered")
    roots = _roots(graph.shape[0], graph.row, graph.col)
    # A root is its group's smallest node: its rank among the roots is the label.
    is_root = roots == np.arange(len(roots))
    labels = (np.cumsum(is_root, dtype=np.int32) - 1)[roots]
    return int(np.count_nonzero(is_root)), labels
