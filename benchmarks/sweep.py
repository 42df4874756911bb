"""Every corpus file on every machine, whole process: wall time and peak memory, slowest first.

Run: ``.venv/bin/python benchmarks/sweep.py [name-filter] [--machine ID]``

Each case is one ``fabserver plan FILE --machine M --material <the machine's first
material>`` under ``/usr/bin/time`` (start-up included, as a maker's plan on a cold
process). A case ends "planned", "refused" (a maker's message: the machine does not
take that kind of design, the part is too big…) or "FAILED" (a traceback or a crash:
a defect). Beside the FDM rows stand PrusaSlicer's and CuraEngine's figures for the
same STL, sliced with the settings of ``slice_fdm.py`` (printer-1's profile).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fabserver.testing import CORPUS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slice_fdm  # its timing and reference-slicer helpers

FABSERVER = Path(sys.executable).with_name("fabserver")


@dataclass
class Case:
    design: Path
    machine: str
    plugin: str
    outcome: str
    wall_s: float
    peak_mib: float
    detail: str = ""


def machines() -> list[dict]:
    listing = subprocess.run(
        [str(FABSERVER), "machines", "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(listing.stdout)


def run_case(design: Path, machine: dict, out: Path) -> Case:
    material = machine["materials"][0]
    cmd = [str(FABSERVER), "--lang", "en", "plan", str(design), "--machine", machine["id"]]
    cmd += ["--material", material, "-o", str(out / "plan.out"), "--json"]
    wall, mib, proc = slice_fdm.timed(cmd)
    if proc.returncode == 0:
        outcome, detail = "planned", ""
    elif "Traceback" in proc.stderr or proc.returncode < 0:
        outcome, detail = "FAILED", (proc.stderr.strip().splitlines() or ["crash"])[-1]
    else:
        outcome, detail = "refused", refusal(proc.stdout or proc.stderr)
    return Case(design, machine["id"], machine["plugin"], outcome, wall, mib, detail[:70])


def refusal(output: str) -> str:
    """The maker's message of a refused plan (``--json`` prints ``{"error": {"fr", "en"}}``)."""
    try:
        error = json.loads(output)["error"]
        return error["en"] if isinstance(error, dict) else str(error)
    except (ValueError, KeyError, TypeError):
        return (output.strip().splitlines() or [""])[-1]


def references(stls: list[Path], tmp: Path) -> dict[str, list[tuple[str, float, float]]]:
    """PrusaSlicer and CuraEngine on each STL: {name: [(tool, wall s, peak MiB)]}."""
    from fabserver_fdm import FdmPlugin
    from fabserver_fdm.reference import available, config_ini
    from fabserver_fdm.settings import PrintSettings

    from fabserver.plugin import resolve_options
    from fabserver.profiles import load_profiles

    profiles = load_profiles()
    machine = profiles.machine(slice_fdm.MACHINE)
    material = profiles.material(slice_fdm.MATERIAL)
    settings = PrintSettings.resolve(
        machine, material, resolve_options(FdmPlugin.option_schema(), slice_fdm.OPTIONS)
    )
    prusa = available()
    cura_bin = shutil.which("CuraEngine")
    cura_defs = slice_fdm.cura_definitions() if cura_bin else None
    ini = tmp / "config.ini"
    ini.write_text(config_ini(settings, machine))
    found: dict[str, list[tuple[str, float, float]]] = {}
    for stl in stls:
        rows = found.setdefault(stl.name, [])
        if prusa:
            cmd = [prusa, "--export-gcode", "--load", str(ini), "-o", str(tmp / "p.gcode")]
            wall, mib, _ = slice_fdm.timed([*cmd, str(stl)])
            rows.append(("PrusaSlicer", wall, mib))
        if cura_defs:
            cmd = [cura_bin, "slice", "-j", str(cura_defs / "fdmprinter.def.json")]
            cmd += [*slice_fdm.cura_settings(machine, settings), "-l", str(stl)]
            wall, mib, _ = slice_fdm.timed([*cmd, "-o", str(tmp / "c.gcode")])
            rows.append(("CuraEngine", wall, mib))
    return found


def main() -> int:
    args = sys.argv[1:]
    only_machine = None
    if "--machine" in args:
        i = args.index("--machine")
        only_machine = args[i + 1]
        del args[i : i + 2]
    pattern = args[0].lower() if args else ""
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}")
        return 0
    designs = sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix.lower() != ".md" and pattern in p.name.lower()
    )
    slice_fdm.with_bytecode_cache()
    lab = [m for m in machines() if only_machine in (None, m["id"])]
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for design in designs:
            for machine in lab:
                case = run_case(design, machine, tmp)
                cases.append(case)
                print(
                    f"{design.name[:40]:40s} {machine['id']:11s} {case.outcome:8s} "
                    f"{case.wall_s:6.2f} s {case.peak_mib:6.0f} MiB",
                    flush=True,
                )
        fdm_stls = sorted({c.design for c in cases if c.plugin == "fdm" and c.outcome == "planned"})
        refs = references([p for p in fdm_stls if p.suffix.lower() == ".stl"], tmp)
    print()
    print(f"{'design':40s} {'machine':11s} {'outcome':8s} {'wall s':>7s} {'peak MiB':>9s}  detail")
    for case in sorted(cases, key=lambda c: -c.wall_s):
        print(
            f"{case.design.name[:40]:40s} {case.machine:11s} {case.outcome:8s} "
            f"{case.wall_s:7.2f} {case.peak_mib:9.0f}  {case.detail}"
        )
        if case.plugin == "fdm":
            for tool, wall, mib in refs.get(case.design.name, []):
                print(f"{'':40s} {'  ' + tool:11s} {'':8s} {wall:7.2f} {mib:9.0f}")
    failed = [c for c in cases if c.outcome == "FAILED"]
    slow = [c for c in cases if c.wall_s > 3.0]
    print(
        f"\n{len(cases)} runs: {sum(c.outcome == 'planned' for c in cases)} planned, "
        f"{sum(c.outcome == 'refused' for c in cases)} refused, {len(failed)} failed; "
        f"{len(slow)} over 3 s; slowest {max((c.wall_s for c in cases), default=0):.2f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
