"""``fabserver connectors``: what is installed, which machines use it, what is wrong."""

from __future__ import annotations

import json
import re
import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

import fabserver.dispatch as dispatch
from fabserver.cli import main
from fabserver.profiles import DEFAULT_PROFILE_DIR


def lab_with_connectors(tmp_path: Path, tables: dict[str, str]) -> Path:
    """A copy of the lab's profiles where some machines get another connector table."""
    root = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILE_DIR, root)
    for machine, table in tables.items():
        path = root / "machines" / f"{machine}.toml"
        text = path.read_text()
        if re.search(r"^connector\s*=.*$", text, flags=re.M):
            text = re.sub(r"^connector\s*=.*$", f"connector = {table}", text, flags=re.M)
        else:
            text = f"connector = {table}\n" + text
        path.write_text(text)
    return root


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_lists_every_built_in_and_the_machines_using_it(tmp_path, monkeypatch):
    monkeypatch.delenv("FABSERVER_TEST_UNSET_KEY", raising=False)
    root = lab_with_connectors(
        tmp_path,
        {
            "printer-1": '{ type = "octoprint", url = "http://octopi.lab", api_key_env = "FABSERVER_TEST_UNSET_KEY" }',
            "vinyl": '{ type = "raw-tcp", port = 9100 }',
            "laser": '{ type = "serial-grbl", port = "/dev/ttyUSB0" }',
            "embroidery": '{ type = "teleport" }',
        },
    )
    rows = {
        r["type"]: r
        for r in json.loads(run("--profiles", str(root), "--lang", "en", "connectors", "--json"))
    }
    assert set(dispatch.BUILT_IN) <= set(rows)
    assert rows["octoprint"]["machines"] == ["printer-1"]
    assert "FABSERVER_TEST_UNSET_KEY is not set" in rows["octoprint"]["problems"]["printer-1"]
    assert "'host'" in rows["raw-tcp"]["problems"]["vinyl"]
    assert rows["serial-grbl"]["machines"] == ["laser"] and not rows["serial-grbl"]["problems"]
    assert rows["teleport"]["status"] == "missing"
    assert "printer-1" not in rows["download"]["machines"]
    assert "printer-2" in rows["download"]["machines"]

    table = run("--profiles", str(root), "--lang", "fr", "connectors")
    assert "serial-grbl" in table and "« host »" in table


def test_a_broken_connector_package_is_listed_not_fatal(monkeypatch, machine_with):
    broken = EntryPoint(name="laser-cloud", value="no_such_module:Connector", group=dispatch.GROUP)
    monkeypatch.setattr(dispatch, "entry_points", lambda group: [broken])
    entry = dispatch.discover_connectors()["laser-cloud"]
    assert entry.cls is None and "ModuleNotFoundError" in entry.error
    registry = dispatch.ConnectorRegistry.discover()
    assert "laser-cloud" not in registry.available()
    with pytest.raises(dispatch.DispatchError, match="fails to load") as error:
        registry.connector_for(machine_with({"type": "laser-cloud"}))
    assert "no_such_module" in error.value.detail
    with pytest.raises(dispatch.DispatchError, match="Unknown connector"):
        registry.connector_for(machine_with({"type": "teleport"}))


def test_entry_points_are_read_once_per_process(monkeypatch, machine_with):
    """A status poll or a dispatch builds its connector from the registry found at first use."""
    dispatch.installed_connectors.cache_clear()
    reads = []

    def counting(group):
        reads.append(group)
        return []

    monkeypatch.setattr(dispatch, "entry_points", counting)
    try:
        for _ in range(3):
            dispatch.connector_for(machine_with({"type": "download"}))
        assert reads == [dispatch.GROUP]
    finally:
        dispatch.installed_connectors.cache_clear()
