"""The queued tasks: plan a job, dispatch a job, and a periodic sweep.

Plan and dispatch start by *claiming* the job with a compare-and-set in the
database, so a message delivered twice (a restart, two consumers, a re-queue)
does the work once. Long work runs outside any database transaction. The sweep
re-queues what a dead worker or a lost message left behind.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from huey import Huey, crontab
from sqlalchemy import or_, select, update

from ..designs import load_design
from ..dispatch import DispatchError, TransientDispatchError, connector_for, remote_name_for
from ..errors import FabError
from ..i18n import Text
from ..lab.context import planning_context
from ..planning import PlanResult, run_plan, write_outputs
from ..preview import layer_data, toolpath_svg
from ..profiles import machine_from_snapshot, material_from_snapshot
from ..stock import Piece
from ..store.faults import STORAGE_FAULT, is_storage_fault
from ..store.models import Artifact, Job, utcnow
from .learning import correction_for
from .retention import collect_garbage
from .runtime import Runtime
from .service import sweep
from .states import InvalidTransition, record, transition

log = logging.getLogger("fabserver.jobs")

UNEXPECTED = Text(
    "Une erreur inattendue a empêché le calcul. L'équipe a les détails ; "
    "vous pouvez réessayer ou venir nous voir.",
    "An unexpected error stopped the planning. The staff have the details; "
    "you may try again or come and see us.",
)
DISPATCH_LEASE = timedelta(minutes=15)


def worker_identity() -> str:
    """host:pid:thread, kept in the audit trail so staff see which consumer planned a job."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def declare(runtime: Runtime) -> None:
    huey = runtime.huey

    @huey.task(name="fabserver.plan_job")
    def plan_task(job_id: int) -> None:
        plan_job(runtime, job_id)

    dispatch_task = declare_dispatch(runtime, huey)

    @huey.periodic_task(crontab(minute="*"), name="fabserver.sweep")
    def sweep_task() -> None:
        sweep(runtime)

    @huey.periodic_task(crontab(minute="7"), name="fabserver.retention")
    def retention_task() -> None:
        collect_garbage(runtime)

    runtime.tasks["plan"] = plan_task
    runtime.tasks["dispatch"] = dispatch_task


def declare_dispatch(runtime: Runtime, huey: Huey) -> Any:
    """The dispatch task on ``huey``: the shared queue, or a site's (fabserver.jobs.sites)."""

    @huey.task(
        name="fabserver.dispatch_job",
        retries=runtime.settings.dispatch_retries,
        retry_delay=runtime.settings.dispatch_retry_delay_s,
        retry_backoff=2.0,
        context=True,
    )
    def dispatch_task(job_id: int, task=None) -> None:
        retries_left = task.retries if task is not None else 0
        dispatch_job(runtime, job_id, retries_left=retries_left)

    return dispatch_task


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
    """Claim a queued job, plan it and store the results (or the failure)."""
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


def _plan_claimed(runtime: Runtime, job_id: int, version: int, inputs: dict[str, Any]) -> None:
    progress = _ProgressWriter(runtime, job_id, version)
    try:
        design = load_design(runtime.files.read(inputs["sha"]), inputs["name"])
        progress(0.05, "plan")
        try:
            plugin = runtime.registry.get(inputs["plugin"])
        except LookupError as exc:
            raise FabError(
                Text(
                    "Cette machine n'est pas disponible pour l'instant ; l'équipe est prévenue.",
                    "This machine is not available right now; the staff have been told.",
                ),
                detail=str(exc),
            ) from None
        machine = machine_from_snapshot(inputs["machine"])
        material = material_from_snapshot(inputs["material"])
        materials = {**runtime.profiles.materials, material.id: material}
        with runtime.db.session() as s:  # learnt from the lab's finished jobs
            correction = correction_for(s, machine.id, material.id)
        result = run_plan(
            plugin,
            design,
            machine,
            material,
            inputs["options"],
            runtime.profiles.policy_for(machine.site),
            materials,
            progress=lambda done, stage="": progress(0.05 + 0.85 * float(done), stage),
            correction=correction,
            offcuts=[Piece.from_dict(p) for p in inputs["offcuts"]],
            earlier_prototypes=inputs["earlier_prototypes"],
        )
        progress(0.92, "save")
        artifacts = _store_artifacts(runtime, job_id, version, result)
    except FabError as exc:
        _fail(runtime, job_id, version, exc.message, exc.detail or traceback.format_exc())
        return
    except Exception as exc:
        log.exception("plan of job %s failed", job_id)
        message = STORAGE_FAULT if is_storage_fault(exc) else UNEXPECTED
        _fail(runtime, job_id, version, message, traceback.format_exc())
        return
    warnings = [*design.warnings, *result.warnings]
    try:
        with runtime.db.session() as s:
            transition(
                s,
                job_id,
                "review",
                actor="worker",
                expected=("planning",),
                if_plan_version=version,
                progress=1.0,
                stage="done",
                estimate=result.estimate.to_dict(),
                verdict=result.verdict.to_dict(),
                verdict_override=None,
                plan_facts=_jsonable(result.plan.facts),
                warnings=[w.to_dict() for w in warnings],
                stock=result.stock.to_dict() if result.stock else None,
            )
            for artifact in artifacts:
                s.add(artifact)
    except InvalidTransition as exc:
        log.info("job %s changed while planning (%s); results dropped", job_id, exc.current)


def _store_artifacts(
    runtime: Runtime, job_id: int, version: int, result: PlanResult
) -> list[Artifact]:
    """Machine files, preview SVG and per-layer data into the file store; rows to add."""
    plan = result.plan
    artifacts = []
    main = next((o for o in plan.outputs if o.main), plan.outputs[0] if plan.outputs else None)
    with tempfile.TemporaryDirectory(prefix="fabserver-plan-") as tmp:
        if main is not None:
            stem = f"job-{job_id}"
            paths = write_outputs(plan, Path(tmp) / f"{stem}{main.suffix}")
            for output, path in zip(plan.outputs, paths, strict=True):
                artifacts.append(
                    Artifact(
                        job_id=job_id,
                        plan_version=version,
                        role="machine" if output is main else "extra",
                        sha256=runtime.files.put_file(path),
                        filename=path.name,
                        media_type=output.media_type,
                        size=path.stat().st_size,
                    )
                )
    svg = (plan.preview_svg or toolpath_svg(plan.toolpath)).encode()
    artifacts.append(_blob(runtime, job_id, version, "preview", svg, "svg", "image/svg+xml"))
    if plan.toolpath.n_layers > 1:
        layers = json.dumps(layer_data(plan.toolpath), separators=(",", ":")).encode()
        artifacts.append(
            _blob(runtime, job_id, version, "layers", layers, "json", "application/json")
        )
    return artifacts


def _blob(runtime, job_id, version, role, data: bytes, ext: str, media: str) -> Artifact:
    return Artifact(
        job_id=job_id,
        plan_version=version,
        role=role,
        sha256=runtime.files.put(data),
        filename=f"job-{job_id}-{role}.{ext}",
        media_type=media,
        size=len(data),
    )


def _fail(runtime: Runtime, job_id: int, version: int, message: Text, detail: str) -> None:
    try:
        with runtime.db.session() as s:
            transition(
                s,
                job_id,
                "failed",
                actor="worker",
                expected=("planning",),
                if_plan_version=version,
                reason=message.en,
                error_message=message.to_dict(),
                error_detail=detail,
                stage="failed",
            )
    except InvalidTransition as exc:
        log.info("job %s changed while planning (%s); failure dropped", job_id, exc.current)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


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
        "started": getattr(receipt, "started", False),
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
