"""Travel of the laser's cutting order against the drawing's own order.

Run: .venv/bin/python benchmarks/laser_order.py
Each design is planned as one block (``nesting=design``, so the parts stay where
they are drawn); the travel with the beam off is compared with visiting the
paths in file order, each from its first point (a loose baseline: it does not
even cut holes first). Prints the planning time too.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from fabserver_laser import LaserPlugin

from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.testing import CORPUS

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = [
    ("svg/ABox.svg", "boxes"),
    ("svg/ClosedBox.svg", "boxes"),
    ("svg/Gears.svg", "boxes"),
    ("svg/tray-easy1.svg", "layer:*=cut"),
    ("dxf/Tux-R2000.dxf", "layer:*=cut"),
    ("dxf/1002_tray_bottom.DXF", "layer:*=cut"),
]


def file_order_travel(design, placement: dict) -> float:
    """Beam-off travel visiting the paths as drawn, from the machine origin."""
    turns = {0: np.eye(2), 90: np.array([[0.0, -1.0], [1.0, 0.0]])}
    rotation = turns.get(placement["angle"])
    if rotation is None:
        return float("nan")
    offset = np.asarray(placement["offset"])
    here, total = np.zeros(2), 0.0
    for path in design.paths:
        pts = path.points @ rotation.T + offset
        total += float(np.linalg.norm(pts[0] - here))
        here = pts[0] if path.closed else pts[-1]
    return total


def main() -> None:
    profiles = load_profiles()
    machine, material = profiles.machine("laser"), profiles.material("mdf-3")
    plugin = LaserPlugin()
    header = f"{'design':<28}{'contours':>9}{'plan s':>8}{'travel m':>10}{'file order m':>14}{'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name, colours in DESIGNS:
        path = CORPUS / name
        if not path.exists():
            print(f"{name:<28} (corpus not found)")
            continue
        design = load_design(path.read_bytes(), name)
        options = {"colour_map": colours, "nesting": "design"}
        t0 = time.perf_counter()
        result = run_plan(plugin, design, machine, material, options, profiles.policy)
        seconds = time.perf_counter() - t0
        tp = result.plan.toolpath
        travel = float(tp.lengths[tp.role_mask("travel")].sum())
        baseline = file_order_travel(design, result.plan.facts["placements"][0])
        print(
            f"{name:<28}{len(design.paths):>9}{seconds:>8.2f}{travel / 1000:>10.2f}"
            f"{baseline / 1000:>14.2f}{travel / baseline:>7.2f}"
        )


if __name__ == "__main__":
    main()
