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
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from ..dispatch import DispatchError, MachineState, connector_for
from ..errors import FabError
from ..i18n import Text
from ..jobs import queries, service
from ..jobs.retention import disk_use
from ..jobs.states import STATE_LABELS
from ..lab import charts, reports, stockroom
from ..stock import OFFCUT_KINDS
from ..store.models import Job
from .auth import (
    SESSION_KEY,
    TooManyAttempts,
    check_login,
    close_session,
    issue_token,
    open_session,
    staff_actor,
    staff_sites,
)
from .context import artifact_download, attachment, runtime_of, site_job
from .fields import form_options
from .i18n import current_language, safe_next
from .views import ACTUAL_SOURCES, minutes, option_rows, staff_job

bp = Blueprint("staff", __name__)

DONE_MESSAGES = {
    "approve": Text("Demande validée.", "Job approved."),
    "reject": Text(
        "Demande refusée ; le demandeur voit la raison.", "Job rejected; the maker sees why."
    ),
    "override": Text("Verdict modifié.", "Verdict overridden."),
    "replan": Text("Nouveau calcul en file d'attente.", "Re-planning queued."),
    "dispatch": Text("Envoi à la machine demandé.", "Sending to the machine."),
    "done": Text("Demande terminée ; temps réel enregistré.", "Job done; actual time recorded."),
    "cancel": Text("Demande annulée.", "Job cancelled."),
    "note": Text("Message envoyé au demandeur.", "Note sent to the maker."),
}


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        address = request.remote_addr or ""
        try:
            user = check_login(
                runtime_of(),
                request.form.get("username", "").strip(),
                request.form.get("password", ""),
                address,
            )
        except TooManyAttempts as exc:
            page = render_template("staff/login.html", error=exc.message)
            return page, 429, {"Retry-After": str(exc.retry_after_s)}
        if user is not None:
            # A fresh cookie: nothing from before the login (session fixation) carries over.
            session.clear()
            session.permanent = True
            session[SESSION_KEY] = open_session(runtime_of(), user, address)
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
    token = session.pop(SESSION_KEY, None)
    if token:
        close_session(runtime_of(), token)
    logout_user()
    return redirect(url_for("maker.upload_form"))


@bp.get("/")
@login_required
def queue():
    runtime = runtime_of()
    show_all = request.args.get("all") == "1"
    sites = _my_sites()
    sections = []
    for section in queries.queue_sections(runtime, sites, show_all):
        machine = runtime.profiles.machines.get(section.machine_id)
        sections.append(
            {
                "id": section.machine_id,
                "name": machine.name if machine else section.machine_id,
                "site": _site_label(machine.site if machine else ""),
                "states": section.states,
                "totals": section.totals,
                "count": section.count,
            }
        )
    return render_template(
        "staff/queue.html",
        sites=_sites_line(sites),
        sections=sections,
        show_all=show_all,
        minutes=minutes,
        state_labels=STATE_LABELS,
    )


def _my_sites() -> list[str]:
    return staff_sites(current_user, runtime_of())


def _site_label(site_id: str) -> Any:
    """The site's name where the lab has several sites (nothing to say otherwise)."""
    sites = runtime_of().profiles.sites
    return sites[site_id].name if len(sites) > 1 and site_id in sites else None


def _sites_line(site_ids: list[str]) -> list[Any]:
    """The names of the staff member's sites, for the page header (several sites only)."""
    return [label for label in map(_site_label, site_ids) if label is not None]


def _load(job_id: int) -> Job:
    return site_job(job_id, _my_sites())


@bp.get("/jobs/<int:job_id>")
@login_required
def job_detail(job_id: int):
    runtime = runtime_of()
    job = _load(job_id)
    plugin = runtime.registry.plugins.get(job.plugin)
    options = [o.describe() for o in plugin.option_schema() if o.name != "copies"] if plugin else []
    machine = runtime.profiles.machines.get(job.machine_id)
    materials = runtime.profiles.materials_for(machine) if machine else []
    earlier = queries.earlier_jobs(runtime, job)
    rest = (job.stock or {}).get("leftover")
    return render_template(
        "staff/job.html",
        job=staff_job(job),
        earlier=earlier,
        offcut_left=stockroom.describe(rest) if rest else None,
        charged=service.charged_material(job.estimate),
        settings=option_rows(runtime.registry, job),
        options=options,
        materials=materials,
        minutes=minutes,
        state_labels=STATE_LABELS,
        action_labels=AUDIT_ACTIONS,
        actual_sources=ACTUAL_SOURCES,
    )


AUDIT_ACTIONS: dict[str, Text] = {
    "transition": Text("changement d'état", "state change"),
    "override": Text("verdict changé", "verdict overridden"),
    "dispatch-requested": Text("envoi demandé", "dispatch requested"),
    "dispatch-attempt": Text("tentative d'envoi", "dispatch attempt"),
    "files-removed": Text("fichiers supprimés (conservation)", "files removed (retention)"),
    "maker-note": Text("message au demandeur", "note to the maker"),
    "mail": Text("e-mail envoyé", "e-mail sent"),
}


def _do(action: str, job_id: int) -> None:
    runtime, form, actor = runtime_of(), request.form, staff_actor()
    if action == "approve":
        service.approve(runtime, job_id, actor, form.get("note", ""))
    elif action == "reject":
        service.reject(runtime, job_id, actor, form.get("reason", ""))
    elif action == "override":
        service.override_verdict(runtime, job_id, actor, form.get("kind", ""), form.get("note", ""))
    elif action == "replan":
        job = _load(job_id)
        options = form_options(form, runtime.registry.plugins.get(job.plugin), "opt-")
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
            keep_offcut=form.get("keep_offcut") == "1",
        )
    elif action == "cancel":
        service.cancel(runtime, job_id, actor, form.get("reason", ""))
    elif action == "note":
        service.note_to_maker(runtime, job_id, actor, form.get("note", ""))
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


@bp.get("/jobs/<int:job_id>/files/<int:artifact_id>")
@login_required
def download(job_id: int, artifact_id: int):
    _load(job_id)  # another site's job: 403, as its page
    return artifact_download(job_id, artifact_id)


@bp.get("/jobs/<int:job_id>/source")
@login_required
def source(job_id: int):
    upload = queries.job_upload(runtime_of(), _load(job_id))
    suffix = {
        "model/stl": ".stl",
        "model/3mf": ".3mf",
        "image/svg+xml": ".svg",
        "image/vnd.dxf": ".dxf",
        "text/x-gcode": ".gcode",
    }.get(upload.media_type, ".bin")
    return attachment(upload.sha256, f"job-{job_id}-source{suffix}", "application/octet-stream")


@bp.get("/machines")
@login_required
def machines():
    """Per machine: its live state when it is connected, and how far estimates were
    from what really happened."""
    runtime = runtime_of()
    summary = [
        {
            "id": row.machine_id,
            "name": machine.name if machine else row.machine_id,
            "jobs": [{**job, "source": ACTUAL_SOURCES.get(job["source"])} for job in row.jobs],
            "mean_time_ratio": row.mean_time_ratio,
            "mean_material_ratio": row.mean_material_ratio,
            "corrections": [
                {
                    "material_id": material_id,
                    "material": runtime.profiles.materials.get(material_id),
                    "correction": correction,
                }
                for material_id, correction in row.corrections
            ],
        }
        for row in queries.estimate_accuracy(runtime, _my_sites())
        for machine in [runtime.profiles.machines.get(row.machine_id)]
    ]
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
        disk=disk_use(runtime),
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
    machine = runtime_of().profiles.machines.get(machine_id)
    if machine is None or machine.site not in _my_sites():
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
    job = queries.dispatched_job_running(runtime_of(), machine_id, details.get("file") or "")
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


@bp.post("/machines/<machine_id>/corrections/<material_id>/reset")
@login_required
def reset_correction(machine_id: str, material_id: str):
    """Learn this machine × material's time correction afresh (after a repair, new settings)."""
    service.reset_correction(runtime_of(), machine_id, material_id, staff_actor())
    return redirect(url_for("staff.machines"), code=303)


@bp.post("/tokens")
@login_required
def new_token():
    token = issue_token(runtime_of(), current_user.id, request.form.get("name", ""))
    return render_template("staff/token.html", token=token)


@bp.get("/stock")
@login_required
def stock():
    """Pieces kept per material (offcuts, remnants), with a form to record more."""
    runtime = runtime_of()
    sites = _my_sites()
    pieces = queries.stock_pieces(runtime, sites)
    materials = [m for m in runtime.profiles.materials.values() if m.kind in OFFCUT_KINDS]
    names = {m.id: m.name for m in runtime.profiles.materials.values()}
    return render_template(
        "staff/stock.html",
        sites=_sites_line(sites),
        site_choices=[(site, _site_label(site)) for site in sites] if len(sites) > 1 else [],
        site_label=_site_label,
        pieces=pieces,
        materials=materials,
        names=names,
        describe=stockroom.describe,
    )


@bp.post("/stock")
@login_required
def stock_add():
    runtime = runtime_of()
    try:
        piece = service.add_stock_piece(runtime, request.form.to_dict(), _my_sites())
        label = Text(f"Pièce n° {piece['id']} enregistrée.", f"Piece no. {piece['id']} recorded.")
    except FabError as exc:
        flash(exc.message.to_dict(), "error")
    else:
        flash(label.to_dict(), "ok")
    return redirect(url_for("staff.stock"), code=303)


@bp.post("/stock/<int:piece_id>/delete")
@login_required
def stock_delete(piece_id: int):
    if not service.remove_stock_piece(runtime_of(), piece_id, _my_sites()):
        abort(404)
    flash(Text(f"Pièce n° {piece_id} retirée.", f"Piece no. {piece_id} removed.").to_dict(), "ok")
    return redirect(url_for("staff.stock"), code=303)


def _report_for_request() -> tuple[dict[str, Any], Text | None]:
    """The report of the period asked for (this month by default), and a message
    when the dates could not be read."""
    problem = None
    try:
        period = reports.Period.parse(request.args.get("from"), request.args.get("to"))
    except FabError as exc:
        problem = exc.message
        period = reports.Period.parse(None, None)
    sites = _my_sites()
    asked = request.args.get("site")
    if asked:
        if asked not in sites:
            abort(403)
        sites = [asked]
    return queries.lab_report(runtime_of(), period, sites), problem


def _by_machine(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in report["rows"]:
        sums = out.setdefault(row["machine"], defaultdict(float))
        for key in ("jobs", "prototypes", "series", "rejected", "machine_time_s", "actual_time_s"):
            sums[key] += row[key]
    return out


CHART_WORDS = {
    "jobs": Text("Demandes par machine", "Jobs per machine"),
    "prototypes": Text("Prototypes", "Prototypes"),
    "series": Text("Séries", "Series"),
    "rejected": Text("Refusées", "Rejected"),
    "others": Text("Autres (en cours, annulées, en échec)", "Others (pending, cancelled, failed)"),
    "hours": Text("Heures machine (demandes terminées)", "Machine hours (jobs done)"),
    "estimated": Text("Estimées", "Estimated"),
    "actual": Text("Réelles", "Actual"),
}


def _report_charts(report: dict[str, Any], lang: str) -> list[Markup]:
    """Jobs per machine (prototypes, series, rejected, others) and machine hours
    (estimated and actual), as inline SVG."""
    profiles = runtime_of().profiles
    sums = _by_machine(report)
    names = [profiles.machines[m].name.get(lang) if m in profiles.machines else m for m in sums]
    word = {key: text.get(lang) for key, text in CHART_WORDS.items()}
    values = list(sums.values())
    others = [v["jobs"] - v["prototypes"] - v["series"] - v["rejected"] for v in values]
    jobs = charts.bar_chart(
        word["jobs"],
        names,
        [
            charts.Series(word["prototypes"], [v["prototypes"] for v in values], charts.PALETTE[0]),
            charts.Series(word["series"], [v["series"] for v in values], charts.PALETTE[1]),
            charts.Series(word["rejected"], [v["rejected"] for v in values], charts.PALETTE[2]),
            charts.Series(word["others"], others, charts.PALETTE[4]),
        ],
        decimal_comma=lang == "fr",
    )
    hours = charts.bar_chart(
        word["hours"],
        names,
        [
            charts.Series(
                word["estimated"], [v["machine_time_s"] / 3600 for v in values], charts.PALETTE[3]
            ),
            charts.Series(
                word["actual"], [v["actual_time_s"] / 3600 for v in values], charts.PALETTE[0]
            ),
        ],
        stacked=False,
        unit=" h",
        decimal_comma=lang == "fr",
    )
    return [Markup(jobs), Markup(hours)]


@bp.get("/reports")
@login_required
def reports_page():
    report, problem = _report_for_request()
    if problem is not None:
        flash(problem.to_dict(), "error")
    profiles = runtime_of().profiles
    return render_template(
        "staff/reports.html",
        report=report,
        site_label=_site_label,
        site_choices=[(site, _site_label(site)) for site in _my_sites()]
        if len(profiles.sites) > 1
        else [],
        charts=_report_charts(report, current_language()),
        machine_names={k: m.name for k, m in profiles.machines.items()},
        material_names={k: m.name for k, m in profiles.materials.items()},
        minutes=minutes,
    )


@bp.get("/reports.csv")
@login_required
def reports_csv():
    report, problem = _report_for_request()
    if problem is not None:
        abort(400)
    french = request.args.get("dialect", "fr") != "standard"
    return csv_response(report, french)


def csv_response(report: dict[str, Any], french: bool) -> Response:
    body = reports.report_csv(report, french=french)
    response = Response(body, mimetype="text/csv")
    response.charset = "utf-8"
    name = f"fablab-{report['from']}-{report['to']}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
