"""What makers, staff and the API can do to jobs: one function per action.

Pages and API endpoints are thin adapters over these, so the rules (and the
audit trail) are the same whichever door a request comes through.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import FabError
from ..i18n import Text
from ..lab import stockroom
from ..lab.history import contact_keys
from ..plugin import OptionError, resolve_options
from ..policy import Verdict, override
from ..profiles import MachineProfile, MaterialProfile, machine_from_snapshot
from ..store.models import AuditEvent, Design, Job, utcnow
from . import learning
from .context import Runtime
from .states import InvalidTransition, record, transition

VERDICT_KINDS = ("prototype", "series")
SYSTEM_ACTORS = ("system", "worker")  # audit actors that are not a person


class ActionError(FabError):
    """A request that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Maker:
    name: str
    email: str = ""
    phone: str = ""
    locale: str = "fr"


def charged_material(estimate: dict[str, Any] | None) -> dict[str, Any] | None:
    """The estimate's material line that is paid for (grams of filament, sheets…), the one
    staff weigh or count when a job is done; the first line when none is priced."""
    lines = (estimate or {}).get("materials") or []
    return next((line for line in lines if line.get("cost_eur") is not None), None) or (
        lines[0] if lines else None
    )


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_maker(maker: Maker) -> None:
    if not maker.name.strip():
        raise ActionError(Text("Indiquez votre nom.", "Please give your name."))
    if not (maker.email.strip() or maker.phone.strip()):
        raise ActionError(
            Text(
                "Indiquez un e-mail ou un téléphone pour que l'équipe puisse vous joindre.",
                "Give an e-mail or a phone number so the staff can reach you.",
            )
        )
    if maker.email.strip() and not _EMAIL.fullmatch(maker.email.strip()):
        raise ActionError(
            Text(
                f"L'adresse e-mail « {maker.email.strip()} » semble incomplète.",
                f"The e-mail address '{maker.email.strip()}' looks incomplete.",
            )
        )


def machine_choice(
    runtime: Runtime, design_kind: str | None, machine_id: str, material_id: str
) -> tuple[MachineProfile, MaterialProfile]:
    """The machine and material a maker chose, re-checked on the server."""
    profiles = runtime.profiles
    machine = profiles.machines.get(machine_id)
    if machine is None or machine.plugin not in runtime.registry.plugins:
        raise ActionError(Text("Choisissez une machine.", "Please choose a machine."))
    plugin = runtime.registry.plugins[machine.plugin]
    if design_kind is not None and design_kind not in plugin.accepts:
        fits = [m.name for m in profiles.machines.values() if _accepts(runtime, m, design_kind)]
        raise ActionError(
            Text(
                f"« {machine.name.fr} » ne prend pas ce type de fichier. "
                f"Machines possibles : {', '.join(n.fr for n in fits) or 'aucune'}.",
                f"'{machine.name.en}' does not take this kind of file. "
                f"Machines that do: {', '.join(n.en for n in fits) or 'none'}.",
            )
        )
    material = profiles.materials.get(material_id)
    if material is None or not material.fits(machine):
        names = [m.name for m in profiles.materials_for(machine)]
        raise ActionError(
            Text(
                f"Choisissez un matériau pour « {machine.name.fr} » : "
                f"{', '.join(n.fr for n in names)}.",
                f"Choose a material for '{machine.name.en}': {', '.join(n.en for n in names)}.",
            )
        )
    return machine, profiles.priced_for(material, machine.site)


def _accepts(runtime: Runtime, machine: MachineProfile, kind: str) -> bool:
    plugin = runtime.registry.plugins.get(machine.plugin)
    return plugin is not None and kind in plugin.accepts


def machines_for_kind(runtime: Runtime, kind: str | None = None) -> list[MachineProfile]:
    """Machines whose plugin is installed (and accepts ``kind`` when given)."""
    return [
        m
        for m in runtime.profiles.machines.values()
        if m.plugin in runtime.registry.plugins
        and (kind is None or kind in runtime.registry.plugins[m.plugin].accepts)
    ]


def parse_options(
    runtime: Runtime, machine: MachineProfile, given: dict[str, Any]
) -> dict[str, Any]:
    """The plugin's options (without copies) from raw form or JSON values, checked."""
    plugin = runtime.registry.get(machine.plugin)
    schema = [o for o in plugin.option_schema() if o.name != "copies"]
    known = {o.name for o in schema}
    try:
        values = resolve_options(schema, {k: v for k, v in given.items() if k in known})
    except OptionError as exc:
        raise ActionError(exc.message) from None
    unknown = sorted(set(given) - known - {"copies"})
    if unknown:
        raise ActionError(
            Text(
                f"Option inconnue : {', '.join(unknown)}.", f"Unknown option: {', '.join(unknown)}."
            )
        )
    return values


def parse_copies(value: Any) -> int:
    from ..plugin import COPIES

    try:
        return int(COPIES.parse(value))
    except OptionError as exc:
        raise ActionError(exc.message) from None


def new_job_fields(maker: Maker) -> dict[str, Any]:
    """The columns of a new, queued job that come from its maker, and its fresh secrets
    (the token of the maker's link, the key that makes a resend land on the same file)."""
    return {
        "token": secrets.token_urlsafe(24),
        "state": "queued",
        "maker_name": maker.name.strip()[:200],
        "maker_email": maker.email.strip()[:200],
        "maker_phone": maker.phone.strip()[:50],
        "maker_locale": maker.locale if maker.locale in ("fr", "en") else "fr",
        **contact_keys(maker.email, maker.phone),
        "consent_at": utcnow(),
        "dispatch_key": uuid.uuid4().hex,
    }


def submit(
    runtime: Runtime,
    design: Design,
    machine_id: str,
    material_id: str,
    copies: Any,
    options: dict[str, Any],
    maker: Maker,
) -> Job:
    """Create a queued job for a stored design and queue its planning."""
    check_maker(maker)
    machine, material = machine_choice(runtime, design.kind, machine_id, material_id)
    values = parse_options(runtime, machine, options)
    job = Job(
        design_id=design.id,
        plugin=machine.plugin,
        machine_id=machine.id,
        site=machine.site,
        machine_snapshot=machine.snapshot(),
        material_id=material.id,
        material_snapshot=material.snapshot(),
        options=values,
        copies=parse_copies(copies),
        **new_job_fields(maker),
    )
    with runtime.db.session() as s:
        s.add(job)
        s.flush()
        s.add(
            AuditEvent(
                job_id=job.id,
                actor="maker",
                action="transition",
                to_state="queued",
                reason="upload",
            )
        )
    runtime.enqueue_plan(job.id)
    return job


def approve(runtime: Runtime, job_id: int, actor: str, note: str = "") -> None:
    with runtime.db.session() as s:
        transition(s, job_id, "approved", actor=actor, reason=note, expected=("review",))
    runtime.enqueue_mail(job_id, "approved")


def reject(runtime: Runtime, job_id: int, actor: str, reason: str) -> None:
    if not reason.strip():
        raise ActionError(
            Text(
                "Donnez la raison du refus au demandeur.",
                "Give the maker the reason for rejecting.",
            )
        )
    with runtime.db.session() as s:
        transition(
            s,
            job_id,
            "rejected",
            actor=actor,
            reason=reason.strip(),
            rejection_reason=reason.strip(),
        )
    runtime.enqueue_mail(job_id, "rejected")


def note_to_maker(runtime: Runtime, job_id: int, actor: str, note: str) -> None:
    """A message from the staff to the maker: kept in the job's history and e-mailed."""
    if not note.strip():
        raise ActionError(Text("Écrivez le message.", "Write the message."))
    with runtime.db.session() as s:
        if s.get(Job, job_id) is None:
            raise LookupError(job_id)
        record(s, job_id, "maker-note", actor=actor, reason=note.strip())
    runtime.enqueue_mail(job_id, "note", note.strip())


def override_verdict(runtime: Runtime, job_id: int, actor: str, kind: str, note: str) -> None:
    if kind not in VERDICT_KINDS:
        raise ActionError(Text("Verdict inconnu.", "Unknown verdict."))
    if not note.strip():
        raise ActionError(
            Text("Expliquez la décision en une note.", "Explain the decision in a note.")
        )
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(job_id)
        if job.verdict is None or job.state not in ("review", "approved"):
            raise InvalidTransition(job_id, job.state, "override")
        computed = Verdict(job.verdict["kind"], tuple(map(Text.from_dict, job.verdict["reasons"])))
        job.verdict_override = override(computed, kind, actor, note.strip()).to_dict()
        record(s, job_id, "override", actor=actor, reason=note.strip(), data={"kind": kind})


def replan(
    runtime: Runtime,
    job_id: int,
    actor: str,
    options: dict[str, Any] | None = None,
    copies: Any = None,
    material_id: str | None = None,
) -> None:
    """Plan again with other options (same machine snapshot); results replace the old ones."""
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(job_id)
        machine = machine_from_snapshot(job.machine_snapshot)
        values = dict(job.options)
        if options:
            if job.plugin not in runtime.registry.plugins:
                raise ActionError(Text("Machine indisponible.", "Machine not available."))
            values = parse_options(runtime, machine, {**job.options, **options})
        fields: dict[str, Any] = {"options": values, "progress": 0.0, "stage": ""}
        if copies not in (None, ""):
            fields["copies"] = parse_copies(copies)
        if material_id and material_id != job.material_id:
            _, material = machine_choice(runtime, None, job.machine_id, material_id)
            fields.update(material_id=material.id, material_snapshot=material.snapshot())
        transition(
            s, job_id, "queued", actor=actor, reason="re-plan", data={"options": values}, **fields
        )
    runtime.enqueue_plan(job_id)


def request_dispatch(runtime: Runtime, job_id: int, actor: str) -> None:
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            raise LookupError(job_id)
        if job.state != "approved":
            raise InvalidTransition(job_id, job.state, "dispatched")
        record(s, job_id, "dispatch-requested", actor=actor)
    runtime.enqueue_dispatch(job_id)


def mark_done(
    runtime: Runtime,
    job_id: int,
    actor: str,
    actual_time_min: Any,
    actual_material: Any = None,
    note: str = "",
    keep_offcut: bool = False,
) -> None:
    """Record what really happened, so the lab sees how far estimates are from reality.

    A job planned on an offcut uses that piece up; with ``keep_offcut`` what is left
    of it goes back to the stock as a new offcut.

    When the machine's host already reported the time (``actual_source`` set after the
    print), staff may leave it empty; what they type replaces it (source "staff").
    """
    typed = actual_time_min not in (None, "")
    try:
        minutes = float(str(actual_time_min).replace(",", ".")) if typed else None
        material = (
            None if actual_material in (None, "") else float(str(actual_material).replace(",", "."))
        )
    except ValueError:
        raise ActionError(
            Text("Temps ou matière illisible.", "Cannot read the time or the material.")
        ) from None
    if (minutes is not None and minutes < 0) or (material is not None and material < 0):
        raise ActionError(Text("Valeurs négatives refusées.", "Negative values are refused."))
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        line = charged_material(job.estimate) if job is not None else None
        fields: dict[str, Any] = {}
        if minutes is not None:
            fields.update(actual_time_s=minutes * 60.0, actual_source="staff")
        elif job is None or job.actual_time_s is None:
            raise ActionError(
                Text(
                    "Indiquez le temps machine réel : la machine ne l'a pas transmis.",
                    "Give the actual machine time: the machine did not report it.",
                )
            )
        unit = line["unit"] if line else None
        if material is not None:
            fields.update(actual_material=material, actual_material_unit=unit)
        elif job is None or job.actual_material is None:
            fields.update(actual_material_unit=unit)  # left empty: what the machine counted stays
        transition(
            s,
            job_id,
            "done",
            actor=actor,
            reason=note,
            expected=("dispatched",),
            data={"actual_time_min": minutes, "actual_material": material},
            **fields,
        )
        stockroom.use_piece(s, job, keep_offcut)
    runtime.enqueue_mail(job_id, "done")


def cancel(
    runtime: Runtime,
    job_id: int,
    actor: str,
    reason: str = "",
    expected: tuple[str, ...] | None = None,
) -> None:
    with runtime.db.session() as s:
        transition(s, job_id, "cancelled", actor=actor, reason=reason, expected=expected)


def add_stock_piece(runtime: Runtime, fields: dict[str, Any], sites: list[str]) -> dict[str, Any]:
    """Record an offcut or a remnant from a form or a JSON body (``FabError`` says what is
    wrong); returns the piece, JSON-ready."""
    with runtime.db.session() as s:
        return stockroom.piece_dict(stockroom.add_piece(s, runtime.profiles, fields, sites))


def remove_stock_piece(runtime: Runtime, piece_id: int, sites: list[str]) -> bool:
    """False when there is no such piece at ``sites``."""
    with runtime.db.session() as s:
        return stockroom.delete_piece(s, piece_id, sites)


def reset_correction(runtime: Runtime, machine_id: str, material_id: str, actor: str) -> None:
    """Learn the machine × material time correction afresh (after a repair, new settings)."""
    with runtime.db.session() as s:
        learning.reset_correction(s, machine_id, material_id, actor)
