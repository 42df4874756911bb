"""Checks that the stock and every move fit the machine: a bug must never reach the machine."""

from __future__ import annotations

from fabserver.errors import PlanError
from fabserver.profiles import MachineProfile
from fabserver.toolpath import Toolpath

from . import messages
from .settings import MachineSettings


def too_big(sx: float, sy: float, machine: MachineProfile) -> PlanError:
    return PlanError(messages.too_big(sx, sy, machine.work_area.x, machine.work_area.y))


def check_height(machine: MachineProfile, ms: MachineSettings, thickness: float) -> None:
    if thickness + ms.safe_z > machine.work_area.z:
        raise PlanError(messages.too_tall(thickness, machine.work_area.z, ms.safe_z))


def check_work_area(
    tp: Toolpath, machine: MachineProfile, ms: MachineSettings, sx: float, sy: float
) -> None:
    """Every move inside the machine's travel (a bug here must never reach the machine).

    Z is measured from the stock's top: the machine has ``work_area.z`` of travel,
    ``safe_z`` of it above the stock.
    """
    lo, hi = tp.bounds
    if (
        (lo[:2] < -1e-6).any()
        or hi[0] > machine.work_area.x + 1e-6
        or hi[1] > machine.work_area.y + 1e-6
        or hi[2] > ms.safe_z + 1e-6
        or lo[2] < -(machine.work_area.z - ms.safe_z) - 1e-6
    ):
        raise PlanError(
            messages.LEAVES_WORK_AREA,
            detail=f"toolpath bounds {lo} {hi}, stock {sx} x {sy}",
        )
