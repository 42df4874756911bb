"""What the sheets look like: a clean SVG per sheet for lasers driven by a vendor driver
(through the core's vector SVG writer: kerf already applied, contours in cutting order,
one group per operation in the lab's colours), and the preview's data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import numpy as np
import shapely
import shapely.affinity

from fabserver.plugin import roles_from_toml
from fabserver.preview_data import Area, Frames, Lines, Preview
from fabserver.toolpath import Toolpath
from fabserver.writers.svg import VectorGroup, write_vector_svg

from .ordering import Ordered
from .work import SheetWork

#: The preview's roles (roles.toml); the sheet files draw each operation in its role's colour.
ROLES = roles_from_toml(__package__)
COLOURS = {operation: ROLES[operation].colour for operation in ("cut", "score", "engrave")}


def _outlines(items: Iterable[Ordered], work: SheetWork) -> tuple[list[np.ndarray], list[bool]]:
    """The contours of ``items`` in cutting order (a closed one without its repeated start)."""
    paths, closed = [], []
    for o in items:
        ring = work.sheet.contours[o.index].closed
        paths.append((o.points[:-1] if ring else o.points)[:, :2])
        closed.append(ring)
    return paths, closed


def write_svg(out: IO[bytes], work: SheetWork, size: tuple[float, float], title: str) -> None:
    """One sheet's final geometry for a vendor driver, through the core's vector SVG writer."""
    write_vector_svg(
        out,
        size,
        title,
        [
            VectorGroup("engrave", COLOURS["engrave"], area=work.sheet.engrave),
            VectorGroup("score", COLOURS["score"], *_outlines(work.scores, work)),
            VectorGroup("cut", COLOURS["cut"], *_outlines(work.cuts, work)),
        ],
    )


def preview(works: list[SheetWork], size: tuple[float, float], max_sheets: int = 6) -> Preview:
    """The first sheets side by side, as the maker will get them (for the web page).

    Drawn from the final geometry rather than the moves: a raster is thousands
    of strokes, the area it engraves is one filled region.
    """
    w, h = size
    gap = 0.05 * w
    shown = works[:max_sheets]
    shifts = [i * (w + gap) for i in range(len(shown))]
    frames = Frames(
        "sheet",
        np.array([[x, 0.0, x + w, h] for x in shifts]).reshape(-1, 4),
        [str(work.sheet.index + 1) for work in shown],
    )
    engraved = [
        shapely.affinity.translate(work.sheet.engrave, xoff=x)
        for work, x in zip(shown, shifts, strict=True)
        if not work.sheet.engrave.is_empty
    ]
    lines = []
    for op in ("score", "cut"):
        paths, closed = [], []
        for work, x in zip(shown, shifts, strict=True):
            op_paths, op_closed = _outlines(work.scores if op == "score" else work.cuts, work)
            paths += [p + np.array([x, 0.0]) for p in op_paths]
            closed += op_closed
        lines.append(Lines(op, paths, closed))
    return Preview(
        toolpath=Toolpath.empty(),
        overlays=(frames, Area("engrave", shapely.union_all(engraved), 0.7), *lines),
        show_travel=False,
        frame_work=True,
    )
