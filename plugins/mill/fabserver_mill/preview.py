"""Previews: the shared toolpath view (2.5D) or the shaded relief (3D), with the areas
the tool cannot reach drawn over them."""

from __future__ import annotations

import base64
import struct
import zlib

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


def mill_preview(
    tp: Toolpath,
    stock_xy: tuple[float, float],
    too_small: list,
    tabs: np.ndarray | None = None,
    tab_size: float = 1.0,
) -> str:
    """Top view of the stock and the toolpath; unreachable areas filled in the role's colour.

    tabs : (k, 2) float, centres of the holding tabs on the tool-centre path
    """
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
    if tabs is not None and len(tabs):
        half = tab_size / 2
        rects = "".join(
            f'<rect x="{x - half:.2f}" y="{y - half:.2f}" width="{tab_size:.2f}" '
            f'height="{tab_size:.2f}"/>'
            for x, y in np.round(tabs, 2)
        )
        shapes.append(f'<g class="tabs" fill="#2ca02c" stroke="none">{rects}</g>')
    head, tail = svg.rsplit("</g></svg>", 1)
    return head + "".join(shapes) + "</g></svg>" + tail


def _png_grey(image: np.ndarray) -> bytes:
    """``(h, w) uint8`` → PNG bytes (8-bit greyscale), written by hand: no imaging library needed."""
    h, w = image.shape
    raw = np.hstack([np.zeros((h, 1), np.uint8), image]).tobytes()  # filter 0 on each row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def hillshade(surface: np.ndarray, res: float) -> np.ndarray:
    """``(ny, nx) float`` heights → ``(ny, nx) uint8`` shading, light from the upper left."""
    dzdy, dzdx = np.gradient(surface, res)
    normal = np.stack([-dzdx, -dzdy, np.ones_like(surface)])
    normal /= np.linalg.norm(normal, axis=0)
    light = np.array([-1.0, 1.0, 1.4])
    light /= np.linalg.norm(light)
    shade = np.clip(np.tensordot(light, normal, axes=1), 0.0, 1.0)
    span = float(np.ptp(surface)) or 1.0
    height = (surface - surface.min()) / span
    return (255 * (0.25 + 0.5 * shade + 0.25 * height).clip(0, 1)).astype(np.uint8)


def relief_preview(
    surface: np.ndarray, res: float, stock_xy: tuple[float, float], too_small: list
) -> str:
    """Top view of the relief the mill will leave (shaded), unreachable areas over it.

    surface : (ny, nx) float, heights of the finished surface on the grid from (0, 0)
    """
    step = max(1, int(np.ceil(max(surface.shape) / 1000)))  # at most ~1000 px
    image = hillshade(surface[::step, ::step], res * step)[::-1]  # rows from the top
    data = base64.b64encode(_png_grey(image)).decode()
    sx, sy = stock_xy
    width = res * (surface.shape[1] - 1)
    height = res * (surface.shape[0] - 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-1 -1 {sx + 2:.2f} {sy + 2:.2f}" '
        f'width="800" height="{800 * (sy + 2) / (sx + 2):.0f}" data-width-mm="{sx:.2f}" '
        f'data-height-mm="{sy:.2f}">',
        f'<image class="relief" x="0" y="{sy - height:.3f}" width="{width:.3f}" '
        f'height="{height:.3f}" preserveAspectRatio="none" href="data:image/png;base64,{data}"/>',
        f'<g transform="translate(0,{sy:.3f}) scale(1,-1)" fill="none">',
        f'<rect class="stock" x="0" y="0" width="{sx:.2f}" height="{sy:.2f}" stroke="#bbbbbb" '
        'stroke-dasharray="2 2" stroke-width="0.3"/>',
    ]
    d = "".join(_rings_d(g) for g in too_small if not g.is_empty)
    if d:
        colour = role_colour("too_small")
        parts.append(
            f'<path class="role-too_small" data-role="too_small" d="{d}" fill="{colour}" '
            f'fill-opacity="0.6" stroke="{colour}" stroke-width="0.1"/>'
        )
    parts.append("</g></svg>")
    return "".join(parts)
