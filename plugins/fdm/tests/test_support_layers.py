"""The support body in layers of its own, thicker than the part's and between them, as
PrusaSlicer prints it (``support_material_synchronize_layers`` off)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import shapely
from fabserver_fdm import FdmPlugin
from fabserver_fdm.flow import Flow, e_per_mm
from fabserver_fdm.readback import read_gcode
from fabserver_fdm.settings import PrintSettings
from fabserver_fdm.support import MAX_LAYER_SHARE, Support, support_layers

from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.toolpath import MoveKind

PLUGIN = FdmPlugin()


def _column_support(n: int, body_layers: range, interface_layers: range) -> Support:
    """A 10 mm square column: body on ``body_layers``, interface on ``interface_layers``;
    the part (keep-out) a 4 mm square beside it on every layer."""
    square = shapely.box(0, 0, 10, 10)
    body = np.full(n, shapely.Polygon(), dtype=object)
    interface = np.full(n, shapely.Polygon(), dtype=object)
    for k in body_layers:
        body[k] = square
    for k in interface_layers:
        interface[k] = square
    keep_out = np.full(n, shapely.box(10.5, 0, 14.5, 4), dtype=object)
    return Support(body, interface, 0.0, keep_out)


def test_body_layers_evenly_split_up_to_the_max_height_between_the_contacts():
    n = 20
    z_top = 0.2 * np.arange(1, n + 1)
    heights = np.full(n, 0.2)
    # On the bed: body on layers 0-12, top interface 13-15 (under an overhang at layer 17).
    sup = _column_support(n, range(13), range(13, 16))
    layers = support_layers(sup, z_top, heights, 0.3, 0.45)
    # The first layer and the interface layers stay with the part's layers.
    assert np.flatnonzero(layers.on_part).tolist() == [0, 13, 14, 15]
    # Layers 1-12 (z 0.2 to 2.6, 2.4 mm) in the fewest even layers of at most 0.3 mm: 8 × 0.3.
    assert len(layers) == 8
    np.testing.assert_allclose(layers.height, 0.3)
    np.testing.assert_allclose(layers.z, 0.2 + 0.3 * np.arange(1, 9))
    assert (layers.height <= 0.3 + 1e-9).all()
    assert (np.diff(layers.z) > 0).all()
    # Between the contacts: above the first layer, at most up to the layer under the interface.
    assert layers.z.min() > z_top[0] and layers.z.max() <= z_top[12] + 1e-9
    # Those that end where a part layer ends are printed with it.
    same = layers.part_layer >= 0
    np.testing.assert_allclose(layers.z[same], z_top[layers.part_layer[same]])
    assert layers.part_layer[same].tolist() == [3, 6, 9, 12]
    # Each covers the body of the part layers it spans, clear of the part.
    for body in layers.body:
        assert shapely.equals(body, shapely.box(0, 0, 10, 10))


def test_part_layers_thicker_than_the_max_get_thinner_support_layers():
    n = 12
    z_top = 0.2 + 0.32 * np.arange(n)
    heights = np.concatenate([[0.2], np.full(n - 1, 0.32)])
    sup = _column_support(n, range(8), range(8, 11))
    layers = support_layers(sup, z_top, heights, 0.3, 0.45)
    # Seven part layers of 0.32 mm (2.24 mm) over a 0.3 mm maximum: eight of 0.28 mm, the
    # last printed with part layer 7.
    np.testing.assert_allclose(layers.height, 0.28)
    np.testing.assert_allclose(layers.z, 0.2 + 0.28 * np.arange(1, 9))
    assert layers.part_layer.tolist() == [-1] * 7 + [7]


def test_body_that_stops_on_the_part_is_clear_of_every_layer_it_spans():
    n = 10
    z_top = 0.2 * np.arange(1, n + 1)
    heights = np.full(n, 0.2)
    sup = _column_support(n, range(9), range(0))
    # The part grows into the column's corner from layer 5 up.
    keep_out = sup.keep_out.copy()
    for k in range(5, n):
        keep_out[k] = shapely.box(6, 6, 10, 10)
    sup = Support(sup.body, sup.interface, 0.0, keep_out)
    layers = support_layers(sup, z_top, heights, 0.3, 0.45)
    for z, h, body in zip(layers.z, layers.height, layers.body, strict=True):
        spans = np.flatnonzero((z_top - heights < z - 1e-9) & (z_top > z - h + 1e-9))
        for k in spans:
            assert shapely.area(shapely.intersection(body, keep_out[k])) < 1e-9


@pytest.fixture(scope="module")
def shelf(profiles, samples):
    design = load_design((samples / "fdm-bracket.stl").read_bytes(), "fdm-bracket.stl")
    machine, material = profiles.machine("printer-1"), profiles.material("pla-1.75")

    def plan(**options):
        return run_plan(PLUGIN, design, machine, material, options, profiles.policy)

    supported = plan(support_material=True)
    s = PrintSettings.resolve(machine, material, supported.options)
    return plan(), supported, s


def _gcode(result) -> str:
    buf = io.BytesIO()
    result.plan.outputs[0].write(buf)
    return buf.getvalue().decode()


def test_shelf_support_body_prints_in_layers_of_its_own(shelf):
    without, result, s = shelf
    tp = result.plan.toolpath
    part_z = np.asarray(without.plan.toolpath.layer_z)
    z = np.asarray(tp.layer_z)
    # Every part layer is still there, with the support's own layers among them.
    assert np.isin(np.round(part_z, 6), np.round(z, 6)).all()
    own = ~np.isin(np.round(z, 6), np.round(part_z, 6))
    assert own.sum() >= 10
    # Z strictly increasing over the whole file, and no support layer above the max height.
    assert (np.diff(z) > 0).all()
    extrude = tp.kind == MoveKind.EXTRUDE
    layer_of = tp.layer[extrude]
    support = tp.role_mask("support")[extrude]
    interface = tp.role_mask("support_interface")[extrude]
    only_support = np.flatnonzero(own)
    # A support layer of its own holds support body and nothing else.
    in_own = np.isin(layer_of, only_support)
    assert in_own.any() and support[in_own].all()
    # Interface layers are on the part's layers.
    assert np.isin(np.round(z[layer_of[interface]], 6), np.round(part_z, 6)).all()
    # The body's layers lie between the contacts: over the first layer, under the shelf's interface.
    body_z = z[only_support]
    assert body_z.min() > part_z[0]
    assert body_z.max() < z[layer_of[interface]].max()
    # Each own layer is at most 0.75 × nozzle thick, and extrudes for its thickness: a
    # run's layers are even, so two consecutive own layers are one thickness apart
    # (two thicknesses when one printed with a part layer lies between them).
    max_height = MAX_LAYER_SHARE * s.printer.nozzle_diameter
    rise = np.diff(body_z)
    assert (rise > s.layer_height).all()
    pairs = np.flatnonzero(rise <= max_height + 1e-9)
    assert pairs.size >= 5
    for i in pairs[:3]:
        hi, thickness = only_support[i + 1], rise[i]
        moves = np.flatnonzero(extrude)[layer_of == hi]
        length = np.linalg.norm(tp.xyz[moves, :2] - tp.starts[moves, :2], axis=1)
        epm = tp.e[moves].sum() / length.sum()
        fil = s.filament
        expected = e_per_mm(
            Flow(s.printer.extrusion_width, thickness), fil.diameter, fil.extrusion_multiplier
        )
        assert epm == pytest.approx(expected, rel=1e-6)
    # Extrusion is at its layer's z.
    np.testing.assert_allclose(tp.xyz[extrude, 2], z[layer_of])


def test_shelf_gcode_layers_say_what_prusaslicer_writes(shelf):
    _, result, _ = shelf
    text = _gcode(result)
    tp = result.plan.toolpath
    zs = [float(v) for v in re.findall(r"^;Z:([0-9.]+)$", text, flags=re.M)]
    heights = [float(v) for v in re.findall(r"^;HEIGHT:([0-9.]+)$", text, flags=re.M)]
    back = read_gcode(text)
    assert back.layers == len(zs) == len(heights) == tp.n_layers
    assert result.plan.facts["layer_count"] == tp.n_layers
    np.testing.assert_allclose(zs, tp.layer_z, atol=0.0006)
    assert (np.diff(zs) > 0).all()
    # ;HEIGHT: is the rise from the layer before, as PrusaSlicer writes it.
    np.testing.assert_allclose(heights, np.diff(tp.layer_z, prepend=0.0), atol=0.0006)
    # Extruding moves never go down.
    ez = back.points[back.extruding, 2]
    assert (np.diff(ez) >= -1e-9).all()
    # The layer slider shows the support's own layers with their paths.
    layers = result.preview.layers["layers"]
    assert len(layers) == tp.n_layers
    support_role = list(tp.roles).index("support")
    own = [
        layer
        for layer in layers
        if layer["paths"] and all(role == support_role for role, _ in layer["paths"])
    ]
    assert len(own) >= 10


def test_without_supports_the_layers_are_the_parts(shelf):
    without, _, _ = shelf
    tp = without.plan.toolpath
    assert without.plan.facts["layer_count"] == tp.n_layers
    np.testing.assert_allclose(np.diff(tp.layer_z), 0.2, atol=1e-9)
