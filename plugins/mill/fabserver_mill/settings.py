"""Settings the mill plugin reads from the machine and material profiles.

One model (a msgspec struct) per settings block, so ``fabserver profiles check``
names the faulty key and the plugin reads typed values rather than poking into dicts.
Cutting data live with the stock material (what a tool may do in wax is not
what it may do in MDF); the tools themselves live with the machine.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from msgspec import Meta

from fabserver.i18n import Text
from fabserver.profiles import KeyProblem, NonNegative, PluginSettings, Positive, parse_settings

OPERATIONS = ("engrave", "pocket", "inside", "outside")
"""2.5D operations in the order a sheet is machined: cut-outs last, so the part stays held."""


class Tool(PluginSettings):
    """A cutter the operator can mount; the profile's table key is its id."""

    shape: Literal["flat", "ball", "vbit"]
    diameter: Annotated[float, Meta(gt=0, le=25)]  # mm, cutting diameter
    angle: Annotated[float, Meta(gt=0, lt=180)] = 60.0  # V-bit included angle, degrees
    tip: NonNegative = 0.1  # V-bit flat tip diameter, mm
    flute_length: Positive = 10.0  # mm: deepest cut it allows
    label: str = ""

    @property
    def radius(self) -> float:
        return self.diameter / 2.0

    def width_at(self, depth: float) -> float:
        """Width of the groove at ``depth`` mm (a V-bit widens as it goes down)."""
        if self.shape != "vbit":
            return self.diameter
        return min(self.diameter, self.tip + 2.0 * depth * math.tan(math.radians(self.angle / 2)))

    def describe(self) -> Text:
        """What the operator mounts, e.g. « fraise droite Ø3.175 mm »."""
        names = {
            "flat": ("fraise droite", "flat end mill"),
            "ball": ("fraise hémisphérique", "ball end mill"),
            "vbit": ("fraise en V", "V-bit"),
        }[self.shape]
        extra = f" {self.angle:g}°" if self.shape == "vbit" else ""
        if self.label:
            return Text(self.label, self.label)
        return Text(
            f"{names[0]}{extra} Ø{self.diameter:g} mm".replace(".", ","),
            f"{names[1]}{extra} Ø{self.diameter:g} mm",
        )


class OperationDefaults(PluginSettings):
    """Default tool and depth of one 2.5D operation (depth 0: through the stock)."""

    tool: str
    depth: NonNegative = 0.0  # mm below the stock top; 0 = through


class MachineSettings(PluginSettings):
    """``[settings]`` of a milling machine profile."""

    dialect: Literal["gcode", "rml"] = "gcode"  # main output file
    safe_z: Annotated[float, Meta(gt=0, le=50)] = 5.0  # mm above the stock top
    clearance: Positive = 1.0  # mm above the material where rapid descent stops
    #: mm below the stock bottom for through cuts.
    breakthrough: Annotated[float, Meta(ge=0, le=2)] = 0.2
    spindle_max_rpm: Positive = 24000.0
    spin_up: NonNegative = 2.0  # s to wait after starting the spindle
    tools: dict[str, Tool]
    operations: dict[str, OperationDefaults]
    #: Colour → operation[:depth] (see README).
    colour_map: str = "#000000=outside,#0000ff=inside,#ff0000=pocket,#00ff00=engrave"
    layer_map: str = ""  # layer name → operation[:depth], before colours
    rough_tool: str = "flat-3.175"  # 3D roughing tool
    finish_tool: str = "ball-3.175"  # 3D finishing tool
    gcode_start: tuple[str, ...] = ("G21", "G90", "G17", "G94")
    gcode_end: tuple[str, ...] = ("M5", "G0 X0 Y0", "M2")

    def __post_init__(self) -> None:
        """Every tool named here is one of ``tools``, and fits the work it is named for."""
        for op, defaults in self.operations.items():
            if op not in OPERATIONS:
                raise KeyProblem(f"operations.{op}", f"unknown operation (known: {OPERATIONS})")
            if defaults.tool not in self.tools:
                raise KeyProblem(f"operations.{op}.tool", f"no tool '{defaults.tool}' in tools")
        missing = [op for op in OPERATIONS if op not in self.operations]
        if missing:
            raise KeyProblem("operations", f"missing {', '.join(missing)}")
        for key in ("rough_tool", "finish_tool"):
            if getattr(self, key) not in self.tools:
                raise KeyProblem(key, f"no tool '{getattr(self, key)}' in tools")
        if self.tools[self.finish_tool].shape != "ball":
            raise KeyProblem("finish_tool", "3D finishing needs a ball end mill")
        if self.tools[self.rough_tool].shape == "vbit":
            raise KeyProblem("rough_tool", "a V-bit cannot rough")


class CuttingData(PluginSettings):
    """What one tool may do in one stock material."""

    feed: Positive  # mm/min along the cut
    plunge: Positive  # mm/min going down (plunges and ramps)
    step_down: Positive  # mm per pass
    #: Share of the diameter between passes; at most 0.5 so that contour-parallel
    #: pockets leave nothing uncut.
    step_over: Annotated[float, Meta(gt=0, le=0.5)]
    spindle: Positive  # rpm


class MaterialSettings(PluginSettings):
    """``[settings]`` of a stock material used on the mill."""

    thickness: Positive  # mm, stock for 2.5D work
    cutting: dict[str, CuttingData]


def machine_settings(data: dict[str, Any]) -> MachineSettings:
    return parse_settings(MachineSettings, data)


def material_settings(data: dict[str, Any]) -> MaterialSettings:
    return parse_settings(MaterialSettings, data)
