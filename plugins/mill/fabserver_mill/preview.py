"""What a mill plan shows: the toolpath on the stock (2.5D) or the shaded relief the mill
leaves (3D), with the areas the tool cannot reach and the holding tabs. Data only: the
core draws it."""

from __future__ import annotations

import numpy as np
import shapely

from fabserver.preview_data import Area, Frames, Marks, Preview, Raster
from fabserver.toolpath import Toolpath


def _stock(stock_xy: tuple[float, float]) -> tuple[np.ndarray, Frames]:
    bounds = np.array([[0.0, 0.0], [stock_xy[0], stock_xy[1]]])
    return bounds, Frames("stock", bounds.reshape(1, 4))


def mill_preview(
    stock_xy: tuple[float, float],
    too_small: list[shapely.Geometry],
    tabs: np.ndarray | None = None,
    tab_size: float = 1.0,
) -> Preview:
    """The toolpath over the stock; unreachable areas filled, tabs marked.

    tabs : (k, 2) float, centres of the holding tabs on the tool-centre path
    """
    bounds, stock = _stock(stock_xy)
    overlays: list = [stock, Area("too_small", shapely.union_all(too_small))]
    if tabs is not None and len(tabs):
        overlays.append(Marks("tabs", tabs, tab_size))
    return Preview(overlays=tuple(overlays), bounds=bounds)


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
) -> Preview:
    """The relief the mill will leave (shaded) on the stock, unreachable areas over it.

    surface : (ny, nx) float, heights of the finished surface on the grid from (0, 0)
    """
    step = max(1, int(np.ceil(max(surface.shape) / 1000)))  # at most ~1000 px
    image = hillshade(surface[::step, ::step], res * step)
    box = (0.0, 0.0, res * (surface.shape[1] - 1), res * (surface.shape[0] - 1))
    bounds, stock = _stock(stock_xy)
    return Preview(
        toolpath=Toolpath.empty(),
        overlays=(
            Raster("relief", image, box),
            stock,
            Area("too_small", shapely.union_all(too_small)),
        ),
        bounds=bounds,
    )
