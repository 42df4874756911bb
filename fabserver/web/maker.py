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

from ..i18n import Text
from ..jobs import intake, queries, service
from ..jobs.context import Runtime
from ..jobs.states import InvalidTransition
from ..store.models import Design, Job
from .context import inline_file, runtime_of, token_job
from .fields import NO_CONSENT, NO_FILE, consented, machine_form_options, maker_from
from .i18n import current_language
from .views import current_artifacts, minutes, option_rows, public_job

bp = Blueprint("maker", __name__)

MAKER_CANCELLABLE = ("queued", "planning", "review")


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
    queues = queries.waiting_by_machine(runtime)
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
    runtime = runtime_of()
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


def _kept_design(runtime: Runtime) -> Design | None:
    ref = request.form.get("design_ref", "")
    if not ref:
        return None
    try:
        design_id = _signer().loads(ref)
    except BadSignature:
        return None
    return queries.design_by_id(runtime, design_id)


@bp.post("/")
def upload():
    runtime = runtime_of()
    file = request.files.get("file")
    if file is not None and file.filename:
        # ServerBusy and DesignError are answered by the app's error handlers.
        design_row: Design | None = intake.accept_design(runtime, file.read(), file.filename).row
    else:
        design_row = _kept_design(runtime)
    errors: list[Text] = []
    if design_row is None:
        errors.append(NO_FILE)
    if not consented(request.form):
        errors.append(NO_CONSENT)
    if errors:
        return _render_form(errors, 400, design_row)
    machine_id = request.form.get("machine", "")
    try:
        job = service.submit(
            runtime,
            design_row,
            machine_id,
            request.form.get("material", ""),
            request.form.get("copies", "1") or "1",
            machine_form_options(runtime, request.form, machine_id),
            maker_from(request.form, current_language()),
        )
    except service.ActionError as exc:
        return _render_form([exc.message], 400, design_row)
    response = redirect(url_for("maker.job_page", token=job.token), code=303)
    if len(runtime.profiles.sites) > 1:  # the next visit starts at the same site
        response.set_cookie(
            SITE_COOKIE, job.site, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


@bp.get("/j/<token>")
def job_page(token: str):
    job = token_job(token)
    runtime = runtime_of()
    sites = runtime.profiles.sites
    return render_template(
        "maker/job.html",
        job=public_job(job),
        # where to collect it, when the lab has several sites
        site=sites.get(job.site) if len(sites) > 1 else None,
        settings=option_rows(runtime.registry, job),
        minutes=minutes,
        revise_machines=_revise_choices(runtime, job.design.kind),
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
    job = token_job(token)
    view = public_job(job)
    keys = ("state", "state_label", "progress", "stage", "updated_at", "error")
    response = jsonify({k: view[k] for k in keys})
    response.headers["Cache-Control"] = "no-store"
    return response


def _artifact_response(job: Job, role: str) -> Response:
    artifact = current_artifacts(job).get(role)
    if artifact is None:
        abort(404)
    return inline_file(artifact.sha256, artifact.media_type)


@bp.get("/j/<token>/preview.svg")
def preview(token: str):
    return _artifact_response(token_job(token), "preview")


@bp.get("/j/<token>/layers.json")
def layers(token: str):
    return _artifact_response(token_job(token), "layers")


@bp.post("/j/<token>/cancel")
def cancel(token: str):
    job = token_job(token)
    # Already further along: nothing to do, the page shows the current state.
    with contextlib.suppress(InvalidTransition):
        service.cancel(
            runtime_of(),
            job.id,
            actor="maker",
            reason="cancelled by the maker",
            expected=MAKER_CANCELLABLE,
        )
    return redirect(url_for("maker.job_page", token=token), code=303)
