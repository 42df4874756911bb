"""Staff pages: log in, the queue by machine and state, job detail and its actions.

Every action is a POST form (CSRF-protected) that calls :mod:`fabserver.jobs.service`
and comes back to the job page with a message.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..dispatch import DispatchError, MachineState, connector_for
from ..errors import FabError
from ..i18n import Text
from ..jobs import service
from ..jobs.runtime import Runtime
from ..jobs.states import ACTIVE_STATES, STATE_LABELS
from ..store.models import Artifact, Job, Upload
from .auth import check_login, issue_token, staff_actor
from .i18n import safe_next
from .views import minutes, option_rows, staff_job

bp = Blueprint("staff", __name__)

DONE_MESSAGES = {
    "approve": Text("Demande validée.", "Job approved."),
    "reject": Text(
        "Demande refusée ; le maker voit la raison.", "Job rejected; the maker sees why."
    ),
    "override": Text("Verdict modifié.", "Verdict overridden."),
    "replan": Text("Nouveau calcul en file d'attente.", "Re-planning queued."),
    "dispatch": Text("Envoi à la machine demandé.", "Sending to the machine."),
    "done": Text("Demande terminée ; temps réel enregistré.", "Job done; actual time recorded."),
    "cancel": Text("Demande annulée.", "Job cancelled."),
}


def _runtime() -> Runtime:
    return current_app.extensions["fabserver"]


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = check_login(
            _runtime(), request.form.get("username", "").strip(), request.form.get("password", "")
        )
        if user is not None:
            login_user(user)
            return redirect(
                safe_next(request.args.get("next"))
                if request.args.get("next")
                else url_for("staff.queue")
            )
        error = Text("Identifiant ou mot de passe incorrect.", "Wrong username or password.")
    return render_template("staff/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("maker.upload_form"))


def _totals(jobs: list[Job]) -> dict[str, Any]:
    time_s = sum((j.estimate or {}).get("machine_time_s", 0.0) for j in jobs)
    cost = sum((j.estimate or {}).get("cost_eur", 0.0) for j in jobs)
    material: dict[str, float] = defaultdict(float)
    for j in jobs:
        for line in (j.estimate or {}).get("materials", []):
            material[line["unit"]] += line["quantity"]
    return {"time_s": time_s, "cost_eur": cost, "material": dict(material), "count": len(jobs)}


@bp.get("/")
@login_required
def queue():
    runtime = _runtime()
    show_all = request.args.get("all") == "1"
    with runtime.db.session() as s:
        query = select(Job).order_by(Job.created_at)
        if not show_all:
            query = query.where(Job.state.in_(ACTIVE_STATES))
        jobs = s.scalars(query).unique().all()
    by_machine: dict[str, dict[str, list[Job]]] = {}
    for machine_id in runtime.profiles.machines:
        by_machine[machine_id] = {}
    for job in jobs:
        by_machine.setdefault(job.machine_id, {}).setdefault(job.state, []).append(job)
    sections = []
    for machine_id, states in by_machine.items():
        machine = runtime.profiles.machines.get(machine_id)
        all_jobs = [j for js in states.values() for j in js]
        pending = [j for j in all_jobs if j.state in ("review", "approved", "dispatched")]
        sections.append(
            {
                "id": machine_id,
                "name": machine.name if machine else machine_id,
                "states": [(st, states[st]) for st in STATE_LABELS if st in states],
                "totals": _totals(pending),
                "count": len(all_jobs),
            }
        )
    return render_template(
        "staff/queue.html",
        sections=sections,
        show_all=show_all,
        minutes=minutes,
        state_labels=STATE_LABELS,
    )


def _load(job_id: int) -> Job:
    with _runtime().db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            abort(404)
        job.artifacts  # noqa: B018 - load while the session is open
        job.events  # noqa: B018
        return job


@bp.get("/jobs/<int:job_id>")
@login_required
def job_detail(job_id: int):
    runtime = _runtime()
    job = _load(job_id)
    plugin = runtime.registry.plugins.get(job.plugin)
    options = [o.describe() for o in plugin.option_schema() if o.name != "copies"] if plugin else []
    machine = runtime.profiles.machines.get(job.machine_id)
    materials = runtime.profiles.materials_for(machine) if machine else []
    return render_template(
        "staff/job.html",
        job=staff_job(job),
        charged=service.charged_material(job.estimate),
        settings=option_rows(runtime.registry, job),
        options=options,
        materials=materials,
        minutes=minutes,
        state_labels=STATE_LABELS,
        action_labels=AUDIT_ACTIONS,
    )


AUDIT_ACTIONS: dict[str, Text] = {
    "transition": Text("changement d'état", "state change"),
    "override": Text("verdict changé", "verdict overridden"),
    "dispatch-requested": Text("envoi demandé", "dispatch requested"),
    "dispatch-attempt": Text("tentative d'envoi", "dispatch attempt"),
}


def _do(action: str, job_id: int) -> None:
    runtime, form, actor = _runtime(), request.form, staff_actor()
    if action == "approve":
        service.approve(runtime, job_id, actor, form.get("note", ""))
    elif action == "reject":
        service.reject(runtime, job_id, actor, form.get("reason", ""))
    elif action == "override":
        service.override_verdict(runtime, job_id, actor, form.get("kind", ""), form.get("note", ""))
    elif action == "replan":
        job = _load(job_id)
        plugin = runtime.registry.plugins.get(job.plugin)
        options = {}
        for option in plugin.option_schema() if plugin else ():
            given = form.getlist(f"opt-{option.name}")
            if option.name != "copies" and given and given[-1].strip() != "":
                options[option.name] = given[-1]
        service.replan(
            runtime,
            job_id,
            actor,
            options=options,
            copies=form.get("copies"),
            material_id=form.get("material") or None,
        )
    elif action == "dispatch":
        service.request_dispatch(runtime, job_id, actor)
    elif action == "done":
        service.mark_done(
            runtime,
            job_id,
            actor,
            form.get("actual_time_min", ""),
            form.get("actual_material", ""),
            form.get("note", ""),
        )
    elif action == "cancel":
        service.cancel(runtime, job_id, actor, form.get("reason", ""))
    else:
        abort(404)


@bp.post("/jobs/<int:job_id>/<action>")
@login_required
def job_action(job_id: int, action: str):
    if action not in DONE_MESSAGES:
        abort(404)
    _load(job_id)
    try:
        _do(action, job_id)
    except FabError as exc:
        flash(exc.message.to_dict(), "error")
        return redirect(url_for("staff.job_detail", job_id=job_id), code=303)
    flash(DONE_MESSAGES[action].to_dict(), "ok")
    return redirect(url_for("staff.job_detail", job_id=job_id), code=303)


def _download(sha256: str, filename: str, media_type: str) -> Response:
    data = _runtime().files.read(sha256)
    response = Response(data, mimetype=media_type)
    # Generated ASCII names only (job-12.gcode); the maker's name is never a path.
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/jobs/<int:job_id>/files/<int:artifact_id>")
@login_required
def download(job_id: int, artifact_id: int):
    with _runtime().db.session() as s:
        artifact = s.get(Artifact, artifact_id)
        if artifact is None or artifact.job_id != job_id:
            abort(404)
    return _download(artifact.sha256, artifact.filename, artifact.media_type)


@bp.get("/jobs/<int:job_id>/source")
@login_required
def source(job_id: int):
    job = _load(job_id)
    with _runtime().db.session() as s:
        upload = s.get(Upload, job.design.upload_id)
    suffix = {
        "model/stl": ".stl",
        "model/3mf": ".3mf",
        "image/svg+xml": ".svg",
        "image/vnd.dxf": ".dxf",
    }.get(upload.media_type, ".bin")
    return _download(upload.sha256, f"job-{job_id}-source{suffix}", "application/octet-stream")


@bp.get("/machines")
@login_required
def machines():
    """Per machine: its live state when it is connected, and how far estimates were
    from what really happened."""
    runtime = _runtime()
    with runtime.db.session() as s:
        done = (
            s.scalars(
                select(Job)
                .where(Job.state == "done", Job.actual_time_s.is_not(None))
                .order_by(Job.id)
            )
            .unique()
            .all()
        )
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in done:
        estimate = job.estimate or {}
        est_time = estimate.get("machine_time_s") or 0.0
        line = service.charged_material(estimate)
        est_material = line["quantity"] if line else 0.0
        rows[job.machine_id].append(
            {
                "id": job.id,
                "estimate_s": est_time,
                "actual_s": job.actual_time_s,
                "time_ratio": (job.actual_time_s / est_time) if est_time else None,
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
    summary = []
    for machine_id in dict.fromkeys([*runtime.profiles.machines, *rows]):
        items = rows.get(machine_id, [])
        ratios = [r["time_ratio"] for r in items if r["time_ratio"] is not None]
        mratios = [r["material_ratio"] for r in items if r["material_ratio"] is not None]
        machine = runtime.profiles.machines.get(machine_id)
        summary.append(
            {
                "id": machine_id,
                "name": machine.name if machine else machine_id,
                "jobs": items,
                "mean_time_ratio": sum(ratios) / len(ratios) if ratios else None,
                "mean_material_ratio": sum(mratios) / len(mratios) if mratios else None,
            }
        )
    unavailable = [
        {"id": m.id, "name": m.name, "plugin": m.plugin}
        for m in runtime.profiles.machines.values()
        if m.plugin not in runtime.registry.plugins
    ]
    connected = [
        {"id": m.id, "name": m.name, "type": m.connector.get("type", "download")}
        for m in runtime.profiles.machines.values()
        if not m.abstract and m.connector.get("type", "download") != "download"
    ]
    return render_template(
        "staff/machines.html",
        connected=connected,
        summary=summary,
        minutes=minutes,
        broken=list(runtime.registry.broken.values()),
        unavailable=unavailable,
    )


# What a machine says about itself, in words (the connectors' MachineState.state).
MACHINE_STATES: dict[str, Text] = {
    "idle": Text("Libre", "Idle"),
    "queued": Text("En file d'attente", "Queued"),
    "connecting": Text("Connexion", "Connecting"),
    "starting": Text("Démarrage", "Starting"),
    "heating": Text("Chauffe", "Heating"),
    "printing": Text("En cours", "Printing"),
    "paused": Text("En pause", "Paused"),
    "pausing": Text("Mise en pause", "Pausing"),
    "cancelling": Text("Annulation", "Cancelling"),
    "error": Text("Erreur", "Error"),
    "offline": Text("Hors ligne", "Offline"),
    "unknown": Text("Inconnu", "Unknown"),
}
_RUNNING = ("printing", "heating", "paused", "pausing")


@bp.get("/machines/<machine_id>/status.json")
@login_required
def machine_status(machine_id: str):
    """What the machine says about itself, fetched by the staff pages after they load
    (a connector may take a moment to answer; the page never waits for it)."""
    machine = _runtime().profiles.machines.get(machine_id)
    if machine is None:
        abort(404)
    try:
        state = connector_for(machine).status()
    except DispatchError as exc:
        return jsonify(_live_state("error", message=exc.message))
    except Exception:
        current_app.logger.exception("status of %s", machine_id)
        return jsonify(_live_state("unknown"))
    if state is None:
        return jsonify(state=None, progress=None, message=None)
    message = state.message if (state.message.fr or state.message.en) else None
    live = _live_state(state.state, state.progress, message)
    if state.state in _RUNNING:
        live.update(_remaining(machine_id, state))
    live["file"] = state.details.get("file")
    return jsonify(live)


def _live_state(
    state: str, progress: float | None = None, message: Text | None = None
) -> dict[str, Any]:
    label = MACHINE_STATES.get(state, Text(state, state))
    return {
        "state": state,
        "label": label.to_dict(),
        "progress": progress,
        "message": message.to_dict() if message is not None else None,
    }


def _remaining(machine_id: str, state: MachineState) -> dict[str, Any]:
    """The running job's remaining time: ours (the job's estimate less the time the host
    says has passed) beside the host's own figure."""
    details = state.details
    file = details.get("file") or ""
    with _runtime().db.session() as s:
        running = s.scalars(
            select(Job).where(Job.machine_id == machine_id, Job.state == "dispatched")
        ).all()
    job = next(
        (
            j
            for j in running
            if file and (j.receipt or {}).get("remote_ref") in (file, file.rsplit("/", 1)[-1])
        ),
        None,
    )
    ours = None
    estimate = (job.estimate or {}).get("machine_time_s") if job is not None else None
    if estimate:
        elapsed = details.get("elapsed_s")
        if elapsed is not None:
            ours = max(0.0, estimate - float(elapsed))
        elif state.progress is not None:
            ours = estimate * (1.0 - state.progress)
    host = details.get("remaining_s")
    parts_fr, parts_en = [], []
    if ours is not None:
        parts_fr.append(f"{minutes(ours)} (notre estimation)")
        parts_en.append(f"{minutes(ours)} (our estimate)")
    if host is not None:
        parts_fr.append(f"{minutes(host)} (selon l'imprimante)")
        parts_en.append(f"{minutes(host)} (the printer's)")
    text = (
        Text("Reste " + " · ".join(parts_fr), "Left: " + " · ".join(parts_en)) if parts_en else None
    )
    return {
        "job": job.id if job is not None else None,
        "remaining": {"ours_s": ours, "host_s": host},
        "remaining_text": text.to_dict() if text is not None else None,
    }


@bp.post("/tokens")
@login_required
def new_token():
    token = issue_token(_runtime(), current_user.id, request.form.get("name", ""))
    return render_template("staff/token.html", token=token)
