"""The plugin end to end: samples through the loader, dialects, placement, messages."""

from __future__ import annotations

import base64
import re
import struct
import zlib

import numpy as np
import pytest
import trimesh
from fabserver_mill import MillPlugin
from fabserver_mill.plugin import OPTIONS
from fabserver_mill.settings import OPERATIONS

from fabserver.designs import load_design
from fabserver.designs.types import Mesh, SourceFacts
from fabserver.errors import PlanError
from fabserver.planning import run_plan, write_outputs
from fabserver.profiles import replaced
from fabserver.registry import load_registry


def test_registered_and_profiles_valid(profiles, mill):
    registry = load_registry()
    plugin = registry.get("mill")
    assert isinstance(plugin, MillPlugin)
    plugin.check_machine(mill)
    for material in profiles.materials_for(mill):
        plugin.check_material(material)
        # Every tool of the machine has cutting data in every stock material.
        assert set(material.settings["cutting"]) == set(mill.settings["tools"])


def test_nameplate_sample_end_to_end(plan_with, samples, tmp_path):
    design = load_design((samples / "mill-nameplate.svg").read_bytes(), "mill-nameplate.svg")
    result = plan_with(design)
    tp = result.plan.toolpath
    assert set(tp.roles) >= {"engrave", "pocket", "profile"}
    files = write_outputs(result.plan, tmp_path / "nameplate.nc")
    names = sorted(p.name for p in files)
    assert names == ["nameplate.2-flat-3.175.rml", "nameplate.nc", "nameplate.rml"]
    # The 2 mm wide red slot cannot take the 3.175 mm tool: listed where it is in the drawing.
    (warning,) = [w for w in result.warnings if "too narrow" in w.en]
    assert "(72.0, 29.0)" in warning.en and "(72,0 ; 29,0)" in warning.fr
    assert result.verdict.kind in ("prototype", "series")


def test_rml_dialect_makes_rml_the_main_file(profiles, mill, hdpe, make):
    settings = {**mill.settings, "dialect": "rml"}
    roland = replaced(mill, settings=settings)
    design = make.drawing(
        (make.rect(0, 0, 40, 30), make.BLACK, True),
        (np.array([[5.0, 5.0], [20.0, 5.0]]), make.GREEN, False),
    )
    result = run_plan(MillPlugin(), design, roland, hdpe, {}, profiles.policy, profiles.materials)
    main = [o for o in result.plan.outputs if o.main]
    assert [o.suffix for o in main] == [".rml"]
    assert any("one per tool" in w.en for w in result.warnings)


def test_part_that_fits_only_turned_is_turned(plan_with, profiles, mill):
    box = trimesh.creation.box(extents=[180.0, 120.0, 6.0])
    design = Mesh(box, SourceFacts("stl-binary", "mm"))
    result = plan_with(design, profiles.material("wax"), orientation="as_is", stock_margin=4)
    sx, sy, _ = result.plan.facts["stock_mm"]
    assert sx <= mill.work_area.x and sy <= mill.work_area.y
    assert (sx, sy) == pytest.approx((188.0, 128.0))
    box = trimesh.creation.box(extents=[120.0, 180.0, 6.0])
    turned = plan_with(
        Mesh(box, SourceFacts("stl-binary", "mm")),
        profiles.material("wax"),
        orientation="as_is",
        stock_margin=4,
    )
    assert turned.plan.facts["stock_mm"][:2] == pytest.approx([188.0, 128.0])


def test_mesh_too_big_for_the_mill_is_a_message(plan_with, corpus, profiles):
    design = load_design((corpus / "stl" / "plate_holes.STL").read_bytes(), "plate_holes.STL")
    with pytest.raises(PlanError) as err:
        plan_with(design, profiles.material("wax"))
    assert "does not fit" in err.value.message.en


def test_part_too_wide_on_every_side_is_refused_before_the_orientation(profiles, mill):
    """No side of a 260 × 240 × 3 mm plate fits the 200 × 150 mm bed: the refusal comes
    from the bounds, before the six height maps, and gives the stock of the plate lying
    flat."""
    plate = trimesh.creation.box(extents=[3.0, 260.0, 240.0])  # standing on its edge
    stages: list[str] = []
    with pytest.raises(PlanError) as err:
        run_plan(
            MillPlugin(),
            Mesh(plate, SourceFacts("stl-binary", "mm")),
            mill,
            profiles.material("wax"),
            {},
            profiles.policy,
            profiles.materials,
            progress=lambda done, stage="": stages.append(stage),
        )
    assert "orientation" not in stages and "height map" not in stages
    sx, sy = map(float, re.search(r"The stock \((\d+) × (\d+) mm", err.value.message.en).groups())
    assert sx > 260.0 and sy > 240.0 and sx - 260.0 == pytest.approx(sy - 240.0, abs=1.0)
    assert "does not fit on the mill" in err.value.message.en


def test_part_too_tall_on_every_side_is_a_message(plan_with, profiles):
    cube = trimesh.creation.box(extents=[30.0, 30.0, 30.0])
    with pytest.raises(PlanError) as err:
        plan_with(Mesh(cube, SourceFacts("stl-binary", "mm")), profiles.material("wax"))
    assert "30.0 mm tall" in err.value.message.en and "only cuts" in err.value.message.en


def test_relief_preview_is_a_valid_png(plan_with, samples, profiles):
    design = load_design((samples / "mill-relief.stl").read_bytes(), "mill-relief.stl")
    svg = plan_with(design, profiles.material("wax")).preview.svg
    data = base64.b64decode(re.search(r'href="data:image/png;base64,([^"]+)"', svg).group(1))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    w, h = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert len(zlib.decompress(chunks[b"IDAT"])) == h * (w + 1)


def test_nothing_to_mill_says_what_each_colour_got(plan_with, make):
    design = make.drawing((make.rect(0, 0, 40, 30), make.BLACK, True))
    with pytest.raises(PlanError) as caught:
        plan_with(design, operation_map="#000000=ignore", unassigned="ignore")
    message = caught.value.message
    assert "Trait #000000 : ignoré (1 tracé(s), 140 mm)" in message.fr
    assert "Stroke #000000: ignored (1 path(s), 140 mm)" in message.en
    assert "'Operations by colour' table of the quote page" in message.en


def test_paths_without_an_operation_may_get_every_operation_the_mill_knows():
    """``unassigned`` is declared in options.toml: its choices follow the mill's operations."""
    (unassigned,) = [o for o in OPTIONS if o.name == "unassigned"]
    assert set(unassigned.choices) == {"auto", *OPERATIONS, "ignore"}


def _operations(**changes):
    """The lab mill's ``[settings.operations]`` with some changed (``None``: left out)."""
    ops = {
        "outside": {"tool": "flat-3.175", "depth": 0.0},
        "inside": {"tool": "flat-3.175", "depth": 0.0},
        "pocket": {"tool": "flat-3.175", "depth": 2.0},
        "engrave": {"tool": "vbit-60", "depth": 0.3},
        **changes,
    }
    return {"operations": {op: v for op, v in ops.items() if v is not None}}


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"safe_z": 60}, "settings.safe_z", "<= 50"),
        ({"clearance": 0}, "settings.clearance", "> 0"),
        ({"breakthrough": 3}, "settings.breakthrough", "<= 2"),
        ({"spin_up": -1}, "settings.spin_up", ">= 0"),
        ({"dialect": "hpgl"}, "settings.dialect", "value 'hpgl'"),
        ({"safe_zz": 5}, "settings.safe_zz", "unknown key"),
        ({"finish_tool": "flat-2"}, "settings.finish_tool", "needs a ball end mill"),
        ({"rough_tool": "vbit-60"}, "settings.rough_tool", "a V-bit cannot rough"),
        ({"rough_tool": "flat-9"}, "settings.rough_tool", "no tool 'flat-9' in tools"),
        (_operations(engrave=None), "settings.operations", "missing engrave"),
        (_operations(drill={"tool": "flat-2"}), "settings.operations.drill", "unknown operation"),
        (
            _operations(engrave={"tool": "vbit-90"}),
            "settings.operations.engrave.tool",
            "no tool 'vbit-90' in tools",
        ),
    ],
)
def test_machine_settings_name_the_faulty_key(mill, change, key, problem):
    bad = replaced(mill, settings={**mill.settings, **change})
    with pytest.raises(ValueError) as err:
        MillPlugin().check_machine(bad)
    where, _, what = str(err.value).partition(": ")
    assert where == key and problem in what


@pytest.mark.parametrize(
    ("table", "change", "field", "problem"),
    [
        ("tools", {"angle": 180}, "angle", "< 180"),
        ("tools", {"diameter": 30}, "diameter", "<= 25"),
        ("tools", {"shape": "drill"}, "shape", "value 'drill' (one of 'flat', 'ball', 'vbit')"),
        ("cutting", {"step_over": 0.6}, "step_over", "<= 0.5"),
        ("cutting", {"feed": 0}, "feed", "> 0"),
        ("cutting", {"rpm": 10000}, "rpm", "unknown key"),
    ],
)
def test_tool_and_cutting_data_bounds_name_the_field(
    profiles, mill, hdpe, table, change, field, problem
):
    """A bad value in one tool's table, or in one tool's cutting data, names its field."""
    profile = mill if table == "tools" else hdpe
    entries = profile.settings[table]
    name = next(iter(entries))
    settings = {**profile.settings, table: {**entries, name: {**entries[name], **change}}}
    plugin = MillPlugin()
    with pytest.raises(ValueError) as err:
        if table == "tools":
            plugin.check_machine(replaced(mill, settings=settings))
        else:
            plugin.check_material(replaced(hdpe, settings=settings))
    where, _, what = str(err.value).partition(": ")
    assert where == f"settings.{table}.{name}.{field}"
    assert problem in what
