"""Vinyl plugin: planning time and cut-order quality on the samples and corpus lettering.

Run: .venv/bin/python benchmarks/vinyl_plan.py
One row per design and number of copies: cuts, planning time (best of 3, ms),
HPGL size, estimated machine time, roll used, and the travel between cuts
compared with cutting copy after copy in the file's order, plus how
far the roll ever backs up (mm) — the ordering keeps that within one band.
"""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path

import numpy as np
from fabserver_vinyl import VinylPlugin, layout

from fabserver.designs import load_design
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.testing import CORPUS

ROOT = Path(__file__).resolve().parent.parent
SPACING = 5.0  # the plugin's default
DESIGNS = [
    (ROOT / "samples" / "vinyl-sticker.svg", (1, 40)),
    (CORPUS / "svg" / "logotype-a.svg", (1, 10)),
    (CORPUS / "svg" / "ltr.svg", (1, 60)),
    (CORPUS / "svg" / "ender2.svg", (1, 3)),
    (CORPUS / "dxf" / "Puzzle-R2007.dxf", (1, 30)),
]


def travel_and_backing(plan, feed_axis: int = 0) -> tuple[float, float]:
    """Travel between cuts (mm) and the largest step back along the roll (mm)."""
    tp = plan.toolpath
    travel = float(tp.lengths[tp.kind == 0][1:-1].sum())  # not the first move nor the park
    starts = tp.xyz[tp.kind == 0][:-1, feed_axis]
    backing = float((np.maximum.accumulate(starts) - starts).max()) if len(starts) else 0.0
    return travel, backing


def file_order_travel(design, result) -> float:
    """Travel if every copy were cut in the file's order, copy after copy, at the
    same places (the layout rule and orientation, without weeding aids)."""
    facts = result.plan.facts
    roll = layout.Roll(facts["usable_width_mm"], 1e9, feed_axis=0)
    tiling = layout.tile(np.array(facts["copy_size_mm"]), result.plan.copies, roll, SPACING)
    paths = list(design.paths)
    if facts["turned"]:
        paths = layout.quarter_turned(paths)
    low = layout.bounds(paths)[0]
    ends = [
        (p.points[0] - low + offset, (p.points[0] if p.closed else p.points[-1]) - low + offset)
        for offset in tiling.offsets
        for p in paths
    ]
    return float(sum(np.linalg.norm(b[0] - a[1]) for a, b in itertools.pairwise(ends)))


def main() -> None:
    profiles = load_profiles()
    machine, material = profiles.machine("vinyl"), profiles.material("vinyl-adhesive")
    plugin = VinylPlugin()
    print(
        f"{'design':<26}{'copies':>7}{'cuts':>7}{'plan ms':>9}{'HPGL kB':>9}"
        f"{'time min':>9}{'roll mm':>9}{'travel/file':>12}{'back mm':>9}"
    )
    for path, copy_counts in DESIGNS:
        if not path.exists():
            print(f"{path.name:<26} (not found)")
            continue
        design = load_design(path.read_bytes(), path.name)
        for copies in copy_counts:
            options = {"copies": copies, "weeding_border": False}
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                result = run_plan(plugin, design, machine, material, options, profiles.policy)
                best = min(best, time.perf_counter() - start)
            buffer = io.BytesIO()
            result.plan.outputs[0].write(buffer)
            travel, backing = travel_and_backing(result.plan)
            naive = file_order_travel(design, result)
            ratio = f"{travel / naive:.2f}" if naive > 1.0 else "-"
            print(
                f"{path.name:<26}{copies:>7}{result.plan.facts['cuts']:>7}{best * 1000:>9.0f}"
                f"{len(buffer.getvalue()) / 1000:>9.1f}{result.estimate.machine_time_s / 60:>9.1f}"
                f"{result.plan.facts['roll_length_mm']:>9.0f}{ratio:>12}{backing:>9.0f}"
            )


if __name__ == "__main__":
    main()
