"""Small machine plugins for the web tests: quick, deterministic, honest about what they do.

``testbox`` draws the outline of a mesh's footprint on every layer (a stand-in for a
slicer), ``testcut`` follows a drawing's paths, ``testboom`` always raises. They are
loaded either directly (``Registry.register``) or, for servers started in a
subprocess, through a ``fabserver.plugins`` entry point written by
:func:`write_entry_points`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from fabserver.i18n import Text
from fabserver.plugin import MachinePlugin, MaterialUse, Option, OutputFile, OutputFormat, Plan
from fabserver.toolpath import MoveKind, ToolpathBuilder

FILAMENT_G_PER_MM = 2.98  # 1.75 mm PLA: π·0.875² mm² × 1.24 g/cm³, per metre ≈ 2.98 g


def _gcode_writer(xyz: np.ndarray):
    def write(f) -> None:
        f.write(b"; testbox\n")
        np.savetxt(f, xyz, fmt="G1 X%.3f Y%.3f Z%.3f")

    return write


class BoxPrinter(MachinePlugin):
    id = "testbox"
    name = Text("Imprimante d'essai", "Test printer")
    accepts = frozenset({"mesh"})
    material_kinds = frozenset({"filament"})
    formats = (OutputFormat(".gcode", "text/x-gcode", Text("G-code", "G-code")),)
    options = (
        Option(
            "layer_height",
            "float",
            0.3,
            Text("Hauteur de couche", "Layer height"),
            Text("Plus fin : plus lent.", "Thinner: slower."),
            unit="mm",
            min=0.1,
            max=0.6,
        ),
        Option("infill", "percent", 15.0, Text("Remplissage", "Infill"), min=0, max=100),
        Option(
            "pattern",
            "choice",
            "grid",
            Text("Motif", "Pattern"),
            choices=("grid", "lines"),
            choice_labels=(Text("Grille", "Grid"), Text("Lignes", "Lines")),
        ),
        Option("brim", "bool", False, Text("Bordure", "Brim")),
        Option(
            "delay_s",
            "float",
            0.0,
            Text("Pause d'essai", "Test delay"),
            unit="s",
            min=0,
            max=10,
            advanced=True,
        ),
    )

    def plan(self, request):
        design, material, options = request.design, request.material, request.options
        lo, hi = np.asarray(design.bounds, dtype=float)
        height = max(hi[2] - lo[2], options["layer_height"])
        zs = np.arange(options["layer_height"], height + 1e-9, options["layer_height"])
        square = np.array(
            [[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]], [lo[0], lo[1]]]
        )
        b = ToolpathBuilder()
        steps = max(len(zs), 1)
        for i, z in enumerate(zs):
            b.new_layer(float(z))
            b.move_to(*square[0], z=float(z), feed=100.0)
            b.add_path(square[1:], MoveKind.EXTRUDE, 40.0, role="perimeter", e=0.5, z=float(z))
            if options["delay_s"]:
                time.sleep(options["delay_s"] / steps)
            request.progress((i + 1) / steps, "slice")
        tp = b.build()
        copies = int(options["copies"])
        grams = copies * float(tp.e.sum()) * FILAMENT_G_PER_MM / 1000.0
        return Plan(
            toolpath=tp,
            outputs=(OutputFile(".gcode", "text/x-gcode", _gcode_writer(np.asarray(tp.xyz))),),
            material_uses=(MaterialUse(material.id, grams, "g"),),
            copies=copies,
            runs=copies,
        )


class Cutter(MachinePlugin):
    id = "testcut"
    name = Text("Découpeuse d'essai", "Test cutter")
    accepts = frozenset({"drawing"})
    material_kinds = frozenset({"sheet"})
    formats = (OutputFormat(".nc", "text/plain", Text("G-code", "G-code")),)
    options = (Option("passes", "int", 1, Text("Passes", "Passes"), min=1, max=5),)

    def plan(self, request):
        b = ToolpathBuilder()
        for path in request.design.paths:
            b.move_to(*path.points[0], z=0.0, feed=200.0)
            for _ in range(request.options["passes"]):
                b.add_path(path.points[1:], MoveKind.CUT, 20.0, role="cut", power=1.0, z=0.0)
        tp = b.build()
        request.progress(1.0, "cut")
        return Plan(
            toolpath=tp,
            outputs=(OutputFile(".nc", "text/plain", _gcode_writer(np.asarray(tp.xyz))),),
            material_uses=(MaterialUse(request.material.id, 1.0, "sheet"),),
            copies=request.copies,
        )


class Boom(MachinePlugin):
    id = "testboom"
    name = Text("Machine en panne", "Broken machine")
    accepts = frozenset({"mesh", "drawing"})
    material_kinds = frozenset({"sheet"})
    formats = (OutputFormat(".bin", "application/octet-stream", Text("x", "x")),)

    def plan(self, request):
        raise RuntimeError("kaboom: the plugin fell over")


PLUGINS = (BoxPrinter, Cutter, Boom)
PROFILES = Path(__file__).resolve().parent / "profiles"


def registry():
    from fabserver.registry import Registry

    reg = Registry()
    for cls in PLUGINS:
        reg.register(cls, f"{cls.id} = {__name__}:{cls.__name__}")
    return reg


def write_entry_points(target: Path) -> Path:
    """A minimal installed-distribution record declaring these plugins, for subprocesses.

    Put ``target`` and this file's folder on the subprocess's PYTHONPATH.
    """
    info = target / "fab_testplugins-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fab-testplugins\nVersion: 0\n")
    lines = ["[fabserver.plugins]"] + [f"{c.id} = fab_testplugins:{c.__name__}" for c in PLUGINS]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return target


#: The test lab spread over three sites: site → its printer (``three_site_profiles``).
SITES = {"saint-omer": "box-1", "boulogne": "box-2", "arras": "box-3"}


def three_site_profiles(root: Path, outbox: Path) -> Path:
    """The test lab's profiles spread over three sites, each printer sending to a folder of
    its own site."""
    shutil.copytree(PROFILES, root)
    names = {"saint-omer": "Saint-Omer", "boulogne": "Boulogne-sur-Mer", "arras": "Arras"}
    (root / "sites").mkdir()
    for site, name in names.items():
        (root / "sites" / f"{site}.toml").write_text(
            f'name = {{ fr = "{name}", en = "{name}" }}\naddress = "{name}"\n'
        )
    box = (root / "machines" / "box-1.toml").read_text()
    (root / "machines" / "box-3.toml").write_text(
        box.replace("Imprimante d'essai 1", "Imprimante d'essai 3").replace(
            "Test printer 1", "Test printer 3"
        )
    )
    for site, machine in SITES.items():
        path = root / "machines" / f"{machine}.toml"
        head, _, tables = path.read_text().partition("\n[")
        path.write_text(
            f'{head}\nsite = "{site}"\n'
            f'connector = {{ type = "folder", path = "{outbox / site}", create = true }}\n'
            f"\n[{tables}"
        )
    for machine, site in (("cutter", "saint-omer"), ("boom", "arras")):
        path = root / "machines" / f"{machine}.toml"
        path.write_text(f'site = "{site}"\n' + path.read_text())
    return root
