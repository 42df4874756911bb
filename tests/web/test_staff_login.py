"""Staff login safety: rate limiting, server-side sessions, the same work for any name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from web_helpers import STAFF_PASSWORD, STAFF_USER, csrf_token, sent_to_login

from fabserver.jobs import accounts
from fabserver.store.models import LoginAttempt, StaffSession
from fabserver.web import auth


def _login(client, username: str = STAFF_USER, password: str = STAFF_PASSWORD, **environ):
    token = csrf_token(client, "/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base=environ,
    )


def test_repeated_wrong_passwords_get_429_even_for_the_right_one(app, runtime, staff):
    client = app.test_client()
    limit = runtime.settings.login_failures_per_account
    for _ in range(limit):
        assert _login(client, password="wrong password").status_code == 401
    response = _login(client)  # the right password, too late
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Trop de tentatives" in response.get_data(as_text=True)
    assert sent_to_login(client.get("/staff/"))


def test_the_429_page_speaks_english_on_request(app, runtime, staff):
    client = app.test_client()
    client.get("/lang/en")
    for _ in range(runtime.settings.login_failures_per_account):
        _login(client, password="wrong password")
    response = _login(client)
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.get_data(as_text=True)


def test_the_account_limit_holds_from_another_address(app, runtime, staff):
    for i in range(runtime.settings.login_failures_per_account):
        _login(app.test_client(), password="nope nope", REMOTE_ADDR=f"10.0.0.{i}")
    assert _login(app.test_client(), REMOTE_ADDR="10.0.1.1").status_code == 429


def test_one_address_trying_many_names_is_limited(app, runtime, staff):
    client = app.test_client()
    address = {"REMOTE_ADDR": "192.0.2.7"}
    for i in range(runtime.settings.login_failures_per_address):
        assert _login(client, username=f"guess{i}", password="x" * 9, **address).status_code == 401
    assert _login(client, **address).status_code == 429
    # Elsewhere the account still works.
    assert _login(app.test_client(), REMOTE_ADDR="192.0.2.8").status_code == 302


def test_failures_older_than_the_window_no_longer_count(app, runtime, staff):
    client = app.test_client()
    for _ in range(runtime.settings.login_failures_per_account):
        _login(client, password="wrong password")
    assert _login(client).status_code == 429
    with runtime.db.session() as s:
        s.execute(
            update(LoginAttempt).values(
                at=LoginAttempt.at - timedelta(seconds=runtime.settings.login_window_s + 1)
            )
        )
    assert _login(client).status_code == 302


def test_a_success_clears_the_account_failures(app, runtime, staff):
    client = app.test_client()
    for _ in range(runtime.settings.login_failures_per_account - 1):
        _login(client, password="wrong password")
    assert _login(client).status_code == 302
    with runtime.db.session() as s:
        count = s.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.username == STAFF_USER)
        )
    assert count == 0


@pytest.mark.parametrize("username", [STAFF_USER, "nobody-here"])
def test_known_and_unknown_names_check_one_hash_and_make_none(
    monkeypatch, runtime, staff, username
):
    accounts.dummy_password_hash()  # made once per process, before any login
    checked: list[str] = []
    made: list[str] = []
    real_check = accounts.check_password_hash

    def spy_check(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real_check(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", spy_check)
    monkeypatch.setattr(accounts, "generate_password_hash", lambda p: made.append(p) or "")
    assert auth.check_login(runtime, username, "not the password") is None
    assert len(checked) == 1 and made == []
    # The same hash method (and cost) for the dummy as for the real account.
    method = staff.password_hash.split("$", 1)[0]
    assert checked[0].split("$", 1)[0] == method


def test_a_cookie_from_before_logout_is_refused(app, staff_client):
    assert staff_client.get("/staff/").status_code == 200
    cookie = staff_client.get_cookie("session")
    assert cookie is not None
    stolen = app.test_client()
    stolen.set_cookie("session", cookie.value)
    assert stolen.get("/staff/").status_code == 200
    token = csrf_token(staff_client, "/staff/")
    assert staff_client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert sent_to_login(staff_client.get("/staff/"))
    assert sent_to_login(stolen.get("/staff/"))


def test_a_password_change_ends_every_session(app, runtime, staff, staff_client):
    other = app.test_client()
    assert _login(other).status_code == 302
    assert auth.active_sessions(runtime, staff.id) == 2
    assert auth.set_password(runtime, STAFF_USER, "a new long password") == 2
    assert sent_to_login(staff_client.get("/staff/"))
    assert sent_to_login(other.get("/staff/"))
    assert _login(app.test_client()).status_code == 401
    assert _login(app.test_client(), password="a new long password").status_code == 302


def test_the_password_command_ends_sessions(app, runtime, staff, staff_client):
    from fabserver.cli import main

    result = CliRunner().invoke(
        main,
        [
            "--profiles",
            str(runtime.settings.profile_dir),
            "staff-password",
            STAFF_USER,
            "--data",
            str(runtime.settings.data_dir),
        ],
        input="another long password\nanother long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "1 open session(s) ended" in result.output
    assert sent_to_login(staff_client.get("/staff/"))


def test_sessions_end_after_their_lifetime(app, runtime, staff_client):
    assert runtime.settings.staff_session_hours == 12.0
    assert app.permanent_session_lifetime == timedelta(hours=12)
    with runtime.db.session() as s:
        row = s.scalar(select(StaffSession))
        assert row.expires_at - row.created_at == timedelta(hours=12)
        row.expires_at = row.created_at - timedelta(seconds=1)
    assert sent_to_login(staff_client.get("/staff/"))


def test_the_cookie_holds_no_user_data_only_a_random_id(runtime, staff_client):
    with runtime.db.session() as s:
        stored = s.scalar(select(StaffSession.id_hash))
    # Only the hash is stored: the random id itself is nowhere in the database.
    with staff_client.session_transaction() as flask_session:
        token = flask_session[auth.SESSION_KEY]
    assert len(token) >= 40 and token != stored
    assert accounts.token_hash(token) == stored


def test_api_tokens_keep_working_after_logout(app, runtime, staff, staff_client):
    api_token = auth.issue_token(runtime, staff.id, "test")
    token = csrf_token(staff_client, "/staff/")
    staff_client.post("/staff/logout", data={"csrf_token": token})
    response = app.test_client().get(
        "/api/v1/staff/jobs", headers={"Authorization": f"Bearer {api_token}"}
    )
    assert response.status_code == 200
