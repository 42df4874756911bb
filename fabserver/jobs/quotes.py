"""Quotes: a design, a draft plan for every machine that takes it, steered, then sent.

Drafts are planned by the queue in the same bounded planning processes as jobs
(:func:`.planner.supervise`), ahead of jobs (a maker waits at the counter for
them). A draft is claimed by compare-and-set on its ``version``: a maker who
changes a row while it plans bumps the version, the planning process of the old
one is stopped and its results dropped. Sending keeps the chosen draft: the job
starts in ``review`` with the draft's files, estimate and verdict (the verdict
decided again with the maker's earlier prototypes), so it is not planned twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import traceback
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update

from .. import quote as core
from ..designs.stl import binary_stl
from ..designs.types import Design as ParsedDesign
from ..designs.types import Drawing, Mesh
from ..i18n import Text
from ..lab import history, stockroom
from ..policy import decide
from ..profiles import as_data, machine_from_snapshot
from ..store.faults import STORAGE_FAULT, is_storage_fault
from ..store.models import Artifact, AuditEvent, Job, Quote, QuotePlan, utcnow
from ..store.models import Design as DesignRow
from . import intake
from .context import Runtime
from .fairness import TOP_PRIORITY
from .limits import limit_message
from .planner import Outcome, PlanRequest, remove_out_dir, supervise
from .service import (
    ActionError,
    Maker,
    check_maker,
    machine_choice,
    new_job_fields,
    parse_copies,
    parse_options,
)
from .states import transition
from .tasks import plan_request

log = logging.getLogger("fabserver.jobs")

QUOTE_PRIORITY = TOP_PRIORITY + 20  # drafts before jobs: the maker is waiting for them
MAX_ATTEMPTS = 2
UNEXPECTED = Text(
    "Une erreur inattendue a empêché le calcul de cette machine. Vous pouvez réessayer.",
    "An unexpected error stopped this machine's planning. You may try again.",
)
UNKNOWN_QUOTE = Text("Devis inconnu.", "Unknown quote.")
REVISABLE = ("review", "failed")


class QuoteNotFound(LookupError):
    pass


# --- creating and reading ---------------------------------------------------------------


def create(runtime: Runtime, row: DesignRow, design: ParsedDesign) -> Quote:
    """A quote for a stored design, with a queued draft for every machine that takes it."""
    found = core.targets(runtime.profiles, runtime.registry.plugins, design.kind)
    maps: dict[str, tuple[core.Target, str]] = {}
    drafts = []
    for target in found:
        text, notice = core.propose(target, design)
        option = target.plugin.operations_option
        maps[target.machine.id] = (target, text)
        drafts.append(
            QuotePlan(
                machine_id=target.machine.id,
                plugin=target.plugin.id,
                machine_snapshot=target.machine.snapshot(),
                material_id=target.material.id,
                material_snapshot=runtime.profiles.priced_for(
                    target.material, target.machine.site
                ).snapshot(),
                copies=1,
                options=parse_options(runtime, target.machine, {option: text} if text else {}),
                operations={},
                notices=[notice.to_dict()] if notice else [],
            )
        )
    quote = Quote(
        token=secrets.token_urlsafe(18),
        design_id=row.id,
        colours=core.colour_table(design, maps),
        extras=_extras(runtime, design),
        plans=drafts,
    )
    with runtime.db.session() as s:
        s.add(quote)
        s.flush()
        queued = [(p.id, p.version) for p in quote.plans]
    for plan_id, version in queued:
        enqueue(runtime, plan_id, version)
    return quote


def _extras(runtime: Runtime, design: ParsedDesign) -> dict[str, Any]:
    """What the quote page draws beside the table: the drawing, or the mesh for the 3D view."""
    if isinstance(design, Mesh):
        return {"model_sha": runtime.files.put(binary_stl(design.triangles))}
    if isinstance(design, Drawing):
        return {
            "drawing_sha": runtime.files.put(core.drawing_svg(design).encode("utf-8")),
            "area_mm2": core.drawing_area_mm2(design),
        }
    return {}


def load(runtime: Runtime, token: str) -> Quote:
    with runtime.db.session() as s:
        quote = s.scalar(select(Quote).where(Quote.token == token[:64]))
        if quote is None:
            raise QuoteNotFound(token)
        quote.plans  # noqa: B018 - load while the session is open
        return quote


def plan_view(runtime: Runtime, plan: QuotePlan) -> dict[str, Any]:
    """One row of the table, as the API gives it."""
    estimate = plan.estimate or {}
    machine = runtime.profiles.machines.get(plan.machine_id)
    plugin = runtime.registry.plugins.get(plan.plugin)
    return {
        "id": plan.id,
        "machine": plan.machine_id,
        "machine_name": machine.name.text().to_dict() if machine else {"fr": plan.machine_id},
        "plugin": plan.plugin,
        "material": plan.material_id,
        "copies": plan.copies,
        "options": plan.options,
        "operations": {
            **{f["key"]: f["operation"] or "ignore" for f in plan.found or []},
            **plan.operations,
        },
        "operations_option": plugin.operations_option if plugin else None,
        "state": plan.state,
        "version": plan.version,
        "progress": plan.progress,
        "machine_time_s": estimate.get("machine_time_s"),
        "materials": estimate.get("materials", []),
        "cost_eur": estimate.get("cost_eur"),
        "verdict": plan.verdict,
        "warnings": [*plan.notices, *plan.warnings],
        "error": plan.error_message,
        "preview": any(f["role"] == "preview" for f in plan.files),
    }


def view(runtime: Runtime, quote: Quote) -> dict[str, Any]:
    """The quote as the API and the page's script read it."""
    facts = quote.design.facts
    policy = runtime.profiles.policy
    return {
        "id": quote.token,
        "design": {
            "kind": quote.design.kind,
            "format": quote.design.format,
            "name": quote.design.upload.original_name,
            "size_mm": facts.get("size_mm"),
            "units": facts.get("units"),
            "volume_mm3": facts.get("volume_mm3"),
            "area_mm2": quote.extras.get("area_mm2"),
            "warnings": facts.get("warnings", []),
            "colours": quote.colours,
        },
        "plans": [plan_view(runtime, p) for p in quote.plans],
        "limits": {
            "default": as_data(policy.prototype),
            **{k: as_data(v) for k, v in policy.plugins.items()},
            "max_prototypes_per_maker": policy.max_prototypes_per_maker,
            "window_days": policy.window_days,
        },
        "rules": [
            {
                "plugin": plugin_id,
                "name": runtime.registry.plugins[plugin_id].name.to_dict(),
                **as_data(policy.rule_for(plugin_id)),
            }
            for plugin_id in dict.fromkeys(p.plugin for p in quote.plans)
            if plugin_id in runtime.registry.plugins
        ],
    }


# --- steering ---------------------------------------------------------------------------


def _operations(raw: Any, choices: list[str]) -> dict[str, str]:
    """The maker's colour edits, checked: known operations only."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ActionError(
            Text("« operations » doit être un objet.", "'operations' must be an object.")
        )
    out = {}
    for key, op in raw.items():
        name = str(op).strip().lower()
        if name.partition(":")[0] not in choices or any(c in str(key) for c in ",;="):
            raise ActionError(
                Text(
                    f"Opération « {op} » impossible pour « {key} » ; possibles : "
                    f"{', '.join(choices) or 'aucune'}.",
                    f"Operation '{op}' is not possible for '{key}'; possible: "
                    f"{', '.join(choices) or 'none'}.",
                )
            )
        out[str(key)] = name
    return out


def replan_row(runtime: Runtime, token: str, body: dict[str, Any]) -> QuotePlan:
    """The maker changed a row: check the choice, replace that machine's draft, queue it."""
    quote = load(runtime, token)
    machine_id = str(body.get("machine", ""))
    material_id = str(body.get("material", "")) or _default_material(runtime, machine_id)
    machine, material = machine_choice(runtime, quote.design.kind, machine_id, material_id)
    plugin = runtime.registry.get(machine.plugin)
    given = body.get("options") or {}
    if not isinstance(given, dict):
        raise ActionError(Text("« options » doit être un objet.", "'options' must be an object."))
    target = core.Target(machine, plugin, material)
    operations = _operations(body.get("operations"), core.operation_choices(target))
    option = plugin.operations_option
    options = dict(given)
    if option is not None and option not in given:
        current = next((p for p in quote.plans if p.machine_id == machine.id), None)
        kept = (current.options if current else {}).get(option, "")
        options[option] = kept if current is not None else core.propose(target, _nothing())[0]
    values = parse_options(runtime, machine, options)
    copies = parse_copies(body.get("copies", 1) or 1)
    fields = {
        "plugin": plugin.id,
        "machine_snapshot": machine.snapshot(),
        "material_id": material.id,
        "material_snapshot": runtime.profiles.priced_for(material, machine.site).snapshot(),
        "copies": copies,
        "options": values,
        "operations": operations,
        "state": "queued",
        "attempts": 0,
        "progress": 0.0,
        "estimate": None,
        "verdict": None,
        "plan_facts": None,
        "found": None,
        "warnings": [],
        "stock": None,
        "files": [],
        "error_message": None,
        "error_detail": None,
    }
    with runtime.db.session() as s:
        plan = s.scalar(
            select(QuotePlan).where(
                QuotePlan.quote_id == quote.id, QuotePlan.machine_id == machine.id
            )
        )
        if plan is None:
            plan = QuotePlan(quote_id=quote.id, machine_id=machine.id, notices=[], **fields)
            s.add(plan)
        else:
            for name, value in fields.items():
                setattr(plan, name, value)
            plan.version += 1
            if option is not None and option in given:
                plan.notices = []  # the maker chose the map: the server's proposal is gone
        s.flush()
        plan_id, version = plan.id, plan.version
    enqueue(runtime, plan_id, version)
    with runtime.db.session() as s:
        return s.get(QuotePlan, plan_id)


def _default_material(runtime: Runtime, machine_id: str) -> str:
    """The material a draft of ``machine_id`` starts with ("" for an unknown machine)."""
    for target in core.targets(runtime.profiles, runtime.registry.plugins, "mesh") + core.targets(
        runtime.profiles, runtime.registry.plugins, "drawing"
    ):
        if target.machine.id == machine_id:
            return target.material.id
    return ""


def _nothing() -> ParsedDesign:
    """No design at hand (the web process does not parse again): nothing is proposed."""
    return SimpleNamespace(kind="none")  # type: ignore[return-value]


def plan_options(runtime: Runtime, plan: QuotePlan) -> dict[str, Any]:
    """The options a draft is planned with: the maker's colour edits joined to its map."""
    plugin = runtime.registry.plugins.get(plan.plugin)
    option = plugin.operations_option if plugin is not None else None
    options = dict(plan.options)
    if option and plan.operations:
        options[option] = core.job_map(str(options.get(option, "")), plan.operations)
    return options


# --- planning ---------------------------------------------------------------------------


def enqueue(runtime: Runtime, plan_id: int, version: int) -> None:
    runtime.queue.quote(plan_id, version, QUOTE_PRIORITY)


def _draft_is(plan_id: int, version: int, state: str) -> ColumnElement[bool]:
    """SQL condition: the draft is still at this version and in this state (the compare
    of a compare-and-set, so a stale worker changes nothing)."""
    return and_(QuotePlan.id == plan_id, QuotePlan.version == version, QuotePlan.state == state)


def _claim(runtime: Runtime, plan_id: int, version: int) -> dict[str, Any] | None:
    with runtime.db.session() as s:
        claimed = s.execute(
            update(QuotePlan)
            .where(_draft_is(plan_id, version, "queued"))
            .values(
                state="planning",
                attempts=QuotePlan.attempts + 1,
                heartbeat_at=utcnow(),
                progress=0.0,
            )
        ).rowcount
        if not claimed:
            return None
        plan = s.get(QuotePlan, plan_id)
        return {
            "plugin": plan.plugin,
            "machine": plan.machine_snapshot,
            "material": plan.material_snapshot,
            "options": {**plan_options(runtime, plan), "copies": plan.copies},
            "sha": plan.quote.design.upload.sha256,
            "name": plan.quote.design.upload.original_name,
            "offcuts": stockroom.available(s, plan.material_id),
        }


def _still_mine(runtime: Runtime, plan_id: int, version: int) -> bool:
    with runtime.db.session() as s:
        row = s.execute(
            select(QuotePlan.state, QuotePlan.version).where(QuotePlan.id == plan_id)
        ).first()
    return row is not None and row.state == "planning" and row.version == version


def _progress(runtime: Runtime, plan_id: int, version: int):
    last = [0.0]

    def write(done: float, stage: str = "") -> None:
        if done - last[0] < 0.1 and done < 1.0:
            return
        last[0] = done
        with runtime.db.session() as s:
            s.execute(
                update(QuotePlan)
                .where(QuotePlan.id == plan_id, QuotePlan.version == version)
                .values(progress=min(max(float(done), 0.0), 1.0), heartbeat_at=utcnow())
            )

    return write


def plan_draft(runtime: Runtime, plan_id: int, version: int) -> None:
    """Claim a queued draft, plan it in a bounded planning process, store the answer."""
    inputs = _claim(runtime, plan_id, version)
    if inputs is None:
        return
    try:
        request = plan_request(runtime, -plan_id, f"quote-{plan_id}-{version}", inputs)
    except Exception:
        log.exception("draft %s could not start", plan_id)
        _finish(runtime, plan_id, version, error=UNEXPECTED, detail=traceback.format_exc())
        return
    try:
        outcome = supervise(
            request,
            progress=_progress(runtime, plan_id, version),
            still_mine=lambda: _still_mine(runtime, plan_id, version),
        )
        _conclude(runtime, plan_id, version, request, outcome)
    except Exception as exc:
        log.exception("draft %s failed", plan_id)
        message = STORAGE_FAULT if is_storage_fault(exc) else UNEXPECTED
        _finish(runtime, plan_id, version, error=message, detail=traceback.format_exc())
    finally:
        remove_out_dir(request)


def _conclude(
    runtime: Runtime, plan_id: int, version: int, request: PlanRequest, outcome: Outcome
) -> None:
    if outcome.status == "stopped":
        return
    if outcome.status in ("limit", "crashed"):
        kind = outcome.limit or "crash"
        message = limit_message(kind, request.limits, request.plugin.id)
        _finish(runtime, plan_id, version, error=message, detail=outcome.detail)
        return
    if outcome.status == "error":
        _finish(
            runtime, plan_id, version, error=outcome.message or UNEXPECTED, detail=outcome.detail
        )
        return
    summary = outcome.summary
    assert summary is not None
    files = [
        {
            "role": f.role,
            "sha256": runtime.files.put_file(f.path),
            "suffix": os.path.splitext(f.filename)[1],
            "name": f.filename,
            "media_type": f.media_type,
            "size": f.size,
        }
        for f in summary.files
    ]
    _finish(
        runtime,
        plan_id,
        version,
        state="done",
        progress=1.0,
        found=summary.operations,
        files=files,
        **summary.results(),
    )


def _finish(
    runtime: Runtime,
    plan_id: int,
    version: int,
    error: Text | None = None,
    detail: str = "",
    **values: Any,
) -> None:
    if error is not None:
        values.update(state="failed", error_message=error.to_dict(), error_detail=detail)
    with runtime.db.session() as s:
        s.execute(update(QuotePlan).where(_draft_is(plan_id, version, "planning")).values(**values))


def sweep(runtime: Runtime) -> None:
    """Drafts whose planning process lost its worker: queued again once, then failed."""
    stale = utcnow() - timedelta(seconds=runtime.settings.stale_planning_s)
    with runtime.db.session() as s:
        rows = s.execute(
            select(QuotePlan.id, QuotePlan.version, QuotePlan.attempts).where(
                QuotePlan.state == "planning",
                (QuotePlan.heartbeat_at.is_(None)) | (QuotePlan.heartbeat_at <= stale),
            )
        ).all()
    for plan_id, version, attempts in rows:
        lost = attempts >= MAX_ATTEMPTS
        with runtime.db.session() as s:
            changed = s.execute(
                update(QuotePlan)
                .where(_draft_is(plan_id, version, "planning"))
                .values(
                    state="failed" if lost else "queued",
                    error_message=UNEXPECTED.to_dict() if lost else None,
                )
            ).rowcount
        if changed and not lost:
            enqueue(runtime, plan_id, version)


# --- sending ----------------------------------------------------------------------------


def submit(runtime: Runtime, token: str, body: dict[str, Any], maker: Maker) -> Job:
    """Send the chosen machine's draft: the job keeps it and goes to review.

    When the maker's choice differs from the draft (or the draft is not planned
    yet), the job is queued and planned like any other.
    """
    check_maker(maker)
    quote = load(runtime, token)
    plan = replan_row(runtime, token, body) if _differs(runtime, quote, body) else None
    if plan is None:
        plan = next(p for p in quote.plans if p.machine_id == str(body.get("machine")))
    options = plan_options(runtime, plan)
    job = Job(
        design_id=quote.design_id,
        plugin=plan.plugin,
        machine_id=plan.machine_id,
        machine_snapshot=plan.machine_snapshot,
        material_id=plan.material_id,
        material_snapshot=plan.material_snapshot,
        site=machine_from_snapshot(plan.machine_snapshot).site,
        options=options,
        copies=plan.copies,
        **new_job_fields(maker),
    )
    keep = plan.state == "done"
    with runtime.db.session() as s:
        s.add(job)
        s.flush()
        s.add(
            AuditEvent(
                job_id=job.id, actor="maker", action="transition", to_state="queued", reason="quote"
            )
        )
        if keep:
            _keep_draft(runtime, s, job, plan)
    if not keep:
        runtime.enqueue_plan(job.id)
    with runtime.db.session() as s:
        return s.get(Job, job.id)


def _differs(runtime: Runtime, quote: Quote, body: dict[str, Any]) -> bool:
    """Does the sent choice differ from the stored draft of that machine?"""
    plan = next((p for p in quote.plans if p.machine_id == str(body.get("machine", ""))), None)
    if plan is None:
        return True
    machine = runtime.profiles.machines[plan.machine_id]
    given = body.get("options")
    try:
        options = parse_options(runtime, machine, given) if isinstance(given, dict) else None
        copies = parse_copies(body.get("copies", plan.copies) or plan.copies)
    except ActionError:
        return True
    operations = body.get("operations") or {}
    return (
        str(body.get("material") or plan.material_id) != plan.material_id
        or copies != plan.copies
        or (options is not None and options != plan.options)
        or (operations != {} and operations != plan.operations)
    )


def _keep_draft(runtime: Runtime, s, job: Job, plan: QuotePlan) -> None:
    """The job takes the draft's results and files, and its verdict is decided again
    with the maker's earlier prototypes (the draft had no maker)."""
    policy = runtime.profiles.policy_for(job.site)
    verdict = plan.verdict
    if policy.max_prototypes_per_maker is not None and plan.estimate:
        earlier = history.earlier_prototypes(s, job, policy.window_days, utcnow())
        # decide() reads only the time and the cost of an estimate
        figures = SimpleNamespace(
            machine_time_s=plan.estimate["machine_time_s"], cost_eur=plan.estimate["cost_eur"]
        )
        verdict = decide(figures, plan.copies, policy, plan.plugin, earlier).to_dict()  # type: ignore[arg-type]
    for f in plan.files:
        s.add(
            Artifact(
                job_id=job.id,
                plan_version=1,
                role=f["role"],
                sha256=f["sha256"],
                filename=f"job-{job.id}{f['name'].split(f'job-{-plan.id}', 1)[-1]}",
                media_type=f["media_type"],
                size=f["size"],
            )
        )
    transition(
        s,
        job.id,
        "planning",
        actor="worker",
        expected=("queued",),
        plan_version=1,
        reason="quote",
    )
    transition(
        s,
        job.id,
        "review",
        actor="worker",
        expected=("planning",),
        reason="quote",
        progress=1.0,
        stage="done",
        estimate=plan.estimate,
        verdict=verdict,
        plan_facts=plan.plan_facts,
        warnings=[*plan.notices, *plan.warnings],
        stock=plan.stock,
    )


# --- revising a sent job ----------------------------------------------------------------


def revise(runtime: Runtime, token: str, body: dict[str, Any]) -> Job:
    """The maker changes a job not yet approved (machine, material, copies, options):
    it is planned again with the new choice."""
    with runtime.db.session() as s:
        job = s.scalar(select(Job).where(Job.token == token[:64]))
        if job is None:
            raise LookupError(token)
        if job.state not in REVISABLE:
            raise ActionError(
                Text(
                    "Cette demande ne peut plus être modifiée (déjà validée ou terminée).",
                    "This request can no longer be changed (already approved or finished).",
                )
            )
        machine_id = str(body.get("machine") or job.machine_id)
        material_id = str(body.get("material") or "")
        if not material_id:
            material_id = job.material_id if machine_id == job.machine_id else ""
            material_id = material_id or _default_material(runtime, machine_id)
        machine, material = machine_choice(runtime, job.design.kind, machine_id, material_id)
        given = body.get("options")
        if not isinstance(given, dict):
            given = job.options if machine.id == job.machine_id else {}
        values = parse_options(runtime, machine, given)
        copies = parse_copies(body.get("copies") or job.copies)
        job_id = job.id
        transition(
            s,
            job_id,
            "queued",
            actor="maker",
            reason="revised",
            expected=REVISABLE,
            data={"machine": machine.id, "material": material.id, "copies": copies},
            plugin=machine.plugin,
            machine_id=machine.id,
            machine_snapshot=machine.snapshot(),
            material_id=material.id,
            material_snapshot=runtime.profiles.priced_for(material, machine.site).snapshot(),
            site=machine.site,
            options=values,
            copies=copies,
            progress=0.0,
            stage="",
            verdict_override=None,
        )
    runtime.enqueue_plan(job_id)
    with runtime.db.session() as s:
        return s.get(Job, job_id)


def file_of(plan: QuotePlan, role: str) -> dict[str, Any] | None:
    return next((f for f in plan.files if f["role"] == role), None)


def plan_by_id(runtime: Runtime, token: str, plan_id: int) -> QuotePlan:
    quote = load(runtime, token)
    plan = next((p for p in quote.plans if p.id == plan_id), None)
    if plan is None:
        raise QuoteNotFound(plan_id)
    return plan


def seconds(value: float | None) -> float | None:
    return None if value is None else float(value)


__all__ = ["QuoteNotFound", "create", "load", "replan_row", "revise", "submit", "view"]


def from_upload(runtime: Runtime, data: bytes, name: str) -> Quote:
    """Store the bytes, read them in a bounded child, and open a quote on them.

    Raises :class:`.intake.ServerBusy` and :class:`~fabserver.errors.DesignError`
    (the bytes are kept either way)."""
    accepted = intake.accept_design(runtime, data, name)
    return create(runtime, accepted.row, accepted.design)
