"""Shared helpers of the embroidery tests: plan a drawing, write it, read it back."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from fabserver_embroidery import EmbroideryPlugin
from fabserver_embroidery.readback import StitchFile, read_stitch_file

from fabserver.designs.types import Drawing
from fabserver.planning import PlanResult, run_plan


@dataclass
class Planned:
    result: PlanResult
    data: bytes
    read: StitchFile
    fmt: str

    @property
    def plan(self):
        return self.result.plan

    @property
    def facts(self) -> dict:
        return self.result.plan.facts


@pytest.fixture(scope="session")
def machine(profiles):
    return profiles.machine("embroidery")


@pytest.fixture(scope="session")
def material(profiles):
    return profiles.material("embroidery-polyester")


@pytest.fixture(scope="session")
def plan_drawing(profiles, machine, material):
    """``plan_drawing(drawing, fmt="dst", **options) -> Planned`` (written and read back)."""

    def run(drawing: Drawing, fmt: str = "dst", **options) -> Planned:
        opts = {"copies": 1, "format": fmt, **options}
        result = run_plan(EmbroideryPlugin(), drawing, machine, material, opts, profiles.policy)
        buf = io.BytesIO()
        result.plan.outputs[0].write(buf)
        data = buf.getvalue()
        return Planned(result, data, read_stitch_file(data, fmt), fmt)

    return run
