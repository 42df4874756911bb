"""Settings the laser plugin reads from the machine and material profiles.

One pydantic model per settings block, so ``fabserver profiles check`` names the
faulty key, and the plugin reads typed values instead of poking into dicts.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fabserver.profiles import PluginSettings, parse_settings

OPERATIONS = ("engrave", "score", "cut")
"""What a laser does with a path, in the order a sheet is processed."""


class MachineSettings(PluginSettings):
    """``[settings]`` of a laser machine profile."""

    s_max: float = Field(
        default=1000.0, gt=0, description="GRBL $30: the S value that means 100 % power"
    )
    air_assist: bool = Field(default=True, description="M8 at the start, M9 at the end")
    colour_map: str = Field(
        default="stroke:#ff0000=cut,stroke:#0000ff=score,fill:#000000=engrave",
        description="default colour → operation map (see README)",
    )
    layer_map: str = Field(
        default="", description="DXF/SVG layer name patterns → operation, checked before colours"
    )
    presets: dict[str, str] = Field(
        default_factory=dict, description="named colour maps a job may ask for (e.g. 'boxes')"
    )
    margin: float = Field(default=5.0, ge=0, description="mm kept free along the sheet edges")
    spacing: float = Field(default=3.0, ge=0, description="mm between nested parts")
    overscan: float | None = Field(
        default=None, ge=0, description="raster overscan in mm; none: braking distance at speed"
    )
    merge_tolerance: float = Field(
        default=0.005, gt=0, description="mm: lines closer than this are the same line"
    )


class SheetSize(PluginSettings):
    x: float = Field(gt=0)
    y: float = Field(gt=0)


class OperationSettings(PluginSettings):
    """How one operation is run on one material."""

    power: float = Field(gt=0, le=100, description="% of the laser's maximum")
    speed: float = Field(gt=0, description="mm/s")
    passes: int = Field(default=1, ge=1, le=20)
    kerf: float = Field(default=0.0, ge=0, lt=2, description="mm of material the beam removes")
    line_interval: float = Field(
        default=0.1, gt=0, le=2, description="mm between raster scan lines (engrave)"
    )


class MaterialSettings(PluginSettings):
    """``[settings]`` of a sheet material used on the laser."""

    thickness: float = Field(gt=0, description="mm")
    sheet: SheetSize
    cut: OperationSettings
    score: OperationSettings
    engrave: OperationSettings

    def operation(self, name: str) -> OperationSettings:
        return getattr(self, name)


def machine_settings(data: dict[str, Any]) -> MachineSettings:
    return parse_settings(MachineSettings, data)


def material_settings(data: dict[str, Any]) -> MaterialSettings:
    return parse_settings(MaterialSettings, data)
