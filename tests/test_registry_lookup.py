"""A one-machine command finds its plugin through the plugin's own distribution, or a scan."""

from __future__ import annotations

import importlib.metadata

from fabserver import registry
from fabserver.registry import load_registry


def test_the_named_plugin_is_read_from_its_own_distribution(monkeypatch):
    scanned = []
    real_scan = registry.entry_points
    monkeypatch.setattr(
        registry, "entry_points", lambda **kw: scanned.append(kw) or real_scan(**kw)
    )
    found = load_registry(only="fdm")
    assert list(found.plugins) == ["fdm"] and not found.broken
    assert type(found.plugins["fdm"]).__name__ == "FdmPlugin"
    assert scanned == []  # no reading of every distribution


def test_a_plugin_packaged_under_another_name_is_found_by_the_scan(monkeypatch):
    def nowhere(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(registry, "distribution", nowhere)
    found = load_registry(only="laser")
    assert list(found.plugins) == ["laser"]


def test_the_whole_lab_and_an_unknown_plugin():
    assert {"fdm", "laser", "vinyl", "mill", "embroidery"} <= set(load_registry().plugins)
    nothing = load_registry(only="no-such-plugin")
    assert not nothing.plugins and not nothing.broken
