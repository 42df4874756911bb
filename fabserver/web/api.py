"""JSON API under ``/api/v1``: the makers' actions (public) and the staff's (bearer token).

Token-authenticated and cookie-free, so it is exempt from CSRF; the OpenAPI
document at ``/api/v1/openapi.json`` describes every route here.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, g, jsonify, request, url_for

from ..errors import FabError
from ..i18n import Text
from ..jobs import intake, queries, quotes, service
from ..lab import reports
from ..store.models import JOB_STATES, Job
from .auth import staff_actor, staff_sites, token_required
from .context import artifact_download, quote_or_404, runtime_of, site_job, token_job
from .errors import csrf
from .fields import MISSING_FILE, consented, maker_from, uploaded_file
from .openapi import openapi_document
from .views import public_job, staff_job

bp = Blueprint("api", __name__)
csrf.exempt(bp)


def _error(status: int, message: Text):
    return jsonify(error=message.to_dict()), status


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


def _unknown_site(site: str):
    known = ", ".join(runtime_of().profiles.sites)
    return _error(
        400, Text(f"Site inconnu : {site} (sites : {known}).", f"Unknown site: {site} ({known}).")
    )


@bp.get("/sites")
def sites():
    """The lab's sites, their machines and how much work waits at each."""
    runtime = runtime_of()
    queues = queries.waiting_by_site(runtime)
    out = [
        {
            **site.public(),
            "machines": [m.id for m in runtime.profiles.machines_at(site.id)],
            "queue": queues.get(site.id, {"jobs": 0, "machine_time_s": 0.0}),
        }
        for site in runtime.profiles.sites.values()
    ]
    return jsonify(sites=out)


@bp.get("/machines")
def machines():
    runtime = runtime_of()
    site = request.args.get("site") or None
    if site is not None and site not in runtime.profiles.sites:
        return _unknown_site(site)
    out = []
    for machine in service.machines_for_kind(runtime):
        if site is not None and machine.site != site:
            continue
        plugin = runtime.registry.plugins[machine.plugin]
        out.append(
            {
                "id": machine.id,
                "name": machine.name.text().to_dict(),
                "site": machine.site,
                "plugin": machine.plugin,
                "accepts": sorted(plugin.accepts),
                "work_area_mm": [machine.work_area.x, machine.work_area.y, machine.work_area.z],
                "materials": [
                    {"id": m.id, "name": m.name.text().to_dict(), "kind": m.kind}
                    for m in runtime.profiles.materials_for(machine)
                ],
                "options": [o.describe() for o in plugin.option_schema()],
            }
        )
    return jsonify(machines=out)


@bp.post("/jobs")
def create_job():
    """A maker's upload without the form (multipart: file + fields, options as JSON)."""
    runtime = runtime_of()
    file = uploaded_file(MISSING_FILE)
    if not consented(request.form):
        return _error(
            400,
            Text(
                "Il faut accepter les règles du lab (consent=1).",
                "Consent is required (consent=1).",
            ),
        )
    # ServerBusy and DesignError are answered by the app's error handlers (503, 422).
    row = intake.accept_design(runtime, file.read(), file.filename).row
    options: dict[str, Any] = {}
    if request.form.get("options"):
        try:
            options = json.loads(request.form["options"])
            if not isinstance(options, dict):
                raise ValueError
        except ValueError:
            return _error(
                400,
                Text("« options » doit être un objet JSON.", "'options' must be a JSON object."),
            )
    try:
        job = service.submit(
            runtime,
            row,
            request.form.get("machine", ""),
            request.form.get("material", ""),
            request.form.get("copies", "1"),
            options,
            maker_from(request.form, request.form.get("locale", "fr")),
        )
    except service.ActionError as exc:
        return _error(400, exc.message)
    url = url_for("maker.job_page", token=job.token, _external=True)
    return jsonify(token=job.token, url=url, state=job.state), 201


@bp.get("/jobs/<token>")
def job_status(token: str):
    return jsonify(public_job(token_job(token)))


def _by_id(job_id: int) -> Job:
    return site_job(job_id, _my_sites())


def _my_sites() -> list[str]:
    return staff_sites(g.api_user, runtime_of())


def _sites_asked() -> list[str]:
    """The sites a staff request is about: its ``site`` argument, or all of the holder's.
    A site the holder does not work at ends the request (403)."""
    mine = _my_sites()
    asked = request.args.get("site")
    if not asked:
        return mine
    if asked not in mine:
        abort(_not_your_site())
    return [asked]


def _not_your_site():
    response, status = _error(
        403,
        Text(
            "Ce site n'est pas le vôtre : votre compte travaille sur "
            + (", ".join(_my_sites()) or "aucun site")
            + ".",
            "This is not your site: your account works on "
            + (", ".join(_my_sites()) or "no site")
            + ".",
        ),
    )
    response.status_code = status
    return response


@bp.get("/staff/jobs")
@token_required
def staff_jobs():
    sites = _sites_asked()
    state = request.args.get("state")
    if state and state not in JOB_STATES:
        return _error(400, Text(f"État inconnu : {state}.", f"Unknown state: {state}."))
    jobs = queries.jobs_at(
        runtime_of(), sites, (state,) if state else None, request.args.get("machine")
    )
    out = [
        {
            "id": j.id,
            "token": j.token,
            "state": j.state,
            "machine": j.machine_id,
            "site": j.site,
            "material": j.material_id,
            "copies": j.copies,
            "maker": j.maker_name,
            "machine_time_s": (j.estimate or {}).get("machine_time_s"),
            "cost_eur": (j.estimate or {}).get("cost_eur"),
            "verdict": (j.effective_verdict or {}).get("kind"),
            "created_at": j.created_at.isoformat(timespec="seconds") + "Z",
        }
        for j in jobs
    ]
    return jsonify(jobs=out)


@bp.get("/staff/jobs/<int:job_id>")
@token_required
def staff_job_detail(job_id: int):
    return jsonify(staff_job(_by_id(job_id)))


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


ACTIONS = {
    "approve": lambda rt, i, a, b: service.approve(rt, i, a, str(b.get("note", ""))),
    "reject": lambda rt, i, a, b: service.reject(rt, i, a, str(b.get("reason", ""))),
    "override": lambda rt, i, a, b: service.override_verdict(
        rt, i, a, str(b.get("kind", "")), str(b.get("note", ""))
    ),
    "replan": lambda rt, i, a, b: service.replan(
        rt,
        i,
        a,
        options=b.get("options") or {},
        copies=b.get("copies"),
        material_id=b.get("material"),
    ),
    "dispatch": lambda rt, i, a, b: service.request_dispatch(rt, i, a),
    "done": lambda rt, i, a, b: service.mark_done(
        rt,
        i,
        a,
        b.get("actual_time_min", ""),
        b.get("actual_material"),
        str(b.get("note", "")),
        keep_offcut=bool(b.get("keep_offcut")),
    ),
    "cancel": lambda rt, i, a, b: service.cancel(rt, i, a, str(b.get("reason", ""))),
    "note": lambda rt, i, a, b: service.note_to_maker(rt, i, a, str(b.get("note", ""))),
}


def _action(job_id: int, name: str):
    _by_id(job_id)
    try:
        ACTIONS[name](runtime_of(), job_id, staff_actor(), _body())
    except FabError as exc:
        return _error(409, exc.message)
    return jsonify(staff_job(_by_id(job_id)))


def _register_actions() -> None:
    for name in ACTIONS:

        def view(job_id: int, _name: str = name):
            return _action(job_id, _name)

        view.__name__ = f"staff_job_{name}"
        bp.add_url_rule(
            f"/staff/jobs/<int:job_id>/{name}",
            endpoint=view.__name__,
            view_func=token_required(view),
            methods=["POST"],
        )


_register_actions()


@bp.get("/staff/jobs/<int:job_id>/files/<int:artifact_id>")
@token_required
def staff_file(job_id: int, artifact_id: int):
    _by_id(job_id)
    return artifact_download(job_id, artifact_id)


@bp.get("/staff/stock")
@token_required
def stock_list():
    sites = _sites_asked()
    pieces = queries.stock_pieces(runtime_of(), sites, request.args.get("material") or None)
    return jsonify(pieces=pieces)


@bp.post("/staff/stock")
@token_required
def stock_add():
    runtime = runtime_of()
    try:
        answer = service.add_stock_piece(runtime, _body(), _my_sites())
    except FabError as exc:
        return _error(400, exc.message)
    return jsonify(answer), 201


@bp.delete("/staff/stock/<int:piece_id>")
@token_required
def stock_delete(piece_id: int):
    if not service.remove_stock_piece(runtime_of(), piece_id, _my_sites()):
        return _error(404, Text("Pièce inconnue.", "Unknown piece."))
    return "", 204


@bp.get("/staff/reports")
@token_required
def staff_reports():
    """The lab's activity over a period; ``format=csv`` for a spreadsheet."""
    from .staff import csv_response

    try:
        period = reports.Period.parse(request.args.get("from"), request.args.get("to"))
    except FabError as exc:
        return _error(400, exc.message)
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        return _error(400, Text("format : json ou csv.", "format: json or csv."))
    sites = _sites_asked()
    report = queries.lab_report(runtime_of(), period, sites)
    if fmt == "csv":
        return csv_response(report, french=request.args.get("dialect", "fr") != "standard")
    return jsonify(report)


# --- quotes: upload first, every machine answers, the maker steers, then sends ----------


@bp.post("/quotes")
def create_quote():
    """A design without a machine: a draft plan is queued for every machine that takes it."""
    runtime = runtime_of()
    # MissingFile, ServerBusy, DesignError: answered by the app's handlers (400, 503, 422).
    file = uploaded_file(MISSING_FILE)
    quote = quotes.from_upload(runtime, file.read(), file.filename)
    return jsonify(quotes.view(runtime, quotes.load(runtime, quote.token))), 201


@bp.get("/quotes/<token>")
def quote_status(token: str):
    response = jsonify(quotes.view(runtime_of(), quote_or_404(token)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/quotes/<token>/plans")
def quote_replan(token: str):
    """Plan one machine's row again with the maker's choice (queued; poll the quote)."""
    quote_or_404(token)
    runtime = runtime_of()
    try:
        plan = quotes.replan_row(runtime, token, _body())
    except FabError as exc:
        return _error(400, exc.message)
    return jsonify(quotes.plan_view(runtime, plan)), 202


@bp.post("/quotes/<token>/submit")
def quote_submit(token: str):
    """Send the chosen row: the job keeps its plan and goes to review."""
    quote_or_404(token)
    body = _body()
    if not consented(body):
        return _error(
            400,
            Text("Il faut accepter les règles du lab (consent).", "Consent is required (consent)."),
        )
    try:
        job = quotes.submit(
            runtime_of(), token, body, maker_from(body, str(body.get("locale", "fr")))
        )
    except FabError as exc:
        return _error(400, exc.message)
    url = url_for("maker.job_page", token=job.token, _external=True)
    return jsonify(token=job.token, url=url, state=job.state), 201


@bp.post("/jobs/<token>/revise")
def job_revise(token: str):
    """The maker changes a job before it is approved: it is planned again."""
    try:
        job = quotes.revise(runtime_of(), token, _body())
    except LookupError:
        abort(404)
    except FabError as exc:
        return _error(409, exc.message)
    return jsonify(token=job.token, state=job.state), 202
