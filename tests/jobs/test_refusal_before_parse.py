"""A planning process refuses a kind of file its machine does not take before parsing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabserver.errors import DesignError, PlanError
from fabserver.jobs.planner import PlanRequest, _plan_and_write
from fabserver.profiles import PlanLimits
from fabserver.registry import load_registry

# A DXF its reader could not parse (a coordinate that is no number): only a refusal
# made from the first bytes gives the machine's message instead of a parsing error.
UNREADABLE_DXF = "0\nSECTION\n2\nENTITIES\n0\nLINE\n10\nnot-a-number\n"


def _request(
    tmp_path: Path, profiles, design: Path, machine_id: str, material_id: str
) -> PlanRequest:
    machine = profiles.machine(machine_id)
    material = profiles.material(material_id)
    return PlanRequest(
        job_id=1,
        plugin=load_registry(only=machine.plugin).get(machine.plugin),
        design_path=str(design),
        design_name=design.name,
        machine=machine.snapshot(),
        material=material.snapshot(),
        options={},
        policy=profiles.policy_for(machine.site),
        materials=profiles.materials,
        out_dir=str(tmp_path / "out"),
        limits=PlanLimits(),
    )


def test_a_drawing_sent_to_a_printer_is_refused_unread(tmp_path, profiles):
    design = tmp_path / "broken.dxf"
    design.write_text(UNREADABLE_DXF)
    stages: list[str] = []
    with pytest.raises(PlanError) as refused:
        _plan_and_write(
            _request(tmp_path, profiles, design, "printer-1", "pla-1.75"),
            lambda done, stage="": stages.append(stage),
        )
    assert "does not take this kind of file" in refused.value.message.en
    assert "ne prend pas ce type de fichier" in refused.value.message.fr
    assert stages == []  # refused before the plan began
    assert not (tmp_path / "out").exists()


def test_the_same_drawing_on_a_machine_that_takes_drawings_is_parsed(tmp_path, profiles):
    """The refusal comes from the kind, not from the broken content: on the laser the
    file is read, and its damage is what the maker is told."""
    design = tmp_path / "broken.dxf"
    design.write_text(UNREADABLE_DXF)
    request = _request(tmp_path, profiles, design, "laser", "plywood-3")
    with pytest.raises(DesignError) as failed:
        _plan_and_write(request, lambda done, stage="": None)
    assert "does not take this kind of file" not in failed.value.message.en
