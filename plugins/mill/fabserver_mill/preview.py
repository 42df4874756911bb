"""The shared toolpath preview with the areas the tool cannot reach drawn over it."""

from __future__ import annotations

import numpy as np
import shapely

from fabserver.preview import role_colour, toolpath_svg
from fabserver.toolpath import Toolpath


def _rings_d(geom) -> str:
    """SVG path data of every ring of a (Multi)Polygon, two decimals."""
    parts = []
    for ring in shapely.get_rings(shapely.get_parts(geom)):
        pts = np.round(np.asarray(ring.coords)[:, :2], 2)
        if len(pts) < 3:
            continue
        body = ("%.2f %.2f " * (len(pts) - 1)) % tuple(pts[1:].ravel())
        parts.append(f"M{pts[0, 0]:.2f} {pts[0, 1]:.2f}L{body}Z")
    return "".join(parts)


def mill_preview(tp: Toolpath, stock_xy: tuple[float, float], too_small: list) -> str:
    """Top view of the stock and the toolpath; unreachable areas filled in the role's colour."""
    bounds = np.array([[0.0, 0.0, 0.0], [stock_xy[0], stock_xy[1], 0.0]])
    svg = toolpath_svg(tp, bounds=bounds)
    stock = (
        f'<rect class="stock" x="0" y="0" width="{stock_xy[0]:.2f}" height="{stock_xy[1]:.2f}" '
        'stroke="#bbbbbb" stroke-dasharray="2 2" stroke-width="0.3"/>'
    )
    shapes = [stock]
    d = "".join(_rings_d(g) for g in too_small if not g.is_empty)
    if d:
        colour = role_colour("too_small")
        shapes.append(
            f'<path class="role-too_small" data-role="too_small" d="{d}" fill="{colour}" '
            f'fill-opacity="0.6" fill-rule="evenodd" stroke="{colour}" stroke-width="0.1"/>'
        )
    head, tail = svg.rsplit("</g></svg>", 1)
    return head + "".join(shapes) + "</g></svg>" + tail
