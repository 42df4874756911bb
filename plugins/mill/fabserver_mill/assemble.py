"""Cuts in order → one :class:`~fabserver.toolpath.Toolpath`, with links, retracts and tool changes.

Between two cuts the tool stays down and feeds straight across when the cuts
share a link area (a pocket's tool-centre region: anywhere in it the tool only
removes pocket material); otherwise it lifts to safe Z, travels, comes down
fast to just above the material and enters at the plunge rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from shapely.geometry import LineString

from fabserver.profiles import MachineProfile
from fabserver.toolpath import EventKind, MoveKind, ToolpathBuilder

from .passes import apply_tabs, open_pass, ring_pass
from .settings import CuttingData, MachineSettings, MaterialSettings, Tool

_EPS = 1e-6


@dataclass(frozen=True)
class Tabs:
    """Holding tabs: span starts along the ring, span length and the top of the tab (z)."""

    starts: np.ndarray
    span: float
    top: float


@dataclass
class Cut:
    """One piece of work with one tool: a 2D tool-centre path cut at one or more depths.

    path : (n, 2) float, millimetres (a closed ring does not repeat its first point);
        or (n, 3) for a path whose heights are already known (3D finishing)
    levels : (k,) float, depths in cutting order, below ``z_top`` (material top here)
    """

    path: np.ndarray
    closed: bool
    z_top: float
    levels: np.ndarray
    role: str
    tool: str
    work: MoveKind = MoveKind.CUT
    tabs: Tabs | None = None
    link_group: int | None = None
    link_area: object | None = None  # shapely geometry, prepared
    ramp_angle: float = 0.0
    stage: int = 0  # operation rank: copies are interleaved within a stage

    def translated(self, dx: float, dy: float, group_shift: int = 0) -> Cut:
        area = self.link_area
        if area is not None:
            area = shapely.transform(area, lambda p: p + np.array([dx, dy]))
            shapely.prepare(area)
        return Cut(
            self.path + np.array([dx, dy]),
            self.closed,
            self.z_top,
            self.levels,
            self.role,
            self.tool,
            self.work,
            self.tabs,
            None if self.link_group is None else self.link_group + group_shift,
            area,
            self.ramp_angle,
            self.stage,
        )


@dataclass(frozen=True)
class ToolUse:
    """A tool mounted before move ``index``, turning at ``rpm``."""

    index: int
    tool_id: str
    tool: Tool
    rpm: float


@dataclass
class Machine:
    """What the assembler needs of the machine and the cutting data."""

    safe_z: float
    clearance: float
    travel_feed: float  # mm/s
    tools: dict[str, Tool]
    cutting: dict[str, CuttingData]
    spin_up: float = 0.0  # s
    spindle_max: float = float("inf")  # rpm

    @classmethod
    def from_profiles(
        cls, machine: MachineProfile, ms: MachineSettings, mat: MaterialSettings
    ) -> Machine:
        return cls(
            safe_z=ms.safe_z,
            clearance=ms.clearance,
            travel_feed=machine.kinematics.travel_feed,
            tools=ms.tools,
            cutting=mat.cutting,
            spin_up=ms.spin_up,
            spindle_max=ms.spindle_max_rpm,
        )


@dataclass
class Assembly:
    builder: ToolpathBuilder
    tool_uses: list[ToolUse] = field(default_factory=list)


def pass_points(cut: Cut, z_start: float) -> np.ndarray:
    """The cut's 3D polyline when the tool arrives at its start at ``z_start``."""
    if cut.path.shape[1] == 3:  # already 3D (finishing): go down to its first point
        return np.vstack([[*cut.path[0, :2], z_start], cut.path])
    levels = cut.levels[cut.levels < z_start - _EPS]
    if len(levels) == 0:
        levels = np.array([z_start])
    if cut.closed:
        pts, s, length = ring_pass(cut.path, z_start, levels, cut.ramp_angle)
        if cut.tabs is not None:
            pts = apply_tabs(pts, s, length, cut.tabs.starts, cut.tabs.span, cut.tabs.top)
        return pts
    return open_pass(cut.path, z_start, levels, cut.ramp_angle)


def _dedupe(points: np.ndarray) -> np.ndarray:
    keep = np.concatenate([[True], np.any(np.abs(np.diff(points, axis=0)) > 1e-9, axis=1)])
    return points[keep]


def assemble(cuts: list[Cut], machine: Machine, start_xy=(0.0, 0.0)) -> Assembly:
    """Order is given; this adds the moves between cuts and the tool changes."""
    b = ToolpathBuilder(start=(start_xy[0], start_xy[1], machine.safe_z))
    out = Assembly(b)
    current_tool: str | None = None
    last: Cut | None = None
    travel = machine.travel_feed
    for cut in cuts:
        data = machine.cutting[cut.tool]
        feed, plunge = data.feed / 60.0, data.plunge / 60.0
        if cut.closed and cut.tabs is None and cut.path.shape[1] == 2:
            cut = _start_near(cut, b.position[:2])
        first = cut.path[0, :2]
        if cut.tool != current_tool:
            if b.position[2] < machine.safe_z - _EPS:
                b.move_to(z=machine.safe_z, feed=travel)
            tool = machine.tools[cut.tool]
            b.event(EventKind.TOOL_CHANGE, note=f"{cut.tool}: {tool.describe().en}")
            rpm = min(data.spindle, machine.spindle_max)
            out.tool_uses.append(ToolUse(len(b), cut.tool, tool, rpm))
            if machine.spin_up > 0:
                b.event(EventKind.DWELL, machine.spin_up, note="spindle")
            current_tool = cut.tool
            last = None
        pos = b.position
        linked = (
            last is not None
            and cut.link_group is not None
            and cut.link_group == last.link_group
            and pos[2] >= cut.levels[-1] - _EPS
            and pos[2] <= cut.z_top + _EPS
            and cut.link_area is not None
            and (np.allclose(pos[:2], first) or cut.link_area.covers(LineString([pos[:2], first])))
        )
        if linked:
            z_start = float(pos[2])
            if not np.allclose(pos[:2], first):
                b.add_path(np.array([[*first, z_start]]), MoveKind.CUT, feed, role=cut.role)
        else:
            if pos[2] < machine.safe_z - _EPS:
                b.move_to(z=machine.safe_z, feed=travel)
            b.move_to(first[0], first[1], feed=travel)
            approach = cut.z_top + machine.clearance
            if approach < machine.safe_z - _EPS:
                b.move_to(z=approach, feed=travel)
            b.add_path(np.array([[*first, cut.z_top]]), MoveKind.PLUNGE, plunge, role=cut.role)
            z_start = cut.z_top
        pts = _dedupe(pass_points(cut, z_start))[1:]
        if len(pts):
            _add_work(b, pts, cut, feed, plunge)
        last = cut
    if len(b) and b.position[2] < machine.safe_z - _EPS:
        b.move_to(z=machine.safe_z, feed=travel)
    return out


def _start_near(cut: Cut, xy: np.ndarray) -> Cut:
    """The same ring started at its vertex nearest ``xy`` (shorter links and travels)."""
    i = int(np.argmin(np.einsum("ij,ij->i", cut.path - xy, cut.path - xy)))
    if i == 0:
        return cut
    return replace(cut, path=np.roll(cut.path, -i, axis=0))


def _add_work(b: ToolpathBuilder, pts: np.ndarray, cut: Cut, feed: float, plunge: float) -> None:
    """Append a pass, splitting it into runs of descending (plunge) and level moves."""
    prev_z = np.concatenate([[b.position[2]], pts[:-1, 2]])
    down = pts[:, 2] < prev_z - 1e-9
    breaks = np.flatnonzero(np.diff(down.astype(np.int8))) + 1
    for run in np.split(np.arange(len(pts)), breaks):
        if down[run[0]]:
            b.add_path(pts[run], MoveKind.PLUNGE, plunge, role=cut.role)
        else:
            b.add_path(pts[run], cut.work, feed, role=cut.role)
