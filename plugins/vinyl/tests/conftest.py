"""Test tools for the vinyl plugin: read HPGL back, replay the drag knife, compare paths.

These are written apart from the plugin on purpose: the plugin computes where
the holder must go; the tests read the file as a cutter would and let a
simulated blade be dragged along it, then compare what the blade cut with the
drawing.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
from fabserver_vinyl import VinylPlugin
from scipy.spatial import cKDTree

from fabserver.designs import Drawing, DrawingPath, SourceFacts
from fabserver.planning import run_plan

UNITS_PER_MM = 40.0


@dataclass
class HpglJob:
    """What a cutter would read: set-up values and tool-down strokes (plotter units)."""

    setup: dict[str, list[float]] = field(default_factory=dict)
    strokes: list[np.ndarray] = field(default_factory=list)  # each (k, 2), tool down
    commands: list[str] = field(default_factory=list)


def parse_hpgl(data: bytes) -> HpglJob:
    """A small HPGL reader: IN, PA, SP, VS, FS, PU and PD with absolute coordinates."""
    job = HpglJob()
    pen = np.zeros(2)
    down: list[np.ndarray] | None = None
    for instruction in data.decode("ascii").replace("\n", "").split(";"):
        if not instruction:
            continue
        name, args = instruction[:2], instruction[2:]
        job.commands.append(name)
        numbers = [float(v) for v in re.split(r"[,\s]+", args.strip()) if v]
        if name in ("PU", "PD"):
            points = np.array(numbers).reshape(-1, 2)
            if name == "PU":
                if down is not None and len(down) > 1:
                    job.strokes.append(np.array(down))
                down = None
                if len(points):
                    pen = points[-1]
            else:
                if down is None:
                    down = [pen]
                down.extend(points)
                if len(points):
                    pen = points[-1]
        elif name in ("IN", "PA"):
            continue
        else:
            job.setup.setdefault(name, numbers)  # the value the job starts with
    if down is not None and len(down) > 1:
        job.strokes.append(np.array(down))
    return job


def resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` (or closer) along a polyline, ends included."""
    points = np.asarray(points, dtype=float)
    seg = np.diff(points, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    out = [points[:1]]
    for a, d, length in zip(points[:-1], seg, lengths, strict=True):
        n = max(1, int(np.ceil(length / step)))
        out.append(a + d * (np.arange(1, n + 1) / n)[:, None])
    return np.vstack(out)


def blade_traces(strokes_mm: list[np.ndarray], offset: float, heading=(1.0, 0.0)) -> list:
    """Where a drag-knife blade tip goes when its holder follows each stroke.

    The tip trails the holder by ``offset``: at each small step the tip is put
    back on the line from the holder to where the tip was, ``offset`` behind
    the holder (a discrete tractrix). A lifted blade keeps its heading.
    """
    hx, hy = (float(v) for v in heading)
    traces = []
    for stroke in strokes_mm:
        fine = resample(stroke, 0.02)
        tx, ty = fine[0, 0] - offset * hx, fine[0, 1] - offset * hy
        trace = np.empty_like(fine)
        # Plain floats: this loop runs once per 0.02 mm of cut.
        for i, (x, y) in enumerate(fine.tolist()):
            norm = math.hypot(x - tx, y - ty)
            if norm > 1e-12:
                hx, hy = (x - tx) / norm, (y - ty) / norm
            tx, ty = x - offset * hx, y - offset * hy
            trace[i] = tx, ty
        traces.append(trace)
    return traces


def hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Hausdorff distance between two point clouds (mm)."""
    return max(cKDTree(b).query(a)[0].max(), cKDTree(a).query(b)[0].max())


def outline_points(path: DrawingPath, step: float = 0.01) -> np.ndarray:
    pts = np.vstack([path.points, path.points[:1]]) if path.closed else path.points
    return resample(pts, step)


def placed_outlines(design, facts: dict, spacing: float = 5.0, margin: float = 0.0) -> list:
    """The drawing's outlines where the layout rule puts the first copy (plotter mm):
    turned a quarter turn ((x, y) → (−y, x)) when the plan says so, then its box
    ``spacing + margin`` from the origin."""
    outlines = [
        np.vstack([p.points, p.points[:1]]) if p.closed else np.asarray(p.points)
        for p in design.paths
    ]
    if facts["turned"]:
        outlines = [o[:, ::-1] * np.array([-1.0, 1.0]) for o in outlines]
    low = np.vstack(outlines).min(axis=0)
    return [o - low + spacing + margin for o in outlines]


def drawing(*paths: tuple[np.ndarray, bool], units: str = "mm") -> Drawing:
    return Drawing(
        tuple(
            DrawingPath(np.asarray(p, dtype=float), c, source=f"p{i}")
            for i, (p, c) in enumerate(paths)
        ),
        SourceFacts("svg", units),
    )


def plan_job(design, profiles, material="vinyl-adhesive", machine="vinyl", **options):
    """Run the plugin through the core as the CLI does; returns (result, parsed HPGL, bytes)."""
    options.setdefault("copies", 1)
    result = run_plan(
        VinylPlugin(),
        design,
        profiles.machine(machine),
        profiles.material(material),
        options,
        profiles.policy,
        profiles.materials,
    )
    buffer = io.BytesIO()
    result.plan.outputs[0].write(buffer)
    data = buffer.getvalue()
    return result, parse_hpgl(data), data


@pytest.fixture
def tools() -> SimpleNamespace:
    """The helpers above, for test modules (pytest's importlib mode keeps conftest private)."""
    helpers = (
        parse_hpgl,
        resample,
        blade_traces,
        hausdorff,
        outline_points,
        placed_outlines,
        drawing,
        plan_job,
    )
    return SimpleNamespace(**{f.__name__: f for f in helpers}, UNITS_PER_MM=UNITS_PER_MM)
