"""A machine plugin that misbehaves on request, to test the planning processes' limits.

``testlimits`` plans a mesh like a tiny printer, after doing what its ``behaviour``
option asks: take memory, sleep, write a big file, kill its own process, or claim
an output too big to fit before doing anything.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np

from fabserver.i18n import Text
from fabserver.plugin import MachinePlugin, MaterialUse, Option, OutputFile, OutputFormat, Plan
from fabserver.toolpath import MoveKind, ToolpathBuilder

BEHAVIOURS = ("ok", "hog", "sleep", "big-output", "die", "huge-estimate")
PROFILES = Path(__file__).resolve().parent / "profiles"


class LimitTester(MachinePlugin):
    id = "testlimits"
    name = Text("Machine d'essai des limites", "Limits test machine")
    accepts = frozenset({"mesh"})
    material_kinds = frozenset({"filament"})
    formats = (OutputFormat(".gcode", "text/x-gcode", Text("G-code", "G-code")),)
    options = (
        Option(
            "behaviour",
            "choice",
            "ok",
            Text("Comportement", "Behaviour"),
            choices=BEHAVIOURS,
            choice_labels=tuple(Text(b, b) for b in BEHAVIOURS),
        ),
        Option("seconds", "float", 0.0, Text("Durée", "Duration"), unit="s", min=0, max=600),
    )

    def estimate_output_bytes(self, request):
        return 10**12 if request.options["behaviour"] == "huge-estimate" else None

    def plan(self, request):
        options, progress = request.options, request.progress
        behaviour = options["behaviour"]
        if behaviour == "huge-estimate":
            raise AssertionError("planned although the estimate did not fit")
        if behaviour == "hog":  # far more than any test limit, a bit at a time
            hoard = [np.ones(16 * 1024 * 1024, dtype=np.uint8) for _ in range(1024)]
            del hoard
        if behaviour == "die":  # what the kernel's out-of-memory killer does
            os.kill(os.getpid(), signal.SIGKILL)
        if behaviour == "sleep":
            end = time.monotonic() + options["seconds"]
            while time.monotonic() < end:
                progress(0.5, "sleep")
                time.sleep(0.05)
        size = 64 * 1024 * 1024 if behaviour == "big-output" else 0
        lo, hi = np.asarray(request.design.bounds, dtype=float)
        b = ToolpathBuilder()
        b.new_layer(0.2)
        b.move_to(lo[0], lo[1], z=0.2, feed=100.0)
        b.add_path(np.array([[hi[0], lo[1]], [hi[0], hi[1]]]), MoveKind.EXTRUDE, 40.0, e=0.5, z=0.2)
        tp = b.build()

        def write(f) -> None:
            f.write(b"; testlimits\n")
            chunk = b"G1 X0 Y0\n" * 100_000
            written = 0
            while written < size:
                f.write(chunk)
                written += len(chunk)

        progress(1.0, "done")
        return Plan(
            toolpath=tp,
            outputs=(OutputFile(".gcode", "text/x-gcode", write),),
            material_uses=(MaterialUse(request.material.id, 1.0, "g"),),
            copies=request.copies,
        )


def lab_profiles(target: Path) -> Path:
    """The web tests' profiles plus a ``lim-1`` machine with small limits for this plugin."""
    from fab_testplugins import PROFILES as WEB_PROFILES

    shutil.copytree(WEB_PROFILES, target)
    box = (target / "machines" / "box-1.toml").read_text()
    (target / "machines" / "lim-1.toml").write_text(
        box.replace('plugin = "testbox"', 'plugin = "testlimits"')
        .replace("Imprimante d'essai 1", "Machine limitée")
        .replace("Test printer 1", "Limited machine")
        + "\n[limits]\nmemory_mb = 256\ntime_s = 20\noutput_mb = 8\n"
    )
    pla = target / "materials" / "test-pla.toml"
    pla.write_text(
        pla.read_text().replace('plugins = ["testbox"]', 'plugins = ["testbox", "testlimits"]')
    )
    return target


def registry():
    import fab_testplugins

    reg = fab_testplugins.registry()
    reg.register(LimitTester, f"testlimits = {__name__}:LimitTester")
    return reg
