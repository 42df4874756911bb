"""Where a whole-process FDM plan's memory peaks: resident MiB at each stage.

Run: ``.venv/bin/python benchmarks/plan_memory.py MODEL.stl [printer-1]``

The plan runs as ``fabserver plan`` runs it (load, plan, estimate, write; the
settings of ``slice_fdm.py``). At each progress report the process's resident
size (``VmRSS``) and its peak since the report before (``VmHWM``, reset by
writing 5 to ``/proc/self/clear_refs``) are printed, so the stage that sets the
whole-process peak (GNU time's ``%M``) shows. A forked gap-fill child reports
its own peak as it ends. Linux only.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import slice_fdm  # its settings


def _status() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process, MiB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024.0
    return fields["VmRSS"], fields["VmHWM"]


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Report:
    """Prints each stage's peak and the resident size at its end."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stage = "start-up"
        self.overall = 0.0

    def __call__(self, done: float, stage: str = "") -> None:
        rss, hwm = _status()
        self.overall = max(self.overall, hwm)
        t = time.perf_counter() - self.t0
        print(f"{t:6.2f} s  {self.stage:>10s}: peak {hwm:6.1f} MiB, now {rss:6.1f} MiB", flush=True)
        self.stage = stage or f"{done:.2f}"
        _reset_peak()


def _child_peak_reported() -> None:
    """Gap fill's generator, wrapped so a forked child prints its own peak as it ends."""
    from fabserver_fdm import layers

    pieces = layers.gap_fill_pieces
    parent = os.getpid()

    def reported(gaps):
        if os.getpid() != parent:
            _reset_peak()
        yield from pieces(gaps)
        if os.getpid() != parent:
            rss, hwm = _status()
            print(f"gap-fill child: peak {hwm:6.1f} MiB, at its end {rss:6.1f} MiB", flush=True)

    layers.gap_fill_pieces = reported


def main() -> None:
    model = Path(sys.argv[1])
    machine_id = sys.argv[2] if len(sys.argv) > 2 else slice_fdm.MACHINE
    report = Report()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from fabserver_fdm import FdmPlugin

    from fabserver.planning import load_accepted, run_plan, write_outputs
    from fabserver.profiles import load_profiles

    _child_peak_reported()
    profiles = load_profiles()
    machine = profiles.machine(machine_id)
    material = profiles.material(slice_fdm.MATERIAL)
    plugin = FdmPlugin()
    report(0.0, "load")
    design = load_accepted(model.read_bytes(), model.name, plugin, machine)
    report(0.0, "plan")
    result = run_plan(
        plugin,
        design,
        machine,
        material,
        slice_fdm.OPTIONS,
        profiles.policy,
        progress=report,
        draw=False,  # as `fabserver plan` without --preview
    )
    report(1.0, "write")
    with tempfile.TemporaryDirectory() as tmp:
        write_outputs(result.plan, Path(tmp) / "out.gcode")
    report(1.0, "end")
    print(f"peak of the whole plan: {report.overall:.1f} MiB")


if __name__ == "__main__":
    main()
