"""The FDM plugin's early output guess: low enough never to refuse a job that fits,
high enough to refuse the tiny-file huge job before slicing it."""

from __future__ import annotations

import json

import pytest
import trimesh

from fabserver.designs import load_design
from fabserver.jobs.planner import estimated_output_bytes
from fabserver.planning import run_plan, write_outputs
from fabserver.preview import layer_data
from fabserver.profiles import load_profiles
from fabserver.registry import load_registry
from fabserver.testing import SAMPLES, require


@pytest.fixture(scope="module")
def fdm():
    registry = load_registry("fdm")
    require(
        "fdm" in registry.plugins, "the FDM plugin is not installed (pip install -e plugins/fdm)"
    )
    profiles = load_profiles()
    return registry.get("fdm"), profiles


def _box(x: float, y: float, z: float):
    box = trimesh.creation.box(extents=(x, y, z))
    box.apply_translation(-box.bounds[0])
    return load_design(box.export(file_type="stl"), "box.stl")


def test_the_tiny_file_huge_job_is_over_the_default_limit(fdm):
    plugin, profiles = fdm
    machine = profiles.machine("printer-1")
    options = {"layer_height": 0.05, "first_layer_height": 0.1, "fill_density": 100, "copies": 1}
    guess = estimated_output_bytes(
        plugin, _box(240, 200, 200), machine, profiles.material("pla-1.75"), options
    )
    assert guess > machine.limits.output_mb * 1024 * 1024


@pytest.mark.parametrize(
    "sample, options",
    [
        ("web-block.stl", {"fill_density": 100, "layer_height": 0.2}),
        ("fdm-bracket.stl", {"fill_density": 20}),
        ("fdm-bracket.stl", {"fill_density": 100, "copies": 3}),
    ],
)
def test_the_guess_stays_below_the_real_output(fdm, tmp_path, sample, options):
    plugin, profiles = fdm
    design = load_design((SAMPLES / sample).read_bytes(), sample)
    machine, material = profiles.machine("printer-1"), profiles.material("pla-1.75")
    options = {"copies": 1, **options}
    guess = estimated_output_bytes(plugin, design, machine, material, options)
    result = run_plan(plugin, design, machine, material, options, profiles.policy)
    written = sum(p.stat().st_size for p in write_outputs(result.plan, tmp_path / "x.gcode"))
    layers = len(json.dumps(layer_data(result.plan.toolpath), separators=(",", ":")))
    assert 0 < guess <= written + layers
