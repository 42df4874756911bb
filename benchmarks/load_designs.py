"""Time the design loaders on the corpus's largest files against the plain libraries.

    .venv/bin/python benchmarks/load_designs.py [--repeats N]

Each row: the best and the median of N runs, in milliseconds. Our loaders do
more than the reference call (checks, repairs, flattening to 0.01 mm, chaining,
unit facts), so the ratio says what that extra work costs.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fabserver.testing import CORPUS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    run()  # warm-up: imports and caches are not what we measure
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")

    import ezdxf
    import numpy as np
    import svgelements
    import trimesh

    from fabserver.designs import load_design
    from fabserver.designs.chaining import chain_paths
    from fabserver.designs.types import DrawingPath

    benchy = CORPUS / "stl" / "3DBenchy.stl"
    benchy_3mf = CORPUS / "stl" / "3DBenchy.3mf"
    tray_svg = CORPUS / "svg" / "tray-easy1.svg"
    biggest_dxf = max((CORPUS / "dxf").iterdir(), key=lambda p: p.stat().st_size)
    data = {p: p.read_bytes() for p in (benchy, benchy_3mf, tray_svg, biggest_dxf)}

    def stl_view() -> object:
        raw = data[benchy]
        count = int(np.frombuffer(raw, "<u4", 1, 80)[0])
        record = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
        return np.frombuffer(raw, record, count, 84)["v"].astype(np.float64)

    def svg_reference() -> object:
        svg = svgelements.SVG.parse(io.BytesIO(data[tray_svg]))
        return [
            abs(svgelements.Path(e)).npoint(np.linspace(0, 1, 16))
            for e in svg.elements()
            if isinstance(e, svgelements.Shape)
        ]

    # 20 000 segments of 200 circles, shuffled and half reversed, as a CAD export
    rng = np.random.default_rng(1)
    angles = np.linspace(0, 2 * np.pi, 101)
    segments = []
    for k in range(200):
        ring = np.column_stack([np.cos(angles), np.sin(angles)]) * 10 + [k * 30.0, 0]
        for i in range(100):
            pair = ring[i : i + 2] if rng.random() < 0.5 else ring[i : i + 2][::-1]
            segments.append(DrawingPath(points=pair, closed=False, stroke=(0, 0, 0)))
    rng.shuffle(segments)

    rows = [
        ("STL", benchy.name, "numpy view of the records only", stl_view),
        ("STL", benchy.name, "fabserver load_design", lambda: load_design(data[benchy])),
        ("STL", benchy.name, "trimesh.load (process=True)", lambda: trimesh.load(benchy)),
        ("3MF", benchy_3mf.name, "fabserver load_design", lambda: load_design(data[benchy_3mf])),
        ("3MF", benchy_3mf.name, "trimesh.load", lambda: trimesh.load(benchy_3mf)),
        ("SVG", tray_svg.name, "fabserver load_design", lambda: load_design(data[tray_svg])),
        ("SVG", tray_svg.name, "svgelements parse + 16 points/shape", svg_reference),
        ("DXF", biggest_dxf.name, "fabserver load_design", lambda: load_design(data[biggest_dxf])),
        ("DXF", biggest_dxf.name, "ezdxf.readfile", lambda: ezdxf.readfile(biggest_dxf)),
        (
            "chain",
            "20k segments",
            "chain_paths into 200 closed loops",
            lambda: chain_paths(segments, 0.01),
        ),
    ]
    header = f"{'format':6} {'file':18} {'what':38} {'best ms':>9} {'median ms':>10}"
    print(f"{args.repeats} repeats after one warm-up; file sizes:", end=" ")
    print(", ".join(f"{p.name} {len(b) / 1e6:.2f} MB" for p, b in data.items()))
    print(header)
    print("-" * len(header))
    for fmt, name, what, run in rows:
        try:
            best, median = timed(run, args.repeats)
        except Exception as exc:  # a reference tool missing a dependency
            print(f"{fmt:6} {name[:18]:18} {what:38} {'n/a':>9} {type(exc).__name__}")
            continue
        print(f"{fmt:6} {name[:18]:18} {what:38} {best:9.1f} {median:10.1f}")


if __name__ == "__main__":
    main()
