"""Shared helpers for the connector tests: machines with a given connector table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def machine_with(profiles) -> Callable[..., Any]:
    """A lab machine profile whose ``connector`` table is replaced by ``table``."""

    def make(table: dict[str, Any], machine_id: str = "printer-1"):
        machine = next(iter(profiles.machines.values()))
        machine = profiles.machines.get(machine_id, machine)
        return machine.model_copy(update={"connector": table})

    return make
