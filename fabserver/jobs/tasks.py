"""What the queued tasks do: plan a job, dispatch a job (the queue is :mod:`.queue`).

Plan and dispatch start by *claiming* the job with a compare-and-set in the
database, so a message delivered twice (a restart, two consumers, a re-queue)
does the work once. Long work runs outside any database transaction, and a plan
runs in a bounded planning process (:mod:`.planner`) that this task only
supervises. The sweep re-queues what a dead worker or a lost message left behind,
once: a job that loses its worker twice is failed (:func:`.recovery.worker_lost`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update

from ..dispatch import DispatchError, TransientDispatchError, connector_for, remote_name_for
from ..i18n import Text
from ..lab.context import planning_context
from ..profiles import MachineProfile, machine_from_snapshot, material_from_snapshot
from ..stock import Piece
from ..store.faults import STORAGE_FAULT, is_storage_fault
from ..store.models import Artifact, Job, utcnow
from . import fairness
from .context import Runtime
from .learning import correction_for
from .limits import limit_detail, limit_message, limits_for
from .planner import Outcome, PlanRequest, PlanSummary, remove_out_dir, supervise
from .recovery import worker_lost
from .states import InvalidTransition, end_planning, fail_planning, record, transition

log = logging.getLogger("fabserver.jobs")

UNEXPECTED = Text(
    "Une erreur inattendue a empêché le calcul. L'équipe a les détails ; "
    "vous pouvez réessayer ou venir nous voir.",
    "An unexpected error stopped the planning. The staff have the details; "
    "you may try again or come and see us.",
)
MACHINE_UNAVAILABLE = Text(
    "Cette machine n'est pas disponible pour l'instant ; l'équipe est prévenue.",
    "This machine is not available right now; the staff have been told.",
)
DISPATCH_LEASE = timedelta(minutes=15)


def worker_identity() -> str:
    """host:pid:thread, kept in the audit trail so staff see which consumer planned a job."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def start_following(runtime: Runtime, job_id: int, machine: MachineProfile) -> None:
    """After a dispatch: ask the machine how the job ended (its actual time), again after
    the interval the connector gives, until it has ended (connectors that cannot tell
    give no interval and are not asked). The question goes to the queue of the machine's
    site, whose worker is on the machine's network (the shared queue for a single site)."""
    delay = connector_for(machine).follow_interval()
    if delay is not None:
        runtime.queue.follow(job_id, machine.site, delay)


class _ProgressWriter:
    """Stores progress at most every 0.3 s; each write is also the job's heartbeat."""

    def __init__(self, runtime: Runtime, job_id: int, version: int):
        self.runtime = runtime
        self.job_id = job_id
        self.version = version
        self._last = 0.0

    def __call__(self, done: float, stage: str = "") -> None:
        now = time.monotonic()
        if now - self._last < 0.3 and done < 1.0:
            return
        self._last = now
        with self.runtime.db.session() as s:
            s.execute(
                update(Job)
                .where(
                    Job.id == self.job_id,
                    Job.state == "planning",
                    Job.plan_version == self.version,
                )
                .values(
                    progress=min(max(float(done), 0.0), 1.0),
                    stage=(stage or "")[:64],
                    heartbeat_at=utcnow(),
                )
            )


HEARTBEAT_S = 30.0


@contextmanager
def _heartbeat(runtime: Runtime, job_id: int, version: int, every_s: float | None = None):
    """Tell the sweeper this worker is alive, even when a plugin reports no progress."""
    every_s = every_s or HEARTBEAT_S
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with runtime.db.session() as s:
                    s.execute(
                        update(Job)
                        .where(
                            Job.id == job_id,
                            Job.state == "planning",
                            Job.plan_version == version,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a missed beat is not worth stopping the plan for
                log.warning("heartbeat of job %s failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def plan_job(runtime: Runtime, job_id: int) -> None:
    """Claim a queued job, plan it in a bounded planning process and store the outcome."""
    if not fairness.may_claim(runtime, job_id):
        fairness.defer(runtime, job_id)
        return
    try:
        with runtime.db.session() as s:
            version = (s.scalar(select(Job.plan_version).where(Job.id == job_id)) or 0) + 1
            transition(
                s,
                job_id,
                "planning",
                actor="worker",
                expected=("queued",),
                plan_version=version,
                progress=0.0,
                stage="load",
                heartbeat_at=utcnow(),
                error_message=None,
                error_detail=None,
                data={"worker": worker_identity()},
            )
            job = s.get(Job, job_id)
            inputs = {
                "plugin": job.plugin,
                "machine": job.machine_snapshot,
                "material": job.material_snapshot,
                "options": {**job.options, "copies": job.copies},
                "sha": job.design.upload.sha256,
                "name": job.design.upload.original_name,
                **planning_context(s, job, runtime.profiles.policy_for(job.site)),
            }
    except (InvalidTransition, LookupError) as exc:
        log.info("plan of job %s skipped: %s", job_id, exc)
        return
    with _heartbeat(runtime, job_id, version):
        _plan_claimed(runtime, job_id, version, inputs)


def _still_planning(runtime: Runtime, job_id: int, version: int) -> bool:
    """Is the job still in the planning run this worker claimed (not cancelled, not re-planned)?"""
    with runtime.db.session() as s:
        row = s.execute(select(Job.state, Job.plan_version).where(Job.id == job_id)).first()
    return row is not None and row.state == "planning" and row.plan_version == version


def plan_request(
    runtime: Runtime, request_id: int, folder: str, inputs: dict[str, Any]
) -> PlanRequest:
    """What the planning process gets: the plugin, snapshots, options, limits, a folder
    (``folder`` names it under the data directory's ``tmp``); for a job or a quote's draft."""
    plugin = runtime.registry.get(inputs["plugin"])  # LookupError: not installed or broken
    material = material_from_snapshot(inputs["material"])
    with runtime.db.session() as s:  # learnt from the lab's finished jobs
        correction = correction_for(s, str(inputs["machine"]["id"]), material.id)
    return PlanRequest(
        job_id=request_id,
        plugin=plugin,
        design_path=str(runtime.files.path(inputs["sha"])),
        design_name=inputs["name"],
        machine=inputs["machine"],
        material=inputs["material"],
        options=inputs["options"],
        policy=runtime.profiles.policy_for(machine_from_snapshot(inputs["machine"]).site),
        materials={**runtime.profiles.materials, material.id: material},
        out_dir=str(runtime.settings.data_dir / "tmp" / f"{folder}-{os.getpid()}"),
        limits=limits_for(inputs["machine"]),
        correction=correction,
        offcuts=tuple(Piece.from_dict(p) for p in inputs["offcuts"]),
        earlier_prototypes=inputs.get("earlier_prototypes"),
    )


def _plan_claimed(runtime: Runtime, job_id: int, version: int, inputs: dict[str, Any]) -> None:
    progress = _ProgressWriter(runtime, job_id, version)
    try:
        request = plan_request(runtime, job_id, f"plan-{job_id}-{version}", inputs)
    except LookupError as exc:
        _fail(runtime, job_id, version, MACHINE_UNAVAILABLE, str(exc))
        return
    except Exception:
        log.exception("plan of job %s could not start", job_id)
        _fail(runtime, job_id, version, UNEXPECTED, traceback.format_exc())
        return
    try:
        outcome = supervise(
            request,
            progress=lambda done, stage: progress(done, stage),
            still_mine=lambda: _still_planning(runtime, job_id, version),
        )
        _conclude(runtime, job_id, version, inputs, request, outcome)
    except Exception as exc:
        log.exception("plan of job %s failed", job_id)
        message = STORAGE_FAULT if is_storage_fault(exc) else UNEXPECTED
        _fail(runtime, job_id, version, message, traceback.format_exc())
    finally:
        remove_out_dir(request)


def _conclude(
    runtime: Runtime,
    job_id: int,
    version: int,
    inputs: dict[str, Any],
    request: PlanRequest,
    outcome: Outcome,
) -> None:
    """Store what the planning process ended with: results, a message, or a retry."""
    machine_id = str(inputs["machine"].get("id", ""))
    if outcome.status == "stopped":
        log.info("job %s changed while planning; planning process stopped", job_id)
    elif outcome.status == "crashed":
        log.warning("plan of job %s: %s", job_id, outcome.detail)
        worker_lost(runtime, job_id, version, outcome.detail)
    elif outcome.status == "limit":
        kind = outcome.limit or "memory"
        message = limit_message(kind, request.limits, inputs["plugin"])
        detail = limit_detail(kind, request.limits, machine_id, outcome.detail)
        log.info("plan of job %s: %s", job_id, detail)
        _fail(runtime, job_id, version, message, detail)
    elif outcome.status == "error":
        _fail(runtime, job_id, version, outcome.message or UNEXPECTED, outcome.detail)
    else:
        assert outcome.summary is not None
        _store_results(runtime, job_id, version, outcome.summary)


def _store_results(runtime: Runtime, job_id: int, version: int, summary: PlanSummary) -> None:
    if not _still_planning(runtime, job_id, version):
        log.info("job %s changed while planning; results dropped", job_id)
        return
    artifacts = [
        Artifact(
            job_id=job_id,
            plan_version=version,
            role=f.role,
            sha256=runtime.files.put_file(f.path),
            filename=f.filename,
            media_type=f.media_type,
            size=f.size,
        )
        for f in summary.files
    ]
    try:
        with runtime.db.session() as s:
            end_planning(
                s,
                job_id,
                version,
                "review",
                actor="worker",
                progress=1.0,
                stage="done",
                verdict_override=None,
                **summary.results(),
            )
            for artifact in artifacts:
                s.add(artifact)
    except InvalidTransition as exc:
        log.info("job %s changed while planning (%s); results dropped", job_id, exc.current)


def _fail(runtime: Runtime, job_id: int, version: int, message: Text, detail: str) -> None:
    try:
        with runtime.db.session() as s:
            fail_planning(s, job_id, version, message, detail, actor="worker")
    except InvalidTransition as exc:
        log.info("job %s changed while planning (%s); failure dropped", job_id, exc.current)


def dispatch_job(runtime: Runtime, job_id: int, retries_left: int = 0) -> None:
    """Send the approved job's machine file once; retry transient failures with back-off."""
    now = utcnow()
    with runtime.db.session() as s:
        claimed = s.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.state == "approved",
                Job.receipt.is_(None),
                or_(
                    Job.dispatch_claimed_at.is_(None),
                    Job.dispatch_claimed_at < now - DISPATCH_LEASE,
                ),
            )
            .values(dispatch_claimed_at=now, dispatch_attempts=Job.dispatch_attempts + 1)
        ).rowcount
        if not claimed:
            log.info("dispatch of job %s skipped: not approved, sent or being sent", job_id)
            return
        job = s.get(Job, job_id)
        machine = machine_from_snapshot(job.machine_snapshot)
        artifact = next(
            (
                a
                for a in job.artifacts
                if a.role == "machine" and a.plan_version == job.plan_version
            ),
            None,
        )
        attempt = job.dispatch_attempts
        key = job.dispatch_key
        part_name = job.design.upload.original_name or "part"
    try:
        if artifact is None:
            raise DispatchError(
                Text("Aucun fichier machine à envoyer.", "No machine file to send.")
            )
        # Deterministic per job (it starts with the job number): a resend after a crash
        # lands on the same remote file instead of a second copy.
        remote_name = remote_name_for(
            job_id, part_name, machine, suffix=Path(artifact.filename).suffix
        )
        receipt = connector_for(machine).send(runtime.files.path(artifact.sha256), remote_name)
    except DispatchError as exc:
        transient = isinstance(exc, TransientDispatchError)
        with runtime.db.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(dispatch_claimed_at=None))
            record(
                s,
                job_id,
                "dispatch-attempt",
                actor="worker",
                reason=exc.message.en,
                data={
                    "attempt": attempt,
                    "ok": False,
                    "worker": worker_identity(),
                    "transient": transient,
                    "message": exc.message.to_dict(),
                    "retry": transient and retries_left > 0,
                },
            )
        if transient and retries_left > 0:
            raise  # Huey schedules the retry, with back-off
        return
    receipt_data = {
        "message": receipt.message.to_dict(),
        "remote_ref": receipt.remote_ref,
        "url": receipt.url,
        "download": receipt.download,
        "started": receipt.started,
        "key": key,
    }
    with runtime.db.session() as s:
        record(
            s,
            job_id,
            "dispatch-attempt",
            actor="worker",
            reason=receipt.message.en,
            data={"attempt": attempt, "ok": True, "worker": worker_identity(), **receipt_data},
        )
        try:
            transition(
                s,
                job_id,
                "dispatched",
                actor="worker",
                expected=("approved",),
                reason=receipt.message.en,
                receipt=receipt_data,
            )
        except InvalidTransition:
            # Cancelled while sending: keep the receipt so nobody sends it again.
            s.execute(update(Job).where(Job.id == job_id).values(receipt=receipt_data))
            return
    start_following(runtime, job_id, machine)  # started now or later by staff on the machine
