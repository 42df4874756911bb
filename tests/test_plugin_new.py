"""``fabserver plugin new``: the package it writes installs, passes its own tests and plans."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from fabserver.testing import ROOT, SAMPLES

NAME = "pen_plotter"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300
    )


def _register(package: Path, site: Path) -> None:
    """What ``pip install -e`` leaves for importlib.metadata: a dist-info with the package's
    entry points, read from its generated pyproject (the shared virtualenv stays as it is)."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [f"{k} = {v}" for k, v in project["entry-points"]["fabserver.plugins"].items()]
    (info / "entry_points.txt").write_text("[fabserver.plugins]\n" + "\n".join(lines) + "\n")


def test_a_new_plugin_passes_its_tests_and_plans_a_sample(tmp_path: Path):
    made = _run("-m", "fabserver.cli", "plugin", "new", NAME, "--dest", str(tmp_path))
    assert made.returncode == 0, made.stderr
    package = tmp_path / f"fabserver-{NAME}"
    assert (package / "README.md").exists()
    _register(package, tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), str(tmp_path / "site")])}

    tests = _run("-m", "pytest", str(package / "tests"), "-q", "-p", "no:cacheprovider", env=env)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout

    lab = Path(shutil.copytree(ROOT / "profiles", tmp_path / "profiles"))
    for kind in ("machines", "materials"):
        for toml in (package / "profiles" / kind).glob("*.toml"):
            shutil.copy(toml, lab / kind)
    out = tmp_path / "sticker.hpgl"
    planned = _run(
        "-m", "fabserver.cli", "--lang", "en", "--profiles", str(lab), "plan",
        str(SAMPLES / "vinyl-sticker.svg"), "--machine", NAME, "--material", f"{NAME}-paper",
        "-o", str(out), env=env,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert out.read_text().startswith("IN;PA;SP1;")
    checked = _run("-m", "fabserver.cli", "--profiles", str(lab), "profiles", "check", env=env)
    assert checked.returncode == 0, checked.stderr


def test_a_name_that_is_not_a_package_name_is_refused(tmp_path: Path):
    made = _run("-m", "fabserver.cli", "plugin", "new", "Pen-Plotter", "--dest", str(tmp_path))
    assert made.returncode == 2
    assert "lower-case" in made.stderr
    assert not any(tmp_path.iterdir())
