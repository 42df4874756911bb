"""The plugin end to end: corpus and samples, G-code validity, bed limits, copies, checks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import trimesh
from fabserver_fdm import FdmPlugin
from fabserver_fdm.readback import read_gcode

from fabserver.designs import load_design
from fabserver.designs.types import Mesh, SourceFacts
from fabserver.errors import DesignError, PlanError
from fabserver.planning import run_plan
from fabserver.profiles import replaced
from fabserver.testing import SAMPLES, corpus_files
from fabserver.writers.printer import DIALECTS

PLUGIN = FdmPlugin()
# Corpus files that cannot be printed, and why (each must fail with a maker's message).
TOO_LARGE = {"1002_tray_bottom.STL", "counter.unitsmm.STL", "plate_holes.STL"}
NOT_PRINTABLE = {
    "soup.stl": DesignError,  # 100 loose triangles: the loader refuses it
    "octagonal_pocket.stl": PlanError,  # in metres: 0.016 mm tall, thinner than a layer
    # Touches the bed along an edge: PrusaSlicer refuses it too ("no extrusions in the first layer").
    "#3DBenchy - Multi-part - Single - Gunwale - (3DBenchy.com).stl": PlanError,
    "multibody.stl": PlanError,  # 0.6 × 1.1 × 0.3 mm: its first layer is thinner than a line
}
STL_FILES = corpus_files("stl", ".stl", ".3mf")
SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".stl", ".3mf", ".obj"))


def plan(design, profiles, machine="printer-1", material="pla-1.75", **options):
    return run_plan(
        PLUGIN,
        design,
        profiles.machine(machine),
        profiles.material(material),
        options,
        profiles.policy,
    )


def gcode_of(result) -> str:
    buf = io.BytesIO()
    result.plan.outputs[0].write(buf)
    return buf.getvalue().decode()


def box_design(size=(20, 20, 10), at=(0, 0, 0)) -> Mesh:
    mesh = trimesh.creation.box(size)
    mesh.apply_translation(np.add(at, (0.0, 0.0, size[2] / 2)))
    return Mesh(mesh, SourceFacts("stl-binary", "mm"))


def assert_valid_print(text: str, machine, flavour: str) -> None:
    """Every line a valid command; every move on the bed and under the height limit."""
    bad = [
        (i, line, why)
        for i, line in enumerate(text.splitlines(), 1)
        if (why := DIALECTS[flavour].check_line(line))
    ]
    assert not bad, bad[:5]
    back = read_gcode(text)
    assert back.layers > 0
    # The first move sets the layer height where the start G-code left the nozzle
    # (the MK3S purge line ends at y = -3, outside the bed by design): skip it.
    moves = back.points[1:]
    area = machine.work_area
    assert moves[:, 0].min() >= 0 and moves[:, 0].max() <= area.x
    assert moves[:, 1].min() >= 0 and moves[:, 1].max() <= area.y
    assert moves[:, 2].max() <= area.z


@pytest.mark.slow
@pytest.mark.parametrize("path", STL_FILES + SAMPLE_FILES, ids=lambda p: p.name)
def test_every_corpus_and_sample_stl_slices(path: Path, profiles):
    name = path.name
    machine = profiles.machine("printer-1")
    try:
        design = load_design(path.read_bytes(), name)
    except DesignError:
        assert NOT_PRINTABLE.get(name) is DesignError, f"{name} should load"
        return
    if name in TOO_LARGE:
        with pytest.raises(PlanError) as err:
            plan(design, profiles)
        assert "%" in err.value.message.fr and "%" in err.value.message.en  # the scale that fits
        return
    if name in NOT_PRINTABLE:
        with pytest.raises(NOT_PRINTABLE[name]) as err:
            plan(design, profiles)
        assert err.value.message.fr and err.value.message.en
        return
    result = plan(design, profiles)
    text = gcode_of(result)
    assert_valid_print(text, machine, "marlin2")
    back = read_gcode(text)
    # The file's extrusion is the toolpath's, read back independently.
    tp = result.plan.toolpath
    assert back.filament_mm == pytest.approx(
        float(tp.e[tp.e > 0].sum()) - _unretracts(result), rel=1e-3
    )
    assert result.estimate.machine_time_s > 0
    assert result.plan.material_uses[1].unit == "g" and result.plan.material_uses[1].quantity > 0


def _unretracts(result) -> float:
    tp = result.plan.toolpath
    from fabserver.toolpath import MoveKind

    return float(tp.e[(tp.kind == MoveKind.RETRACT) & (tp.e > 0)].sum())


@pytest.mark.parametrize("machine,flavour", [("printer-1", "marlin2"), ("printer-3", "klipper")])
def test_both_flavours_write_valid_gcode(profiles, machine, flavour):
    result = plan(box_design(), profiles, machine)
    text = gcode_of(result)
    assert_valid_print(text, profiles.machine(machine), flavour)
    assert "M83" in text
    if flavour == "klipper":
        assert "PRINT_START EXTRUDER=215 BED=60 MATERIAL=PLA" in text
    else:
        assert "M109 S215" in text and "M190 S60" in text
    # PrusaSlicer's viewer comments: one layer change per layer.
    assert text.count(";LAYER_CHANGE") == result.plan.facts["layer_count"]


def test_validator_rejects_what_firmware_would_not_take():
    marlin, klipper = DIALECTS["marlin2"], DIALECTS["klipper"]
    assert marlin.check_line("G1 X10 Y5.5 E.2 F1200") is None
    assert marlin.check_line("G1 X10 Q5") is not None
    assert marlin.check_line("M999") is not None
    assert marlin.check_line("PRINT_START EXTRUDER=215") is not None
    assert klipper.check_line("PRINT_START EXTRUDER=215 BED=60") is None
    assert klipper.check_line("G80") is not None
    assert klipper.check_line("; just a comment") is None


def test_temperatures_and_fan_follow_the_material(profiles):
    text = gcode_of(plan(box_design(), profiles, material="petg-1.75"))
    petg = profiles.material("petg-1.75").settings
    assert f"M109 S{petg['first_layer_temperature']}" in text
    assert f"M104 S{petg['temperature']}" in text  # after the first layer
    fans = [line for line in text.splitlines() if line.startswith("M106")]
    assert fans, "the fan is switched on"
    top = round(petg["fan_max"] * 2.55)
    assert all(int(line.split("S")[1]) <= top for line in fans)
    # No fan on the first disable_fan_first_layers layers.
    first_fan = text.index("M106")
    assert text[:first_fan].count(";LAYER_CHANGE") > petg["disable_fan_first_layers"]


def test_options_change_the_print(profiles):
    base = plan(box_design(), profiles)
    dense = plan(box_design(), profiles, fill_density="40%")
    more_walls = plan(box_design(), profiles, perimeters=4)
    fine = plan(box_design(), profiles, layer_height=0.1)
    g = lambda r: r.plan.material_uses[1].quantity  # noqa: E731
    assert g(dense) > g(base) and g(more_walls) > g(base)
    assert fine.plan.facts["layer_count"] == pytest.approx(
        2 * base.plan.facts["layer_count"] - 1, abs=1
    )
    for pattern in ("rectilinear", "grid", "triangles", "gyroid"):
        r = plan(box_design(), profiles, fill_pattern=pattern)
        # Same density, whatever the pattern: filament within a few percent.
        assert g(r) == pytest.approx(g(base), rel=0.1), pattern


def test_copies_fit_on_one_plate_apart(profiles):
    result = plan(box_design(), profiles, copies=4)
    assert result.plan.runs == 1
    back = read_gcode(gcode_of(result))
    first_layer = back.points[back.extruding & np.isclose(back.points[:, 2], 0.2)]
    # Four separate squares: the first layer's x and y spread over two 20 mm parts + spacing.
    span = first_layer[:, :2].max(axis=0) - first_layer[:, :2].min(axis=0)
    assert (span > 2 * 20 + 5).all()
    single = plan(box_design(), profiles)
    assert result.plan.material_uses[1].quantity == pytest.approx(
        4 * single.plan.material_uses[1].quantity, rel=0.02
    )


def test_too_many_copies_need_several_plates(profiles):
    result = plan(box_design((50, 50, 5)), profiles, "printer-3", copies=10)
    assert result.plan.runs > 1
    # A full plate, skirt included, stays on the 120 mm bed.
    assert_valid_print(gcode_of(result), profiles.machine("printer-3"), "klipper")
    assert result.estimate.runs == result.plan.runs
    assert any("plateaux" in w.fr for w in result.plan.warnings)
    one = plan(box_design((50, 50, 5)), profiles, "printer-3")
    assert result.plan.material_uses[1].quantity == pytest.approx(
        10 * one.plan.material_uses[1].quantity, rel=0.02
    )


def test_too_large_says_by_how_much_and_the_scale(profiles):
    with pytest.raises(PlanError) as err:
        plan(box_design((150, 60, 20)), profiles, "printer-3")
    message = err.value.message
    assert "30.0 mm in x" in message.en
    assert "78%" in message.en  # 120 / 150, less 2 % of margin
    assert "x de 30,0 mm" in message.fr and "150,0 × 60,0 × 20,0 mm" in message.fr


def test_floating_and_sunken_parts_are_put_on_the_bed(profiles):
    for z, word, french in ((5.0, "floated", "flottait 5,00 mm"), (-3.0, "below", "3,00 mm sous")):
        result = plan(box_design(at=(0, 0, z)), profiles)
        assert any(word in w.en for w in result.plan.warnings)
        assert any(french in w.fr for w in result.plan.warnings)  # decimal comma in French
        back = read_gcode(gcode_of(result))
        assert back.points[back.extruding][:, 2].min() == pytest.approx(0.2)


def test_overhang_and_thin_wall_warnings(profiles, samples):
    design = load_design((samples / "fdm-bracket.stl").read_bytes(), "fdm-bracket.stl")
    result = plan(design, profiles)
    words = " ".join(w.en for w in result.plan.warnings)
    assert "overhangs" in words
    assert "thinner than the extrusion width" in words
    assert result.plan.facts["overhang_share"] > 0.05


def test_unmerged_open_mesh_still_slices(profiles):
    """Loose triangles of a box with one missing: merged, holes filled, sliced."""
    box = trimesh.creation.box([20, 20, 10])
    box.apply_translation([0, 0, 5])
    tri = box.triangles[1:]
    loose = trimesh.Trimesh(
        tri.reshape(-1, 3), np.arange(len(tri) * 3).reshape(-1, 3), process=False
    )
    result = plan(Mesh(loose, SourceFacts("stl-binary", "mm")), profiles)
    assert result.plan.facts["layer_count"] == 50
    whole = plan(box_design(), profiles)
    assert result.plan.material_uses[1].quantity == pytest.approx(
        whole.plan.material_uses[1].quantity, rel=0.02
    )


def test_open_mesh_is_repaired_with_a_warning(profiles):
    mesh = trimesh.creation.box([20, 20, 10])
    mesh.apply_translation([0, 0, 5])
    mesh.update_faces(np.arange(len(mesh.faces)) != 0)  # one triangle missing
    design = Mesh(mesh, SourceFacts("stl-binary", "mm"))
    result = plan(design, profiles)
    assert any("not closed" in w.en for w in result.plan.warnings)
    assert result.plan.facts["layer_count"] == 50


def test_previews(profiles):
    result = plan(box_design(), profiles)
    assert result.preview.svg.startswith("<svg")
    assert "infill" in {entry.role for entry in result.preview.legend}
    layers = result.preview.layers["layers"]
    assert len(layers) == result.plan.facts["layer_count"]
    assert layers[0]["z"] == pytest.approx(0.2)


def test_travels_between_parts_are_retracted_inside_ones_are_not(profiles):
    from fabserver.toolpath import MoveKind

    result = plan(box_design(), profiles, copies=2)
    tp = result.plan.toolpath
    kind = tp.kind
    travel = np.flatnonzero((kind == MoveKind.TRAVEL) & (tp.lengths > 0.5))
    travel = travel[travel > np.argmax(kind == MoveKind.EXTRUDE)]  # not the move from home
    # A travel is retracted when a RETRACT move (or a z-hop after one) comes just before.
    retracted = np.array(
        [any(kind[j] == MoveKind.RETRACT for j in range(max(0, i - 3), i)) for i in travel]
    )
    # From one part to the other: the two copies lie either side of the bed's centre.
    mid = profiles.machine("printer-1").work_area.x / 2
    across = (tp.starts[travel, 0] < mid) != (tp.xyz[travel, 0] < mid)
    assert across.any() and retracted[across].all()
    # Short hops between infill lines inside a part stay unretracted.
    assert (~retracted).sum() > 0.3 * len(travel)
    # Every retraction is undone: net filament movement of retractions is zero.
    retracts = tp.e[kind == MoveKind.RETRACT]
    assert retracts.sum() == pytest.approx(0.0, abs=1e-9)


def test_klipper_printer_lifts_the_nozzle_on_retracted_travels(profiles):
    from fabserver.toolpath import MoveKind

    result = plan(box_design(), profiles, "printer-3", copies=2)
    tp = result.plan.toolpath
    lift = profiles.machine("printer-3").settings["retract_lift"]
    z_of_layer = np.asarray(tp.layer_z)[tp.layer]
    hopped = (tp.kind == MoveKind.TRAVEL) & np.isclose(tp.xyz[:, 2], z_of_layer + lift)
    assert hopped.any()
    # Extrusion always happens at the layer's height.
    extrude = tp.kind == MoveKind.EXTRUDE
    np.testing.assert_allclose(tp.xyz[extrude, 2], z_of_layer[extrude])


def test_support_under_the_shelf_only_and_clear_of_the_part(profiles, samples):
    from fabserver_fdm.support import SUPPORT_MARGIN

    from fabserver.toolpath import MoveKind

    design = load_design((samples / "fdm-bracket.stl").read_bytes(), "fdm-bracket.stl")
    without = plan(design, profiles)
    result = plan(design, profiles, support_material=True)
    tp = result.plan.toolpath
    extruding = tp.kind == MoveKind.EXTRUDE
    centre = profiles.machine("printer-1").work_area

    def points(*roles: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points every tenth of the way along the support lines, part-centred."""
        mask = np.any([tp.role_mask(role) for role in roles], axis=0) & extruding
        share = np.linspace(0.0, 1.0, 11)[:, None, None]
        pts = (tp.starts[mask][None] * (1 - share) + tp.xyz[mask][None] * share).reshape(-1, 3)
        return pts[:, 0] - centre.x / 2, pts[:, 1] - centre.y / 2, pts[:, 2]

    assert not (without.plan.toolpath.role_mask("support")).any()
    x, y, z = points("support", "support_interface")
    assert x.size
    # The bracket is centred on the bed: a 2 mm plate (x in [-10, 10], |y| <= 5), a wall at
    # x < -8 and a shelf at z = 13 over x in [-8, 4]. Support under the shelf, reaching
    # PrusaSlicer's margin around it (a line's half width more), nowhere else.
    reach = SUPPORT_MARGIN + 0.3
    assert x.min() > -8.0 - reach and x.max() < 4.0 + reach
    assert np.abs(y).max() < 5.0 + reach
    # Clear of the part: beside the plate, not in it; beside the wall above it.
    assert (np.abs(y[z <= 2.0 + 1e-6]) > 5.0).all()
    assert ((x[z > 2.0] > -8.0) | (np.abs(y[z > 2.0]) > 5.0)).all()
    # One empty layer under the shelf, and over the plate where the support stands on it.
    assert z.max() <= 13.0 - 0.2 + 1e-6
    over_plate = (np.abs(y) < 4.5) & (x > -7.5) & (x < 3.5)
    assert z[over_plate].min() == pytest.approx(2.4)
    # Interface: three layers under the shelf and three over the plate (bottom interface).
    xi, yi, zi = points("support_interface")
    layers = np.unique(np.round(zi[(np.abs(yi) < 4.5) & (xi > -7.5) & (xi < 3.5)], 2))
    assert layers.tolist() == [2.4, 2.6, 2.8, 12.4, 12.6, 12.8]
    assert result.plan.material_uses[1].quantity > without.plan.material_uses[1].quantity
    assert any("supports are added" in w.en for w in result.plan.warnings)


def test_a_bridge_gets_no_support(profiles, samples):
    """fdm-bridge's span rests on its two piers at both ends: it is bridged, as PrusaSlicer
    does (``dont_support_bridges``), not held up by a block of support."""
    design = load_design((samples / "fdm-bridge.stl").read_bytes(), "fdm-bridge.stl")
    tp = plan(design, profiles, support_material=True).plan.toolpath
    assert not (tp.role_mask("support") | tp.role_mask("support_interface")).any()
    assert tp.role_mask("bridge").any()


def test_step_top_is_solid_in_the_gcode(profiles, samples):
    """The printed file itself: solid layers on the step at z = 10 mm, sparse below them."""
    design = load_design((samples / "fdm-step.stl").read_bytes(), "fdm-step.stl")
    text = gcode_of(plan(design, profiles))
    layers: dict[float, set[str]] = {}
    z = None
    for line in text.splitlines():
        if line.startswith(";Z:"):
            z = round(float(line[3:]), 2)
            layers[z] = set()
        elif line.startswith(";TYPE:") and z is not None:
            layers[z].add(line[6:])
    assert "Top solid infill" in layers[10.0]  # the exposed ring around the upper box
    for k in (9.4, 9.6, 9.8):
        assert layers[k] & {"Solid infill", "Bridge infill"}, k
    assert not layers[5.0] & {"Solid infill", "Top solid infill", "Bridge infill"}
    assert "Internal infill" in layers[5.0]
    assert "Top solid infill" in layers[20.0]


@pytest.mark.parametrize("name", ["fdm-step.stl", "fdm-bracket.stl"])
def test_every_extrusion_stays_inside_the_part(profiles, samples, name):
    """Perimeters, infill and the links between infill lines never leave the layer's outline."""
    import shapely
    from fabserver_fdm.checks import prepare
    from fabserver_fdm.pipeline import slice_layers, slice_to_toolpath
    from fabserver_fdm.settings import PrintSettings

    from fabserver.toolpath import MoveKind

    machine, material = profiles.machine("printer-1"), profiles.material("pla-1.75")
    options = {o.name: o.default for o in PLUGIN.options}
    s = PrintSettings.resolve(machine, material, options)
    design = load_design((samples / name).read_bytes(), name)
    prepared = prepare(design)
    layers = slice_layers(prepared.vertices, prepared.faces, s)
    sliced = slice_to_toolpath(layers, s, machine.kinematics)
    tp = sliced.toolpath
    own = (tp.kind == MoveKind.EXTRUDE) & ~tp.role_mask("skirt")
    idx = np.flatnonzero(own)
    moves = shapely.linestrings(
        np.stack([tp.starts[idx, :2], tp.xyz[idx, :2]], axis=1).reshape(-1, 2),
        indices=np.repeat(np.arange(idx.size), 2),
    )
    # Centre lines lie at least a little inside the outline (half a width for perimeters).
    outline = shapely.buffer(sliced.slices.polygons, 0.01)[tp.layer[idx]]
    inside = shapely.covered_by(moves, outline)
    assert inside.all(), tp.xyz[idx[~inside]][:5]


def test_bridges_get_the_bridge_fan(profiles, samples):
    petg = profiles.material("petg-1.75")
    material = replaced(petg, settings={**petg.settings, "bridge_fan_speed": 80})
    design = load_design((samples / "fdm-bracket.stl").read_bytes(), "fdm-bracket.stl")
    result = run_plan(PLUGIN, design, profiles.machine("printer-1"), material, {}, profiles.policy)
    lines = gcode_of(result).splitlines()
    bridges = [i for i, line in enumerate(lines) if line == ";TYPE:Bridge infill"]
    assert bridges
    for i in bridges:
        # The last fan command before each bridge sets 80 % (204 of 255).
        fan = next(line for line in reversed(lines[:i]) if line.startswith(("M106", "M107")))
        assert fan == "M106 S204"


@pytest.mark.parametrize("external_first", [False, True])
def test_perimeter_order_follows_the_option(profiles, external_first):
    text = gcode_of(plan(box_design(), profiles, external_perimeters_first=external_first))
    layer = text.split(";Z:5.000")[1].split(";LAYER_CHANGE")[0]
    types = [line[6:] for line in layer.splitlines() if line.startswith(";TYPE:")]
    walls = [t for t in types if "erimeter" in t]
    expected = (
        ["External perimeter", "Perimeter"]
        if external_first
        else ["Perimeter", "External perimeter"]
    )
    assert walls[:2] == expected


def test_bridges_span_the_gap_the_short_way(profiles, samples):
    """Two pillars 20 mm apart under a slab: the first slab layer bridges across x."""
    from fabserver.toolpath import MoveKind

    design = load_design((samples / "fdm-bridge.stl").read_bytes(), "fdm-bridge.stl")
    tp = plan(design, profiles).plan.toolpath
    z = np.asarray(tp.layer_z)[tp.layer]
    first = tp.role_mask("bridge") & (tp.kind == MoveKind.EXTRUDE) & np.isclose(z, 10.2)
    step = (tp.xyz - tp.starts)[first][:, :2]
    long = np.linalg.norm(step, axis=1) > 5.0  # the lines, not the links between them
    assert long.sum() > 20
    # Every long bridge line runs along x (across the gap), anchored on both pillars.
    assert np.all(np.abs(step[long, 1]) < 1e-6)


def test_body_floating_above_a_gap_is_sliced_and_warned_about(profiles):
    """Two boxes, the second starting 2 mm above the first's top: empty layers between."""
    low = trimesh.creation.box([20, 20, 4])
    low.apply_translation([0, 0, 2])
    high = trimesh.creation.box([20, 20, 4])
    high.apply_translation([30, 0, 8])
    design = Mesh(trimesh.util.concatenate([low, high]), SourceFacts("stl-binary", "mm"))
    result = plan(design, profiles)
    text = gcode_of(result)
    zs = [float(line[3:]) for line in text.splitlines() if line.startswith(";Z:")]
    assert 4.0 in zs and 6.2 in zs and 5.0 not in zs  # nothing printed in the gap
    assert any("mid-air at z = 6.0" in w.en for w in result.plan.warnings)
    assert any("en l'air à z = 6,0 mm" in w.fr for w in result.plan.warnings)
    # Heights follow each printed layer: all 0.2 mm.
    heights = [float(line[8:]) for line in text.splitlines() if line.startswith(";HEIGHT:")]
    assert set(heights) == {0.2}


def test_gcode_is_streamed_in_pieces(profiles, corpus):
    """The writer hands the file over in bounded pieces, never as one giant string."""

    class Counting(io.BytesIO):
        sizes: list[int]

        def write(self, data):
            self.sizes = [*getattr(self, "sizes", []), len(data)]
            return super().write(data)

    path = corpus / "stl" / "3DBenchy.stl"
    result = plan(load_design(path.read_bytes(), path.name), profiles)
    out = Counting()
    result.plan.outputs[0].write(out)
    total = len(out.getvalue())
    assert total > 2_000_000
    assert len(out.sizes) > 2
    assert max(out.sizes) < 2 * (1 << 20) + 200_000  # about 1 MiB per piece


def test_every_extruding_role_has_a_colour_and_a_legend():
    """The core draws what the plugin declares: a role without a style would fall back
    to a colour and a label no maker can read."""
    from fabserver_fdm.layers import ROLES as TOOLPATH_ROLES
    from fabserver_fdm.plugin import FdmPlugin

    STYLES = FdmPlugin.roles

    assert set(TOOLPATH_ROLES) - {"travel"} <= set(STYLES)


def test_layer_count_is_the_files_and_loader_warnings_are_not_repeated(profiles):
    """A 4 × 4 mm plate with a fin thinner than a line on top: the fin's layers print
    nothing, so the file and the count both stop at the plate. The loader's "tiny part"
    warning is the core's to show (beside the plan's), not the plan's to repeat."""
    plate = trimesh.creation.box([4, 4, 0.4])
    plate.apply_translation([0, 0, 0.2])
    fin = trimesh.creation.box([4, 0.1, 1.0])
    fin.apply_translation([0, 0, 0.9])
    stl = trimesh.util.concatenate([plate, fin]).export(file_type="stl")
    design = load_design(stl, "fin.stl")
    assert any("tiny" in w.en for w in design.warnings)
    result = plan(design, profiles)
    assert not any("tiny" in w.en for w in result.plan.warnings)
    layer_changes = gcode_of(result).count(";LAYER_CHANGE")
    assert layer_changes == 2  # the plate's 0.2 mm layers; the fin's are empty
    assert result.plan.facts["layer_count"] == layer_changes


def test_the_gcode_helper_is_forked_only_with_a_core_to_spare(monkeypatch):
    """The writer's helper process pays only when a core is idle: not on one core, not
    when as many threads as cores are running (this one counted), and where the system
    does not say what runs, not when the load average says every core is taken."""
    from fabserver_fdm import geos
    from fabserver_fdm import plugin as fdm_plugin

    monkeypatch.setattr(geos, "WORKERS", 2)
    monkeypatch.setattr(fdm_plugin, "_threads_running", lambda: 1)
    assert fdm_plugin._core_to_spare()
    monkeypatch.setattr(fdm_plugin, "_threads_running", lambda: 2)
    assert not fdm_plugin._core_to_spare()
    monkeypatch.setattr(fdm_plugin, "_threads_running", lambda: None)
    monkeypatch.setattr(fdm_plugin.os, "getloadavg", lambda: (0.9, 1.0, 1.0))
    assert fdm_plugin._core_to_spare()
    monkeypatch.setattr(fdm_plugin.os, "getloadavg", lambda: (1.9, 1.0, 1.0))
    assert not fdm_plugin._core_to_spare()
    monkeypatch.setattr(fdm_plugin.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(geos, "WORKERS", 1)
    monkeypatch.setattr(fdm_plugin, "_threads_running", lambda: 1)
    assert not fdm_plugin._core_to_spare()


def test_the_threads_running_now_are_read_where_the_system_tells():
    """At least this thread runs while it asks (Linux); elsewhere nothing is claimed."""
    from fabserver_fdm import plugin as fdm_plugin

    running = fdm_plugin._threads_running()
    if Path("/proc/loadavg").exists():
        assert running is not None and running >= 1
    else:
        assert running is None
