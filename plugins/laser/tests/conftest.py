"""Fixtures of the laser plugin's tests: profiles, a planner, and a G-code reader.

The reader is written for the tests, independently of the writer: it follows
GRBL's modal state (motion mode, F, S, M4/M5) line by line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pytest

from fabserver.designs import load_design
from fabserver.planning import run_plan

_WORD = re.compile(r"([A-Z])([-+]?\d*\.?\d+)")


@dataclass
class GcodeMoves:
    """Moves read back from a program: ``start``/``end`` ``(n, 2)``, ``s``, ``feed``, ``rapid``."""

    start: np.ndarray
    end: np.ndarray
    s: np.ndarray
    feed: np.ndarray
    rapid: np.ndarray
    dynamic: np.ndarray  # M4 in force during the move
    air_assist_seen: bool
    laser_mode: str  # at the end of the program

    @property
    def beam_on(self) -> np.ndarray:
        return (~self.rapid) & (self.s > 0) & self.dynamic

    def runs(self, s_value: float) -> list[np.ndarray]:
        """Polylines of consecutive beam-on moves at power ``s_value``."""
        on = self.beam_on & np.isclose(self.s, s_value)
        out, current = [], None
        for i in range(len(on)):
            if on[i]:
                if current is None or not np.allclose(current[-1], self.start[i]):
                    if current is not None:
                        out.append(np.array(current))
                    current = [self.start[i]]
                current.append(self.end[i])
            elif current is not None:
                out.append(np.array(current))
                current = None
        if current is not None:
            out.append(np.array(current))
        return out


def read_gcode(text: str) -> GcodeMoves:
    x = y = 0.0
    s = f = 0.0
    motion = "G0"
    laser = "M5"
    air = False
    starts, ends, ss, fs, rapid, dynamic = [], [], [], [], [], []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip().upper()
        if not line:
            continue
        words = _WORD.findall(line.replace(" ", ""))
        nx, ny = x, y
        moved = False
        for letter, value in words:
            v = float(value)
            if letter == "G" and v in (0, 1):
                motion = f"G{int(v)}"
            elif letter == "M":
                if v in (3, 4, 5):
                    laser = f"M{int(v)}"
                elif v == 8:
                    air = True
            elif letter == "X":
                nx, moved = v, True
            elif letter == "Y":
                ny, moved = v, True
            elif letter == "S":
                s = v
            elif letter == "F":
                f = v
        if moved:
            starts.append((x, y))
            ends.append((nx, ny))
            ss.append(s if motion == "G1" else 0.0)
            fs.append(f)
            rapid.append(motion == "G0")
            dynamic.append(laser == "M4")
            x, y = nx, ny
    return GcodeMoves(
        np.array(starts).reshape(-1, 2),
        np.array(ends).reshape(-1, 2),
        np.array(ss),
        np.array(fs),
        np.array(rapid, dtype=bool),
        np.array(dynamic, dtype=bool),
        air,
        laser,
    )


@pytest.fixture(scope="session")
def laser_machine(profiles):
    return profiles.machine("laser")


@pytest.fixture(scope="session")
def plugin():
    from fabserver_laser import LaserPlugin

    return LaserPlugin()


@pytest.fixture(scope="session")
def plan_file(profiles, plugin, laser_machine):
    """Plan a design file on the laser: ``plan_file(path, material="mdf-3", **options)``."""

    def run(path, material="mdf-3", **options):
        design = load_design(path.read_bytes(), path.name)
        return design, run_plan(
            plugin,
            design,
            laser_machine,
            profiles.material(material),
            options,
            profiles.policy,
            profiles.materials,
        )

    return run


def output_text(plan, suffix: str) -> str:
    """The text of the output whose suffix is ``suffix`` (e.g. ``.gcode``, ``-sheet2.svg``)."""
    for out in plan.outputs:
        if out.suffix == suffix:
            buf = io.BytesIO()
            out.write(buf)
            return buf.getvalue().decode()
    raise KeyError(suffix)


@pytest.fixture(scope="session")
def gcode_of():
    """All sheets' programs of a plan, read back: ``[GcodeMoves]``."""

    def run(plan):
        sheets = plan.facts["sheets"]
        return [
            read_gcode(output_text(plan, ".gcode" if i == 0 else f"-sheet{i + 1}.gcode"))
            for i in range(sheets)
        ]

    return run
