"""The milling machine plugin: 2.5D from drawings, 3D from meshes, G-code and RML-1."""

from __future__ import annotations

from fabserver.designs.types import Drawing, Mesh
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import OperationMap
from fabserver.plugin import MachinePlugin, Plan, PlanInput, options_from_toml, roles_from_toml
from fabserver.profiles import MachineProfile

from .outputs import GCODE, RML, MillJob
from .plan2d import plan_drawing_job
from .regions import operation_map
from .settings import MachineSettings, MaterialSettings, machine_settings

OPTIONS = options_from_toml(__package__)


class MillPlugin(MachinePlugin):
    """Desktop mill: cut-outs, holes, pockets and engraving from drawings; reliefs from meshes."""

    id = "mill"
    name = Text("Fraiseuse", "Milling machine")
    accepts = frozenset({"mesh", "drawing"})
    material_kinds = frozenset({"stock"})
    roles = roles_from_toml(__package__)
    formats = (GCODE, RML)
    options = OPTIONS
    operations_option = "operation_map"
    machine_settings = MachineSettings
    material_settings = MaterialSettings

    def operation_map(self, machine: MachineProfile, job_map: str = "") -> OperationMap:
        ms = machine_settings(machine.settings)
        return operation_map(ms.colour_map, ms.layer_map, job_map)

    def check_machine(self, machine: MachineProfile) -> None:
        super().check_machine(machine)
        if machine_settings(machine.settings).safe_z >= machine.work_area.z:
            raise ValueError("settings.safe_z: higher than the work area")

    def plan(self, request: PlanInput) -> Plan:
        job, design = MillJob.of(request), request.design
        if isinstance(design, Drawing):
            return plan_drawing_job(design, job)
        if isinstance(design, Mesh):
            from .plan3d import plan_mesh  # 3D only

            return plan_mesh(design, job)
        raise PlanError(Text("Type de fichier non pris en charge.", "Unsupported design type."))
