"""A clean 1.3-million-triangle sphere on printer-1, whole process: fabserver against PrusaSlicer.

Run: ``.venv/bin/python benchmarks/sphere.py [--subdivisions 8] [--keep DIR]``

The sphere is trimesh's icosphere (subdivisions 8: 1 310 720 triangles, 65 MB of
binary STL, 80 mm across), written once to a temporary folder. ``fabserver plan``
and PrusaSlicer (same settings, through ``fabserver_fdm.reference.config_ini``)
each run as one process under ``/usr/bin/time``: wall time and peak memory.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slice_fdm  # its settings, timing and reference-slicer helpers

FABSERVER = Path(sys.executable).with_name("fabserver")


def main() -> None:
    args = sys.argv[1:]
    subdivisions = int(args[args.index("--subdivisions") + 1]) if "--subdivisions" in args else 8
    keep = Path(args[args.index("--keep") + 1]) if "--keep" in args else None
    from fabserver_fdm import FdmPlugin
    from fabserver_fdm.reference import available, config_ini
    from fabserver_fdm.settings import PrintSettings

    from fabserver.plugin import resolve_options
    from fabserver.profiles import load_profiles

    profiles = load_profiles()
    machine = profiles.machine(slice_fdm.MACHINE)
    material = profiles.material(slice_fdm.MATERIAL)
    opts = resolve_options(FdmPlugin.option_schema(), slice_fdm.OPTIONS)
    s = PrintSettings.resolve(machine, material, opts)
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        model = work / f"sphere-{subdivisions}.stl"
        if not model.exists():
            trimesh.creation.icosphere(subdivisions=subdivisions, radius=40.0).export(model)
        faces = (model.stat().st_size - 84) // 50
        print(f"{model.name}: {faces} triangles, {model.stat().st_size / 2**20:.0f} MiB")
        cmd = [str(FABSERVER), "plan", str(model), "--machine", slice_fdm.MACHINE]
        cmd += ["--material", slice_fdm.MATERIAL, "-o", str(work / "fab.gcode")]
        for key, value in slice_fdm.OPTIONS.items():
            cmd += ["--set", f"{key}={value}"]
        wall, mib, proc = slice_fdm.timed(cmd)
        outcome = "ok" if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1:]
        print(f"{'fabserver':<12} {wall:7.2f} s {mib:7.0f} MiB  {outcome}")
        prusa = available()
        if prusa is None or shutil.which(prusa) is None:
            print("PrusaSlicer not installed: no reference")
            return
        ini = work / "config.ini"
        ini.write_text(config_ini(s, machine))
        ref = [prusa, "--export-gcode", "--load", str(ini), "-o", str(work / "ps.gcode")]
        wall, mib, proc = slice_fdm.timed([*ref, str(model)])
        outcome = "ok" if proc.returncode == 0 else "failed"
        print(f"{'PrusaSlicer':<12} {wall:7.2f} s {mib:7.0f} MiB  {outcome}")


if __name__ == "__main__":
    main()
