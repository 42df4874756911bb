"""The plugin on every SVG and DXF of the corpus and of samples/, checked geometrically.

Every path is mapped to "cut" (``layer:*=cut``) so that all the geometry goes
through kerf, nesting, ordering and the writer. The G-code is read back, the cut
contours rebuilt and compared with a reference computed here from the source
paths: containment depth from points on surface, offset by half the kerf
outwards on parts and inwards on holes, placed where the plan's facts say.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fabserver.errors import PlanError
from fabserver.testing import ROOT as REPO
from fabserver.testing import corpus_files


def design_files() -> list[tuple[str, str]]:
    """``(where, relative path)`` of every SVG and DXF in the corpus and samples/."""
    found = [
        ("corpus", f"{sub}/{p.name}")
        for sub in ("svg", "dxf")
        for p in corpus_files(sub, ".svg", ".dxf")
    ]
    found += [
        ("samples", p.name)
        for p in sorted((REPO / "samples").iterdir())
        if p.suffix.lower() in (".svg", ".dxf")
    ]
    return found


KERF_TOLERANCE = 0.01  # mm, on top of half the kerf (G-code has 3 decimals)
COPIES = 2

# Larger than the 600 x 400 mm sheet (margins 5 mm) in both orientations, as loaded.
TOO_BIG = {
    "MIL.svg",  # 650 x 1500 mm (px at 96 dpi)
    "contour_Allura_Script.ttf_glyph_m.svg",  # font units, no size: metres wide
    "1_polylines.dxf",  # $INSUNITS = metres
    "LM2.dxf",  # 410 x 409 mm part
    "colors.dxf",  # 224 x 595 mm block
    "hatches_2.dxf",  # inches, 1.4 m wide
}


def _reference_rings(design, kerf: float) -> list[np.ndarray]:
    """Source contours offset by half the kerf, computed without the plugin.

    Open lines that chain into a loop (a CAD rectangle drawn as four lines)
    count as contours.
    """
    closed = [p.points for p in design.paths if p.closed and len(p.points) >= 3]
    polys = [shapely.make_valid(shapely.Polygon(p)) for p in closed]
    opened = [p.points for p in design.paths if not p.closed and len(p.points) >= 2]
    if opened:
        lines = shapely.set_precision([shapely.LineString(p) for p in opened], 0.001)
        chains = shapely.get_parts(shapely.line_merge(shapely.union_all(lines)))
        polys += [shapely.Polygon(c) for c in chains if c.is_ring and len(c.coords) > 3]
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    if not polys:
        return []
    arr = np.array(polys, dtype=object)
    # Depth: how many other contours cover this one (all pairs, no spatial index).
    inside = shapely.covers(arr[:, None], arr[None, :])
    inside &= ~inside.T  # a contour drawn twice does not contain its twin
    depth = inside.sum(axis=0)
    out = []
    for poly, d in zip(arr, depth, strict=True):
        moved = poly.buffer(
            kerf / 2 if d % 2 == 0 else -kerf / 2, join_style="mitre", mitre_limit=4
        )
        parts = [g for g in shapely.get_parts(moved) if not g.is_empty] or [
            g for g in shapely.get_parts(poly) if not g.is_empty
        ]
        out += [np.asarray(g.exterior.coords) for g in parts if g.geom_type == "Polygon"]
    return out


def _turn(points, angle):
    """Anticlockwise quarter turns, written out: (x, y) → (-y, x) per 90 degrees."""
    pts = np.asarray(points, dtype=float)
    for _ in range((angle // 90) % 4):
        pts = np.column_stack([-pts[:, 1], pts[:, 0]])
    return pts


def _placed(rings: list[np.ndarray], placement: dict) -> list[np.ndarray]:
    out = []
    for r in rings:
        out.append(_turn(r, placement["angle"]) + np.asarray(placement["offset"]))
    return out


@pytest.mark.parametrize(("where", "name"), design_files(), ids=lambda v: v)
def test_every_design_is_cut_as_drawn(where, name, request, plan_file, gcode_of, profiles):
    path = request.getfixturevalue(where) / name
    _check_cut_as_drawn(path, plan_file, gcode_of, profiles, nesting="parts")


@pytest.mark.parametrize("name", ["svg/Gears.svg", "dxf/forms.dxf", "svg/logotype-a.svg"])
def test_true_shape_nesting_is_cut_as_drawn(name, corpus, plan_file, gcode_of, profiles):
    _check_cut_as_drawn(corpus / name, plan_file, gcode_of, profiles, nesting="shape")


def _check_cut_as_drawn(path, plan_file, gcode_of, profiles, nesting):
    material = profiles.material("mdf-3")
    sheet = material.settings["sheet"]
    kerf = material.settings["cut"]["kerf"]
    s_cut = material.settings["cut"]["power"] / 100 * 1000
    if path.name in TOO_BIG:
        with pytest.raises(PlanError) as err:
            plan_file(path, copies=COPIES, colour_map="layer:*=cut", nesting=nesting)
        assert "Trop grand" in err.value.message.fr and "Too large" in err.value.message.en
        return
    design, result = plan_file(path, copies=COPIES, colour_map="layer:*=cut", nesting=nesting)
    plan = result.plan
    programs = gcode_of(plan)
    assert len(programs) == plan.facts["sheets"] >= 1

    reference = _reference_rings(design, kerf)
    margin = 5.0
    total_cut = 0.0
    for index, moves in enumerate(programs):
        on = moves.beam_on
        assert moves.laser_mode == "M5" and moves.air_assist_seen
        # Nothing is cut outside the sheet, nor in its margins.
        ends = np.vstack([moves.start[on], moves.end[on]])
        if len(ends):
            assert ends.min() >= margin - 1e-3
            assert ends[:, 0].max() <= sheet["x"] - margin + 1e-3
            assert ends[:, 1].max() <= sheet["y"] - margin + 1e-3
        runs = moves.runs(s_cut)
        total_cut += sum(float(np.linalg.norm(np.diff(r, axis=0), axis=1).sum()) for r in runs)
        rings = [r for r in runs if len(r) > 3 and np.allclose(r[0], r[-1], atol=1e-6)]
        if not rings:
            continue
        placements = [p for p in plan.facts["placements"] if p["sheet"] == index]
        candidates = [ring for p in placements for ring in _placed(reference, p)]
        cand = np.array([shapely.LinearRing(c) for c in candidates], dtype=object)
        cand_bounds = shapely.bounds(cand)
        # Each cut contour is a source contour moved by half the kerf: look for it
        # among the placed references with nearly the same bounding box.
        for ring in rings:
            cut = shapely.LinearRing(ring)
            near = np.flatnonzero(np.abs(cand_bounds - shapely.bounds(cut)).max(axis=1) <= 4 * kerf)
            assert near.size, f"sheet {index + 1}: a cut contour matches no source contour"
            distance = shapely.hausdorff_distance(cut, cand[near]).min()
            # Acceptance is kerf/2 + 0.01 mm; the cut is in fact the offset contour to
            # within the G-code's 3 decimals and the 0.005 mm grid of chained lines.
            assert distance <= min(kerf / 2 + KERF_TOLERANCE, 0.01)
        # Every hole is cut before the contour around it.
        polys = shapely.make_valid(np.array([shapely.Polygon(r) for r in rings], dtype=object))
        outer, inner = shapely.STRtree(polys).query(polys, predicate="contains_properly")
        late = [(int(o), int(i)) for o, i in zip(outer, inner, strict=True) if i > o]
        assert not late, f"sheet {index + 1}: contours cut after the contour around them"
    # Cut length: the G-code against the sum of the reference contours, when every
    # source path is a distinct closed contour (nothing merged or left open).
    closed = [p for p in design.paths if p.closed and len(p.points) >= 3]
    if len(closed) == len(design.paths) and not plan.facts["duplicate_length_mm"]:
        expected = COPIES * sum(
            float(np.linalg.norm(np.diff(r, axis=0), axis=1).sum()) for r in reference
        )
        assert total_cut == pytest.approx(expected, rel=2e-3)
    assert total_cut == pytest.approx(plan.facts["cut_length_mm"], rel=1e-4, abs=0.05)
