"""Maker pages: the upload form and the job page (reached by its unguessable link).

Plain HTML forms that work without JavaScript; the script only filters the
machine and material lists and refreshes the progress. Every choice is checked
again here, because the browser can be anything.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from ..errors import DesignError
from ..i18n import Text
from ..jobs import intake, service
from ..jobs.runtime import Runtime
from ..jobs.states import InvalidTransition
from ..lab.sites import machine_queues
from ..store.models import Design, Job
from .errors import error_response
from .i18n import current_language
from .views import minutes, option_rows, public_job

bp = Blueprint("maker", __name__)

MAKER_CANCELLABLE = ("queued", "planning", "review")

NO_FILE = Text("Choisissez un fichier à envoyer.", "Choose a file to upload.")
NO_CONSENT = Text(
    "Merci d'accepter les règles du lab pour envoyer votre demande.",
    "Please accept the lab's rules to send your request.",
)


def _runtime() -> Runtime:
    return current_app.extensions["fabserver"]


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="design-ref")


#: The cookie that remembers the site a maker chose on the form.
SITE_COOKIE = "fabserver_site"


def _site_choices(runtime: Runtime, queues: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each site with the work waiting there, when the lab has several (none otherwise)."""
    if len(runtime.profiles.sites) < 2:
        return []
    out = []
    for site in runtime.profiles.sites.values():
        waiting = [q for q in queues.values() if q["site"] == site.id]
        out.append(
            {
                "id": site.id,
                "name": site.name,
                "jobs": sum(q["jobs"] for q in waiting),
                "time_s": sum(q["machine_time_s"] for q in waiting),
                "opening_hours": site.opening_hours,
            }
        )
    return out


def form_context(runtime: Runtime) -> dict[str, Any]:
    """Machines, materials and each plugin's options, for the form and its script; with
    several sites, each site and machine with the work waiting there."""
    registry = runtime.registry
    machines = service.machines_for_kind(runtime)
    with runtime.db.session() as s:
        queues = machine_queues(s)
    sites = _site_choices(runtime, queues)
    chosen = (
        request.form.get("site") or request.args.get("site") or request.cookies.get(SITE_COOKIE)
    )
    plugins = []
    for plugin_id in dict.fromkeys(m.plugin for m in machines):
        plugin = registry.plugins[plugin_id]
        options = [o.describe() for o in plugin.option_schema() if o.name != "copies"]
        plugins.append({"id": plugin_id, "name": plugin.name, "options": options})
    materials = []
    for material in runtime.profiles.materials.values():
        fits = [m.id for m in machines if material.fits(m)]
        if fits:
            materials.append({"id": material.id, "name": material.name, "machines": fits})
    return {
        "machines": [
            {
                "id": m.id,
                "name": m.name,
                "plugin": m.plugin,
                "accepts": sorted(registry.plugins[m.plugin].accepts),
                "work_area": m.work_area,
                "site": m.site,
                "queue": queues.get(m.id, {"jobs": 0, "machine_time_s": 0.0}),
            }
            for m in machines
        ],
        "sites": sites,
        "chosen_site": chosen if any(site["id"] == chosen for site in sites) else "",
        "materials": materials,
        "plugins": plugins,
        "suffix_kinds": intake.SUFFIX_KINDS,
        "max_upload_mb": runtime.settings.max_upload_mb,
    }


def _render_form(errors: list[Text], status: int = 200, design: Design | None = None, **extra):
    runtime = _runtime()
    return (
        render_template(
            "maker/upload.html",
            errors=errors,
            values=request.form,
            kept_design=design,
            design_ref=_signer().dumps(design.id) if design is not None else "",
            minutes=minutes,
            **form_context(runtime),
            **extra,
        ),
        status,
    )


@bp.get("/")
def upload_form():
    return _render_form([])


def _option_values(runtime: Runtime, machine_id: str) -> dict[str, Any]:
    """The chosen machine's plugin options from the form (``opt-<plugin>-<name>``)."""
    machine = runtime.profiles.machines.get(machine_id)
    if machine is None or machine.plugin not in runtime.registry.plugins:
        return {}
    plugin = runtime.registry.plugins[machine.plugin]
    values: dict[str, Any] = {}
    for option in plugin.option_schema():
        key = f"opt-{plugin.id}-{option.name}"
        given = request.form.getlist(key)
        if option.name == "copies" or not given:
            continue
        # A checkbox sends a hidden "0" then "1" when ticked: the last value wins.
        value = given[-1]
        if value.strip() == "":
            continue
        values[option.name] = value
    return values


def _kept_design(runtime: Runtime) -> Design | None:
    ref = request.form.get("design_ref", "")
    if not ref:
        return None
    try:
        design_id = _signer().loads(ref)
    except BadSignature:
        return None
    with runtime.db.session() as s:
        return s.get(Design, design_id)


@bp.post("/")
def upload():
    runtime = _runtime()
    design_row: Design | None = None
    file = request.files.get("file")
    if file is not None and file.filename:
        data = file.read()
        upload = intake.receive(runtime, data, file.filename)  # on disk before any reply
        try:
            design = intake.load_bounded(runtime, data, file.filename)
        except intake.ServerBusy as exc:
            body, status = error_response(503, exc.message)
            return body, status, {"Retry-After": str(exc.retry_after_s)}
        except DesignError as exc:
            return render_template(
                "maker/broken.html", message=exc.message, filename=file.filename
            ), 422
        design_row = intake.record_design(runtime, upload, design)
        with runtime.db.session() as s:
            design_row = s.get(Design, design_row.id)
    else:
        design_row = _kept_design(runtime)
    errors: list[Text] = []
    if design_row is None:
        errors.append(NO_FILE)
    if not request.form.get("consent"):
        errors.append(NO_CONSENT)
    if errors:
        return _render_form(errors, 400, design_row)
    maker = service.Maker(
        name=request.form.get("name", ""),
        email=request.form.get("email", ""),
        phone=request.form.get("phone", ""),
        locale=current_language(),
    )
    machine_id = request.form.get("machine", "")
    try:
        job = service.submit(
            runtime,
            design_row,
            machine_id,
            request.form.get("material", ""),
            request.form.get("copies", "1") or "1",
            _option_values(runtime, machine_id),
            maker,
        )
    except service.ActionError as exc:
        return _render_form([exc.message], 400, design_row)
    response = redirect(url_for("maker.job_page", token=job.token), code=303)
    if len(runtime.profiles.sites) > 1:  # the next visit starts at the same site
        response.set_cookie(
            SITE_COOKIE, job.site, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


def _job(token: str) -> Job:
    if len(token) > 64:
        abort(404)
    with _runtime().db.session() as s:
        job = s.scalar(select(Job).where(Job.token == token))
        if job is None:
            abort(404)
        job.artifacts  # noqa: B018 - load while the session is open
        job.events  # noqa: B018
        return job


@bp.get("/j/<token>")
def job_page(token: str):
    job = _job(token)
    sites = _runtime().profiles.sites
    return render_template(
        "maker/job.html",
        job=public_job(job),
        # where to collect it, when the lab has several sites
        site=sites.get(job.site) if len(sites) > 1 else None,
        settings=option_rows(_runtime().registry, job),
        minutes=minutes,
        revise_machines=_revise_choices(_runtime(), job.design.kind),
    )


def _revise_choices(runtime: Runtime, kind: str) -> list[dict[str, Any]]:
    """The machines (and their materials) a job of this kind may move to before approval."""
    return [
        {
            "id": m.id,
            "name": m.name,
            "materials": [{"id": x.id, "name": x.name} for x in runtime.profiles.materials_for(m)],
        }
        for m in service.machines_for_kind(runtime, kind)
    ]


@bp.get("/j/<token>/status.json")
def status(token: str):
    job = _job(token)
    view = public_job(job)
    keys = ("state", "state_label", "progress", "stage", "updated_at", "error")
    response = jsonify({k: view[k] for k in keys})
    response.headers["Cache-Control"] = "no-store"
    return response


def _artifact_response(job: Job, role: str) -> Response:
    from .views import current_artifacts

    artifact = current_artifacts(job).get(role)
    if artifact is None:
        abort(404)
    data = _runtime().files.read(artifact.sha256)
    response = Response(data, mimetype=artifact.media_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    # Our own SVG, but served with a policy that forbids scripts anyway.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/j/<token>/preview.svg")
def preview(token: str):
    return _artifact_response(_job(token), "preview")


@bp.get("/j/<token>/layers.json")
def layers(token: str):
    return _artifact_response(_job(token), "layers")


@bp.post("/j/<token>/cancel")
def cancel(token: str):
    job = _job(token)
    # Already further along: nothing to do, the page shows the current state.
    with contextlib.suppress(InvalidTransition):
        service.cancel(
            _runtime(),
            job.id,
            actor="maker",
            reason="cancelled by the maker",
            expected=MAKER_CANCELLABLE,
        )
    return redirect(url_for("maker.job_page", token=token), code=303)
