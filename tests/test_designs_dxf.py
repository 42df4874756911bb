"""DXF loading: units, blocks, colours, bulges, hatches, chaining, old and broken files."""

from __future__ import annotations

import math
import random

import ezdxf
import numpy as np
import pytest
import shapely

from fabserver.designs import Drawing, load_design
from fabserver.designs.chaining import chain_paths
from fabserver.designs.types import DrawingPath
from fabserver.errors import DesignError


def dxf_bytes(doc) -> bytes:
    import io

    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode("utf-8")


def new_doc(insunits: int | None = 4):
    doc = ezdxf.new("R2010", setup=False)
    if insunits is not None:
        doc.header["$INSUNITS"] = insunits
    return doc


def closed_areas(drawing: Drawing) -> list[float]:
    return sorted(shapely.Polygon(p.points).area for p in drawing.paths if p.closed)


# --------------------------------------------------------------------------- corpus


# name: (extents min, max in file units, scale to mm), from SOURCES.md
CORPUS_EXTENTS = {
    "forms.dxf": ((-246.00, -1015.00), (770.00, -183.66), 1.0),
    "insert.dxf": ((323.75, 211.75), (621.75, 534.25), 1.0),
    "Puzzle-R2007.dxf": ((0.25, 0.25), (2.62, 2.63), 25.4),
    "1002_tray_bottom.DXF": ((14.82, 10.66), (28.82, 24.66), 25.4),
    "Tux-R2000.dxf": ((0.00, 0.00), (5.00, 7.00), 25.4),
    "broken_loop.dxf": ((0.00, 0.00), (2.00, 4.00), 1.0),
    "bin_dxf_r12.dxf": ((335.72, 304.27), (595.88, 439.77), 1.0),
    "empty_handles.dxf": ((0.00, 0.00), (165.00, 340.00), 1.0),
    "AC1003_LINE_Example.dxf": ((0.00, 0.00), (3.62, 1.62), 1.0),
}


@pytest.mark.parametrize("name", sorted(CORPUS_EXTENTS))
def test_corpus_extents_times_unit_scale(corpus, name):
    lo, hi, scale = CORPUS_EXTENTS[name]
    drawing = load_design((corpus / "dxf" / name).read_bytes(), name)
    assert drawing.facts.scale_to_mm == pytest.approx(scale)
    np.testing.assert_allclose(drawing.bounds, np.array([lo, hi]) * scale, atol=0.006 * scale)


def test_tray_outline_is_14_inches_and_chained(corpus):
    drawing = load_design((corpus / "dxf" / "1002_tray_bottom.DXF").read_bytes())
    assert drawing.facts.units == "in"
    np.testing.assert_allclose(drawing.size, [355.6, 355.6], atol=1e-6)
    # 22 circles + the outline and pockets drawn as 12 ARCs and 12 LINEs
    assert drawing.facts.details["pieces"] == 46
    assert all(p.closed for p in drawing.paths)
    assert len(drawing.paths) == 24


def test_separate_lines_and_arcs_chained_into_contours(corpus):
    """SOURCES.md: 8 closed loops and 2 open polylines, drawn as 52 LINEs and 22 ARCs."""
    drawing = load_design((corpus / "dxf" / "1_polylines.dxf").read_bytes())
    assert drawing.facts.details["pieces"] == 74
    assert sum(p.closed for p in drawing.paths) == 8
    assert sum(not p.closed for p in drawing.paths) == 2
    assert drawing.facts.units == "m" and drawing.facts.scale_to_mm == 1000.0
    (huge,) = [w for w in drawing.warnings if "huge" in w.en]
    assert "millimetres" in huge.en and "×0.001" in huge.en


def test_layer_coded_part_ignores_annotations(corpus):
    drawing = load_design((corpus / "dxf" / "LM2.dxf").read_bytes())
    details = drawing.facts.details
    assert details["ignored"] == {"POINT": 31, "DIMENSION": 22}
    assert details["texts"] == 5
    assert any("text" in w.en for w in drawing.warnings)
    layers = [p.layer for p in drawing.paths]
    assert layers.count("IZREZ") == 1 and layers.count("HOLES") == 39
    assert all(p.closed for p in drawing.paths)


def test_hatch_boundaries_are_fills(corpus):
    drawing = load_design((corpus / "dxf" / "Tux-R2000.dxf").read_bytes())
    outlines = [p for p in drawing.paths if p.layer == "OUTLINE"]
    fills = [p for p in drawing.paths if p.fill is not None]
    assert len(outlines) == 25 and all(p.closed and p.stroke is not None for p in outlines)
    assert fills and all(p.closed and p.stroke is None for p in fills)
    assert {"ORANGE_42", "GRAY", "BLACK_250", "WHITE"} <= {p.layer for p in fills}


@pytest.mark.parametrize(
    ("name", "recovered"),
    [("empty_handles.dxf", True), ("AC1003_LINE_Example.dxf", True), ("bin_dxf_r12.dxf", False)],
)
def test_broken_ancient_and_binary_files(corpus, name, recovered):
    drawing = load_design((corpus / "dxf" / name).read_bytes())
    assert drawing.facts.details["recovered"] is recovered
    assert any("$INSUNITS" in w.en for w in drawing.warnings)  # none of them declares units


def test_empty_handles_two_rectangles_by_layer(corpus):
    drawing = load_design((corpus / "dxf" / "empty_handles.dxf").read_bytes())
    assert sorted(p.layer for p in drawing.paths) == ["GEOMETRY-CUTTING", "GEOMETRY-ENGRAVING"]
    assert all(p.closed and len(p.points) == 4 for p in drawing.paths)


# --------------------------------------------------------------------------- sample, units


def test_sample_plate_in_inches(samples):
    drawing = load_design((samples / "design-plate-inches.dxf").read_bytes())
    assert drawing.facts.units == "in"
    np.testing.assert_allclose(drawing.bounds, [[0, 0], [101.6, 76.2]], atol=1e-6)
    assert all(p.closed and p.layer == "CUT" for p in drawing.paths)
    assert {p.stroke for p in drawing.paths} == {(255, 0, 0)}  # ByLayer → layer CUT, ACI 1
    areas = closed_areas(drawing)
    hole = math.pi * (0.125 * 25.4) ** 2
    slot = (1.0 * 0.5 + math.pi * 0.25**2) * 25.4**2
    plate = (4 * 3 - (4 - math.pi) * 0.25**2) * 25.4**2
    perimeters = np.array([math.pi * 0.25] * 4 + [2 + math.pi * 0.5, 14]) * 25.4
    truth = np.array([hole] * 4 + [slot, plate])
    # chords lie inside the curves, at most the tolerance (0.01 mm) away
    assert np.all(areas <= truth + 1e-6) and np.all(areas >= truth - perimeters * 0.01)
    assert any("text" in w.en for w in drawing.warnings)


@pytest.mark.parametrize(("insunits", "scale"), [(1, 25.4), (4, 1.0), (5, 10.0), (6, 1000.0)])
def test_insunits_honoured(insunits, scale):
    doc = new_doc(insunits)
    doc.modelspace().add_line((0, 0), (2, 0))
    drawing = load_design(dxf_bytes(doc))
    np.testing.assert_allclose(drawing.paths[0].points, [[0, 0], [2 * scale, 0]], atol=1e-9)


def test_unitless_read_as_mm_with_warning():
    doc = new_doc(0)
    doc.modelspace().add_line((0, 0), (20, 0))
    drawing = load_design(dxf_bytes(doc))
    assert drawing.facts.units == "unitless→mm"
    np.testing.assert_allclose(drawing.size, [20, 0])
    assert any("$INSUNITS" in w.en and "$INSUNITS" in w.fr for w in drawing.warnings)


# --------------------------------------------------------------------------- blocks, colours


def test_nested_rotated_scaled_mirrored_block_lands_by_hand():
    doc = new_doc(4)
    doc.layers.add("PARTS", color=3)
    inner = doc.blocks.new("INNER")
    inner.add_line((0, 0), (10, 0), dxfattribs={"color": 0, "layer": "0"})  # BYBLOCK
    outer = doc.blocks.new("OUTER")
    outer.add_blockref(
        "INNER", (5, 0), dxfattribs={"rotation": 90, "xscale": 2, "yscale": 2, "color": 0}
    )
    doc.modelspace().add_blockref(
        "OUTER", (100, 50), dxfattribs={"rotation": 30, "xscale": -1, "color": 1, "layer": "PARTS"}
    )
    (path,) = load_design(dxf_bytes(doc)).paths
    # INNER in OUTER: p → R90·2p + (5, 0): (0,0) → (5,0), (10,0) → (5,20)
    # OUTER in model: q → R30·diag(-1, 1)·q + (100, 50)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    expected = [[100 - 5 * c, 50 - 5 * s], [100 - 5 * c - 20 * s, 50 - 5 * s + 20 * c]]
    np.testing.assert_allclose(path.points, expected, atol=1e-9)
    assert path.stroke == (255, 0, 0)  # BYBLOCK twice → the outer reference's red
    assert path.layer == "PARTS"  # layer 0 inside a block → the reference's layer


def test_circle_in_non_uniformly_scaled_block_becomes_ellipse():
    doc = new_doc(4)
    block = doc.blocks.new("HOLE")
    block.add_circle((0, 0), 5)
    doc.modelspace().add_blockref("HOLE", (50, 50), dxfattribs={"xscale": 2, "yscale": 1})
    (path,) = load_design(dxf_bytes(doc)).paths
    assert path.closed
    np.testing.assert_allclose(path.points.min(axis=0), [40, 45], atol=0.01)
    np.testing.assert_allclose(path.points.max(axis=0), [60, 55], atol=0.01)
    x, y = (path.points - 50).T
    np.testing.assert_allclose((x / 10) ** 2 + (y / 5) ** 2, 1, atol=1e-6)


def test_colours_bylayer_aci_true_colour():
    doc = new_doc(4)
    doc.layers.add("BLUE", color=5)
    msp = doc.modelspace()
    msp.add_line((0, 0), (1, 0), dxfattribs={"layer": "BLUE"})  # BYLAYER
    msp.add_line((0, 1), (1, 1), dxfattribs={"layer": "BLUE", "color": 30})
    msp.add_line((0, 2), (1, 2), dxfattribs={"true_color": ezdxf.rgb2int((12, 34, 56))})
    msp.add_line((0, 3), (1, 3), dxfattribs={"color": 7})
    strokes = [
        p.stroke for p in sorted(load_design(dxf_bytes(doc)).paths, key=lambda p: p.points[0, 1])
    ]
    assert strokes == [(0, 0, 255), ezdxf.colors.aci2rgb(30), (12, 34, 56), (0, 0, 0)]


def test_colors_corpus_block_references(corpus):
    """BLOCK2 holds pieces coloured 7, ByLayer, 6 and ByBlock, all on layer 0.

    Inserted on layer BLUE (ACI 170) with colour ByLayer (301) and yellow (302):
    ByLayer pieces take BLUE's colour, ByBlock ones the reference's.
    """
    drawing = load_design((corpus / "dxf" / "colors.dxf").read_bytes())
    blue, magenta, yellow = (ezdxf.colors.aci2rgb(i) for i in (170, 6, 2))

    def strokes(handle):
        return {p.stroke for p in drawing.paths if p.source == handle}

    assert strokes("301") == {(0, 0, 0), blue, magenta}
    assert strokes("302") == {(0, 0, 0), blue, magenta, yellow}
    assert {p.layer for p in drawing.paths if p.source in ("301", "302")} == {"BLUE"}
    assert strokes("220") == {(242, 103, 34)}  # true colour wins over ACI 30
    assert strokes("28F") == {(0, 0, 0)}  # ByBlock outside any block: black
    assert drawing.facts.details["texts"] == 14 + 4 * 4


def test_off_layer_skipped():
    doc = new_doc(4)
    doc.layers.add("HIDDEN").off()
    doc.modelspace().add_line((0, 0), (5, 0), dxfattribs={"layer": "HIDDEN"})
    doc.modelspace().add_line((0, 0), (0, 5))
    drawing = load_design(dxf_bytes(doc))
    assert len(drawing.paths) == 1
    assert any("HIDDEN" in w.en for w in drawing.warnings)


# --------------------------------------------------------------------------- curves


def test_bulge_half_circle_and_arc_tolerance():
    doc = new_doc(4)
    # a 20 mm wide "D": straight side, then a half circle of radius 10 through bulge 1
    doc.modelspace().add_lwpolyline([(0, 0, 1), (0, 20, 0)], format="xyb", close=True)
    (path,) = load_design(dxf_bytes(doc), tolerance_mm=0.01).paths
    assert path.closed
    arc = path.points[path.points[:, 0] > 1e-9]
    # bulges go through Béziers: vertices within half the tolerance of the true arc
    np.testing.assert_allclose(np.hypot(arc[:, 0], arc[:, 1] - 10), 10, atol=0.005)
    ring = np.vstack([path.points, path.points[:1]])
    mids = (ring[1:] + ring[:-1]) / 2
    on_arc = mids[:, 0] > 1e-9
    sagitta = 10 - np.hypot(mids[on_arc, 0], mids[on_arc, 1] - 10)
    assert 0 < np.abs(sagitta).max() <= 0.01
    assert shapely.Polygon(path.points).area == pytest.approx(math.pi * 50, rel=1e-3)


@pytest.mark.parametrize("degree", [2, 3, 5])
def test_spline_flattened_within_tolerance(degree):
    doc = new_doc(4)
    control = [(0, 0), (30, 60), (60, -40), (90, 20), (120, 80), (150, 0)]
    spline = doc.modelspace().add_open_spline(control, degree=degree)
    (path,) = load_design(dxf_bytes(doc), tolerance_mm=0.01).paths
    dense = np.array(
        [(v.x, v.y) for v in spline.construction_tool().points(np.linspace(0, 1, 4000))]
    )
    line = shapely.LineString(path.points)
    assert shapely.distance(shapely.points(dense), line).max() <= 0.0101


# --------------------------------------------------------------------------- chaining


def _piece(points, layer="0", stroke=(0, 0, 0)) -> DrawingPath:
    return DrawingPath(points=np.asarray(points, float), closed=False, stroke=stroke, layer=layer)


def test_chaining_shuffled_reversed_polygon():
    """A 2000-gon cut into pieces, shuffled and half of them reversed: one closed loop."""
    angles = np.linspace(0, 2 * np.pi, 2001)[:-1]
    ring = np.column_stack([np.cos(angles), np.sin(angles)]) * 100
    pieces = [_piece([ring[i], ring[(i + 1) % 2000]]) for i in range(2000)]
    rng = random.Random(4)
    rng.shuffle(pieces)
    pieces = [p.with_points(p.points[::-1]) if rng.random() < 0.5 else p for p in pieces]
    (loop,) = chain_paths(pieces, tolerance=0.01)
    assert loop.closed and len(loop.points) == 2000
    assert shapely.Polygon(loop.points).area == pytest.approx(shapely.Polygon(ring).area)


def test_chaining_respects_layers_and_junctions():
    square = [[(0, 0), (10, 0)], [(10, 0), (10, 10)], [(10, 10), (0, 10)], [(0, 10), (0, 0)]]
    other_layer = _piece([(0, 0), (-5, -5)], layer="ENGRAVE")
    t_stem = [_piece([(20, 0), (30, 0)]), _piece([(30, 0), (40, 0)]), _piece([(30, 0), (30, 10)])]
    gap = [_piece([(50, 0), (60, 0)]), _piece([(60.02, 0), (70, 0)])]
    out = chain_paths([_piece(s) for s in square] + [other_layer, *t_stem, *gap], tolerance=0.01)
    closed = [p for p in out if p.closed]
    assert len(closed) == 1 and len(closed[0].points) == 4
    assert len([p for p in out if not p.closed]) == 1 + 3 + 2  # nothing joined at a T or a gap


def test_open_chain_keeps_order():
    pieces = [_piece([(2, 0), (3, 0)]), _piece([(1, 0), (0, 0)]), _piece([(1, 0), (2, 0)])]
    (chain,) = chain_paths(pieces, tolerance=0.01)
    assert not chain.closed
    assert chain.points[:, 0].tolist() in ([0, 1, 2, 3], [3, 2, 1, 0])


def test_only_text_is_refused():
    doc = new_doc(4)
    doc.modelspace().add_text("HELLO")
    doc.modelspace().add_point((1, 1))
    with pytest.raises(DesignError) as info:
        load_design(dxf_bytes(doc))
    assert "only text" in info.value.message.en and "texte" in info.value.message.fr


def test_chained_outline_matches_its_hatch(corpus):
    """hatches_2: six open pieces (polylines, an arc, a spline, an ellipse arc) outline
    the region that HATCH 233 fills; chained, they must enclose the same area."""
    drawing = load_design((corpus / "dxf" / "hatches_2.dxf").read_bytes())
    (outline,) = [p for p in drawing.paths if "218" in p.source.split(",")]
    assert outline.closed and len(outline.source.split(",")) == 6
    hatch = by_source_one(drawing, "233")
    a, b = shapely.Polygon(outline.points), shapely.Polygon(hatch.points)
    assert a.is_valid and b.is_valid
    assert a.symmetric_difference(b).area < 0.01 * a.length  # within the tolerance band


def by_source_one(drawing: Drawing, source: str) -> DrawingPath:
    (path,) = [p for p in drawing.paths if p.source == source]
    return path
