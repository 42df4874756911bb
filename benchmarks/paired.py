"""fabserver, CuraEngine and PrusaSlicer on one STL, run in alternation: median wall, CPU, peak.

Run: ``.venv/bin/python benchmarks/paired.py [--runs 3] [--warm] [--before TREE] MODEL.stl``

The machine is shared and its load varies: each round runs the three slicers one
after the other (same settings as ``slice_fdm.py``: printer-1, PLA, 0.2 mm, 2
perimeters, 15 % grid, 4 top / 3 bottom), and the medians of the rounds are
compared, so a busy minute weighs on all three alike. Each is a whole process
under ``/usr/bin/time`` (start-up included): wall seconds, CPU seconds (user +
system, all cores) and peak resident MiB. ``--warm`` adds the plan's time inside
an already started process (a warm planning process: imports done, one plan
made before), median of the same number of plans.

``--before TREE`` adds an earlier fabserver to every round: ``TREE`` is a source tree
of it (``git archive COMMIT fabserver plugins profiles | tar -x -C TREE``), run with
``PYTHONPATH=TREE:TREE/plugins/fdm`` in the same interpreter, so a change is measured
against what it replaced under the same load.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slice_fdm  # its settings, Cura's definitions and arguments

FABSERVER = Path(sys.executable).with_name("fabserver")


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    """(wall s, cpu s, peak MiB, exit status) of one whole process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%e %U %S %M", "-o", t.name, *cmd],
            capture_output=True,
            env=env,
        )
        wall, user, system, kib = t.read().split()[-4:]
    return float(wall), float(user) + float(system), int(kib) / 1024.0, proc.returncode


def warm_plan_s(model: Path, runs: int) -> float:
    """Median time of a plan (load, plan, write) in a process that has made one already."""
    from fabserver_fdm import FdmPlugin

    from fabserver.designs import load_design
    from fabserver.planning import run_plan, write_outputs
    from fabserver.profiles import load_profiles

    profiles = load_profiles()
    machine = profiles.machine(slice_fdm.MACHINE)
    material = profiles.material(slice_fdm.MATERIAL)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs + 1):
            t0 = time.perf_counter()
            design = load_design(model.read_bytes(), model.name)
            result = run_plan(
                FdmPlugin(), design, machine, material, slice_fdm.OPTIONS, profiles.policy
            )
            write_outputs(result.plan, Path(tmp) / "warm.gcode")
            if i:  # the first plan pays the lazy imports and first-use costs
                times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tree_env(tree: str) -> dict[str, str]:
    """The environment that runs the fabserver (and FDM plugin) of the source tree ``tree``."""
    root = Path(tree).resolve()
    return {**os.environ, "PYTHONPATH": f"{root}:{root / 'plugins' / 'fdm'}"}


def main() -> None:
    args = sys.argv[1:]
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 3
    warm = "--warm" in args
    model = Path(next(a for a in args if a.endswith((".stl", ".STL")))).resolve()
    if "--warm-only" in args:  # a warm plan in this interpreter (--before runs it so)
        print(f"{warm_plan_s(model, runs):.3f}")
        return
    before = tree_env(args[args.index("--before") + 1]) if "--before" in args else None
    slice_fdm.with_bytecode_cache()  # as an installed fabserver runs
    from fabserver_fdm import FdmPlugin
    from fabserver_fdm.reference import available, config_ini
    from fabserver_fdm.settings import PrintSettings

    from fabserver.plugin import resolve_options
    from fabserver.profiles import load_profiles

    profiles = load_profiles()
    machine = profiles.machine(slice_fdm.MACHINE)
    material = profiles.material(slice_fdm.MATERIAL)
    s = PrintSettings.resolve(
        machine, material, resolve_options(FdmPlugin.option_schema(), slice_fdm.OPTIONS)
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        commands: dict[str, list[str]] = {}
        fab = [str(FABSERVER), "plan", str(model), "--machine", slice_fdm.MACHINE]
        fab += ["--material", slice_fdm.MATERIAL, "-o", str(work / "fab.gcode")]
        for key, value in slice_fdm.OPTIONS.items():
            fab += ["--set", f"{key}={value}"]
        commands["fabserver"] = fab
        if before is not None:
            commands["fab. before"] = fab
        cura_bin = shutil.which("CuraEngine")
        cura_defs = slice_fdm.cura_definitions() if cura_bin else None
        if cura_bin and cura_defs:
            cura = [cura_bin, "slice", "-j", str(cura_defs / "fdmprinter.def.json")]
            cura += [*slice_fdm.cura_settings(machine, s), "-l", str(model)]
            commands["CuraEngine"] = [*cura, "-o", str(work / "cura.gcode")]
        prusa = available()
        if prusa:
            ini = work / "config.ini"
            ini.write_text(config_ini(s, machine))
            ps = [prusa, "--export-gcode", "--load", str(ini), "-o", str(work / "ps.gcode")]
            commands["PrusaSlicer"] = [*ps, str(model)]
        rows: dict[str, list[tuple[float, float, float, int]]] = {k: [] for k in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                rows[name].append(measured(cmd, before if name == "fab. before" else None))
    print(f"{model.name}: median of {runs} rounds")
    print(f"{'':12s} {'wall s':>7s} {'cpu s':>7s} {'peak MiB':>9s}")
    for name, results in rows.items():
        failed = sum(1 for r in results if r[3] != 0)
        wall, cpu, mib = (statistics.median(r[i] for r in results) for i in range(3))
        note = f"  ({failed} failed)" if failed else ""
        print(f"{name:12s} {wall:7.2f} {cpu:7.2f} {mib:9.0f}{note}")
    if rows.get("CuraEngine"):
        for name in [n for n in ("fabserver", "fab. before") if n in rows]:
            ratio = [f[0] / c[0] for f, c in zip(rows[name], rows["CuraEngine"], strict=True)]
            print(
                f"wall time, {name} / CuraEngine, median of the rounds:"
                f" {statistics.median(ratio):.2f}"
            )
    if warm:
        print(f"warm planning process, load + plan + write: {warm_plan_s(model, runs):.3f} s")
        if before is not None:
            cmd = [sys.executable, __file__, "--warm-only", "--runs", str(runs), str(model)]
            earlier = subprocess.run(cmd, env=before, capture_output=True, text=True, check=True)
            print(f"warm planning process, before: {earlier.stdout.strip()} s")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
