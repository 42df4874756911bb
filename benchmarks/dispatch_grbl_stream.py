"""GRBL streaming: how fast the character-counting streamer feeds a controller.

Streams a raster-engraving-like file (many short lines) to the GRBL simulator of
the test suite on a pseudo-terminal, with GRBL taking no time per line, so the
streamer itself is the limit. A real GRBL at 115200 baud receives at most
~11 500 bytes/s; the streamer must stay well above that. Also reports how full
the 127-byte buffer was kept (character counting keeps it near full; send-and-
wait would hold one line). Not part of the test suite.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "dispatch"))
sys.path.insert(0, str(ROOT))

from grbl_simulator import GrblSimulator  # noqa: E402

from fabserver.dispatch.serial_grbl import SerialGrblConnector  # noqa: E402

SERIAL_BYTES_PER_S = 115200 / 10  # 8N1: ten bits per byte


def raster_job(path: Path, lines: int) -> None:
    rows = ["G21 G90", "M4 S0"]
    for i in range(lines):
        rows.append(f"G1 X{(i * 0.1) % 300:.2f} S{(i * 37) % 1000}")
    rows.append("M5")
    path.write_text("\n".join(rows) + "\n")


def main() -> None:
    print(
        f"{'lines':>8} {'bytes':>9} {'seconds':>8} {'lines/s':>9} {'bytes/s':>9} "
        f"{'x 115200 baud':>13} {'max buffer':>10}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for count in (2_000, 20_000):
            job = Path(folder) / f"raster-{count}.gcode"
            raster_job(job, count)
            sim = GrblSimulator(line_time=0.0)
            try:
                connector = SerialGrblConnector(
                    {"port": sim.port, "state_dir": str(Path(folder) / "state")}, "laser"
                )
                connector.check()
                start = time.perf_counter()
                stream = connector.stream(job, job.name)
                seconds = time.perf_counter() - start
            finally:
                sim.close()
            assert not sim.overflow and len(sim.executed) == len(stream.lines)
            rate = stream.total_bytes / seconds
            print(
                f"{len(stream.lines):>8} {stream.total_bytes:>9} {seconds:>8.2f} "
                f"{len(stream.lines) / seconds:>9.0f} {rate:>9.0f} "
                f"{rate / SERIAL_BYTES_PER_S:>13.1f} {sim.max_rx:>10}"
            )


if __name__ == "__main__":
    main()
