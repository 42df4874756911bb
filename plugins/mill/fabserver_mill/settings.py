"""Settings the mill plugin reads from the machine and material profiles.

One pydantic model per settings block, so ``fabserver profiles check`` names the
faulty key and the plugin reads typed values rather than poking into dicts.
Cutting data live with the stock material (what a tool may do in wax is not
what it may do in MDF); the tools themselves live with the machine.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from fabserver.i18n import Text
from fabserver.profiles import PluginSettings, parse_settings

OPERATIONS = ("engrave", "pocket", "inside", "outside")
"""2.5D operations in the order a sheet is machined: cut-outs last, so the part stays held."""


class Tool(PluginSettings):
    """A cutter the operator can mount; the profile's table key is its id."""

    shape: Literal["flat", "ball", "vbit"]
    diameter: float = Field(gt=0, le=25, description="mm, cutting diameter")
    angle: float = Field(default=60.0, gt=0, lt=180, description="V-bit included angle, degrees")
    tip: float = Field(default=0.1, ge=0, description="V-bit flat tip diameter, mm")
    flute_length: float = Field(default=10.0, gt=0, description="mm: deepest cut it allows")
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
    depth: float = Field(default=0.0, ge=0, description="mm below the stock top; 0 = through")


class MachineSettings(PluginSettings):
    """``[settings]`` of a milling machine profile."""

    dialect: Literal["gcode", "rml"] = Field(default="gcode", description="main output file")
    safe_z: float = Field(default=5.0, gt=0, le=50, description="mm above the stock top")
    clearance: float = Field(
        default=1.0, gt=0, description="mm above the material where rapid descent stops"
    )
    breakthrough: float = Field(
        default=0.2, ge=0, le=2, description="mm below the stock bottom for through cuts"
    )
    spindle_max_rpm: float = Field(default=24000.0, gt=0)
    spin_up: float = Field(default=2.0, ge=0, description="s to wait after starting the spindle")
    tools: dict[str, Tool]
    operations: dict[str, OperationDefaults]
    colour_map: str = Field(
        default="#000000=outside,#0000ff=inside,#ff0000=pocket,#00ff00=engrave",
        description="colour → operation[:depth] (see README)",
    )
    layer_map: str = Field(default="", description="layer name → operation[:depth], before colours")
    rough_tool: str = Field(default="flat-3.175", description="3D roughing tool")
    finish_tool: str = Field(default="ball-3.175", description="3D finishing tool")
    gcode_start: tuple[str, ...] = ("G21", "G90", "G17", "G94")
    gcode_end: tuple[str, ...] = ("M5", "G0 X0 Y0", "M2")

    @model_validator(mode="after")
    def _tools_exist(self) -> MachineSettings:
        for op, defaults in self.operations.items():
            if op not in OPERATIONS:
                raise ValueError(f"operations.{op}: unknown operation (known: {OPERATIONS})")
            if defaults.tool not in self.tools:
                raise ValueError(f"operations.{op}.tool: no tool '{defaults.tool}' in tools")
        missing = [op for op in OPERATIONS if op not in self.operations]
        if missing:
            raise ValueError(f"operations: missing {', '.join(missing)}")
        for key in ("rough_tool", "finish_tool"):
            if getattr(self, key) not in self.tools:
                raise ValueError(f"{key}: no tool '{getattr(self, key)}' in tools")
        if self.tools[self.finish_tool].shape != "ball":
            raise ValueError("finish_tool: 3D finishing needs a ball end mill")
        if self.tools[self.rough_tool].shape == "vbit":
            raise ValueError("rough_tool: a V-bit cannot rough")
        return self


class CuttingData(PluginSettings):
    """What one tool may do in one stock material."""

    feed: float = Field(gt=0, description="mm/min along the cut")
    plunge: float = Field(gt=0, description="mm/min going down (plunges and ramps)")
    step_down: float = Field(gt=0, description="mm per pass")
    step_over: float = Field(
        gt=0,
        le=0.5,
        description="share of the diameter between passes; at most 0.5 so that contour-"
        "parallel pockets leave nothing uncut",
    )
    spindle: float = Field(gt=0, description="rpm")


class MaterialSettings(PluginSettings):
    """``[settings]`` of a stock material used on the mill."""

    thickness: float = Field(gt=0, description="mm, stock for 2.5D work")
    cutting: dict[str, CuttingData]


def machine_settings(data: dict[str, Any]) -> MachineSettings:
    return parse_settings(MachineSettings, data)


def material_settings(data: dict[str, Any]) -> MaterialSettings:
    return parse_settings(MaterialSettings, data)
