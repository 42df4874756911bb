"""The milling machine plugin: 2.5D from drawings, 3D from meshes, G-code and RML-1."""

from __future__ import annotations

from fabserver.designs.types import Drawing, Mesh
from fabserver.errors import PlanError
from fabserver.i18n import Text
from fabserver.operations import OperationMap
from fabserver.plugin import MachinePlugin, Option, Plan, PlanInput
from fabserver.profiles import MachineProfile

from .outputs import GCODE, RML, MillJob
from .plan2d import plan_drawing_job
from .preview import ROLES
from .regions import operation_map
from .settings import OPERATIONS, MachineSettings, MaterialSettings, machine_settings

_OP_CHOICES = ("auto", *OPERATIONS, "ignore")
_OP_LABELS = {
    "auto": Text("automatique", "automatic"),
    "engrave": Text("graver", "engrave"),
    "pocket": Text("poche", "pocket"),
    "inside": Text("découpe intérieure", "cut inside"),
    "outside": Text("découpe extérieure", "cut outside"),
    "ignore": Text("ignorer", "ignore"),
}


def _opt(name, type_, default, fr, en, help_fr="", help_en="", **kw) -> Option:
    return Option(name, type_, default, Text(fr, en), Text(help_fr, help_en), **kw)


OPTIONS = (
    _opt(
        "operation_map",
        "str",
        "",
        "Opérations par couleur ou calque",
        "Operations by colour or layer",
        "Remplace celles du profil, par ex. « #ff0000=pocket:2.5, layer:TROUS=inside ». "
        "Opérations : outside, inside, pocket, engrave, ignore ; « :profondeur » en mm.",
        "Overrides the profile's, e.g. '#ff0000=pocket:2.5, layer:HOLES=inside'. "
        "Operations: outside, inside, pocket, engrave, ignore; ':depth' in mm.",
    ),
    Option.choice(
        "unassigned",
        "auto",
        Text("Tracés sans opération", "Paths without an operation"),
        {c: _OP_LABELS[c] for c in _OP_CHOICES},
        help=Text(
            "Automatique : contours fermés découpés (trous à l'intérieur), tracés ouverts gravés.",
            "Automatic: closed outlines cut out (holes inside them), open paths engraved.",
        ),
    ),
    _opt(
        "tool",
        "str",
        "",
        "Outil de coupe (2D)",
        "Cutting tool (2D)",
        "Vide : celui du profil (par ex. flat-2).",
        "Empty: the profile's (e.g. flat-2).",
        advanced=True,
    ),
    _opt(
        "engrave_tool",
        "str",
        "",
        "Outil de gravure",
        "Engraving tool",
        "Vide : celui du profil (par ex. vbit-60).",
        "Empty: the profile's (e.g. vbit-60).",
        advanced=True,
    ),
    _opt(
        "cut_depth",
        "float",
        0.0,
        "Profondeur des contours",
        "Profile depth",
        "0 : toute l'épaisseur du brut.",
        "0: through the stock.",
        unit="mm",
        min=0,
        max=60,
    ),
    _opt(
        "pocket_depth",
        "float",
        0.0,
        "Profondeur des poches",
        "Pocket depth",
        "0 : celle du profil machine.",
        "0: the machine profile's.",
        unit="mm",
        min=0,
        max=60,
    ),
    _opt(
        "engrave_depth",
        "float",
        0.0,
        "Profondeur de gravure",
        "Engraving depth",
        "0 : celle du profil machine.",
        "0: the machine profile's.",
        unit="mm",
        min=0,
        max=10,
    ),
    _opt(
        "tabs",
        "int",
        4,
        "Attaches par pièce",
        "Tabs per part",
        "Ponts de matière qui tiennent la pièce découpée.",
        "Bridges that hold a cut-out part.",
        min=0,
        max=20,
    ),
    _opt(
        "tab_width", "float", 4.0, "Largeur des attaches", "Tab width", unit="mm", min=0.5, max=30
    ),
    _opt(
        "tab_height", "float", 1.0, "Hauteur des attaches", "Tab height", unit="mm", min=0, max=20
    ),
    Option.choice(
        "direction",
        "climb",
        Text("Sens de coupe", "Cutting direction"),
        {
            "climb": Text("en avalant", "climb"),
            "conventional": Text("en opposition", "conventional"),
        },
        help=Text("En avalant ou en opposition.", "Climb or conventional milling."),
    ),
    Option.choice(
        "entry",
        "ramp",
        Text("Entrée dans la matière", "Entry into the material"),
        {"ramp": Text("en rampe", "ramp"), "plunge": Text("en plongée", "plunge")},
    ),
    _opt(
        "ramp_angle",
        "float",
        5.0,
        "Angle de rampe",
        "Ramp angle",
        unit="°",
        min=0.5,
        max=45,
        advanced=True,
    ),
    _opt(
        "stock_margin",
        "float",
        5.0,
        "Marge du brut",
        "Stock margin",
        "Matière autour de la pièce.",
        "Material around the part.",
        unit="mm",
        min=0,
        max=50,
    ),
    _opt(
        "resolution",
        "float",
        0.2,
        "Résolution 3D",
        "3D resolution",
        "Pas de la carte de hauteur.",
        "Height map grid step.",
        unit="mm",
        min=0.05,
        max=2,
        advanced=True,
    ),
    _opt(
        "allowance",
        "float",
        0.3,
        "Surépaisseur d'ébauche",
        "Roughing allowance",
        "Matière laissée pour la finition.",
        "Material left for finishing.",
        unit="mm",
        min=0,
        max=3,
        advanced=True,
    ),
    Option.choice(
        "strategy",
        "rough+finish",
        Text("Stratégie 3D", "3D strategy"),
        {
            "rough+finish": Text("ébauche et finition", "roughing and finishing"),
            "rough": Text("ébauche seule", "roughing only"),
            "finish": Text("finition seule", "finishing only"),
        },
    ),
    Option.choice(
        "orientation",
        "auto",
        Text("Orientation 3D", "3D orientation"),
        {"auto": Text("automatique", "automatic"), "as_is": Text("telle quelle", "as in the file")},
        help=Text(
            "Automatique : la face la plus accessible vers le haut ; telle quelle : Z du fichier "
            "vers le haut.",
            "Automatic: the most reachable side up; as in the file: the file's Z up.",
        ),
    ),
)


class MillPlugin(MachinePlugin):
    """Desktop mill: cut-outs, holes, pockets and engraving from drawings; reliefs from meshes."""

    id = "mill"
    name = Text("Fraiseuse", "Milling machine")
    accepts = frozenset({"mesh", "drawing"})
    material_kinds = frozenset({"stock"})
    roles = ROLES
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
            from .plan3d import plan_mesh  # 3D only: it brings trimesh (and scipy)

            return plan_mesh(design, job)
        raise PlanError(Text("Type de fichier non pris en charge.", "Unsupported design type."))
