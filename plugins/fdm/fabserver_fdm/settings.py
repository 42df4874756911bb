"""What the slicer reads: the maker's options, the printer's and the filament's settings.

Names and value forms follow PrusaSlicer's (``fill_density = 15%``,
``external_perimeter_speed``…), so a PrusaSlicer user recognises every key and a
PrusaSlicer config can be written from a :class:`PrintSettings` for comparison.
The printer's keys live in ``[settings]`` of ``profiles/machines/*.toml``, the
filament's in ``[settings]`` of ``profiles/materials/*.toml``; both are checked by
a pydantic model, so a typo is an error naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from pydantic import Field, model_validator

from fabserver.estimate import FEATURE_ACCELERATIONS
from fabserver.plugin import Option, options_from_toml
from fabserver.profiles import MachineProfile, MaterialProfile, PluginSettings, parse_settings


class PrinterSettings(PluginSettings):
    """``[settings]`` of an FDM machine profile. Speeds in mm/s, lengths in mm."""

    flavour: Literal["marlin2", "klipper"]
    engine: Literal["builtin", "prusaslicer", "curaengine"] = "builtin"  # see engines/
    nozzle_diameter: float = Field(gt=0.1, le=1.2)
    retract_length: float = Field(default=0.8, ge=0, le=10)
    retract_speed: float = Field(default=35, gt=0)
    deretract_speed: float = Field(default=0, ge=0, description="0: same as retract_speed")
    retract_lift: float = Field(default=0.0, ge=0, le=5, description="z-hop on retracted travels")
    retract_before_travel: float = Field(default=2.0, ge=0, description="shorter travels keep")
    start_gcode: str = ""
    end_gcode: str = ""
    # Extrusion widths (PrusaSlicer's MK3S values by default).
    extrusion_width: float = Field(default=0.45, gt=0)
    external_perimeter_extrusion_width: float = Field(default=0.45, gt=0)
    first_layer_extrusion_width: float = Field(default=0.42, gt=0)
    top_infill_extrusion_width: float = Field(default=0.40, gt=0)
    # Speeds.
    perimeter_speed: float = Field(default=45, gt=0)
    external_perimeter_speed: float = Field(default=25, gt=0)
    small_perimeter_speed: float = Field(default=25, gt=0)
    infill_speed: float = Field(default=80, gt=0)
    solid_infill_speed: float = Field(default=80, gt=0)
    top_solid_infill_speed: float = Field(default=40, gt=0)
    bridge_speed: float = Field(default=25, gt=0)
    first_layer_speed: float = Field(default=20, gt=0)
    skirt_speed: float = Field(default=0, ge=0, description="0: first_layer_speed")
    support_material_speed: float = Field(default=50, gt=0)
    infill_overlap: float = Field(default=0.25, ge=0, le=1, description="share of a width")
    # Per-feature accelerations, mm/s² (Klipper; 0: kinematics.accel). See fabserver.estimate.
    external_perimeter_acceleration: float = Field(default=0, ge=0, le=100000)
    perimeter_acceleration: float = Field(default=0, ge=0, le=100000)
    top_solid_infill_acceleration: float = Field(default=0, ge=0, le=100000)
    solid_infill_acceleration: float = Field(default=0, ge=0, le=100000)
    infill_acceleration: float = Field(default=0, ge=0, le=100000)
    bridge_acceleration: float = Field(default=0, ge=0, le=100000)
    first_layer_acceleration: float = Field(default=0, ge=0, le=100000)
    travel_acceleration: float = Field(default=0, ge=0, le=100000)

    @model_validator(mode="after")
    def _accelerations_written(self) -> PrinterSettings:
        given = [k for k in FEATURE_ACCELERATIONS if getattr(self, k)]
        if given and (self.flavour != "klipper" or self.engine != "builtin"):
            raise ValueError(
                f"{given[0]}: per-feature accelerations are written for Klipper by the "
                "builtin engine only (flavour = klipper, engine = builtin)"
            )
        return self


class FilamentSettings(PluginSettings):
    """``[settings]`` of a filament material profile."""

    type: str = "PLA"
    diameter: float = Field(gt=0.5, le=3.5)
    density: float = Field(gt=0.5, le=3.0, description="g/cm³")
    temperature: int = Field(ge=150, le=320)
    first_layer_temperature: int = Field(ge=150, le=320)
    bed_temperature: int = Field(ge=0, le=130)
    first_layer_bed_temperature: int = Field(ge=0, le=130)
    fan_min: int = Field(default=100, ge=0, le=100)
    fan_max: int = Field(default=100, ge=0, le=100)
    disable_fan_first_layers: int = Field(default=1, ge=0)
    fan_below_layer_time: float = Field(default=60, ge=0)
    slowdown_below_layer_time: float = Field(default=15, ge=0)
    min_print_speed: float = Field(default=15, gt=0)
    max_volumetric_speed: float = Field(default=15, ge=0, description="mm³/s; 0: no limit")
    extrusion_multiplier: float = Field(default=1.0, gt=0.5, le=1.5)
    bridge_fan_speed: int = Field(default=100, ge=0, le=100)


def printer_settings(machine: MachineProfile) -> PrinterSettings:
    return parse_settings(PrinterSettings, machine.settings)


def filament_settings(material: MaterialProfile) -> FilamentSettings:
    return parse_settings(FilamentSettings, material.settings)


OPTIONS: tuple[Option, ...] = options_from_toml(__package__)
"""What a maker may set, declared in ``options.toml``; ``engine`` is added by the plugin."""


@dataclass(frozen=True)
class PrintSettings:
    """Everything one slicing run needs, resolved from options, printer and filament."""

    printer: PrinterSettings
    filament: FilamentSettings
    layer_height: float
    first_layer_height: float
    perimeters: int
    fill_density: float  # 0..1
    fill_pattern: str
    fill_angle: float  # degrees
    solid_infill_below_area: float  # mm²
    top_solid_layers: int
    bottom_solid_layers: int
    skirts: int
    skirt_distance: float
    skirt_height: int
    brim_width: float
    external_perimeters_first: bool
    support_material: bool
    seam_position: str
    temperature: int
    first_layer_temperature: int
    bed_temperature: int
    first_layer_bed_temperature: int
    bed_size: tuple[float, float]
    max_height: float
    travel_speed: float

    @classmethod
    def resolve(
        cls, machine: MachineProfile, material: MaterialProfile, options: Mapping[str, Any]
    ) -> PrintSettings:
        printer = printer_settings(machine)
        filament = filament_settings(material)
        # Parsed by the options' schema (again, when run_plan has: it gives the same values).
        chosen = {opt.name: opt.parse(options.get(opt.name, opt.default)) for opt in OPTIONS}
        temp, bed = chosen["temperature"], chosen["bed_temperature"]
        return cls(
            printer=printer,
            filament=filament,
            **{name: chosen[name] for name in _AS_CHOSEN},
            fill_density=chosen["fill_density"] / 100.0,
            skirt_height=1,
            temperature=temp or filament.temperature,
            first_layer_temperature=temp or filament.first_layer_temperature,
            bed_temperature=bed or filament.bed_temperature,
            first_layer_bed_temperature=bed or filament.first_layer_bed_temperature,
            bed_size=(machine.work_area.x, machine.work_area.y),
            max_height=machine.work_area.z,
            travel_speed=machine.kinematics.travel_feed,
        )


_AS_CHOSEN = tuple(
    f.name
    for f in fields(PrintSettings)
    if f.name in {opt.name for opt in OPTIONS}
    and f.name not in ("fill_density", "temperature", "bed_temperature")
)
"""Settings that are the maker's options as the schema parsed them (defaults included)."""
