"""`fabserver plan` never prints a traceback: a message and a non-zero status (the trace
with --debug)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fabserver.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FABSERVER_LANG": "fr"},
    )


def _vinyl(samples, output, *extra: str) -> list[str]:
    return [
        "plan",
        str(samples / "vinyl-sticker.svg"),
        "--machine",
        "vinyl",
        "--material",
        "vinyl-adhesive",
        "-o",
        str(output),
        *extra,
    ]


def test_an_unwritable_output_is_a_message_and_status_1(tmp_path, samples):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    result = _plan(*_vinyl(samples, blocker / "sticker.hpgl"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "Impossible d'écrire" in result.stderr and "--debug" in result.stderr


def test_debug_shows_the_trace(tmp_path, samples):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    result = _plan(*_vinyl(samples, blocker / "sticker.hpgl", "--debug"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_the_error_comes_as_json_when_asked(tmp_path, samples):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    result = _plan("--lang", "en", *_vinyl(samples, blocker / "sticker.hpgl", "--json"))
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert "Cannot write or read" in error["en"] and "Traceback" not in result.stderr


def test_a_broken_design_is_a_message_without_trace(tmp_path, samples):
    broken = tmp_path / "cut.stl"
    broken.write_bytes((samples / "fdm-bracket.stl").read_bytes()[:300])
    result = _plan(
        "plan",
        str(broken),
        "--machine",
        "printer-1",
        "--material",
        "pla-1.75",
        "-o",
        str(tmp_path / "out.gcode"),
    )
    assert result.returncode != 0
    assert result.stderr.strip() and "Traceback" not in result.stderr + result.stdout


def test_a_drawing_on_a_printer_is_refused_before_it_is_read(tmp_path):
    """The kind of file is known from its first bytes: a DXF the loader could not even
    parse gets the machine's refusal, not a parsing error."""
    broken = tmp_path / "broken.dxf"
    broken.write_text("0\nSECTION\n2\nENTITIES\n0\nLINE\n10\nnot-a-number\n")
    result = _plan(
        "--lang", "en", "plan", str(broken), "--machine", "printer-1",
        "--material", "pla-1.75", "-o", str(tmp_path / "out.gcode"),
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "does not take this kind of file" in result.stdout + result.stderr
    assert not (tmp_path / "out.gcode").exists()
