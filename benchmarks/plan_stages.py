"""Where a warm FDM plan spends its time: wall and CPU seconds of each stage.

Run: ``.venv/bin/python benchmarks/plan_stages.py [MODEL.stl] [--runs N] [--machine M]``

Inside one process (imports done, one plan made first, as in a warm planning
process), with ``slice_fdm.py``'s settings. Stages are cut at the plan's own
progress reports (slice, regions, paths, toolpath, estimate…), so they are wall
times of the pipeline as it runs, threads and the forked gap fill included: a
profiler that samples the main thread only would put the waits in the wrong
place. CPU is the process's and its children's (user + system), so the overlap
of the two cores shows as CPU above wall. Median of N plans (default 3).
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slice_fdm  # its settings and the corpus


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(args: list[str]) -> None:
    from fabserver_fdm import FdmPlugin

    from fabserver.designs import load_design
    from fabserver.planning import run_plan, write_outputs
    from fabserver.profiles import load_profiles

    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 3
    machine_id = args[args.index("--machine") + 1] if "--machine" in args else slice_fdm.MACHINE
    names = [a for a in args if a.endswith((".stl", ".STL", ".3mf"))]
    model = Path(names[0]) if names else slice_fdm.CORPUS / "3DBenchy.stl"
    profiles = load_profiles()
    machine = profiles.machine(machine_id)
    material = profiles.material(slice_fdm.MATERIAL)
    rows: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):
            marks: list[tuple[str, float, float]] = [("load", time.perf_counter(), _cpu())]

            def progress(done: float, stage: str = "", marks=marks) -> None:
                marks.append((stage or f"{done:.2f}", time.perf_counter(), _cpu()))

            design = load_design(model.read_bytes(), model.name)
            marks.append(("prepare", time.perf_counter(), _cpu()))
            result = run_plan(
                FdmPlugin(),
                design,
                machine,
                material,
                slice_fdm.OPTIONS,
                profiles.policy,
                progress=progress,
            )
            marks.append(("write", time.perf_counter(), _cpu()))
            write_outputs(result.plan, Path(tmp) / "plan.gcode")
            marks.append(("end", time.perf_counter(), _cpu()))
            if i == 0:
                continue  # the first plan warms the process
            for (name, t0, c0), (_, t1, c1) in itertools.pairwise(marks):
                rows.setdefault(name, []).append((t1 - t0, c1 - c0))
    print(f"{model.name} on {machine_id}, warm process, median of {runs} plans")
    print(f"{'stage':<12} {'wall s':>7} {'cpu s':>7}")
    total_wall = total_cpu = 0.0
    for name, values in rows.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        print(f"{name:<12} {wall:7.3f} {cpu:7.3f}")
    print(f"{'total':<12} {total_wall:7.3f} {total_cpu:7.3f}")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main(sys.argv[1:])
