"""What a page or an API answer shows of a job, built once for both."""

from __future__ import annotations

import re
from typing import Any

from flask import url_for

from ..i18n import Text
from ..jobs.states import STATE_LABELS
from ..store.models import Job

# Audit actions a maker sees in the history (staff see all of them).
_PUBLIC_ACTIONS = ("transition", "maker-note")
NOTE_LABEL = Text("Message de l'équipe", "Note from the staff")


#: Reasons the server itself writes in the audit (stored as plain words), for people to read.
SYSTEM_REASONS = {
    "upload": Text("dépôt du fichier", "file uploaded"),
    "re-plan": Text("nouveau calcul", "planned again"),
    "cancelled by the maker": Text("annulée par le demandeur", "cancelled by the maker"),
    "restart: planning interrupted": Text(
        "redémarrage : calcul interrompu, relancé", "restart: planning interrupted, queued again"
    ),
}
_FILES_REMOVED = re.compile(r"files removed (\d+) days after the job finished")
#: Who acted, when it is not a staff member.
ACTORS = {
    "maker": Text("demandeur", "maker"),
    "worker": Text("serveur (calcul)", "server (planning)"),
    "system": Text("serveur", "server"),
}
#: Who recorded a job's actual time: the machine's host, or the staff at "done".
ACTUAL_SOURCES = {
    "staff": Text("l'équipe", "the staff"),
    "moonraker": Text("Moonraker (Klipper)", "Moonraker (Klipper)"),
    "octoprint": Text("OctoPrint", "OctoPrint"),
}


def reason_text(reason: str | None, data: dict | None, job: Job) -> dict[str, str] | None:
    """The words of an audit reason the server wrote, in both languages (``None`` for a
    person's own words, shown as typed). Older rows kept only the English text; the
    message it came from is found again in the row's data or the job."""
    if not reason:
        return None
    if reason in SYSTEM_REASONS:
        return SYSTEM_REASONS[reason].to_dict()
    if match := _FILES_REMOVED.fullmatch(reason):
        days = match.group(1)
        return Text(
            f"fichiers supprimés {days} jours après la fin de la demande",
            f"files removed {days} days after the job finished",
        ).to_dict()
    for source in (
        (data or {}).get("message"),
        (job.receipt or {}).get("message"),
        job.error_message,
    ):
        if isinstance(source, dict) and source.get("en") == reason:
            return source
    return None


def actor_text(actor: str) -> dict[str, str]:
    """``staff:ana`` → ana; the server's own actors in words."""
    if actor.startswith("staff:"):
        name = actor.removeprefix("staff:")
        return {"fr": name, "en": name}
    return ACTORS.get(actor, Text(actor, actor)).to_dict()


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
            "reason_text": reason_text(e.reason, e.data, job)
            if e.action == "maker-note" or e.to_state in ("rejected", "cancelled")
            else None,
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
                "reason_text": reason_text(e.reason, e.data, job),
                "actor_text": actor_text(e.actor),
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
            if option.zero_label is not None and value == 0 and not isinstance(value, bool):
                rows.append({"label": option.label, "value": option.zero_label, "unit": ""})
                continue
            if option.type == "choice" and option.choice_labels and value in option.choices:
                value = option.choice_labels[option.choices.index(value)]
            elif option.type == "bool":
                value = Text("oui", "yes") if value else Text("non", "no")
            unit = "%" if option.type == "percent" else option.unit
            rows.append({"label": option.label, "value": value, "unit": unit})
    return rows


def minutes(seconds: float | None) -> str:
    """A duration people read at a glance (non-breaking spaces: a figure never wraps);
    under a minute in seconds, so a short job does not read "0 min"."""
    if seconds is None:
        return "—"
    if 0 < seconds < 59.5:
        return f"{max(1, round(seconds))}\u00a0s"
    total = round(seconds / 60)
    hours, mins = divmod(total, 60)
    return f"{hours}\u00a0h\u00a0{mins:02d}" if hours else f"{mins}\u00a0min"
