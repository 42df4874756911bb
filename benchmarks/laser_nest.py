"""Time the laser plugin on dense Boxes.py designs, 20 copies nested on sheets.

Run: .venv/bin/python benchmarks/laser_nest.py [copies]
Prints, per design and nesting mode (bounding boxes, true shape): parts per copy,
planning time (best of 3, plan only and with the files written), sheets, sheet
use, how far the parts reach on the last sheet (the rest is an offcut), cut length, travel length (beam off, between contours) and estimated
machine time.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

from fabserver_laser import LaserPlugin

from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.testing import CORPUS as CORPUS_ROOT

ROOT = Path(__file__).resolve().parent.parent
CORPUS = CORPUS_ROOT / "svg"
DESIGNS = ["ABox.svg", "Gears.svg", "ClosedBox.svg", "EngravingFrame.svg"]


def main() -> None:
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    profiles = load_profiles()
    machine = profiles.machine("laser")
    material = profiles.material("mdf-3")
    plugin = LaserPlugin()
    header = (
        f"{'design':<20}{'nesting':>8}{'parts':>6}{'copies':>7}{'plan s':>8}{'+gcode s':>9}"
        f"{'sheets':>7}{'use %':>7}{'last mm':>8}{'cut m':>8}{'travel m':>9}{'time min':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in DESIGNS:
        path = CORPUS / name
        if not path.exists():
            print(f"{name:<20} (corpus not found)")
            continue
        design = load_design(path.read_bytes(), name)
        for nesting in ("parts", "shape"):
            row(plugin, design, name, nesting, copies, machine, material, profiles)


def row(plugin, design, name, nesting, copies, machine, material, profiles) -> None:
    """Plan one design three times; print the best times and the plan's figures."""
    options = {"copies": copies, "colour_map": "boxes", "nesting": nesting}
    best_plan, best_all = float("inf"), float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        result = run_plan(plugin, design, machine, material, options, profiles.policy)
        t1 = time.perf_counter()
        for out in result.plan.outputs:
            out.write(io.BytesIO())
        t2 = time.perf_counter()
        best_plan, best_all = min(best_plan, t1 - t0), min(best_all, t2 - t0)
    facts = result.plan.facts
    tp = result.plan.toolpath
    travel = float(tp.lengths[tp.role_mask("travel")].sum())
    print(
        f"{name:<20}{nesting:>8}{facts['parts_per_copy']:>6}{copies:>7}"
        f"{best_plan:>8.2f}{best_all:>9.2f}"
        f"{facts['sheets']:>7}{facts['sheet_use_percent']:>7.1f}"
        f"{facts['last_sheet_reach_mm']:>8.0f}"
        f"{facts['cut_length_mm'] / 1000:>8.1f}{travel / 1000:>9.1f}"
        f"{result.estimate.machine_time_s / 60:>9.1f}"
    )


if __name__ == "__main__":
    main()
