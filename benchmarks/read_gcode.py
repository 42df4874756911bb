"""Time the core G-code reader on a large file, against PrusaSlicer's own size of output.

    .venv/bin/python benchmarks/read_gcode.py [--megabytes 100] [--repeats 3]

The file is PrusaSlicer's G-code of the bracket sample at 0.1 mm, repeated
until it reaches the size asked (a 100 MB upload is the default limit): what is
timed is reading every line into a Toolpath (moves, layers, roles, events), the
work an upload pays before its preview and estimate. Also printed: the
reader's peak memory, and a line-by-line Python reader's time on the first
10 MB (fabserver_fdm.readback, regular expressions per line) for scale.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from fabserver.designs.gcode import load_gcode
from fabserver.testing import SAMPLES


def sample_gcode(workdir: Path) -> bytes:
    binary = shutil.which("prusa-slicer")
    if binary is None:
        raise SystemExit("prusa-slicer is not installed (scripts/system-deps.sh)")
    ini = workdir / "config.ini"
    ini.write_text(
        "bed_shape = 0x0,250x0,250x210,0x210\nuse_relative_e_distances = 1\n"
        "gcode_flavor = marlin2\nlayer_gcode = G92 E0\nlayer_height = 0.1\n"
    )
    out = workdir / "bracket.gcode"
    subprocess.run(
        [binary, "--export-gcode", "--load", str(ini), "--duplicate", "4", "-o", str(out),
         str(SAMPLES / "fdm-bracket.stl")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = sample_gcode(Path(tmp))
    data = one * max(1, round(args.megabytes * 1e6 / len(one)))
    lines = data.count(b"\n")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        design = load_gcode(data)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tp = design.toolpath
    print(
        f"file: {len(data) / 1e6:.1f} MB, {lines:,} lines, {len(tp):,} moves, {tp.n_layers} layers"
    )
    print(f"core reader: best {min(times):.2f} s, worst {max(times):.2f} s "
          f"({len(data) / 1e6 / min(times):.1f} MB/s); peak memory {peak:.0f} MB")  # fmt: skip

    from fabserver_fdm.readback import read_gcode as line_by_line

    head = data[:10_000_000].decode()
    start = time.perf_counter()
    line_by_line(head, from_first_layer=False)
    per_mb = (time.perf_counter() - start) / 10.0
    print(f"line-by-line Python reader: {per_mb:.2f} s/MB (≈ {per_mb * len(data) / 1e6:.0f} s "
          "for the whole file, positions and E only)")  # fmt: skip


if __name__ == "__main__":
    main()
