"""Staff accounts: passwords, page sessions, API tokens and the count of failed logins.

Passwords are hashed with werkzeug.security; API tokens and session ids are
random and only their sha256 is stored, so a copy of the database gives away
none of them. A page session is a row in ``staff_sessions``: logout and a
password change delete the rows. Failed logins are counted per account and per
address in the database, which every process of the lab shares. The web layer
(:mod:`fabserver.web.auth`) turns these into cookies, bearer tokens and HTTP 429.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..i18n import Text
from ..store.models import ApiToken, LoginAttempt, StaffSession, StaffUser, utcnow
from .context import Runtime

MIN_PASSWORD = 8
_LAST_SEEN_EVERY = timedelta(minutes=1)  # a page view refreshes last_seen_at at most this often
_dummy_hash: str | None = None


class TooManyAttempts(Exception):
    """Too many failed logins for this account or from this address: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"login throttled for {retry_after_s} s")
        self.retry_after_s = retry_after_s
        minutes = max(1, math.ceil(retry_after_s / 60))
        self.message = Text(
            f"Trop de tentatives de connexion manquées. Réessayez dans {minutes} min, "
            "ou demandez à un membre de l'équipe de vérifier votre compte.",
            f"Too many failed log-in attempts. Try again in {minutes} min, "
            "or ask a staff member to check your account.",
        )


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")


def create_staff(
    runtime: Runtime,
    username: str,
    password: str,
    display_name: str = "",
    sites: list[str] | None = None,
    all_sites: bool = False,
) -> StaffUser:
    """A new account working on ``sites`` or, with ``all_sites``, the whole network. A lab
    with a single site needs neither."""
    _check_password_length(password)
    sites = _check_sites(runtime, sites or [], all_sites)
    with runtime.db.session() as s:
        if s.scalar(select(StaffUser).where(StaffUser.username == username)):
            raise ValueError(f"staff user '{username}' already exists")
        user = StaffUser(
            username=username,
            display_name=display_name or username,
            password_hash=generate_password_hash(password),
            all_sites=not sites,
            sites=sites,
        )
        s.add(user)
    return user


def _check_sites(runtime: Runtime, sites: list[str], all_sites: bool) -> list[str]:
    """The account's sites, checked against the profiles; [] for every site."""
    known = runtime.profiles.sites
    if all_sites and sites:
        raise ValueError("give either --site or --all-sites, not both")
    unknown = [s for s in sites if s not in known]
    if unknown:
        raise ValueError(f"no site '{unknown[0]}' (known: {', '.join(known)})")
    if not sites and not all_sites and len(known) > 1:
        raise ValueError(
            f"say which site(s) the account works at with --site ({', '.join(known)}), "
            "or --all-sites for a network administrator"
        )
    return list(dict.fromkeys(sites))


def set_password(runtime: Runtime, username: str, password: str) -> int:
    """Change a staff member's password and end every session they have open.

    Returns how many sessions were ended; ``LookupError`` for an unknown name."""
    _check_password_length(password)
    with runtime.db.session() as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            raise LookupError(f"no staff user '{username}'")
        user.password_hash = generate_password_hash(password)
        user_id = user.id
    return revoke_sessions(runtime, user_id)


def dummy_password_hash() -> str:
    """A hash made once per process with the same method as real ones: checking a password
    against it costs what a real check costs."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_hex(16))
    return _dummy_hash


def _throttle_wait(s, column, value: str, limit: int, since: datetime, window: timedelta) -> int:
    """Seconds until ``value`` (an account or an address) may try again; 0 when it may now."""
    times = s.scalars(
        select(LoginAttempt.at)
        .where(column == value, LoginAttempt.at >= since)
        .order_by(LoginAttempt.at)
    ).all()
    if len(times) < limit:
        return 0
    # Free again once enough failures have left the window to go below the limit.
    free_at = times[len(times) - limit] + window
    return max(1, math.ceil((free_at - utcnow()).total_seconds()))


def check_login(
    runtime: Runtime, username: str, password: str, address: str = ""
) -> StaffUser | None:
    """The staff member these credentials name, or None.

    Raises :class:`TooManyAttempts`, before looking at the password, when the account
    or the address has failed too often within the window: a right password is then
    refused too, so guessing gains nothing. Unknown and known names cost the same work
    (one password hash check), so timing does not tell which names exist."""
    settings = runtime.settings
    window = timedelta(seconds=settings.login_window_s)
    username, address = username[:80], address[:64]
    now = utcnow()
    with runtime.db.session() as s:
        wait = max(
            _throttle_wait(
                s,
                LoginAttempt.username,
                username,
                settings.login_failures_per_account,
                now - window,
                window,
            ),
            _throttle_wait(
                s,
                LoginAttempt.address,
                address,
                settings.login_failures_per_address,
                now - window,
                window,
            ),
        )
        if wait:
            raise TooManyAttempts(wait)
        user = s.scalar(select(StaffUser).where(StaffUser.username == username))
    known = user is not None and user.active
    hashed = user.password_hash if known else dummy_password_hash()
    ok = check_password_hash(hashed, password) and known
    with runtime.db.session() as s:
        if ok:
            s.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
        else:
            s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - window))
            s.add(LoginAttempt(username=username, address=address, at=now))
    return user if ok else None


def open_session(runtime: Runtime, user: StaffUser, address: str = "") -> str:
    """A new server-side session; the returned random id goes in the cookie, only its
    hash in the database."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with runtime.db.session() as s:
        s.execute(delete(StaffSession).where(StaffSession.expires_at < now))
        s.add(
            StaffSession(
                id_hash=token_hash(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=runtime.settings.staff_session_hours),
                address=address[:64],
            )
        )
    return token


def session_user(runtime: Runtime, token: str) -> StaffUser | None:
    """The active staff member of a live session, or None (ended, expired, unknown)."""
    now = utcnow()
    with runtime.db.session() as s:
        row = s.get(StaffSession, token_hash(token))
        if row is None:
            return None
        if row.expires_at <= now:
            s.delete(row)
            return None
        user = s.get(StaffUser, row.user_id)
        if user is None or not user.active:
            return None
        if now - row.last_seen_at > _LAST_SEEN_EVERY:
            row.last_seen_at = now
        return user


def close_session(runtime: Runtime, token: str) -> None:
    with runtime.db.session() as s:
        s.execute(delete(StaffSession).where(StaffSession.id_hash == token_hash(token)))


def revoke_sessions(runtime: Runtime, user_id: int) -> int:
    """End every page session of a staff member (API tokens are managed apart)."""
    with runtime.db.session() as s:
        return s.execute(delete(StaffSession).where(StaffSession.user_id == user_id)).rowcount


def active_sessions(runtime: Runtime, user_id: int) -> int:
    with runtime.db.session() as s:
        return s.scalar(
            select(func.count())
            .select_from(StaffSession)
            .where(StaffSession.user_id == user_id, StaffSession.expires_at > utcnow())
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(runtime: Runtime, user_id: int, name: str = "") -> str:
    """A new API token for a staff member; the clear value is returned once and not kept."""
    token = "fab_" + secrets.token_urlsafe(32)
    with runtime.db.session() as s:
        s.add(ApiToken(user_id=user_id, token_hash=token_hash(token), name=name[:100]))
    return token


def token_user(runtime: Runtime, token: str) -> StaffUser | None:
    with runtime.db.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        if row is None or not row.user.active:
            return None
        row.last_used_at = utcnow()
        return row.user
