"""SVG loading: units, viewBox, transforms, <use>, flattening tolerance, colours, hidden parts."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import svgelements as se

from fabserver.designs import Drawing, load_design
from fabserver.errors import DesignError

MM_PER_PX = 25.4 / 96


def svg(body: str, root: str = 'width="100mm" height="100mm" viewBox="0 0 100 100"') -> bytes:
    return f'<svg xmlns="http://www.w3.org/2000/svg" {root}>{body}</svg>'.encode()


def by_source(drawing: Drawing, source: str):
    (path,) = [p for p in drawing.paths if p.source == source]
    return path


def box(path) -> np.ndarray:
    return np.array([path.points.min(axis=0), path.points.max(axis=0)])


# --------------------------------------------------------------------------- units, page


def test_sample_panel_in_inches(samples):
    drawing = load_design((samples / "design-panel-inches.svg").read_bytes())
    assert drawing.facts.units == "in"
    square = by_source(drawing, "square")
    np.testing.assert_allclose(box(square), [[10, 16.2], [60, 66.2]], atol=1e-5)
    assert square.closed and square.stroke == (255, 0, 0) and square.fill is None
    assert square.stroke_width == pytest.approx(0.1, abs=1e-4)
    hole = by_source(drawing, "hole")
    radii = np.hypot(*(hole.points - [79.375, 76.2 - 100 * MM_PER_PX]).T)
    np.testing.assert_allclose(radii, 10.0, atol=1e-5)
    assert hole.stroke == (0, 0, 255)
    mark = by_source(drawing, "mark")
    assert mark.fill == (0, 0, 0) and mark.stroke is None and mark.closed
    assert "guide" not in {p.source for p in drawing.paths}


@pytest.mark.parametrize(
    ("size", "side_user_units"),
    [
        ('width="2in" height="2in" viewBox="0 0 2 2"', 50 / 25.4),
        ('width="5cm" height="5cm" viewBox="0 0 5 5"', 5.0),
        ('width="144pt" height="144pt" viewBox="0 0 144 144"', 50 / 25.4 * 72),
        ('width="12pc" height="12pc" viewBox="0 0 12 12"', 50 / 25.4 * 6),
        ('width="192px" height="192px" viewBox="0 0 192 192"', 50 / 25.4 * 96),
        ('width="192" height="192"', 50 / 25.4 * 96),
    ],
)
def test_fifty_mm_square_in_every_unit(size, side_user_units):
    drawing = load_design(
        svg(f'<rect x="0" y="0" width="{side_user_units}" height="{side_user_units}"/>', size)
    )
    np.testing.assert_allclose(drawing.size, [50, 50], atol=1e-4)


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        ("", [[25, 0], [75, 50]]),  # xMidYMid meet: 5 mm per unit, centred
        ('preserveAspectRatio="none"', [[0, 0], [100, 50]]),
        ('preserveAspectRatio="xMinYMin meet"', [[0, 0], [50, 50]]),
        ('preserveAspectRatio="xMaxYMax meet"', [[50, 0], [100, 50]]),
        ('preserveAspectRatio="xMinYMin slice"', [[0, -50], [100, 50]]),
    ],
)
def test_viewbox_and_preserve_aspect_ratio(aspect, expected):
    root = f'width="100mm" height="50mm" viewBox="0 0 10 10" {aspect}'
    drawing = load_design(svg('<rect x="0" y="0" width="10" height="10"/>', root))
    np.testing.assert_allclose(drawing.bounds, expected, atol=1e-5)


def test_y_axis_points_up_from_the_page_bottom():
    drawing = load_design(svg('<path d="M 10 10 L 20 30" stroke="black"/>'))
    np.testing.assert_allclose(drawing.paths[0].points, [[10, 90], [20, 70]], atol=1e-9)


def test_legacy_inkscape_page_is_a4_at_90_dpi(corpus):
    drawing = load_design((corpus / "svg" / "tray-easy1.svg").read_bytes())
    assert drawing.facts.units == "px@90dpi"
    assert drawing.facts.details["page_height_mm"] == pytest.approx(297.0, abs=0.01)
    assert drawing.facts.scale_to_mm == pytest.approx(25.4 / 90)
    assert any("Inkscape" in w.en for w in drawing.warnings)


def test_mm_lengths_inside_a_unitless_viewbox(corpus):
    drawing = load_design((corpus / "svg" / "mm-values.svg").read_bytes())
    rect = by_source(drawing, "rect1")
    page = 200 * MM_PER_PX
    np.testing.assert_allclose(box(rect), [[5, page - 49], [49, page - 5]], atol=1e-3)


@pytest.mark.parametrize(
    ("name", "width", "height"),
    [("ABox.svg", 221.90, 335.30), ("Gears.svg", 188.00, 217.65), ("burntest.svg", 200, 200)],
)
def test_corpus_drawings_stay_on_their_mm_page(corpus, name, width, height):
    drawing = load_design((corpus / "svg" / name).read_bytes())
    assert drawing.facts.units == "mm"
    assert drawing.facts.details["page_height_mm"] == pytest.approx(height, rel=1e-5)
    lo, hi = drawing.bounds
    assert lo.min() >= -1e-6 and hi[0] <= width + 1e-6 and hi[1] <= height + 1e-6


# --------------------------------------------------------------------------- transforms


def test_nested_transforms_by_hand():
    body = (
        '<g transform="translate(10,20)"><g transform="rotate(90)">'
        '<path id="p" d="M 0 0 L 10 0" stroke="black"/></g></g>'
    )
    path = load_design(svg(body)).paths[0]
    # rotate(90): (10, 0) → (0, 10); translate → (10, 30); y up on a 100 mm page
    np.testing.assert_allclose(path.points, [[10, 80], [10, 70]], atol=1e-9)


def test_matrix_and_skew():
    body = (
        '<g transform="matrix(2 0 0 1 5 0)"><path d="M 0 10 L 10 10" stroke="black"'
        ' transform="skewX(45)"/></g>'
    )
    path = load_design(svg(body)).paths[0]
    # skewX(45): (x, y) → (x + y, y); matrix: (2x + 5, y)
    np.testing.assert_allclose(path.points, [[25, 90], [45, 90]], atol=1e-9)


def test_transform_list_covers_the_reference_path(corpus):
    """resvg's test: the green skewed rect must cover the red path exactly."""
    drawing = load_design((corpus / "svg" / "transform-list.svg").read_bytes())
    red = shapely.Polygon(by_source(drawing, "path1").points)
    green = shapely.Polygon(by_source(drawing, "rect1").points)
    assert red.symmetric_difference(green).area < 1e-6 * red.area


def test_use_of_a_symbol_lands_where_placed():
    body = (
        '<defs><symbol id="s"><rect x="0" y="0" width="5" height="4"/></symbol></defs>'
        '<use href="#s" x="30" y="40"/><use href="#s" x="0" y="0" transform="scale(2)"/>'
    )
    drawing = load_design(svg(body))
    boxes = sorted(box(p).ravel().round(9).tolist() for p in drawing.paths)
    assert boxes == [[0, 92, 10, 100], [30, 56, 35, 60]]


# --------------------------------------------------------------------------- flattening


def _hausdorff_to_curve(points: np.ndarray, dense: np.ndarray) -> float:
    """Largest distance from a dense sampling of the true curve to our polyline."""
    line = shapely.LineString(points)
    return float(shapely.distance(shapely.points(dense), line).max())


@pytest.mark.parametrize("tolerance", [0.1, 0.01, 0.001])
def test_cubic_flattened_within_tolerance(tolerance):
    d = "M 10 10 C 90 0 -20 80 90 90"
    drawing = load_design(svg(f'<path d="{d}" stroke="black"/>'), tolerance_mm=tolerance)
    points = drawing.paths[0].points
    curve = se.Path(d)
    dense = np.array(curve.npoint(np.linspace(0, 1, 20001)))
    dense[:, 1] = 100 - dense[:, 1]
    error = _hausdorff_to_curve(points, dense)
    assert error <= tolerance
    assert error > tolerance / 20  # not wastefully fine either


@pytest.mark.parametrize("tolerance", [0.05, 0.01])
def test_circle_flattened_within_tolerance(tolerance):
    drawing = load_design(
        svg('<circle cx="50" cy="50" r="40" stroke="red" fill="none"/>'), tolerance_mm=tolerance
    )
    points = drawing.paths[0].points
    assert drawing.paths[0].closed
    ring = np.vstack([points, points[:1]])
    midpoints = (ring[1:] + ring[:-1]) / 2
    sagitta = 40 - np.hypot(*(midpoints - 50).T)
    np.testing.assert_allclose(np.hypot(*(points - 50).T), 40, atol=tolerance)
    assert sagitta.max() <= tolerance + 1e-9


def test_tolerance_is_in_mm_after_transforms():
    """A 100× scale-up must give 10× more chords on the same arc, not the same count."""
    small = load_design(svg('<circle cx="0.5" cy="0.5" r="0.4" stroke="red" fill="none"/>'))
    big = load_design(
        svg('<circle cx="0.5" cy="0.5" r="0.4" stroke="red" fill="none" transform="scale(100)"/>')
    )
    ratio = len(big.paths[0].points) / len(small.paths[0].points)
    assert 7 < ratio < 13  # chord count grows as √(r / tolerance)


def test_arc_compact_syntax_equals_spaced(corpus):
    drawing = load_design((corpus / "svg" / "M-A-trimmed.svg").read_bytes())
    spaced, compact = by_source(drawing, "path1"), by_source(drawing, "path2")
    np.testing.assert_allclose(spaced.points, compact.points, atol=1e-9)
    # endpoints: (10, -20) and (0, -0.1), translated by (10, 40), on a 200-unit page
    page = 200 * MM_PER_PX
    ends = np.array([[20, 20], [10, 39.9]]) * MM_PER_PX
    ends[:, 1] = page - ends[:, 1]
    np.testing.assert_allclose(spaced.points[[0, -1]], ends, atol=1e-9)
    assert spaced.stroke_width == pytest.approx(5 * MM_PER_PX)


# --------------------------------------------------------------------------- style


def test_css_classes_and_inheritance(corpus):
    drawing = load_design((corpus / "svg" / "style_cascade_and_inheritance.svg").read_bytes())
    unit = 100 / 377.95276  # mm per user unit
    inherited = by_source(drawing, "path855")
    assert inherited.stroke == (255, 0, 0) and inherited.fill is None
    classed = by_source(drawing, "path855-6")
    assert classed.stroke == (0, 128, 0) and classed.fill is None
    assert classed.stroke_width == pytest.approx(10 * unit, rel=1e-5)
    overriding = by_source(drawing, "path855-6-3")
    assert overriding.stroke == (0, 128, 0)  # the class beats the group's yellow
    filled = by_source(drawing, "path855-6-3-6")
    assert filled.fill == (0, 0, 255) and filled.stroke == (128, 0, 128)
    assert filled.stroke_width == pytest.approx(5 * unit, rel=1e-5)
    assert filled.closed
    assert drawing.layers() == ["Layer 1"]


def test_hidden_layer_skipped(corpus):
    drawing = load_design((corpus / "svg" / "ltr.svg").read_bytes())
    assert {p.source for p in drawing.paths} == {"path17279"}
    assert drawing.layers() == ["GlyphLayer-A"]
    np.testing.assert_allclose(drawing.bounds, [[0, 0], [30, 40]], atol=1e-5)
    assert drawing.paths[0].stroke_width == pytest.approx(0.264583, rel=1e-5)


def test_visibility_hidden_and_display_none_skipped():
    body = (
        '<path id="a" d="M0 0 L10 0" stroke="red" visibility="hidden"/>'
        '<g style="display:none"><path id="b" d="M0 0 L10 10" stroke="red"/></g>'
        '<path id="c" d="M0 0 L10 20" stroke="red"/>'
        '<path id="d" d="M0 0 L10 30" stroke="none" fill="none"/>'
        '<path id="e" d="M0 0 L10 40" stroke="red" stroke-opacity="0" fill="none"/>'
    )
    drawing = load_design(svg(body))
    assert [p.source for p in drawing.paths] == ["c"]
    assert drawing.facts.details["hidden_skipped"] == 3


def test_text_warns_and_text_only_is_refused(corpus):
    drawing = load_design((corpus / "svg" / "DrillGauge.svg").read_bytes())
    (warning,) = [w for w in drawing.warnings if "text" in w.en]
    assert "28 text" in warning.en and "Objet en chemin" in warning.fr
    assert set(drawing.colours()) == {(0, 0, 0), (0, 255, 0)}
    with pytest.raises(DesignError) as info:
        load_design(svg('<text x="10" y="10">Bonjour</text>'))
    assert "convert it to paths" in info.value.message.en


def test_abox_colour_coding(corpus):
    drawing = load_design((corpus / "svg" / "ABox.svg").read_bytes())
    assert len(drawing.paths) == 34 and all(p.closed for p in drawing.paths)
    assert set(drawing.colours()) == {(0, 0, 0), (0, 0, 255)}
