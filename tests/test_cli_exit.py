"""The ``fabserver`` program ends a plan without the interpreter's teardown, losing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fabserver.cli import main

# The console script's program, with an exit handler of its own that leaves a mark.
PROGRAM = """
import atexit, sys
from pathlib import Path
mark = Path(sys.argv.pop(1))
atexit.register(lambda: mark.write_text("ran"))
from fabserver.cli import run
run()
"""


def _program(mark: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, str(mark), "--lang", "en", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_plan_ends_with_its_files_output_and_exit_handlers(tmp_path, samples):
    sample = str(samples / "vinyl-sticker.svg")
    ended = _program(
        tmp_path / "mark", "plan", sample, "--machine", "vinyl", "--material", "vinyl-adhesive",
        "-o", str(tmp_path / "quick.out"), "--json",
    )  # fmt: skip
    assert ended.returncode == 0, ended.stderr
    assert json.loads(ended.stdout)["outputs"] == [str(tmp_path / "quick.out")]  # all of it
    assert (tmp_path / "mark").read_text() == "ran"
    in_process = CliRunner().invoke(
        main,
        ["plan", sample, "--machine", "vinyl", "--material", "vinyl-adhesive",
         "-o", str(tmp_path / "usual.out")],
    )  # fmt: skip
    assert in_process.exit_code == 0
    assert (tmp_path / "quick.out").read_bytes() == (tmp_path / "usual.out").read_bytes()


def test_a_refused_plan_keeps_its_status_and_message(tmp_path, samples):
    ended = _program(
        tmp_path / "mark", "plan", str(samples / "vinyl-sticker.svg"), "--machine", "printer-1",
        "--material", "pla-1.75", "-o", str(tmp_path / "out.gcode"),
    )  # fmt: skip
    assert ended.returncode == 2
    assert "does not take this kind of file" in ended.stderr
    assert (tmp_path / "mark").read_text() == "ran"
    assert not (tmp_path / "out.gcode").exists()


def test_other_commands_end_as_usual(tmp_path):
    ended = _program(tmp_path / "mark", "machines", "--json")
    assert ended.returncode == 0 and json.loads(ended.stdout)
    assert (tmp_path / "mark").read_text() == "ran"
