"""The web app: Flask application factory and its three blueprints.

``maker`` (upload form, job page), ``staff`` (queue, review, dispatch) and
``api`` (JSON under ``/api/v1``). The app is a thin adapter over
:mod:`fabserver.jobs`; it holds one :class:`~fabserver.jobs.runtime.Runtime`
in ``app.extensions["fabserver"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask, the database and the queue load only when an app is built:
    # ``fabserver.web.commands`` is imported by every ``fabserver`` command.
    from flask import Flask, Response

    from ..jobs.runtime import Runtime
    from ..registry import Registry

# Flask config keys that map onto Settings fields.
_SETTING_KEYS = {
    "DATA_DIR": "data_dir",
    "PROFILE_DIR": "profile_dir",
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "MAX_UPLOAD_MB": "max_upload_mb",
    "SECRET_KEY": "secret_key",
    "QUEUE_IMMEDIATE": "immediate",
    "WORKERS": "workers",
    "BEHIND_PROXY": "behind_proxy",
}


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
    runtime: Runtime | None = None,
) -> Flask:
    """Build the app. ``config`` holds Flask settings plus DATA_DIR, PROFILE_DIR,
    DATABASE_URL, REDIS_URL, MAX_UPLOAD_MB, SECRET_KEY, QUEUE_IMMEDIATE (see
    :mod:`fabserver.jobs.settings` for the environment variables)."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from ..jobs.runtime import build_runtime
    from ..jobs.settings import Settings
    from . import api, auth, errors, i18n, maker, quotes, staff

    config = dict(config or {})
    if runtime is None:
        overrides = {
            field: config.pop(key) for key, field in _SETTING_KEYS.items() if key in config
        }
        data_dir = overrides.pop("data_dir", None)
        runtime = build_runtime(Settings.from_env(data_dir, **overrides), registry)
    settings = runtime.settings

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.session_secret(),
        MAX_CONTENT_LENGTH=int(settings.max_upload_mb * 1024 * 1024),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # a maker may fill the form slowly at the counter
    )
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config.update(config)
    app.extensions["fabserver"] = runtime
    app.after_request(_security_headers)
    app.before_request(_learn_public_url)

    i18n.init_app(app, settings.data_dir)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(maker.bp)
    app.register_blueprint(quotes.bp)
    app.register_blueprint(staff.bp, url_prefix="/staff")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    return app


# Pages use only the app's own scripts and styles: no inline code, no third party.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _learn_public_url() -> None:
    """Without FABSERVER_PUBLIC_URL, e-mails link to the address makers use to reach us."""
    from flask import request

    from .context import runtime_of

    settings = runtime_of().settings
    if settings.public_url is None and not request.path.startswith("/api/"):
        settings.public_url = request.url_root.rstrip("/")
