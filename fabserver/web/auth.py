"""Staff authentication: server-side sessions for pages, bearer tokens for the API.

The accounts, sessions and tokens are kept by :mod:`fabserver.jobs.accounts`; here a
page session's random id is the only thing the (signed) cookie carries, so logout
and a password change (which delete the session rows) stop a copied cookie at once,
and too many failed logins are answered with HTTP 429.
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Flask, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user

from ..jobs.accounts import (
    TooManyAttempts,
    active_sessions,
    check_login,
    close_session,
    create_staff,
    dummy_password_hash,
    issue_token,
    open_session,
    session_user,
    set_password,
    token_user,
)
from ..jobs.context import Runtime
from ..store.models import StaffUser
from .context import runtime_of

__all__ = [
    "SESSION_KEY",
    "TooManyAttempts",
    "active_sessions",
    "check_login",
    "close_session",
    "create_staff",
    "init_app",
    "issue_token",
    "open_session",
    "set_password",
    "staff_actor",
    "staff_sites",
    "token_required",
    "token_user",
]

login_manager = LoginManager()

#: Key of the staff session id in Flask's signed cookie.
SESSION_KEY = "staff_sid"


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The staff member of this request's server-side session (Flask-Login's ``_user_id``
    alone is not enough: the session row must still exist)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        return None
    user = session_user(runtime_of(), token)
    return user if user is not None and user.get_id() == user_id else None


@login_manager.unauthorized_handler
def unauthorized():
    # A staff page opened without a session leads to the login form, which brings the
    # person back afterwards; forms posted and JSON answers get a clear 403 instead
    # (a redirect would lose what was posted, or hand a script an HTML page).
    if request.method == "GET" and not request.path.endswith(".json"):
        return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
    return render_template("forbidden.html"), 403


def init_app(app: Flask) -> None:
    hours = app.extensions["fabserver"].settings.staff_session_hours
    # The cookie expires with the server-side session it carries.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=hours)
    login_manager.init_app(app)
    dummy_password_hash()  # now, so that no login pays for making it


def staff_sites(user: StaffUser, runtime: Runtime | None = None) -> list[str]:
    """The sites a staff member works on (every site of the profiles for an administrator)."""
    runtime = runtime or runtime_of()
    if user.all_sites:
        return list(runtime.profiles.sites)
    return [s for s in user.sites or [] if s in runtime.profiles.sites]


def staff_actor() -> str:
    user = getattr(g, "api_user", None) or current_user
    return f"staff:{user.username}"


def token_required(view):
    """API views for staff: ``Authorization: Bearer <token>``, else 401 (JSON)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = token_user(runtime_of(), token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            response = jsonify(
                error={
                    "fr": "Jeton d'API manquant ou invalide.",
                    "en": "Missing or invalid API token.",
                }
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="fabserver"'
            return response, 401
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped
