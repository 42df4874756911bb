"""The embroidery keys of machine and material profiles, validated by pydantic.

Machine ``[settings]`` say what the machine can do (hoops, stitch rate, file
format, thresholds for jumps and trims); material ``[settings]`` say how the
thread and stabiliser behave (catalogue, take-up, bobbin share, margin).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fabserver.profiles import PluginSettings

FormatName = Literal["dst", "pes", "jef", "exp"]


class Hoop(PluginSettings):
    """A hoop's sewing field in millimetres (x across the machine, y front to back)."""

    name: str
    width: float = Field(gt=0)
    height: float = Field(gt=0)

    @property
    def area(self) -> float:
        return self.width * self.height


class MachineSettings(PluginSettings):
    hoops: tuple[Hoop, ...] = Field(min_length=1)
    stitch_rate_spm: float = Field(default=650.0, gt=0, description="needle cycles per minute")
    default_format: FormatName = "dst"
    min_stitch_mm: float = Field(default=0.3, ge=0.1, le=2.0)
    max_stitch_mm: float = Field(
        default=12.1, gt=1.0, description="longest stitch the machine sews (formats may allow less)"
    )
    jump_threshold_mm: float = Field(
        default=2.0, ge=0, description="gaps up to this are sewn across, longer ones jumped"
    )
    trim_threshold_mm: float = Field(
        default=6.0, ge=0, description="jumps longer than this cut the thread first"
    )
    lock_stitch_mm: float = Field(default=0.7, gt=0.2, le=2.0)
    stitch_map: str = Field(
        default="", description="colour or layer → fill / satin / run / ignore (else by shape)"
    )
    hooping_time_s: float = Field(
        default=90.0, ge=0, description="hands-on time to hoop fabric for one copy"
    )

    @model_validator(mode="after")
    def _thresholds(self) -> MachineSettings:
        if self.trim_threshold_mm < self.jump_threshold_mm:
            raise ValueError("trim_threshold_mm must not be below jump_threshold_mm")
        if self.lock_stitch_mm < self.min_stitch_mm:
            raise ValueError("lock_stitch_mm must not be below min_stitch_mm")
        return self


class MaterialSettings(PluginSettings):
    catalogue: Literal["brother-pec", "janome-jef"] = "brother-pec"
    take_up_factor: float = Field(
        default=1.4, ge=1.0, le=3.0, description="top thread per mm of stitch (loops, tension)"
    )
    bobbin_ratio: float = Field(
        default=0.35, ge=0.0, le=1.0, description="bobbin thread per metre of top thread"
    )
    stabiliser: Literal["hoop", "design"] = "hoop"
    stabiliser_margin_mm: float = Field(default=20.0, ge=0)
