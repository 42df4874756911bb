"""The embroidery keys of machine and material profiles, read as models (msgspec structs).

Machine ``[settings]`` say what the machine can do (hoops, stitch rate, file
format, thresholds for jumps and trims); material ``[settings]`` say how the
thread and stabiliser behave (catalogue, take-up, bobbin share, margin).
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from fabserver.profiles import KeyProblem, NonNegative, PluginSettings, Positive

FormatName = Literal["dst", "pes", "jef", "exp"]


class Hoop(PluginSettings):
    """A hoop's sewing field in millimetres (x across the machine, y front to back)."""

    name: str
    width: Positive
    height: Positive

    @property
    def area(self) -> float:
        return self.width * self.height


class MachineSettings(PluginSettings):
    hoops: Annotated[tuple[Hoop, ...], Meta(min_length=1)]
    stitch_rate_spm: Positive = 650.0  # needle cycles per minute
    default_format: FormatName = "dst"
    min_stitch_mm: Annotated[float, Meta(ge=0.1, le=2.0)] = 0.3
    #: Longest stitch the machine sews (formats may allow less).
    max_stitch_mm: Annotated[float, Meta(gt=1.0)] = 12.1
    #: Gaps up to this are sewn across, longer ones jumped.
    jump_threshold_mm: NonNegative = 2.0
    #: Jumps longer than this cut the thread first.
    trim_threshold_mm: NonNegative = 6.0
    lock_stitch_mm: Annotated[float, Meta(gt=0.2, le=2.0)] = 0.7
    #: Colour or layer → fill / satin / run / ignore (else by shape).
    stitch_map: str = ""
    #: Hands-on time to hoop fabric for one copy.
    hooping_time_s: NonNegative = 90.0

    def __post_init__(self) -> None:
        if self.trim_threshold_mm < self.jump_threshold_mm:
            raise KeyProblem("trim_threshold_mm", "must not be below jump_threshold_mm")
        if self.lock_stitch_mm < self.min_stitch_mm:
            raise KeyProblem("lock_stitch_mm", "must not be below min_stitch_mm")


class MaterialSettings(PluginSettings):
    catalogue: Literal["brother-pec", "janome-jef"] = "brother-pec"
    #: Top thread per mm of stitch (loops, tension).
    take_up_factor: Annotated[float, Meta(ge=1.0, le=3.0)] = 1.4
    #: Bobbin thread per metre of top thread.
    bobbin_ratio: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.35
    stabiliser: Literal["hoop", "design"] = "hoop"
    stabiliser_margin_mm: NonNegative = 20.0
