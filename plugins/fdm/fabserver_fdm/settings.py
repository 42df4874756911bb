"""What the slicer reads: the maker's options, the printer's and the filament's settings.

Names and value forms follow PrusaSlicer's (``fill_density = 15%``,
``external_perimeter_speed``…), so a PrusaSlicer user recognises every key and a
PrusaSlicer config can be written from a :class:`PrintSettings` for comparison.
The printer's keys live in ``[settings]`` of ``profiles/machines/*.toml``, the
filament's in ``[settings]`` of ``profiles/materials/*.toml``; both are checked by
a model (a msgspec struct), so a typo is an error naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal

from msgspec import Meta

from fabserver.estimate import FEATURE_ACCELERATIONS
from fabserver.plugin import Option, options_from_toml
from fabserver.profiles import (
    KeyProblem,
    MachineProfile,
    MaterialProfile,
    NonNegative,
    PluginSettings,
    Positive,
    parse_settings,
)

Acceleration = Annotated[float, Meta(ge=0, le=100000)]
"""A per-feature acceleration in mm/s² (0: the machine's ``kinematics.accel``)."""
Temperature = Annotated[int, Meta(ge=150, le=320)]
"""A nozzle temperature in °C."""
BedTemperature = Annotated[int, Meta(ge=0, le=130)]
"""A bed temperature in °C (0: the bed is not heated)."""
FanPercent = Annotated[int, Meta(ge=0, le=100)]
"""A part-cooling fan's speed in percent."""


class PrinterSettings(PluginSettings):
    """``[settings]`` of an FDM machine profile. Speeds in mm/s, lengths in mm."""

    flavour: Literal["marlin2", "klipper"]
    engine: Literal["builtin", "prusaslicer", "curaengine"] = "builtin"  # see engines/
    nozzle_diameter: Annotated[float, Meta(gt=0.1, le=1.2)]
    retract_length: Annotated[float, Meta(ge=0, le=10)] = 0.8
    retract_speed: Positive = 35
    deretract_speed: NonNegative = 0  # 0: same as retract_speed
    retract_lift: Annotated[float, Meta(ge=0, le=5)] = 0.0  # z-hop on retracted travels
    retract_before_travel: NonNegative = 2.0  # shorter travels keep
    start_gcode: str = ""
    end_gcode: str = ""
    # Extrusion widths (PrusaSlicer's MK3S values by default).
    extrusion_width: Positive = 0.45
    external_perimeter_extrusion_width: Positive = 0.45
    first_layer_extrusion_width: Positive = 0.42
    top_infill_extrusion_width: Positive = 0.40
    # Speeds.
    perimeter_speed: Positive = 45
    external_perimeter_speed: Positive = 25
    small_perimeter_speed: Positive = 25
    infill_speed: Positive = 80
    solid_infill_speed: Positive = 80
    top_solid_infill_speed: Positive = 40
    bridge_speed: Positive = 25
    first_layer_speed: Positive = 20
    skirt_speed: NonNegative = 0  # 0: first_layer_speed
    support_material_speed: Positive = 50
    infill_overlap: Annotated[float, Meta(ge=0, le=1)] = 0.25  # share of a width
    # Per-feature accelerations, mm/s² (Klipper; 0: kinematics.accel). See fabserver.estimate.
    external_perimeter_acceleration: Acceleration = 0
    perimeter_acceleration: Acceleration = 0
    top_solid_infill_acceleration: Acceleration = 0
    solid_infill_acceleration: Acceleration = 0
    infill_acceleration: Acceleration = 0
    bridge_acceleration: Acceleration = 0
    first_layer_acceleration: Acceleration = 0
    travel_acceleration: Acceleration = 0

    def __post_init__(self) -> None:
        given = [k for k in FEATURE_ACCELERATIONS if getattr(self, k)]
        if given and (self.flavour != "klipper" or self.engine != "builtin"):
            raise KeyProblem(
                given[0],
                "per-feature accelerations are written for Klipper by the "
                "builtin engine only (flavour = klipper, engine = builtin)",
            )


class FilamentSettings(PluginSettings):
    """``[settings]`` of a filament material profile."""

    type: str = "PLA"
    diameter: Annotated[float, Meta(gt=0.5, le=3.5)]
    density: Annotated[float, Meta(gt=0.5, le=3.0)]  # g/cm³
    temperature: Temperature
    first_layer_temperature: Temperature
    bed_temperature: BedTemperature
    first_layer_bed_temperature: BedTemperature
    fan_min: FanPercent = 100
    fan_max: FanPercent = 100
    disable_fan_first_layers: Annotated[int, Meta(ge=0)] = 1
    fan_below_layer_time: NonNegative = 60
    slowdown_below_layer_time: NonNegative = 15
    min_print_speed: Positive = 15
    max_volumetric_speed: NonNegative = 15  # mm³/s; 0: no limit
    extrusion_multiplier: Annotated[float, Meta(gt=0.5, le=1.5)] = 1.0
    bridge_fan_speed: FanPercent = 100


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
