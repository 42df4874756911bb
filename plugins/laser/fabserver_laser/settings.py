"""Settings the laser plugin reads from the machine and material profiles.

One model (a msgspec struct) per settings block, so ``fabserver profiles check``
names the faulty key, and the plugin reads typed values instead of poking into dicts.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from fabserver.profiles import NonNegative, PluginSettings, Positive, parse_settings

OPERATIONS = ("engrave", "score", "cut")
"""What a laser does with a path, in the order a sheet is processed."""


class MachineSettings(PluginSettings):
    """``[settings]`` of a laser machine profile."""

    s_max: Positive = 1000.0  # GRBL $30: the S value that means 100 % power
    air_assist: bool = True  # M8 at the start, M9 at the end
    #: Default colour → operation map (see README).
    colour_map: str = "stroke:#ff0000=cut,stroke:#0000ff=score,fill:#000000=engrave"
    layer_map: str = ""  # DXF/SVG layer name patterns → operation, checked before colours
    #: Named colour maps a job may ask for (e.g. 'boxes').
    presets: dict[str, str] = msgspec.field(default_factory=dict)
    margin: NonNegative = 5.0  # mm kept free along the sheet edges
    spacing: NonNegative = 3.0  # mm between nested parts
    overscan: NonNegative | None = None  # raster overscan in mm; none: braking distance at speed
    merge_tolerance: Positive = 0.005  # mm: lines closer than this are the same line


class SheetSize(PluginSettings):
    x: Positive
    y: Positive


class OperationSettings(PluginSettings):
    """How one operation is run on one material."""

    power: Annotated[float, Meta(gt=0, le=100)]  # % of the laser's maximum
    speed: Positive  # mm/s
    passes: Annotated[int, Meta(ge=1, le=20)] = 1
    kerf: Annotated[float, Meta(ge=0, lt=2)] = 0.0  # mm of material the beam removes
    line_interval: Annotated[float, Meta(gt=0, le=2)] = (
        0.1  # mm between raster scan lines (engrave)
    )


class MaterialSettings(PluginSettings):
    """``[settings]`` of a sheet material used on the laser."""

    thickness: Positive  # mm
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
