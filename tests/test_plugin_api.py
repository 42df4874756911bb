"""The plugin contract: declarations checked at load, options parsed like PrusaSlicer's."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.i18n import Text
from fabserver.planning import run_plan, write_outputs
from fabserver.plugin import (
    MachinePlugin,
    MaterialUse,
    Option,
    OptionError,
    OutputFile,
    OutputFormat,
    Plan,
    PlanInput,
    resolve_options,
)
from fabserver.profiles import PluginSettings, Positive, replaced
from fabserver.registry import Registry, load_registry
from fabserver.testing import require
from fabserver.toolpath import MoveKind, ToolpathBuilder


class PenPlotter(MachinePlugin):
    """A tiny plugin of the tests' own: draws every path with a pen."""

    id = "pen"
    name = Text("Traceur", "Pen plotter")
    accepts = frozenset({"drawing"})
    material_kinds = frozenset({"sheet"})
    formats = (OutputFormat(".txt", "text/plain", Text("Tracé", "Plot")),)
    options: ClassVar = (
        Option("speed", "float", 20.0, Text("Vitesse", "Speed"), unit="mm/s", min=1, max=100),
        Option("fill_density", "percent", 15.0, Text("Densité", "Density"), min=0, max=100),
    )

    def plan(self, request):
        b = ToolpathBuilder()
        for path in request.design.paths:
            b.move_to(*path.points[0], feed=request.machine.kinematics.travel_feed)
            pts = np.vstack([path.points, path.points[:1]]) if path.closed else path.points
            b.add_path(pts[1:], MoveKind.CUT, request.options["speed"], role="cut", z=0)
        tp = b.build()
        length_m = tp.length_of(MoveKind.CUT) / 1000

        def write(f):
            f.write(b"".join(b"%.3f %.3f\n" % (x, y) for x, y, _ in tp.xyz))

        return Plan(
            toolpath=tp,
            outputs=(OutputFile(".txt", "text/plain", write),),
            material_uses=(MaterialUse(request.material.id, 1, "sheet"),),
            copies=request.copies,
            facts={"ink_m": length_m},
        )


def square(size: float) -> Drawing:
    pts = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=float)
    return Drawing((DrawingPath(pts, closed=True, stroke=(255, 0, 0)),), SourceFacts("svg", "mm"))


def test_percent_options_take_prusaslicer_forms():
    opt = PenPlotter.options[1]
    assert opt.parse("15%") == 15.0
    assert opt.parse("15") == 15.0
    assert opt.parse("7,5 %") == 7.5
    with pytest.raises(OptionError) as err:
        opt.parse("150%")
    assert "fill_density" in err.value.message.fr
    with pytest.raises(OptionError):
        opt.parse("lots")


def test_a_choice_declared_as_a_mapping_keeps_each_label_with_its_value():
    option = Option.choice(
        "nesting",
        "parts",
        Text("Placement", "Nesting"),
        {"parts": Text("Pièce par pièce", "Part by part"), "shape": Text("Forme", "Shape")},
        advanced=True,
    )
    assert (option.type, option.default, option.advanced) == ("choice", "parts", True)
    assert option.choices == ("parts", "shape")
    assert [t.en for t in option.choice_labels] == ["Part by part", "Shape"]
    assert option.parse("shape") == "shape"
    with pytest.raises(OptionError, match="not one of parts, shape"):
        option.parse("design")


def test_unknown_option_is_an_error_not_ignored():
    with pytest.raises(OptionError, match="speeed"):
        resolve_options(PenPlotter.option_schema(), {"speeed": "3"})


def test_bool_and_int_forms():
    flag = Option("x", "bool", False, Text("x", "x"))
    assert flag.parse("oui") is True and flag.parse("off") is False
    count = Option("n", "int", 1, Text("n", "n"), min=1, max=3)
    assert count.parse("2") == 2
    with pytest.raises(OptionError):
        count.parse("2.5")


def test_registry_checks_declarations_and_keeps_broken_plugins_visible():
    class NoPlan(MachinePlugin):
        id = "noplan"
        name = Text("x", "x")
        accepts = frozenset({"drawing"})
        material_kinds = frozenset()
        formats = ()

    class BadDefault(PenPlotter):
        id = "baddefault"
        options: ClassVar = (Option("speed", "float", 500.0, Text("v", "v"), min=1, max=100),)

    reg = Registry()
    reg.register(PenPlotter)
    reg.register(NoPlan)
    reg.register(BadDefault)
    assert set(reg.plugins) == {"pen"}
    assert "plan() is not implemented" in reg.broken["noplan"].error
    assert "default rejected" in reg.broken["baddefault"].error
    with pytest.raises(LookupError, match="broken"):
        reg.get("noplan")


def test_declared_settings_models_check_the_profiles_and_are_read_for_plan(profiles):
    class Settings(PluginSettings):
        pen_force: Positive

    class WithSettings(PenPlotter):
        id = "withsettings"
        machine_settings = Settings

    class NotAModel(PenPlotter):
        id = "notamodel"
        material_settings = dict

    reg = Registry()
    reg.register(WithSettings)
    reg.register(NotAModel)
    assert "material_settings must be" in reg.broken["notamodel"].error
    machine = profiles.machine("laser")
    plugin = reg.get("withsettings")
    with pytest.raises(ValueError, match=r"^settings\.\w+: unknown key$"):
        plugin.check_machine(machine)  # the laser's settings, not the pen's
    with pytest.raises(ValueError, match=r"^settings\.pen_force: missing$"):
        plugin.check_machine(replaced(machine, settings={}))
    with pytest.raises(ValueError, match=r"^settings\.pen_force: .*> 0"):
        plugin.check_machine(replaced(machine, settings={"pen_force": 0}))
    good = replaced(machine, settings={"pen_force": 2.5})
    plugin.check_machine(good)
    plugin.check_material(profiles.material("plywood-3"))  # no model declared: nothing read
    request = PlanInput(square(10), good, profiles.material("plywood-3"), {"copies": 3})
    assert request.copies == 3
    assert request.machine_settings(Settings).pen_force == 2.5


def test_installed_plugins_load_without_errors():
    reg = load_registry()
    assert not reg.broken, {k: v.error for k, v in reg.broken.items()}


def test_run_plan_end_to_end_with_a_test_plugin(profiles, tmp_path):
    machine = replaced(profiles.machine("laser"), plugin="pen")
    material = replaced(profiles.material("plywood-3"), plugins=("pen",))
    result = run_plan(
        PenPlotter(),
        square(50),
        machine,
        material,
        {"copies": "2", "speed": "25"},
        profiles.policy,
        profiles.materials,
    )
    assert result.options == {"copies": 2, "speed": 25.0, "fill_density": 15.0}
    assert result.plan.toolpath.length_of(MoveKind.CUT) == pytest.approx(200.0)
    assert result.estimate.machine_time_s > 200 / 25  # accelerations cost time
    assert result.estimate.cost_eur == pytest.approx(material.prices["sheet"])
    assert result.verdict.kind == "prototype"
    written = write_outputs(result.plan, tmp_path / "out.txt")
    assert written == [tmp_path / "out.txt"]
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert len(lines) == len(result.plan.toolpath)


def test_run_plan_refuses_wrong_design_kind(profiles):
    from fabserver.errors import PlanError

    class MeshOnly(PenPlotter):
        id = "meshonly"
        accepts = frozenset({"mesh"})

    machine = profiles.machine("laser")
    with pytest.raises(PlanError) as err:
        run_plan(
            MeshOnly(), square(5), machine, profiles.material("plywood-3"), {}, profiles.policy
        )
    assert "type de fichier" in err.value.message.fr


def test_registry_can_load_a_single_plugin():
    everything = load_registry()
    require(everything.plugins, "no plugin installed")
    name = next(iter(everything.plugins))
    one = load_registry(only=name)
    assert set(one.plugins) == {name}
    assert type(one.get(name)) is type(everything.get(name))


def test_wrong_design_kind_says_what_the_machine_takes(profiles):
    from fabserver.errors import PlanError

    class MeshOnly(PenPlotter):
        id = "meshonly2"
        accepts = frozenset({"mesh"})

    with pytest.raises(PlanError) as err:
        run_plan(MeshOnly(), square(5), profiles.machine("laser"), profiles.material("plywood-3"),
                 {}, profiles.policy)  # fmt: skip
    assert "un modèle 3D (STL, 3MF, OBJ)" in err.value.message.fr
    assert "it takes a 3D model" in err.value.message.en


def test_a_file_of_an_undeclared_format_is_refused(profiles):
    from fabserver.errors import PlanError

    class Mislabelled(PenPlotter):
        id = "mislabelled"
        formats = (OutputFormat(".hpgl", "application/vnd.hp-hpgl", Text("HPGL", "HPGL")),)

    machine = replaced(profiles.machine("laser"), plugin="mislabelled")
    material = replaced(profiles.material("plywood-3"), plugins=("mislabelled",))
    with pytest.raises(PlanError) as err:
        run_plan(Mislabelled(), square(5), machine, material, {}, profiles.policy)
    assert ".txt" in err.value.message.en and ".hpgl" in err.value.message.en
    assert "ne déclare pas" in err.value.message.fr


def test_role_styles_are_checked_and_drawn_with_their_colours_and_labels(profiles):
    from fabserver.preview_data import RoleStyle

    class Unstyled(PenPlotter):
        id = "unstyled"
        roles: ClassVar = {"cut": RoleStyle("red", Text("Découpe", "Cut"))}

    class Styled(PenPlotter):
        id = "styled"
        roles: ClassVar = {"cut": RoleStyle("#aa0011", Text("Découpe au stylo", "Pen cut"))}

    reg = Registry()
    reg.register(Unstyled)
    reg.register(Styled)
    assert "role 'cut'" in reg.broken["unstyled"].error
    machine = replaced(profiles.machine("laser"), plugin="styled")
    material = replaced(profiles.material("plywood-3"), plugins=("styled",))
    result = run_plan(reg.get("styled"), square(10), machine, material, {}, profiles.policy)
    assert 'data-role="cut"' in result.preview.svg and 'stroke="#aa0011"' in result.preview.svg
    (cut,) = [entry for entry in result.preview.legend if entry.role == "cut"]
    assert cut.label.en == "Pen cut" and cut.to_dict()["colour"] == "#aa0011"
    assert result.preview.layers is None  # one layer: no slider
