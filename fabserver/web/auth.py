"""Staff authentication: Flask-Login sessions for pages, bearer tokens for the API.

Passwords are hashed with werkzeug.security; API tokens are random and only
their sha256 is stored, so a copy of the database gives away neither.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_login import LoginManager, current_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..jobs.runtime import Runtime
from ..store.models import ApiToken, StaffUser, utcnow

login_manager = LoginManager()


def _runtime() -> Runtime:
    return current_app.extensions["fabserver"]


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    if not user_id.isdigit():
        return None
    with _runtime().db.session() as s:
        user = s.get(StaffUser, int(user_id))
        return user if user is not None and user.active else None


@login_manager.unauthorized_handler
def unauthorized():
    # Makers who wander onto staff pages get a clear 403 with the way to log in.
    return render_template("forbidden.html"), 403


def init_app(app: Flask) -> None:
    login_manager.init_app(app)


def create_staff(
    runtime: Runtime, username: str, password: str, display_name: str = ""
) -> StaffUser:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    with runtime.db.session() as s:
        if s.scalar(select(StaffUser).where(StaffUser.username == username)):
            raise ValueError(f"staff user '{username}' already exists")
        user = StaffUser(
            username=username,
            display_name=display_name or username,
            password_hash=generate_password_hash(password),
        )
        s.add(user)
    return user


def check_login(runtime: Runtime, username: str, password: str) -> StaffUser | None:
    with runtime.db.session() as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        # Same work as a real check, so timing does not tell which usernames exist.
        check_password_hash(generate_password_hash("x"), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(runtime: Runtime, user_id: int, name: str = "") -> str:
    """A new API token for a staff member; the clear value is returned once and not kept."""
    token = "fab_" + secrets.token_urlsafe(32)
    with runtime.db.session() as s:
        s.add(ApiToken(user_id=user_id, token_hash=_hash(token), name=name[:100]))
    return token


def token_user(runtime: Runtime, token: str) -> StaffUser | None:
    with runtime.db.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
        if row is None or not row.user.active:
            return None
        row.last_used_at = utcnow()
        return row.user


def staff_actor() -> str:
    user = getattr(g, "api_user", None) or current_user
    return f"staff:{user.username}"


def token_required(view):
    """API views for staff: ``Authorization: Bearer <token>``, else 401 (JSON)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = token_user(_runtime(), token.strip()) if scheme.lower() == "bearer" else None
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
