"""A plan leaves no reference cycles behind.

``fabserver plan`` freezes what it imported out of the cyclic collector's reach,
and full collections come seldom after that: whatever a plan leaves in a cycle
(a closure that calls itself, say, and the geometry of every layer its frame
holds) stays in memory through the stages whose peak is the plan's.
"""

from __future__ import annotations

import gc

import pytest
from fabserver_fdm import FdmPlugin

from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.testing import SAMPLES


@pytest.mark.parametrize("name", ["fdm-bracket.stl", "fdm-step.stl"])
def test_a_plan_leaves_no_cyclic_garbage(name):
    profiles = load_profiles()
    design = load_design((SAMPLES / name).read_bytes(), name)

    def plan():
        return run_plan(
            FdmPlugin(),
            design,
            profiles.machine("printer-1"),
            profiles.material("pla-1.75"),
            {"support_material": True},
            profiles.policy,
        )

    plan()  # first-use caches and lazy imports are not the plan's garbage
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = plan()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert result.plan.toolpath is not None
    assert left == [], f"a plan of {name} left reference cycles: {left[:12]}"
