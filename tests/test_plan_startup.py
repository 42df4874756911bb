"""What ``fabserver plan`` of an STL loads at start-up, so a lazy import cannot come back silently.

The whole process of a small print is mostly start-up: every module imported
costs its compile (or bytecode read) and its module-level work. The program is
run as the console script runs it, and the modules loaded by the end are
listed at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fabserver_fdm import engines

# The console script's program, writing at exit which modules it loaded and its environment.
PROGRAM = """
import atexit, json, os, sys
from pathlib import Path
report = Path(sys.argv.pop(1))
atexit.register(lambda: report.write_text(json.dumps(
    {"modules": sorted(sys.modules), "openblas": os.environ.get("OPENBLAS_NUM_THREADS")})))
from fabserver.cli import run
run()
"""

#: Modules an STL print on the builtin slicer has no use for, and what they are for.
NOT_FOR_AN_STL_PRINT = {
    "fabserver.designs.gcode": "the reader of uploaded G-code",
    "fabserver.learning": "the job server's time corrections",
    "fabserver.operations": "the drawing plugins' colour maps",
    "fabserver.stock": "the offcut search, when the lab offers offcuts",
    "fabserver_fdm.engines.external": "running PrusaSlicer or CuraEngine",
    "fabserver_fdm.engines.prusaslicer": "PrusaSlicer",
    "fabserver_fdm.engines.curaengine": "CuraEngine",
    "fabserver_fdm.reference": "the reference slicers' settings",
    "subprocess": "the external engines' runs",
    "fabserver.web": "the web server",
    "scipy": "nothing in a print",
    "trimesh": "repairing a mesh the loader cannot take as read",
    "numpy.ma": "masked arrays (numpy's np.unique without indices checks for them)",
}


def _plan(tmp_path: Path, sample: Path, env: dict[str, str]) -> dict:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(report), "--lang", "en", "plan", str(sample),
         "--machine", "printer-1", "--material", "pla-1.75", "-o", str(tmp_path / "out.gcode")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.gcode").stat().st_size > 0
    return json.loads(report.read_text())


def test_an_stl_print_loads_none_of_what_it_does_not_use(tmp_path, samples):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    loaded = set(_plan(tmp_path, samples / "web-block.stl", env)["modules"])
    assert "fabserver_fdm.pipeline" in loaded  # it did slice
    wrongly = {name: why for name, why in NOT_FOR_AN_STL_PRINT.items() if name in loaded}
    assert not wrongly, f"loaded by an STL print: {wrongly}"


def test_openblas_runs_on_one_thread_unless_the_environment_says_otherwise(tmp_path, samples):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _plan(tmp_path, samples / "web-block.stl", env)["openblas"] == "1"
    assert (
        _plan(tmp_path, samples / "web-block.stl", {**env, "OPENBLAS_NUM_THREADS": "2"})["openblas"]
        == "2"
    )


def test_the_engines_imported_on_demand_are_the_ones_offered():
    external = engines.EXTERNAL
    assert ("builtin", *external) == engines.ENGINES
    assert all(engine.id == engine_id for engine_id, engine in external.items())
    assert engines.external_engine("builtin") is None
    assert engines.external_engine("prusaslicer") is external["prusaslicer"]
    assert isinstance(external["curaengine"], engines.ExternalEngine)
