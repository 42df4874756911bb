"""The quote pages: drop a file, see every machine's answer, steer a row, send it; revise
a sent job from its page.

The page is drawn by the server with what it already knows; its script fills the
table as drafts finish, through the JSON API (``/api/v1/quotes``), and re-plans a
row when the maker changes it. Sending is a plain form post too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from ..errors import FabError
from ..i18n import Text
from ..jobs import quotes
from ..jobs.context import Runtime
from .context import inline_file, quote_or_404, runtime_of
from .errors import error_response
from .fields import NO_CONSENT, consented, machine_form_options, maker_from, uploaded_file
from .i18n import current_language
from .maker import form_context

bp = Blueprint("quote", __name__)


@bp.post("/quote")
def start():
    """The dropped file: stored, read, and a quote opened on it."""
    file = uploaded_file()  # MissingFile, ServerBusy, DesignError: the app's handlers answer
    quote = quotes.from_upload(runtime_of(), file.read(), file.filename)
    return redirect(url_for("quote.page", token=quote.token), code=303)


def _machine_rows(runtime: Runtime, kind: str) -> list[dict]:
    """Each machine that takes the design: its materials, options and operations."""
    from .. import quote as core

    context = form_context(runtime)
    options = {p["id"]: p["options"] for p in context["plugins"]}
    rows = []
    for target in core.targets(runtime.profiles, runtime.registry.plugins, kind):
        machine = target.machine
        rows.append(
            {
                "id": machine.id,
                "name": machine.name.text().to_dict(),
                "plugin": target.plugin.id,
                "work_area": [machine.work_area.x, machine.work_area.y, machine.work_area.z],
                "materials": [
                    {"id": m.id, "name": m.name.text().to_dict()}
                    for m in runtime.profiles.materials_for(machine)
                ],
                "options": [
                    o
                    for o in options.get(target.plugin.id, [])
                    if o["name"] != target.plugin.operations_option
                ],
                "operations_option": target.plugin.operations_option,
                "operations": core.operation_choices(target),
            }
        )
    return rows


def _quote_page(runtime: Runtime, quote: Any, errors: list[Text] | None = None, **extra) -> str:
    return render_template(
        "maker/quote.html",
        quote=quotes.view(runtime, quote),
        machines=_machine_rows(runtime, quote.design.kind),
        has_model="model_sha" in quote.extras,
        has_drawing="drawing_sha" in quote.extras,
        errors=errors or [],
        **extra,
    )


@bp.get("/q/<token>")
def page(token: str):
    runtime = runtime_of()
    quote = quote_or_404(token)
    return _quote_page(runtime, quote)


@bp.post("/q/<token>/send")
def send(token: str):
    """The form's send button: the chosen row with the maker's name and contact."""
    runtime = runtime_of()
    quote = quote_or_404(token)
    machine_id = request.form.get("machine", "")
    errors: list[Text] = []
    if not consented(request.form):
        errors.append(NO_CONSENT)
    body = {
        "machine": machine_id,
        "material": request.form.get("material", ""),
        "copies": request.form.get("copies", "1") or "1",
        "options": machine_form_options(runtime, request.form, machine_id),
        "operations": {
            key[len("op-") :]: value
            for key, value in request.form.items()
            if key.startswith("op-") and value
        },
    }
    maker = maker_from(request.form, current_language())
    if not errors:
        try:
            job = quotes.submit(runtime, token, body, maker)
            return redirect(url_for("maker.job_page", token=job.token), code=303)
        except FabError as exc:
            errors.append(exc.message)
    return _quote_page(runtime, quote, errors, values=request.form), 400


def _design_file(token: str, key: str, media_type: str) -> Response:
    """A view of the quote's design kept beside it (``model_sha``, ``drawing_sha``)."""
    sha = quote_or_404(token).extras.get(key)
    if not sha:
        abort(404)
    return inline_file(sha, media_type)


@bp.get("/q/<token>/model.stl")
def model(token: str):
    return _design_file(token, "model_sha", "model/stl")


@bp.get("/q/<token>/drawing.svg")
def drawing(token: str):
    return _design_file(token, "drawing_sha", "image/svg+xml")


@bp.get("/q/<token>/plans/<int:plan_id>/preview.svg")
def preview(token: str, plan_id: int):
    try:
        plan = quotes.plan_by_id(runtime_of(), token, plan_id)
    except quotes.QuoteNotFound:
        abort(404)
    found = quotes.file_of(plan, "preview")
    if found is None:
        abort(404)
    return inline_file(found["sha256"], "image/svg+xml")


@bp.post("/j/<token>/revise")
def revise(token: str):
    """The job page's form: another machine, material, copies or options; planned again."""
    runtime = runtime_of()
    machine_id = request.form.get("machine", "")
    body = {
        "machine": machine_id,
        "material": request.form.get("material", ""),
        "copies": request.form.get("copies", ""),
    }
    given = machine_form_options(runtime, request.form, machine_id)
    if given:
        body["options"] = given
    try:
        quotes.revise(runtime, token, body)
    except LookupError:
        abort(404)
    except FabError as exc:
        body, status = error_response(409, exc.message)
        return body, status
    return redirect(url_for("maker.job_page", token=token), code=303)
