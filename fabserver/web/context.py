"""The runtime a request is served with (one per app, built by ``create_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, abort, current_app

from ..jobs import queries, quotes

if TYPE_CHECKING:
    from ..jobs.context import Runtime
    from ..store.models import Job, Quote


def runtime_of(app: Flask | None = None) -> Runtime:
    """The app's runtime; the current request's app by default."""
    return (app or current_app).extensions["fabserver"]


def site_job(job_id: int, sites: list[str]) -> Job:
    """A job of one of ``sites`` (the staff member's): 404 when there is none, 403 when it
    is another site's."""
    try:
        job = queries.job_by_id(runtime_of(), job_id, sites)
    except queries.NotYourSite:
        abort(403)
    if job is None:
        abort(404)
    return job


def inline_file(sha256: str, media_type: str) -> Response:
    """A stored file shown in the page (a preview, a layer list, a design), with a
    policy that forbids scripts even in our own SVG."""
    response = Response(runtime_of().files.read(sha256), mimetype=media_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def attachment(sha256: str, filename: str, media_type: str) -> Response:
    """A stored file to download; ``filename`` is one we generate (ASCII), never the
    maker's, so it is never a path."""
    response = Response(runtime_of().files.read(sha256), mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def quote_or_404(token: str) -> Quote:
    """The quote its link names (404 when there is none)."""
    try:
        return quotes.load(runtime_of(), token)
    except quotes.QuoteNotFound:
        abort(404)


def token_job(token: str) -> Job:
    """The maker's job its private link names (404 when there is none)."""
    job = queries.job_by_token(runtime_of(), token)
    if job is None:
        abort(404)
    return job


def artifact_download(job_id: int, artifact_id: int) -> Response:
    """One of the job's files as a download (404 when it is not the job's)."""
    artifact = queries.job_artifact(runtime_of(), job_id, artifact_id)
    if artifact is None:
        abort(404)
    return attachment(artifact.sha256, artifact.filename, artifact.media_type)
