"""Milling plugin timings: 3D toolpaths from corpus STLs at 0.2 mm, and a dense 2.5D design.

Run: ``.venv/bin/python benchmarks/mill_bench.py``. Prints one table per part.
The 3D rows time each stage on parts bigger than the lab's mill (the strategies
do not care), then the whole ``plan`` on parts that fit. The height map is also
made by trimesh ray casting, the alternative to the vectorised rasterisation.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import trimesh
from fabserver_mill import MillPlugin
from fabserver_mill.assemble import Machine, assemble
from fabserver_mill.heightmap import Grid, rasterise
from fabserver_mill.plan3d import oriented
from fabserver_mill.settings import machine_settings, material_settings
from fabserver_mill.strategies3d import (
    finishing_path,
    finishing_tips,
    place,
    roughing_cuts,
)

from fabserver.designs import load_design
from fabserver.designs.types import Drawing, DrawingPath, SourceFacts
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.testing import CORPUS as CORPUS_ROOT

ROOT = Path(__file__).resolve().parent.parent
CORPUS = CORPUS_ROOT / "stl"
RES = 0.2


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.rows.append((name, now - self._t))
        self._t = now


def bench_3d(name: str, scale: float, profiles) -> None:
    machine = profiles.machine("mill")
    ms = machine_settings(machine.settings)
    mat = material_settings(profiles.material("wax").settings)
    design = load_design((CORPUS / name).read_bytes(), name)
    mesh = design.mesh.copy()
    mesh.apply_scale(scale)
    clock = Clock()
    up, triangles = oriented(mesh, "auto")
    clock.lap(f"orientation (chose {up})")
    relief = place(triangles, 5.0, 1.0, 5.0, RES)
    clock.lap(f"height map {relief.grid.nx}×{relief.grid.ny} nodes")
    rough_tool, ball = ms.tools[ms.rough_tool], ms.tools[ms.finish_tool]
    rd, fd = mat.cutting[ms.rough_tool], mat.cutting[ms.finish_tool]
    cuts = roughing_cuts(relief, ms.rough_tool, rough_tool, rd.step_down, rd.step_over, 0.3, 5.0)
    clock.lap(f"roughing ({len(cuts)} chains)")
    tips = finishing_tips(relief, ball)
    clock.lap("drop-cutter (ball)")
    path = finishing_path(relief, tips, ball, fd.step_over)
    clock.lap(f"finishing raster ({len(path)} points)")
    from fabserver_mill.assemble import Cut

    cuts.append(Cut(path, False, float(path[0, 2]) + 0.3, path[:1, 2], "finish", ms.finish_tool))
    assembly = assemble(cuts, Machine.from_profiles(machine, ms, mat))
    tp = assembly.builder.build()
    clock.lap(f"toolpath ({len(tp)} moves)")
    from fabserver_mill.outputs import tool_changes

    from fabserver.writers.gcode import write_grbl_mill

    buf = io.BytesIO()
    changes = tool_changes(assembly.tool_uses)
    write_grbl_mill(buf, tp, changes, safe_z=5, start=ms.gcode_start, end=ms.gcode_end)
    clock.lap(f"G-code ({len(buf.getvalue()) / 1e6:.1f} MB)")
    total = sum(t for _, t in clock.rows)
    size = np.ptp(relief.triangles.reshape(-1, 3), axis=0)
    print(
        f"\n{name} ×{scale:g}: {len(mesh.faces)} triangles, {size[0]:.0f}×{size[1]:.0f}×{size[2]:.1f} mm"
    )
    for label, seconds in clock.rows:
        print(f"  {label:<44} {seconds:8.2f} s")
    print(f"  {'total':<44} {total:8.2f} s")

    # The alternative for the height map: one ray per node (trimesh, no Embree here).
    g = relief.grid
    sub = Grid(g.x0, g.y0, g.res * 4, (g.nx + 3) // 4, (g.ny + 3) // 4)
    placed = trimesh.Trimesh(
        relief.triangles.reshape(-1, 3), np.arange(relief.triangles.size // 3).reshape(-1, 3)
    )
    gx, gy = np.meshgrid(sub.xs, sub.ys)
    origins = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, 10.0)])
    t0 = time.perf_counter()
    placed.ray.intersects_location(
        origins, np.tile([0, 0, -1.0], (len(origins), 1)), multiple_hits=False
    )
    rays = time.perf_counter() - t0
    t0 = time.perf_counter()
    rasterise(relief.triangles, sub, relief.floor)
    raster = time.perf_counter() - t0
    print(
        f"  height map at {sub.res:.1f} mm ({sub.nx * sub.ny} nodes): rasterisation {raster:.3f} s, "
        f"trimesh rays {rays:.3f} s ({rays / max(raster, 1e-9):.0f}× slower)"
    )
    compare_opencamlib(relief, tips, ball)


def compare_opencamlib(relief, tips: np.ndarray, ball) -> None:
    """OpenCAMLib's exact drop-cutter on 20 000 random nodes: time and how far ours is from it."""
    try:
        from opencamlib import ocl
    except ImportError:
        print("  (opencamlib not installed: no exact drop-cutter comparison)")
        return
    g = relief.grid
    rng = np.random.default_rng(5)
    jj, ii = rng.integers(0, g.ny, 20_000), rng.integers(0, g.nx, 20_000)
    t0 = time.perf_counter()
    surface = ocl.STLSurf()  # kept referenced: OpenCAMLib holds raw pointers
    for t in relief.triangles:
        surface.addTriangle(ocl.Triangle(*(ocl.Point(*v) for v in t)))
    cutter = ocl.BallCutter(ball.diameter, 50.0)
    batch = ocl.BatchDropCutter()
    batch.setSTL(surface)
    batch.setCutter(cutter)
    for j, i in zip(jj, ii, strict=True):
        batch.appendPoint(ocl.CLPoint(g.x0 + i * g.res, g.y0 + j * g.res, relief.floor))
    batch.run()
    exact = np.maximum([p.z for p in batch.getCLPoints()], relief.floor)
    seconds = time.perf_counter() - t0
    diff = tips[jj, ii] - exact
    per_node = seconds / len(exact)
    print(
        f"  OpenCAMLib exact drop-cutter: {seconds:.2f} s for 20000 nodes "
        f"(~{per_node * g.nx * g.ny:.0f} s for the whole grid); ours minus exact: "
        f"min {diff.min():+.4f} mm, median {np.median(diff):+.4f} mm, "
        f"{np.mean(diff < 0.01) * 100:.0f} % within 0.01 mm"
    )


def dense_drawing() -> Drawing:
    """A 180 × 130 mm panel: 96 holes, 12 pockets with an island each, 40 engraved lines."""
    paths = [
        DrawingPath(
            np.array([[0, 0], [180, 0], [180, 130], [0, 130]], float), True, stroke=(0, 0, 0)
        )
    ]
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    for i in range(12):
        for j in range(8):
            c = (10 + i * 14.5, 8 + j * 4.5 if j < 2 else 100 + (j - 2) * 4.5)
            paths.append(
                DrawingPath(
                    np.column_stack([c[0] + 1.8 * np.cos(t), c[1] + 1.8 * np.sin(t)]),
                    True,
                    stroke=(0, 0, 255),
                )
            )
    for i in range(6):
        for j in range(2):
            x0, y0 = 8 + i * 28.5, 22 + j * 36
            paths.append(
                DrawingPath(
                    np.array([[x0, y0], [x0 + 24, y0], [x0 + 24, y0 + 30], [x0, y0 + 30]], float),
                    True,
                    stroke=(255, 0, 0),
                )
            )
            paths.append(
                DrawingPath(
                    np.column_stack([x0 + 12 + 4 * np.cos(t), y0 + 15 + 4 * np.sin(t)]),
                    True,
                    stroke=(255, 0, 0),
                )
            )
    for k in range(40):
        x = 8 + k * 4.2
        paths.append(
            DrawingPath(
                np.array([[x, 93.0], [x + 2.0, 97.0], [x + 3.5, 93.0]]), False, stroke=(0, 255, 0)
            )
        )
    return Drawing(tuple(paths), SourceFacts("svg", "mm"))


def bench_2d(profiles) -> None:
    machine = profiles.machine("mill")
    design = dense_drawing()
    material = profiles.material("hdpe")

    def plan():
        return run_plan(
            MillPlugin(), design, machine, material, {}, profiles.policy, profiles.materials
        )

    plan()  # warms the imports and GEOS once
    t0 = time.perf_counter()
    result = plan()
    plan_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for out in result.plan.outputs:
        out.write(io.BytesIO())
    write_s = time.perf_counter() - t0
    tp = result.plan.toolpath
    print(f"\ndense 2.5D panel: {len(design.paths)} paths, HDPE 10 mm")
    print(f"  {'plan (operations, offsets, passes, estimate)':<44} {plan_s:8.2f} s")
    print(f"  {'write G-code + RML files':<44} {write_s:8.2f} s")
    print(f"  moves {len(tp)}, machine time {result.estimate.machine_time_s / 60:.0f} min")


def bench_plan(name: str, profiles, material: str = "wax") -> None:
    design = load_design(
        (ROOT / "samples" / name).read_bytes()
        if (ROOT / "samples" / name).exists()
        else (CORPUS / name).read_bytes(),
        name,
    )
    t0 = time.perf_counter()
    result = run_plan(
        MillPlugin(),
        design,
        profiles.machine("mill"),
        profiles.material(material),
        {},
        profiles.policy,
        profiles.materials,
    )
    seconds = time.perf_counter() - t0
    print(
        f"\nplan() {name}: {seconds:.2f} s, {len(result.plan.toolpath)} moves, machine time {result.estimate.machine_time_s / 60:.0f} min"
    )


def main() -> None:
    profiles = load_profiles()
    if CORPUS.is_dir():
        bench_3d("plate_holes.STL", 1.0, profiles)
        bench_3d("1002_tray_bottom.STL", 1.0, profiles)
        bench_3d("#3DBenchy - Multi-part - Single - Gunwale - (3DBenchy.com).stl", 1.0, profiles)
        bench_plan("#3DBenchy - Multi-part - Single - Gunwale - (3DBenchy.com).stl", profiles)
    bench_plan("mill-relief.stl", profiles)
    bench_2d(profiles)


if __name__ == "__main__":
    main()
