"""``fabserver plugin new NAME``: a plugin author's start.

Writes a working plugin package — code, an example machine and material
profile, tests that import the new package and plan on the new machine, a
README and its ``pyproject.toml`` — shaped like the smallest complete plugin
(the vinyl cutter's): settings models for the profiles' ``[settings]``, the
declaration, a ``plan`` that builds the shared Toolpath, and a machine file from
a core writer (HPGL, here for a pen plotter). The new package's tests pass as
generated; the author then changes what the machine really does.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import click

NAME = re.compile(r"[a-z][a-z0-9_]{1,30}")

FILES: dict[str, str] = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "fabserver-$name"
version = "0.1.0"
description = "fabserver plugin: $name"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["fabserver"]

[project.entry-points."fabserver.plugins"]
$name = "fabserver_$name:$cls"

[tool.setuptools.packages.find]
include = ["fabserver_$name*"]
""",
    "README.md": """\
# fabserver-$name

A fabserver machine plugin, started with `fabserver plugin new $name`. As
generated it plots each path of a drawing with a pen, as HPGL: change `plan()`
in `fabserver_$name/plugin.py` to what your machine does.

- `fabserver_$name/plugin.py`: the settings models (what the profiles'
  `[settings]` hold), the declaration (what it takes, writes and lets a maker
  choose, its roles' colours for the preview) and `plan()`.
- `profiles/machines/$name.toml`, `profiles/materials/$name-paper.toml`: copy them
  into the lab's `profiles/` folder.
- `tests/`: they import this package and plan on the machine above.

    pip install -e .            # registers the entry point: `fabserver plugins` lists it
    python -m pytest tests
    fabserver profiles check    # once the profiles are in the lab's folder

The core estimates the time from the Toolpath, draws the preview from the
Toolpath and the roles, and checks the profiles against `check_machine` /
`check_material` when the server starts. The plugin API is in
`fabserver/plugin.py`.
""",
    "fabserver_$name/__init__.py": '''\
"""fabserver plugin: $name."""

from .plugin import $cls

__all__ = ["$cls"]
''',
    "fabserver_$name/plugin.py": '''\
"""The $name plugin: a drawing in, an HPGL file out (a pen plotter, to begin with)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fabserver.designs import Design, Drawing
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.plugin import (
    MachinePlugin,
    MaterialUse,
    Option,
    OutputFile,
    OutputFormat,
    Plan,
    Progress,
    no_progress,
)
from fabserver.preview import RoleStyle
from fabserver.profiles import MachineProfile, MaterialProfile, parse_settings
from fabserver.toolpath import MoveKind, ToolpathBuilder
from fabserver.writers.hpgl import PenSetup, write_hpgl

HPGL = OutputFormat(".hpgl", "application/vnd.hp-hpgl", Text("HPGL", "HPGL"))


class MachineSettings(BaseModel):
    """``[settings]`` of the machine profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units_per_mm: float = Field(40.0, gt=0, description="HPGL plotter units per millimetre")
    pen: int = Field(1, ge=1, le=8, description="HPGL pen number")


class MaterialSettings(BaseModel):
    """``[settings]`` of a material profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(gt=0, le=100, description="drawing speed, mm/s")
    force: float = Field(10.0, gt=0, description="pen force, FS value")


class $cls(MachinePlugin):
    """$title: draws every path of a drawing."""

    id = "$name"
    name = Text("$title", "$title")
    accepts = frozenset({"drawing"})
    material_kinds = frozenset({"$name"})
    formats = (HPGL,)
    roles: ClassVar[Mapping[str, RoleStyle]] = {
        "draw": RoleStyle("#1f77b4", Text("Tracé", "Drawing")),
    }
    options = (Option("scale", "percent", 100.0, Text("Échelle", "Scale"), min=1, max=1000),)

    def check_machine(self, machine: MachineProfile) -> None:
        parse_settings(MachineSettings, machine.settings)

    def check_material(self, material: MaterialProfile) -> None:
        parse_settings(MaterialSettings, material.settings)

    def plan(
        self,
        design: Design,
        machine: MachineProfile,
        material: MaterialProfile,
        options: Mapping[str, Any],
        progress: Progress = no_progress,
    ) -> Plan:
        """Each path drawn in file order, at the material's speed, copies side by side."""
        assert isinstance(design, Drawing)  # ``accepts`` lets only drawings through
        ms = parse_settings(MachineSettings, machine.settings)
        mat = parse_settings(MaterialSettings, material.settings)
        paths = [p for p in design.paths if len(p.points) >= 2]
        if not paths:
            raise PlanError(Text("Le dessin est vide.", "The drawing is empty."))
        scale = float(options["scale"]) / 100.0
        low = np.min([p.points.min(axis=0) for p in paths], axis=0)
        size = (np.max([p.points.max(axis=0) for p in paths], axis=0) - low) * scale
        copies = int(options["copies"])
        width = copies * size[0] + (copies - 1) * 5.0
        if width > machine.work_area.x or size[1] > machine.work_area.y:
            raise PlanError(
                Text(
                    f"{copies} exemplaire(s) prennent {width:.0f} × {size[1]:.0f} mm : "
                    f"plus que la machine ({machine.work_area.x:.0f} × "
                    f"{machine.work_area.y:.0f} mm). Réduisez l'échelle ou le nombre.",
                    f"{copies} copies take {width:.0f} × {size[1]:.0f} mm: more than the "
                    f"machine ({machine.work_area.x:.0f} × {machine.work_area.y:.0f} mm). "
                    "Reduce the scale or the number.",
                )
            )
        strokes = []
        for copy in range(copies):
            shift = np.array([copy * (size[0] + 5.0), 0.0])
            for p in paths:
                points = (p.points - low) * scale + shift
                strokes.append(np.vstack([points, points[:1]]) if p.closed else points)
        builder = ToolpathBuilder()
        for stroke in strokes:
            builder.move_to(*stroke[0], z=0.0, feed=machine.kinematics.travel_feed)
            builder.add_path(stroke[1:], MoveKind.CUT, mat.speed, role="draw", z=0.0)
        builder.move_to(0.0, 0.0, z=0.0, feed=machine.kinematics.travel_feed)
        setup = PenSetup(mat.force, mat.speed / 10.0, ms.pen, ms.units_per_mm)
        progress(1.0, "done")
        return Plan(
            toolpath=builder.build(),
            outputs=(
                OutputFile(
                    HPGL.suffix, HPGL.media_type, lambda out: write_hpgl(out, strokes, setup)
                ),
            ),
            material_uses=(MaterialUse(material.id, 1.0, "sheet", material.name.text()),),
            copies=copies,
            facts={"strokes": len(strokes), "size_mm": [float(v) for v in size]},
        )
''',
    "profiles/machines/$name.toml": """\
name = { fr = "$title", en = "$title" }
plugin = "$name"
connector = { type = "download" }

[work_area]
x = 420
y = 297
z = 1

[kinematics]
max_feed = { x = 200, y = 200, z = 10 }
max_accel = { x = 1000, y = 1000, z = 100 }
accel = 800
travel_feed = 150
junction_deviation = 0.02

[settings]
units_per_mm = 40
pen = 1
""",
    "profiles/materials/$name-paper.toml": """\
name = { fr = "Papier A3", en = "A3 paper" }
kind = "$name"
plugins = ["$name"]
prices = { sheet = 0.2 }

[settings]
speed = 60
force = 10
""",
    "tests/test_plugin.py": '''\
"""The $name plugin plans a drawing on its example machine and writes its HPGL."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fabserver_$name import $cls

from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.errors import PlanError
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.registry import Registry, profile_problems
from fabserver.toolpath import MoveKind

PROFILES = Path(__file__).resolve().parent.parent / "profiles"


def square(size: float) -> Drawing:
    pts = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=float)
    return Drawing((DrawingPath(pts, closed=True),), SourceFacts("svg", "mm"))


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(PROFILES)


def test_the_example_profiles_keep_the_plugin_contract(profiles):
    registry = Registry()
    registry.register($cls)
    assert not registry.broken
    assert profile_problems(registry, profiles) == []


def test_plans_two_copies_of_a_square_on_the_new_machine(profiles):
    machine = profiles.machine("$name")
    material = profiles.material("$name-paper")
    options = {"copies": 2}
    result = run_plan($cls(), square(40), machine, material, options, profiles.policy)
    assert result.plan.toolpath.length_of(MoveKind.CUT) == pytest.approx(2 * 160.0)
    assert result.estimate.machine_time_s > 2 * 160.0 / 60.0
    assert result.preview is not None and 'data-role="draw"' in result.preview.svg
    out = io.BytesIO()
    result.plan.outputs[0].write(out)
    hpgl = out.getvalue().decode("ascii")
    assert hpgl.startswith("IN;PA;SP1;")
    assert "PU0,0;PD1600,0,1600,1600,0,1600,0,0;" in hpgl  # 40 mm = 1600 plotter units


def test_too_many_copies_is_a_message(profiles):
    with pytest.raises(PlanError) as err:
        run_plan(
            $cls(),
            square(100),
            profiles.machine("$name"),
            profiles.material("$name-paper"),
            {"copies": 10},
            profiles.policy,
        )
    assert "Reduce the scale" in err.value.message.en
''',
}


def write_plugin(name: str, dest: Path) -> Path:
    """Write the package ``fabserver-NAME`` under ``dest``; return its folder."""
    if not NAME.fullmatch(name):
        raise click.BadParameter(
            "lower-case letters, digits and '_', starting with a letter (e.g. pen_plotter)",
            param_hint="NAME",
        )
    root = dest / f"fabserver-{name}"
    if root.exists():
        raise click.BadParameter(f"{root} already exists", param_hint="NAME")
    words = {
        "name": name,
        "cls": "".join(part.capitalize() for part in name.split("_")) + "Plugin",
        "title": name.replace("_", " ").capitalize(),
    }
    for path, text in FILES.items():
        target = root / Template(path).substitute(words)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(text).substitute(words), encoding="utf-8")
    return root


@click.group("plugin")
def plugin() -> None:
    """Plugin authors' tools."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to write the package in.",
)
def new(name: str, dest: Path) -> None:
    """Write a working plugin package NAME (code, profiles, tests, README) to start from."""
    root = write_plugin(name, dest)
    click.echo(f"→ {root}")
    click.echo(f"  pip install -e {root} && python -m pytest {root / 'tests'}")
