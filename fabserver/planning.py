"""Run one plugin on one design: plan, estimate, verdict, files.

This is what the CLI's ``plan`` and the queue's worker both call, so a job
planned at the counter and one planned offline give the same result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .designs.loader import design_kind, load_design
from .designs.types import Design
from .errors import PlanError
from .estimate import Estimate, estimate_plan
from .i18n import Text
from .plugin import MachinePlugin, Plan, PlanInput, Progress, no_progress, resolve_options
from .policy import Verdict, decide
from .preview import RenderedPreview, render
from .profiles import MachineProfile, MaterialProfile, Policy

if TYPE_CHECKING:  # annotations only: the corrections and the offcuts are the job server's
    from .designs.ahead import DesignAhead
    from .learning import Correction
    from .stock import Piece, Placement

_DESIGN_KIND_WORDS = {
    "mesh": Text("un modèle 3D (STL, 3MF, OBJ)", "a 3D model (STL, 3MF, OBJ)"),
    "drawing": Text("un dessin 2D (SVG, DXF)", "a 2D drawing (SVG, DXF)"),
    "gcode": Text("un G-code déjà tranché (.gcode)", "a G-code already sliced (.gcode)"),
}


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    estimate: Estimate
    verdict: Verdict
    options: dict[str, Any]
    stock: Placement | None = None  # the offcut the parts go on, when one takes them
    preview: RenderedPreview | None = None  # None when run_plan was asked not to draw

    @property
    def warnings(self) -> tuple[Text, ...]:
        if self.stock is not None:
            return (self.stock.instructions, *self.plan.warnings)
        return self.plan.warnings


def check_accepts(plugin: MachinePlugin, machine: MachineProfile, kind: str) -> None:
    """Refuse a kind of design the machine does not take (also before loading the file)."""
    if kind not in plugin.accepts:
        takes = [_DESIGN_KIND_WORDS[k] for k in sorted(plugin.accepts)]
        raise PlanError(
            Text(
                f"La machine « {machine.name.fr} » ne prend pas ce type de fichier : "
                f"elle prend {' ou '.join(t.fr for t in takes)}.",
                f"Machine '{machine.name.en}' does not take this kind of file: "
                f"it takes {' or '.join(t.en for t in takes)}.",
            )
        )


def load_accepted(
    data: bytes,
    name: str,
    plugin: MachinePlugin,
    machine: MachineProfile,
    ahead: DesignAhead | None = None,
) -> Design:
    """The design in ``data``, or the machine's refusal of its kind before it is parsed.

    The kind is known from the first bytes (:func:`design_kind`): a DXF sent to a
    printer is refused at once rather than after seconds of parsing. The CLI and
    the planning processes both load designs through here. ``ahead``: the same
    design, its reading begun earlier (:class:`~fabserver.designs.ahead.DesignAhead`).
    """
    kind = design_kind(data)
    if kind is not None:
        check_accepts(plugin, machine, kind)
    return ahead.result() if ahead is not None else load_design(data, name)


def run_plan(
    plugin: MachinePlugin,
    design: Design,
    machine: MachineProfile,
    material: MaterialProfile,
    options: Mapping[str, Any],
    policy: Policy,
    materials: Mapping[str, MaterialProfile] | None = None,
    progress: Progress = no_progress,
    correction: Correction | None = None,
    offcuts: Sequence[Piece] = (),
    earlier_prototypes: int | None = None,
    draw: bool = True,
) -> PlanResult:
    """Check the combination, resolve the options, plan, estimate, decide and (``draw``)
    render the preview.

    ``offcuts`` are the stored pieces the parts may go on instead of a sheet (see
    :mod:`fabserver.stock`); ``earlier_prototypes`` the maker's recent free
    prototypes, for the policy's per-maker limit (``None``: no maker, no such
    limit); ``correction`` is learnt from the lab's finished jobs
    (``fabserver.learning``), and the verdict is decided on the corrected time. The
    caller reads all three from the database; this function does not.
    """
    check_accepts(plugin, machine, design.kind)
    if not material.fits(machine):
        raise PlanError(
            Text(
                f"Le matériau « {material.name.fr} » ne va pas sur « {machine.name.fr} ».",
                f"Material '{material.name.en}' cannot be used on '{machine.name.en}'.",
            )
        )
    resolved = resolve_options(plugin.option_schema(), options)
    plan = plugin.plan(PlanInput(design, machine, material, resolved, progress))
    _check_outputs(plugin, plan)
    lookup = dict(materials or {})
    lookup.setdefault(material.id, material)
    estimate = estimate_plan(plan, machine, lookup).corrected(correction)
    placement = None
    if offcuts:  # the offcut search is imported only when there are offcuts to try
        from .stock import plan_on_offcut

        estimate, placement = plan_on_offcut(plan.toolpath, plan.runs, estimate, material, offcuts)
    verdict = decide(estimate, int(resolved["copies"]), policy, plugin.id, earlier_prototypes)
    preview = render(plan.preview, plan.toolpath, plugin.roles) if draw else None
    return PlanResult(plan, estimate, verdict, resolved, stock=placement, preview=preview)


def _check_outputs(plugin: MachinePlugin, plan: Plan) -> None:
    """Each file a plan writes is of a format its plugin declares (``formats``)."""
    for output in plan.outputs:
        if not any(
            output.media_type == f.media_type and output.suffix.endswith(f.suffix)
            for f in plugin.formats
        ):
            declared = ", ".join(f.suffix for f in plugin.formats)
            raise PlanError(
                Text(
                    f"Le module « {plugin.id} » a produit un fichier {output.suffix} "
                    f"({output.media_type}) qu'il ne déclare pas ({declared}) : "
                    "signalez-le à l'équipe du fablab.",
                    f"Plugin '{plugin.id}' produced a {output.suffix} file "
                    f"({output.media_type}) it does not declare ({declared}): "
                    "please tell the fablab staff.",
                )
            )


def write_outputs(plan: Plan, main_path: Path) -> list[Path]:
    """Write the plan's files: the main one at ``main_path``, others beside it.

    Files are written to a temporary name and renamed, so a reader never sees
    half a file.
    """
    main_path = Path(main_path)
    written = []
    for output in plan.outputs:
        if output.main:
            path = main_path
        else:
            path = main_path.with_name(main_path.stem + output.suffix)
            if path == main_path:
                path = main_path.with_name(main_path.stem + "-extra" + output.suffix)
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as f:
            output.write(f)
        tmp.replace(path)
        written.append(path)
    return written
