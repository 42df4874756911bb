"""Slice every corpus STL with fabserver, PrusaSlicer and CuraEngine under the same settings.

Run: ``.venv/bin/python benchmarks/slice_fdm.py [--repeat N] [name-filter]``

Each slicer runs as its own process under ``/usr/bin/time`` (wall time and peak
memory of the whole process, start-up included). Settings: printer-1 (Prusa
MK3S+ profile), PLA 1.75 mm, 0.2 mm layers, 2 perimeters, 15 % grid infill,
4 top / 3 bottom layers, 0.4 mm nozzle; the same speeds and machine limits are
given to PrusaSlicer (through ``fabserver_fdm.reference.config_ini``) and to
CuraEngine (``-s`` settings, derived ones computed here since the engine does not
evaluate the definitions' formulas). Estimates: fabserver's plan (motion only,
no heating), PrusaSlicer's "; estimated printing time (normal mode)" and
"; filament used [mm]", CuraEngine's "Print time (s)" log line and its
";Filament used" trailer.

CuraEngine needs Cura's setting definitions (Debian package ``cura``); when
they are not installed they are fetched with ``apt-get download cura`` and
unpacked with ``dpkg -x`` into a cache folder, or Cura is skipped with a message.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fabserver.testing import CORPUS as CORPUS_ROOT

ROOT = Path(__file__).resolve().parent.parent
CORPUS = CORPUS_ROOT / "stl"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fabserver-bench"
MACHINE, MATERIAL = "printer-1", "pla-1.75"
OPTIONS = {
    "layer_height": 0.2,
    "first_layer_height": 0.2,
    "perimeters": 2,
    "fill_density": "15%",
    "fill_pattern": "grid",
    "top_solid_layers": 4,
    "bottom_solid_layers": 3,
}


REPEAT = 1  # --repeat N: best wall time of N runs (the machine is shared)


def timed(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``cmd`` under /usr/bin/time: (best wall s, peak MiB, last result)."""
    best, peak = float("inf"), 0.0
    for _ in range(REPEAT):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
            proc = subprocess.run(
                ["/usr/bin/time", "-f", "%e %M", "-o", t.name, *cmd],
                capture_output=True,
                text=True,
            )
            wall, kb = t.read().split()[-2:]
        best, peak = min(best, float(wall)), max(peak, int(kb) / 1024.0)
    return best, peak, proc


def worker(model: str, out: str) -> None:
    """Inside the fabserver process: load, plan, write the G-code, report figures as JSON."""
    from fabserver_fdm import FdmPlugin

    from fabserver.designs import load_design
    from fabserver.estimate import move_times
    from fabserver.planning import run_plan, write_outputs
    from fabserver.profiles import load_profiles
    from fabserver.toolpath import MoveKind

    gc.freeze()  # as `fabserver plan` does once its modules are loaded
    t0 = time.perf_counter()
    profiles = load_profiles()
    machine, material = profiles.machine(MACHINE), profiles.material(MATERIAL)
    try:
        design = load_design(Path(model).read_bytes(), Path(model).name)
        t1 = time.perf_counter()
        result = run_plan(FdmPlugin(), design, machine, material, OPTIONS, profiles.policy)
    except Exception as exc:  # a maker's message (too large…): reported, not fatal
        message = getattr(exc, "message", None)
        print(json.dumps({"error": message.en if message else repr(exc)}))
        return
    t2 = time.perf_counter()
    write_outputs(result.plan, Path(out))
    t3 = time.perf_counter()
    tp = result.plan.toolpath
    print(
        json.dumps(
            {
                "time_s": float(move_times(tp, machine.kinematics).sum()),
                "filament_mm": float(tp.e[tp.kind == MoveKind.EXTRUDE].sum()),
                "load_s": t1 - t0,
                "plan_s": t2 - t1,
                "write_s": t3 - t2,
            }
        )
    )


def cura_definitions() -> Path | None:
    """Folder holding fdmprinter.def.json (installed, cached, or fetched now)."""
    for folder in (
        Path("/usr/share/cura/resources/definitions"),
        CACHE / "cura" / "usr/share/cura/resources/definitions",
    ):
        if (folder / "fdmprinter.def.json").is_file():
            return folder
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(["apt-get", "download", "cura"], cwd=tmp, capture_output=True)
        debs = list(Path(tmp).glob("cura_*.deb"))
        if got.returncode or not debs:
            return None
        subprocess.run(["dpkg", "-x", str(debs[0]), str(CACHE / "cura")], check=True)
    folder = CACHE / "cura" / "usr/share/cura/resources/definitions"
    return folder if (folder / "fdmprinter.def.json").is_file() else None


def cura_settings(machine, s) -> list[str]:
    p, f, k = s.printer, s.filament, machine.kinematics
    values = {
        "machine_width": s.bed_size[0],
        "machine_depth": s.bed_size[1],
        "machine_height": s.max_height,
        "machine_gcode_flavor": "RepRap (Marlin/Sprinter)",
        "center_object": "true",  # PrusaSlicer and fabserver centre the part too
        "layer_height": s.layer_height,
        "layer_height_0": s.first_layer_height,
        "wall_line_count": s.perimeters,
        "infill_sparse_density": s.fill_density * 100,
        "infill_pattern": "grid",
        # CuraEngine does not evaluate the definitions' formulas: derived values given here.
        "infill_line_distance": round(p.extrusion_width * 2 / max(s.fill_density, 1e-6), 3),
        "skirt_brim_line_width": p.first_layer_extrusion_width,
        "speed_wall": p.perimeter_speed,
        "speed_roofing": p.top_solid_infill_speed,
        "speed_layer_0": p.first_layer_speed,
        "speed_infill_layer_0": p.first_layer_speed,
        "skirt_brim_speed": p.first_layer_speed,
        "retraction_retract_speed": p.retract_speed,
        "retraction_prime_speed": p.retract_speed,
        "top_thickness": s.top_solid_layers * s.layer_height,
        "bottom_thickness": s.bottom_solid_layers * s.layer_height,
        "top_layers": s.top_solid_layers,
        "bottom_layers": s.bottom_solid_layers,
        "line_width": p.extrusion_width,
        "wall_line_width_0": p.external_perimeter_extrusion_width,
        "wall_line_width_x": p.extrusion_width,
        "infill_line_width": p.extrusion_width,
        "skin_line_width": p.extrusion_width,
        "speed_wall_0": p.external_perimeter_speed,
        "speed_wall_x": p.perimeter_speed,
        "speed_infill": p.infill_speed,
        "speed_topbottom": p.solid_infill_speed,
        "speed_print_layer_0": p.first_layer_speed,
        "speed_travel": s.travel_speed,
        "speed_travel_layer_0": s.travel_speed,
        "retraction_amount": p.retract_length,
        "retraction_speed": p.retract_speed,
        "cool_min_layer_time": f.slowdown_below_layer_time,
        "cool_min_speed": f.min_print_speed,
        "adhesion_type": "skirt",
        "skirt_line_count": s.skirts,
        "skirt_gap": s.skirt_distance,
        "machine_acceleration": k.accel,
        "machine_max_acceleration_x": k.max_accel.x,
        "machine_max_acceleration_y": k.max_accel.y,
        "machine_max_jerk_xy": k.jerk.x if k.jerk else 8,
        "machine_max_feedrate_x": k.max_feed.x,
        "machine_max_feedrate_y": k.max_feed.y,
        "machine_max_feedrate_z": k.max_feed.z,
    }
    args = []
    for key, value in values.items():
        args += ["-s", f"{key}={value}"]
    args += ["-e0", "-s", f"machine_nozzle_size={p.nozzle_diameter}"]
    args += ["-e0", "-s", f"material_diameter={f.diameter}"]
    return args


def main() -> None:
    if "--worker" in sys.argv:
        i = sys.argv.index("--worker")
        worker(sys.argv[i + 1], sys.argv[i + 2])
        return
    from fabserver_fdm import FdmPlugin
    from fabserver_fdm.reference import available, config_ini, parse_duration
    from fabserver_fdm.settings import PrintSettings

    from fabserver.plugin import resolve_options
    from fabserver.profiles import load_profiles

    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}")
        return
    global REPEAT
    args = sys.argv[1:]
    if "--repeat" in args:
        i = args.index("--repeat")
        REPEAT = max(1, int(args[i + 1]))
        del args[i : i + 2]
    pattern = args[0] if args else ""
    profiles = load_profiles()
    machine, material = profiles.machine(MACHINE), profiles.material(MATERIAL)
    opts = resolve_options(FdmPlugin.option_schema(), OPTIONS)
    s = PrintSettings.resolve(machine, material, opts)
    prusa = available()
    cura_bin = shutil.which("CuraEngine")
    cura_defs = cura_definitions() if cura_bin else None
    if prusa is None:
        print("PrusaSlicer not installed: its columns are empty")
    if cura_defs is None:
        print("CuraEngine or Cura's definitions (Debian package 'cura') missing: Cura skipped")
    rows = []
    models = sorted(p for p in CORPUS.iterdir() if p.suffix.lower() == ".stl")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        ini = tmpdir / "config.ini"
        ini.write_text(config_ini(s, machine))
        for model in models:
            if pattern and pattern.lower() not in model.name.lower():
                continue
            out = tmpdir / "fab.gcode"
            wall, mib, proc = timed([sys.executable, __file__, "--worker", str(model), str(out)])
            try:
                fab = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                fab = {"error": proc.stderr.strip().splitlines()[-1:]}
            rows.append((model.name, "fabserver", wall, mib, fab))
            if prusa:
                out = tmpdir / "ps.gcode"
                wall, mib, proc = timed(
                    [prusa, "--export-gcode", "--load", str(ini), "-o", str(out), str(model)]
                )
                ref = {"error": "failed"}
                if proc.returncode == 0 and out.exists():
                    tail = out.read_bytes()[-20000:].decode("utf-8", "replace")
                    t = re.search(r"estimated printing time \(normal mode\) = (.+)", tail)
                    f = re.search(r"filament used \[mm\] = ([\d.]+)", tail)
                    ref = {
                        "time_s": parse_duration(t.group(1)) if t else None,
                        "filament_mm": float(f.group(1)) if f else None,
                    }
                else:
                    lines = [ln for ln in proc.stderr.splitlines() if "[trace]" not in ln]
                    ref = {"error": (lines or ["failed"])[-1][:60]}
                rows.append((model.name, "PrusaSlicer", wall, mib, ref))
            if cura_defs:
                out = tmpdir / "cura.gcode"
                cmd = [cura_bin, "slice", "-v", "-j", str(cura_defs / "fdmprinter.def.json")]
                cmd += [*cura_settings(machine, s), "-l", str(model), "-o", str(out)]
                wall, mib, proc = timed(cmd)
                cura = {"error": "failed"}
                if proc.returncode == 0 and out.exists():
                    # The engine alone leaves ";TIME:6666" in the header; its log has the figures.
                    t = re.search(r"Print time \(s\): (\d+)", proc.stderr)
                    # The log repeats the header; its last ";Filament used" is the final one.
                    f = re.findall(r";Filament used: ([\d.]+)m", proc.stderr)
                    cura = {
                        "time_s": float(t.group(1)) if t else None,
                        "filament_mm": float(f[-1]) * 1000 if f else None,
                    }
                rows.append((model.name, "CuraEngine", wall, mib, cura))
            _print_row(rows[-3:] if prusa and cura_defs else rows[-1:])
    print()
    print(
        f"{'model':44s} {'slicer':12s} {'wall s':>7s} {'peak MiB':>9s} {'time min':>9s} {'filament mm':>12s}"
    )
    for name, tool, wall, mib, res in rows:
        print(_line(name, tool, wall, mib, res))


def _line(name, tool, wall, mib, res) -> str:
    if "error" in res:
        return f"{name[:44]:44s} {tool:12s} {wall:7.2f} {mib:9.0f}   {str(res['error'])[:60]}"
    t = res.get("time_s")
    f = res.get("filament_mm")
    ts = f"{t / 60:9.1f}" if t else f"{'-':>9s}"
    fs = f"{f:12.0f}" if f else f"{'-':>12s}"
    return f"{name[:44]:44s} {tool:12s} {wall:7.2f} {mib:9.0f} {ts} {fs}"


def _print_row(rows) -> None:
    for row in rows:
        print(_line(*row), flush=True)


if __name__ == "__main__":
    main()


def with_bytecode_cache() -> None:
    """Let the runs keep their compiled modules, as an installed program does.

    With ``PYTHONDONTWRITEBYTECODE`` set (and an editable install, whose
    modules no installer compiled) every run compiles the project's modules
    again: 0.1 s more per run. The runs get a bytecode cache of their own
    (``benchmarks/out/pycache``, filled before the first) instead.
    """
    if not os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        return
    cache = Path(__file__).resolve().parent / "out" / "pycache"
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    root = Path(__file__).resolve().parent.parent
    packages = [root / "fabserver", *sorted((root / "plugins").glob("*/fabserver_*"))]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, packages)], check=True)
    print(f"(PYTHONDONTWRITEBYTECODE was set: the runs use a bytecode cache in {cache})")
