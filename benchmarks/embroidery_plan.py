"""Embroidery plugin: planning time and results on the samples and corpus drawings.

Run: .venv/bin/python benchmarks/embroidery_plan.py
Prints one row per design: stitches, colour changes, trims, planning time, the
estimated machine time (shared estimator, with colour changes, trims and
hooping) beside stitches ÷ stitch rate alone, and the density (stitches per cm² of sewn area, the
area being the stitch lines buffered by 0.2 mm), with Star.DST from the corpus
(a digitised file) as the reference for density.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import shapely
from fabserver_embroidery import EmbroideryPlugin
from fabserver_embroidery.readback import read_stitch_file

from fabserver.designs import load_design
from fabserver.errors import FabError
from fabserver.planning import run_plan
from fabserver.profiles import load_profiles
from fabserver.testing import CORPUS

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = [
    (ROOT / "samples" / "embroidery-ring.svg", None),
    (ROOT / "samples" / "embroidery-satin.svg", None),
    (ROOT / "samples" / "embroidery-logo.svg", None),
    (CORPUS / "svg" / "style_cascade_and_inheritance.svg", None),
    (CORPUS / "svg" / "logotype-a.svg", None),
    (CORPUS / "svg" / "ltr.svg", None),
    (CORPUS / "svg" / "ender2.svg", 95.0),
    (CORPUS / "svg" / "contour_Allura_Script.ttf_glyph_m.svg", 90.0),
    (CORPUS / "dxf" / "Tux-R2000.dxf", 170.0),
]


def scaled(drawing, longest):
    k = longest / drawing.size.max()
    low = drawing.bounds[0]
    return replace(
        drawing,
        paths=tuple(
            replace(p, points=(p.points - low) * k, stroke_width=p.stroke_width * k)
            for p in drawing.paths
        ),
    )


def density(read) -> float:
    seg = read.stitch_segments()
    area = shapely.union_all(shapely.buffer(shapely.linestrings(seg), 0.2)).area
    return read.is_stitch.sum() / (area / 100.0)


def main() -> None:
    profiles = load_profiles()
    machine = profiles.machine("embroidery")
    material = profiles.material("embroidery-polyester")
    plugin = EmbroideryPlugin()
    header = f"{'design':44} {'stitches':>8} {'colours':>7} {'trims':>5} {'plan s':>7} {'machine min':>11} {'rate min':>8} {'st/cm²':>7}"
    print(header)
    print("-" * len(header))
    for path, longest in DESIGNS:
        if not path.exists():
            print(f"{path.name:44} (missing)")
            continue
        drawing = load_design(path.read_bytes(), path.name)
        if longest:
            drawing = scaled(drawing, longest)
        times = []
        try:
            for _ in range(3):
                t0 = time.perf_counter()
                result = run_plan(
                    plugin, drawing, machine, material, {"copies": 1}, profiles.policy
                )
                times.append(time.perf_counter() - t0)
        except FabError as exc:
            print(f"{path.name:44} {exc.message.en}")
            continue
        buf = io.BytesIO()
        result.plan.outputs[0].write(buf)
        read = read_stitch_file(buf.getvalue(), result.plan.facts["format"])
        f = result.plan.facts
        label = path.name + (f" @{longest:g} mm" if longest else "")
        print(
            f"{label[:44]:44} {f['stitches']:8d} {f['colour_changes'] + 1:7d} {f['trims']:5d} "
            f"{np.median(times):7.3f} {result.estimate.machine_time_s / 60:11.1f} "
            f"{f['stitch_rate_time_s'] / 60:8.1f} {density(read):7.0f}"
        )
    star = CORPUS / "embroidery" / "Star.DST"
    if star.exists():
        read = read_stitch_file(star.read_bytes(), "dst")
        print(
            f"{'Star.DST (reference, digitised)':44} {read.is_stitch.sum():8d} "
            f"{read.colour_changes + 1:7d} {'':5} {'':7} {'':11} {'':8} {density(read):7.0f}"
        )


if __name__ == "__main__":
    main()
