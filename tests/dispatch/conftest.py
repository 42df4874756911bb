"""Shared helpers for the connector tests: machines with a given connector table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fabserver.profiles import replaced


@pytest.fixture
def machine_with(profiles) -> Callable[..., Any]:
    """A lab machine profile whose ``connector`` table is replaced by ``table``."""

    def make(table: dict[str, Any], machine_id: str = "printer-1"):
        machine = next(iter(profiles.machines.values()))
        machine = profiles.machines.get(machine_id, machine)
        return replaced(machine, connector=table)

    return make


@pytest.fixture(scope="session")
def moonraker_stack():
    """The real Klipper + Moonraker, started once per test session (per xdist worker)."""
    from .moonraker_stack import StackUnavailable, start_stack, unavailable

    try:
        stack = start_stack()
    except StackUnavailable as why:
        unavailable(str(why))
    yield stack
    stack.stop()


@pytest.fixture
def moonraker(moonraker_stack):
    """The session's stack, idle at the start and left idle at the end of each test."""
    moonraker_stack.make_idle()
    yield moonraker_stack
    moonraker_stack.make_idle()


@pytest.fixture
def own_moonraker():
    """Start a stack of one's own (other settings, or one a test breaks); stopped after."""
    from .moonraker_stack import StackUnavailable, start_stack, unavailable

    started = []

    def start(**env: str):
        try:
            stack = start_stack(**env)
        except StackUnavailable as why:
            unavailable(str(why))
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.stop()
