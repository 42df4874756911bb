"""After a job is sent to its machine: ask the machine's host how it ended.

Moonraker's history and OctoPrint's file records keep each finished print's real
duration; reading it puts the job's actual time on record without staff typing it
(they still mark the job done once they have checked the part). A job sent
without starting is followed too: staff may start it on the machine later. A
queued Huey task calls :func:`follow_job` and runs again after the seconds it
returns.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import select, update

from ..dispatch import DispatchError, JobOutcome, TransientDispatchError, connector_for
from ..profiles import machine_from_snapshot
from ..store.models import AuditEvent, Job, utcnow
from .context import Runtime
from .service import charged_material
from .states import record

log = logging.getLogger("fabserver.jobs")

# A job not finished after this long is no longer followed (staff type its time).
FOLLOW_FOR = timedelta(days=7)
# Clocks of the server and of the printer's host may differ this much.
CLOCK_SLACK_S = 600.0


def follow_job(runtime: Runtime, job_id: int) -> float | None:
    """Look once; record the actual figures of a completed print. Returns the seconds
    until the next look, or ``None`` when there is nothing more to follow."""
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None or job.state != "dispatched" or job.actual_source is not None:
            return None
        receipt = job.receipt or {}
        if not receipt.get("remote_ref"):
            return None
        sent_at = s.scalar(
            select(AuditEvent.at)
            .where(AuditEvent.job_id == job_id, AuditEvent.to_state == "dispatched")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        machine = machine_from_snapshot(job.machine_snapshot)
        line = charged_material(job.estimate)
        material_settings = (job.material_snapshot or {}).get("settings") or {}
    interval: float | None = None
    try:
        connector = connector_for(machine)
        interval = connector.follow_interval()
        if interval is None:
            return None
        if sent_at is not None and utcnow() - sent_at > FOLLOW_FOR:
            return None
        since = None if sent_at is None else sent_at.replace(tzinfo=UTC).timestamp()
        outcome = connector.outcome(
            receipt["remote_ref"], since=None if since is None else since - CLOCK_SLACK_S
        )
    except TransientDispatchError as exc:
        log.info("job %s: the machine cannot tell yet (%s)", job_id, exc.message.en)
        return interval
    except DispatchError as exc:
        with runtime.db.session() as s:
            record(s, job_id, "machine-report", actor="system", reason=exc.message.en)
        return None
    if outcome is None:
        return interval
    _record(runtime, job_id, outcome, line, material_settings)
    return None


def _record(
    runtime: Runtime,
    job_id: int,
    outcome: JobOutcome,
    line: dict[str, Any] | None,
    material_settings: dict[str, Any],
) -> None:
    unit = line["unit"] if line else None
    quantity = _material_quantity(outcome.filament_mm, unit, material_settings)
    with runtime.db.session() as s:
        if outcome.completed and outcome.time_s is not None:
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "dispatched", Job.actual_source.is_(None))
                .values(
                    actual_time_s=outcome.time_s,
                    actual_material=quantity,
                    actual_material_unit=unit if quantity is not None else None,
                    actual_source=outcome.source,
                )
            )
        record(
            s,
            job_id,
            "machine-report",
            actor=f"machine:{outcome.source}",
            reason=outcome.message.en,
            data={
                "status": outcome.status,
                "time_s": outcome.time_s,
                "filament_mm": outcome.filament_mm,
                "material_quantity": quantity,
                "unit": unit,
                "message": outcome.message.to_dict(),
                "details": outcome.details,
            },
        )


def _material_quantity(
    filament_mm: float | None, unit: str | None, settings: dict[str, Any]
) -> float | None:
    """Filament length the host counted, in the unit the job's material is charged in.

    Grams need the filament's diameter and density (the FDM plugin computes its
    estimate the same way; the core cannot import a plugin).
    """
    if filament_mm is None or unit is None:
        return None
    if unit == "mm":
        return filament_mm
    if unit == "m":
        return filament_mm / 1000.0
    if unit == "g":
        diameter, density = settings.get("diameter"), settings.get("density")
        if not diameter or not density:
            return None
        cm3 = filament_mm * math.pi * (float(diameter) / 2.0) ** 2 / 1000.0
        return cm3 * float(density)
    return None
