"""A design read ahead in a forked child (``fabserver plan``): the same design, the same errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from fabserver import forking
from fabserver.designs import loader
from fabserver.designs.loader import load_design, load_design_ahead
from fabserver.errors import DesignError, ProfileError
from fabserver.i18n import Text
from fabserver.testing import SAMPLES

BRACKET = SAMPLES / "design-bracket.stl"


@pytest.fixture
def forkable(monkeypatch):
    """A fork allowed beside the test runner's own threads (a plan command has none)."""
    monkeypatch.setattr(loader, "only_threads_named", lambda prefixes: True)


def test_a_design_read_ahead_is_the_one_read_here(forkable):
    data = BRACKET.read_bytes()
    before = forking.children_at_work()
    design = load_design_ahead(data, BRACKET.name)
    assert forking.children_at_work() == before + 1  # read in a child
    got = design()
    assert forking.children_at_work() == before  # and reaped once read
    here = load_design(data, BRACKET.name)
    np.testing.assert_array_equal(got.mesh.vertices, here.mesh.vertices)
    np.testing.assert_array_equal(got.mesh.faces, here.mesh.faces)
    assert got.facts == here.facts
    assert [w.to_dict() for w in got.warnings] == [w.to_dict() for w in here.warnings]


@pytest.mark.parametrize(
    "data",
    [
        b"solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\n",
        b"\0" * 80 + (5).to_bytes(4, "little") + b"\0" * 50,  # 5 triangles announced, 1 given
        b"AC1027" + b"\0" * 200,  # a DWG
    ],
)
def test_a_bad_design_read_ahead_gives_the_error_read_here(forkable, data):
    with pytest.raises(DesignError) as here:
        load_design(data, "part.stl")
    design = load_design_ahead(data, "part.stl")
    with pytest.raises(DesignError) as ahead:
        design()
    assert ahead.value.message == here.value.message
    assert ahead.value.detail == here.value.detail


def test_without_a_safe_fork_the_design_is_read_when_asked(monkeypatch):
    monkeypatch.setattr(loader, "only_threads_named", lambda prefixes: False)
    before = forking.children_at_work()
    design = load_design_ahead(BRACKET.read_bytes(), BRACKET.name)
    assert forking.children_at_work() == before  # nothing forked
    assert design().face_count == load_design(BRACKET.read_bytes()).face_count


def test_errors_cross_processes_whole():
    profile = ProfileError("machines/laser.toml", "work_area.x", "Expected float > 0.0")
    back = pickle.loads(pickle.dumps(profile))
    assert type(back) is ProfileError
    assert (back.file, back.key, back.problem) == (profile.file, profile.key, profile.problem)
    assert back.message == profile.message and str(back) == str(profile)
    design = DesignError(Text("Illisible.", "Unreadable."), detail="offset 84")
    back = pickle.loads(pickle.dumps(design))
    assert (back.message, back.detail, back.args) == (design.message, design.detail, design.args)
