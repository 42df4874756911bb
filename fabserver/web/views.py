"""What a page or an API answer shows of a job, built once for both."""

from __future__ import annotations

from typing import Any

from flask import url_for

from ..i18n import Text
from ..jobs.states import STATE_LABELS
from ..store.models import Job

# Audit actions a maker sees in the history (staff see all of them).
_PUBLIC_ACTIONS = ("transition", "maker-note")
NOTE_LABEL = Text("Message de l'équipe", "Note from the staff")


def state_label(state: str) -> dict[str, str]:
    return STATE_LABELS.get(state, Text(state, state)).to_dict()


def current_artifacts(job: Job) -> dict[str, Any]:
    """Artifacts of the latest plan, by role ("machine", "extra", "preview", "layers");
    none once retention removed the job's files (their rows stay for the record)."""
    out: dict[str, Any] = {}
    if job.files_removed_at is not None:
        return out
    for artifact in job.artifacts:
        if artifact.plan_version != job.plan_version:
            continue
        if artifact.role == "extra":
            out.setdefault("extra", []).append(artifact)
        else:
            out[artifact.role] = artifact
    return out


def public_job(job: Job) -> dict[str, Any]:
    """What the maker (holder of the link) may see; JSON-ready."""
    arts = current_artifacts(job)
    history = [
        {
            "at": e.at.isoformat(timespec="seconds") + "Z",
            "from": e.from_state,
            "to": e.to_state,
            "label": (
                NOTE_LABEL.to_dict() if e.action == "maker-note" else state_label(e.to_state or "")
            ),
            "reason": (
                e.reason
                if e.action == "maker-note" or e.to_state in ("rejected", "cancelled")
                else ""
            ),
        }
        for e in job.events
        if e.action in _PUBLIC_ACTIONS
    ]
    return {
        "token": job.token,
        "state": job.state,
        "state_label": state_label(job.state),
        "progress": round(job.progress, 3),
        "stage": job.stage,
        "machine": {"id": job.machine_id, "name": job.machine_snapshot["name"]},
        "site": job.site,
        "material": {"id": job.material_id, "name": job.material_snapshot["name"]},
        "copies": job.copies,
        "options": job.options,
        "design": {
            "name": job.design.upload.original_name,
            "kind": job.design.kind,
            "facts": job.design.facts,
        },
        "estimate": job.estimate,
        "verdict": job.effective_verdict,
        "warnings": job.warnings,
        "error": job.error_message,
        "rejection_reason": job.rejection_reason,
        "stock": (
            {k: job.stock[k] for k in ("piece_id", "area_mm2", "label")} if job.stock else None
        ),
        "preview_url": (
            url_for("maker.preview", token=job.token, v=job.plan_version)
            if "preview" in arts
            else None
        ),
        "layers_url": (
            url_for("maker.layers", token=job.token, v=job.plan_version)
            if "layers" in arts
            else None
        ),
        "history": history,
        "files_removed_at": (
            job.files_removed_at.isoformat(timespec="seconds") + "Z"
            if job.files_removed_at
            else None
        ),
        "created_at": job.created_at.isoformat(timespec="seconds") + "Z",
        "updated_at": job.updated_at.isoformat(timespec="seconds") + "Z",
    }


def staff_job(job: Job) -> dict[str, Any]:
    """Everything staff see: the public view plus contact, trace, audit and files."""
    arts = current_artifacts(job)
    files = [a for a in [arts.get("machine"), *arts.get("extra", [])] if a is not None]
    data = public_job(job)
    data.update(
        id=job.id,
        maker={"name": job.maker_name, "email": job.maker_email, "phone": job.maker_phone},
        maker_locale=job.maker_locale,
        plugin=job.plugin,
        plan_version=job.plan_version,
        verdict_computed=job.verdict,
        verdict_override=job.verdict_override,
        error_detail=job.error_detail,
        receipt=job.receipt,
        stock_detail=job.stock,
        dispatch_attempts=job.dispatch_attempts,
        actual={
            "time_s": job.actual_time_s,
            "material_quantity": job.actual_material,
            "unit": job.actual_material_unit,
            # "moonraker" / "octoprint": read from the machine's host; "staff": typed at done
            "source": job.actual_source,
        },
        files=[
            {
                "id": a.id,
                "filename": a.filename,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in files
        ],
        audit=[
            {
                "at": e.at.isoformat(timespec="seconds") + "Z",
                "actor": e.actor,
                "action": e.action,
                "from": e.from_state,
                "to": e.to_state,
                "reason": e.reason,
                "data": e.data,
            }
            for e in job.events
        ],
    )
    return data


def option_rows(registry, job: Job) -> list[dict[str, Any]]:
    """The job's plugin settings with their labels and units, for people to read."""
    plugin = registry.plugins.get(job.plugin)
    if plugin is None:
        return [{"label": Text(k, k), "value": v, "unit": ""} for k, v in job.options.items()]
    rows = []
    for option in plugin.option_schema():
        if option.name in job.options:
            value = job.options[option.name]
            if option.type == "choice" and option.choice_labels and value in option.choices:
                value = option.choice_labels[option.choices.index(value)]
            elif option.type == "bool":
                value = Text("oui", "yes") if value else Text("non", "no")
            unit = "%" if option.type == "percent" else option.unit
            rows.append({"label": option.label, "value": value, "unit": unit})
    return rows


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = round(seconds / 60)
    hours, mins = divmod(total, 60)
    return f"{hours} h {mins:02d}" if hours else f"{mins} min"
