"""Fixtures of the mill plugin's tests: the lab's mill, its stock materials and a planner."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from fabserver_mill import MillPlugin
from fabserver_mill.settings import machine_settings, material_settings

from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.planning import run_plan

BLACK, BLUE, RED, GREEN = (0, 0, 0), (0, 0, 255), (255, 0, 0), (0, 255, 0)


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def circle(cx: float, cy: float, r: float, n: int = 96) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


def drawing(*paths: tuple[np.ndarray, tuple[int, int, int] | None, bool]) -> Drawing:
    """A drawing from ``(points, stroke colour, closed)`` triples."""
    return Drawing(
        tuple(DrawingPath(p, closed, stroke=c) for p, c, closed in paths),
        SourceFacts("svg", "mm"),
    )


@pytest.fixture(scope="session")
def mill(profiles):
    return profiles.machine("mill")


@pytest.fixture(scope="session")
def mill_settings(mill):
    return machine_settings(mill.settings)


@pytest.fixture(scope="session")
def hdpe(profiles):
    return profiles.material("hdpe")


@pytest.fixture(scope="session")
def plan_with(profiles, mill, hdpe):
    """``plan_with(design, material=None, **options)`` → PlanResult on the lab's mill."""

    def run(design, material=None, **options):
        mat = material or hdpe
        return run_plan(
            MillPlugin(), design, mill, mat, options, profiles.policy, profiles.materials
        )

    return run


@pytest.fixture(scope="session")
def hdpe_settings(hdpe):
    return material_settings(hdpe.settings)


@pytest.fixture(scope="session")
def make():
    """Small builders of test drawings: ``make.rect``, ``make.circle``, ``make.drawing``, colours."""
    return SimpleNamespace(
        rect=rect, circle=circle, drawing=drawing, BLACK=BLACK, BLUE=BLUE, RED=RED, GREEN=GREEN
    )
