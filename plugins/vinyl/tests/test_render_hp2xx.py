"""The HPGL drawn by an independent renderer (Debian's hp2xx) looks like the drawing.

hp2xx renders the file at its true size (``-t``) into a 1-bit PBM at 200 dpi.
The drawing is rasterised here, placed by the layout rule, in the same pixel
frame: scale from the resolution, translation from the top-left corner of the
ink. Both pictures are thin lines, so each is compared with the other dilated
by 3 pixels (0.38 mm), which covers the holder's lead on the blade (0.25 mm)
and a pixel of rasterisation on each side.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from fabserver.designs import load_design
from fabserver.testing import require

HP2XX = shutil.which("hp2xx")
pytestmark = pytest.mark.reference


@pytest.fixture(autouse=True)
def _hp2xx_installed() -> None:
    require(HP2XX, "hp2xx not installed (Debian package, see scripts/system-deps.sh)")


DPI = 200
PX_PER_MM = DPI / 25.4
DILATION_PX = 3
MIN_OVERLAP = 0.95
SPACING = 5.0
NO_AIDS = {"weeding_border": False, "weeding_lines": False}


def render(hpgl: bytes, tmp_path) -> np.ndarray:
    """hp2xx's picture as a boolean array, True where ink."""
    src, out = tmp_path / "job.hpgl", tmp_path / "job.pbm"
    src.write_bytes(hpgl)
    subprocess.run(
        [HP2XX, "-q", "-m", "pbm", "-d", str(DPI), "-t", "-f", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    magic, size, raster = out.read_bytes().split(b"\n", 2)
    assert magic == b"P4"
    width, height = map(int, size.split())
    bits = np.unpackbits(np.frombuffer(raster, np.uint8)).reshape(height, -1)[:, :width]
    return bits.astype(bool)


def rasterise(polylines: list[np.ndarray], shape: tuple[int, int], to_pixel) -> np.ndarray:
    """Thin polylines (mm) drawn into a boolean image, sampled every quarter pixel."""
    image = np.zeros(shape, dtype=bool)
    for line in polylines:
        seg = np.diff(line, axis=0)
        steps = np.maximum(1, np.ceil(np.linalg.norm(seg, axis=1) * PX_PER_MM * 4)).astype(int)
        share = np.concatenate([np.arange(n) / n for n in steps])
        starts = (
            np.repeat(line[:-1], steps, axis=0) + np.repeat(seg, steps, axis=0) * share[:, None]
        )
        pts = np.vstack([starts, line[-1:]])
        rows, cols = to_pixel(pts)
        inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        image[rows[inside], cols[inside]] = True
    return image


def overlaps(ink: np.ndarray, drawn: np.ndarray) -> tuple[float, float]:
    """Share of ink near the drawing, share of the drawing near ink."""
    grow = np.ones((2 * DILATION_PX + 1,) * 2, dtype=bool)
    near_drawing = binary_dilation(drawn, grow)
    near_ink = binary_dilation(ink, grow)
    return (ink & near_drawing).sum() / ink.sum(), (drawn & near_ink).sum() / drawn.sum()


def compare(design, profiles, tools, tmp_path, shift=(0.0, 0.0)) -> tuple[float, float]:
    result, job, data = tools.plan_job(design, profiles, **NO_AIDS)
    ink = render(data, tmp_path)
    strokes = np.vstack(job.strokes) / tools.UNITS_PER_MM
    x_min, y_max = strokes[:, 0].min(), strokes[:, 1].max()
    ink_rows, ink_cols = np.nonzero(ink)
    row0, col0 = ink_rows.min(), ink_cols.min()

    def to_pixel(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cols = np.rint(col0 + (pts[:, 0] - x_min) * PX_PER_MM).astype(int)
        rows = np.rint(row0 + (y_max - pts[:, 1]) * PX_PER_MM).astype(int)
        return rows, cols

    outlines = tools.placed_outlines(design, result.plan.facts, SPACING)
    moved = [o + np.asarray(shift) for o in outlines]
    return overlaps(ink, rasterise(moved, ink.shape, to_pixel))


def test_the_sample_sticker_renders_like_its_drawing(samples, profiles, tools, tmp_path):
    design = load_design((samples / "vinyl-sticker.svg").read_bytes(), "vinyl-sticker.svg")
    ink_near, drawing_near = compare(design, profiles, tools, tmp_path)
    assert ink_near >= MIN_OVERLAP and drawing_near >= MIN_OVERLAP
    # The measure can fail: the same drawing 1 mm off is far from the render.
    off = compare(design, profiles, tools, tmp_path, shift=(1.0, 0.0))
    assert min(off) < 0.6


@pytest.mark.parametrize(
    "name", ["svg/logotype-a.svg", "svg/ltr.svg", "svg/ender2.svg", "dxf/Puzzle-R2007.dxf"]
)
def test_corpus_designs_render_like_their_drawing(name, corpus, profiles, tools, tmp_path):
    path = corpus / name
    design = load_design(path.read_bytes(), path.name)
    ink_near, drawing_near = compare(design, profiles, tools, tmp_path)
    assert ink_near >= MIN_OVERLAP and drawing_near >= MIN_OVERLAP
