"""What the pages and the API read about jobs, each read written once.

Views translate HTTP to these calls and back; the SQL lives here. A job is returned
detached from its session with what a page shows already loaded (its design and
upload, artifacts and audit events).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..lab import history, reports, stockroom
from ..lab.sites import machine_queues, site_queues
from ..learning import Correction
from ..store.models import Artifact, Design, Job, Upload
from . import learning
from .context import Runtime
from .service import charged_material
from .states import ACTIVE_STATES, STATE_LABELS

TOKEN_MAX_LENGTH = 64  # longer is no token of ours: no query for it


class NotYourSite(LookupError):
    """The job exists but belongs to a site the staff member does not work at."""


def _loaded(job: Job) -> Job:
    job.design.upload  # noqa: B018 - load while the session is open
    job.artifacts  # noqa: B018
    job.events  # noqa: B018
    return job


def job_by_token(runtime: Runtime, token: str) -> Job | None:
    """The maker's job reached by its private link, or None."""
    if len(token) > TOKEN_MAX_LENGTH:
        return None
    with runtime.db.session() as s:
        job = s.scalar(select(Job).where(Job.token == token))
        return _loaded(job) if job is not None else None


def job_by_id(runtime: Runtime, job_id: int, sites: list[str] | None = None) -> Job | None:
    """A job by number, or None; :class:`NotYourSite` when ``sites`` is given and the job
    is at none of them."""
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return None
        if sites is not None and job.site not in sites:
            raise NotYourSite(job_id)
        return _loaded(job)


def design_by_id(runtime: Runtime, design_id: int) -> Design | None:
    """A stored design (its upload loaded), or None."""
    with runtime.db.session() as s:
        design = s.get(Design, design_id)
        if design is not None:
            design.upload  # noqa: B018 - load while the session is open
        return design


def job_artifact(runtime: Runtime, job_id: int, artifact_id: int) -> Artifact | None:
    """One of the job's files (any plan version), or None."""
    with runtime.db.session() as s:
        artifact = s.get(Artifact, artifact_id)
    return artifact if artifact is not None and artifact.job_id == job_id else None


def job_upload(runtime: Runtime, job: Job) -> Upload:
    """The file the maker sent for the job."""
    with runtime.db.session() as s:
        upload = s.get(Upload, job.design.upload_id)
    assert upload is not None  # a design row always has its upload (foreign key)
    return upload


def jobs_at(
    runtime: Runtime,
    sites: list[str],
    states: tuple[str, ...] | None = None,
    machine_id: str | None = None,
    by_creation: bool = False,
) -> list[Job]:
    """Jobs of the given sites (in these states, on this machine), by number or by
    creation time."""
    order = Job.created_at if by_creation else Job.id
    query = select(Job).where(Job.site.in_(sites)).order_by(order)
    if states is not None:
        query = query.where(Job.state.in_(states))
    if machine_id:
        query = query.where(Job.machine_id == machine_id)
    with runtime.db.session() as s:
        return list(s.scalars(query).unique().all())


def queue_totals(jobs: list[Job]) -> dict[str, Any]:
    """Machine time, cost and material (per unit) of these jobs' estimates."""
    time_s = cost = 0.0
    material: dict[str, float] = defaultdict(float)
    for job in jobs:
        estimate = job.estimate or {}
        time_s += estimate.get("machine_time_s", 0.0)
        cost += estimate.get("cost_eur", 0.0)
        for line in estimate.get("materials", []):
            material[line["unit"]] += line["quantity"]
    return {"time_s": time_s, "cost_eur": cost, "material": dict(material), "count": len(jobs)}


@dataclass
class QueueSection:
    """One machine's part of the staff queue: its jobs by state, and what is waiting."""

    machine_id: str
    states: list[tuple[str, list[Job]]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    count: int = 0


PENDING_STATES = ("review", "approved", "dispatched")  # the work the totals count


def queue_sections(runtime: Runtime, sites: list[str], show_all: bool) -> list[QueueSection]:
    """Every machine of ``sites`` (then any other a job names) with its active jobs (all
    its jobs with ``show_all``), in the order of the state machine."""
    jobs = jobs_at(runtime, sites, None if show_all else ACTIVE_STATES, by_creation=True)
    by_machine: dict[str, dict[str, list[Job]]] = {
        m.id: {} for m in runtime.profiles.machines.values() if m.site in sites
    }
    for job in jobs:
        by_machine.setdefault(job.machine_id, {}).setdefault(job.state, []).append(job)
    sections = []
    for machine_id, states in by_machine.items():
        every = [j for js in states.values() for j in js]
        sections.append(
            QueueSection(
                machine_id=machine_id,
                states=[(st, states[st]) for st in STATE_LABELS if st in states],
                totals=queue_totals([j for j in every if j.state in PENDING_STATES]),
                count=len(every),
            )
        )
    return sections


@dataclass
class MachineAccuracy:
    """How far one machine's estimates were from what really happened."""

    machine_id: str
    jobs: list[dict[str, Any]]
    mean_time_ratio: float | None
    mean_material_ratio: float | None
    corrections: list[tuple[str, Correction | None]]  # (material id, what was learnt)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def estimate_accuracy(runtime: Runtime, sites: list[str]) -> list[MachineAccuracy]:
    """Per machine of ``sites`` (and any other a finished job names): each finished job's
    estimated and actual time and material, their means, and the corrections learnt."""
    with runtime.db.session() as s:
        done = (
            s.scalars(
                select(Job)
                .where(Job.state == "done", Job.actual_time_s.is_not(None), Job.site.in_(sites))
                .order_by(Job.id)
            )
            .unique()
            .all()
        )
        corrections = learning.corrections_by_machine(
            s, {(j.machine_id, j.material_id) for j in done}
        )
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in done:
        actual_s = job.actual_time_s or 0.0  # never None here: the query asks for it
        estimate = job.estimate or {}
        est_time = estimate.get("raw_machine_time_s") or estimate.get("machine_time_s") or 0.0
        line = charged_material(estimate)
        est_material = line["quantity"] if line else 0.0
        rows[job.machine_id].append(
            {
                "id": job.id,
                "estimate_s": est_time,
                "actual_s": job.actual_time_s,
                "time_ratio": (actual_s / est_time) if est_time else None,
                "estimate_material": est_material,
                "actual_material": job.actual_material,
                "unit": job.actual_material_unit or "",
                "source": job.actual_source or "",
                "material_ratio": (
                    job.actual_material / est_material
                    if job.actual_material is not None and est_material
                    else None
                ),
            }
        )
    mine = [m.id for m in runtime.profiles.machines.values() if m.site in sites]
    out = []
    for machine_id in dict.fromkeys([*mine, *rows]):
        items = rows.get(machine_id, [])
        out.append(
            MachineAccuracy(
                machine_id=machine_id,
                jobs=items,
                mean_time_ratio=_mean(
                    [r["time_ratio"] for r in items if r["time_ratio"] is not None]
                ),
                mean_material_ratio=_mean(
                    [r["material_ratio"] for r in items if r["material_ratio"] is not None]
                ),
                corrections=list(corrections.get(machine_id, [])),
            )
        )
    return out


def dispatched_job_running(runtime: Runtime, machine_id: str, file: str) -> Job | None:
    """The dispatched job whose file the machine says it is running, or None."""
    if not file:
        return None
    names = (file, file.rsplit("/", 1)[-1])
    with runtime.db.session() as s:
        running = s.scalars(
            select(Job).where(Job.machine_id == machine_id, Job.state == "dispatched")
        ).all()
    return next((j for j in running if (j.receipt or {}).get("remote_ref") in names), None)


def earlier_jobs(runtime: Runtime, job: Job) -> list[dict[str, Any]]:
    """The maker's jobs before this one, newest first, as the staff page lists them."""
    with runtime.db.session() as s:
        return [
            {
                "id": j.id,
                "created_at": j.created_at,
                "machine": j.machine_snapshot["name"],
                "design": j.design.upload.original_name,
                "state": j.state,
                "verdict": (j.effective_verdict or {}).get("kind"),
            }
            for j in history.earlier_jobs(s, job)
        ]


def waiting_by_machine(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """``{machine id: {site, jobs, machine_time_s}}`` over the jobs still waiting."""
    with runtime.db.session() as s:
        return machine_queues(s)


def waiting_by_site(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """``{site id: {jobs, machine_time_s}}`` over the jobs still waiting."""
    with runtime.db.session() as s:
        return site_queues(s)


def stock_pieces(runtime: Runtime, sites: list[str], material_id: str | None = None):
    """The pieces kept at ``sites`` (of one material when given), JSON-ready."""
    with runtime.db.session() as s:
        return [stockroom.piece_dict(p) for p in stockroom.list_pieces(s, material_id, sites)]


def lab_report(runtime: Runtime, period: reports.Period, sites: list[str]) -> dict[str, Any]:
    """The lab's activity at ``sites`` over ``period`` (see :mod:`fabserver.lab.reports`)."""
    with runtime.db.session() as s:
        return reports.build_report(s, period, sites=sites)
