"""Every installed plugin on every sample of the project that it accepts.

A smoke list in the spirit of "golden outputs for every sample": each plan either
succeeds with a written machine file, a positive machine time and a priced
material, or stops with a maker's message (PlanError) — never another exception.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fabserver.designs import load_design
from fabserver.errors import DesignError, PlanError
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.registry import load_registry
from fabserver.testing import SAMPLES

PROFILES = load_profiles()
REGISTRY = load_registry()
# One machine per plugin is enough here: the plugins' own tests cover each model.
MACHINES = {}
for machine in PROFILES.machines.values():
    MACHINES.setdefault(machine.plugin, machine)
SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".stl", ".svg", ".dxf"))


def _design(path: Path):
    try:
        return load_design(path.read_bytes(), path.name)
    except DesignError:
        return None


KINDS = {path: getattr(_design(path), "kind", None) for path in SAMPLE_FILES}
CASES = [
    pytest.param(path, plugin_id, id=f"{path.name}-{plugin_id}")
    for path in SAMPLE_FILES
    for plugin_id in sorted(REGISTRY.plugins)
    if plugin_id in MACHINES and KINDS[path] in REGISTRY.plugins[plugin_id].accepts
]


def test_every_sample_loads():
    assert SAMPLE_FILES and all(KINDS.values()), [p.name for p, k in KINDS.items() if not k]


@pytest.mark.parametrize(("path", "plugin_id"), CASES)
def test_plan_or_a_makers_message(path: Path, plugin_id: str):
    design = _design(path)
    assert design is not None, f"sample {path.name} must load"
    plugin = REGISTRY.get(plugin_id)
    machine = MACHINES[plugin_id]
    material = PROFILES.materials_for(machine)[0]
    try:
        result = run_plan(
            plugin, design, machine, material, {}, PROFILES.policy, PROFILES.materials
        )
    except PlanError as exc:
        assert exc.message.fr and exc.message.en and exc.message.fr != exc.message.en
        return
    est = result.estimate
    assert est.machine_time_s > 0
    assert est.cost_eur > 0, "a plan consumes some priced material"
    assert result.verdict.kind in ("prototype", "series") and result.verdict.reasons
    main = next(o for o in result.plan.outputs if o.main)
    buffer = io.BytesIO()
    main.write(buffer)
    assert len(buffer.getvalue()) > 0
    for warning in result.warnings:
        assert warning.fr and warning.en
