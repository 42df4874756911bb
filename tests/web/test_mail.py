"""E-mails to makers, sent from the queue: to a real SMTP server, or to ``outbox/``."""

from __future__ import annotations

import email
import email.policy
import html
import socket
import threading
from pathlib import Path

import pytest
from web_helpers import job_id_of, staff_post, upload_form

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd not installed (pip install -e .[test])")
from aiosmtpd.controller import Controller  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        with self._lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setenv("FABSERVER_SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setenv("FABSERVER_MAIL_FROM", "fablab@example.org")
    yield inbox
    controller.stop()


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _new_job(client, runtime, email_address="camille@example.org", **fields) -> tuple[int, str]:
    response = upload_form(client, Path(_sample()).read_bytes(), email=email_address, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    token = response.headers["Location"].rsplit("/", 1)[-1]
    return job_id_of(runtime, token), token


def _sample() -> str:
    from web_helpers import BLOCK_STL

    return str(BLOCK_STL)


def _approve_reject_finish(staff_client, client, runtime) -> dict[str, str]:
    """Approve one job, reject another, take a third to done; their tokens by event."""
    approved, token_a = _new_job(client, runtime)
    assert staff_post(staff_client, approved, "approve").status_code == 303
    rejected, token_r = _new_job(client, runtime)
    assert (
        staff_post(staff_client, rejected, "reject", reason="Le fichier est vide").status_code
        == 303
    )
    done, token_d = _new_job(client, runtime)
    staff_post(staff_client, done, "approve")
    staff_post(staff_client, done, "dispatch")
    assert staff_post(staff_client, done, "done", actual_time_min="12").status_code == 303
    return {"approved": token_a, "rejected": token_r, "done": token_d}


def test_approve_reject_done_each_send_one_french_mail_with_the_link(
    smtp, staff_client, client, runtime
):
    tokens = _approve_reject_finish(staff_client, client, runtime)
    # the third job was approved too: four mails in all, one per event and job
    subjects = [m["Subject"] for m in smtp.messages]
    assert len(smtp.messages) == 4, subjects
    assert all(to == ["camille@example.org"] for _, to in smtp.envelopes)
    assert all(sender == "fablab@example.org" for sender, _ in smtp.envelopes)
    by_token = {}
    for message in smtp.messages:
        for event, token in tokens.items():
            if f"/j/{token}" in _body(message):
                by_token.setdefault(event, []).append(message)
    approved = by_token["approved"][0]
    assert "validée" in approved["Subject"] and approved["Content-Language"] == "fr"
    assert "Bonjour Camille" in _body(approved)
    rejected = by_token["rejected"][0]
    assert "refusée" in rejected["Subject"]
    assert "Raison : Le fichier est vide" in _body(rejected)
    done_mails = [m for m in by_token["done"] if "prête" in m["Subject"]]
    assert len(done_mails) == 1
    assert "venir la chercher" in _body(done_mails[0])
    # the link is a full address makers can open
    assert f"http://localhost/j/{tokens['done']}" in _body(done_mails[0])


def test_staff_audit_trail_shows_the_mail(smtp, staff_client, client, runtime):
    job_id, _ = _new_job(client, runtime)
    staff_post(staff_client, job_id, "approve")
    page = staff_client.get(f"/staff/jobs/{job_id}").get_data(as_text=True)
    assert "e-mail envoyé" in page and "Votre demande n° " in page


def test_english_maker_gets_english_mail(smtp, staff_client, client, runtime):
    client.get("/lang/en")
    job_id, token = _new_job(client, runtime)
    staff_post(staff_client, job_id, "reject", reason="Too thin to print")
    (message,) = smtp.messages
    assert message["Subject"] == f"Your job {job_id} was rejected"
    assert "Reason: Too thin to print" in _body(message) and f"/j/{token}" in _body(message)


def test_staff_note_reaches_the_maker_by_mail_and_on_the_page(smtp, staff_client, client, runtime):
    job_id, token = _new_job(client, runtime)
    response = staff_post(staff_client, job_id, "note", note="Passez jeudi, la machine est prise")
    assert response.status_code == 303
    (message,) = smtp.messages
    assert "Un message du fablab" in message["Subject"]
    assert "Passez jeudi, la machine est prise" in _body(message)
    page = html.unescape(client.get(f"/j/{token}").get_data(as_text=True))
    assert "Message de l'équipe" in page and "Passez jeudi" in page
    empty = staff_post(staff_client, job_id, "note", note="  ")
    assert "Écrivez le message" in staff_client.get(empty.headers["Location"]).get_data(
        as_text=True
    )
    assert len(smtp.messages) == 1


def test_a_maker_without_email_gets_no_mail(smtp, staff_client, client, runtime):
    job_id, _ = _new_job(client, runtime, email_address="", phone="06 12 34 56 78")
    staff_post(staff_client, job_id, "approve")
    assert smtp.messages == []


def test_without_smtp_the_same_mails_land_in_the_outbox(monkeypatch, staff_client, client, runtime):
    monkeypatch.delenv("FABSERVER_SMTP_URL", raising=False)
    tokens = _approve_reject_finish(staff_client, client, runtime)
    outbox = runtime.settings.data_dir / "outbox"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 4
    messages = [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files
    ]
    rejected = [m for m in messages if f"/j/{tokens['rejected']}" in _body(m)]
    assert len(rejected) == 1 and "Raison : Le fichier est vide" in _body(rejected[0])
    assert all(m["To"] == "camille@example.org" for m in messages)


def test_an_unreachable_smtp_server_never_breaks_the_staff_action(
    monkeypatch, staff_client, client, runtime
):
    monkeypatch.setenv("FABSERVER_SMTP_URL", f"smtp://127.0.0.1:{_free_port()}")
    job_id, _ = _new_job(client, runtime)
    response = staff_post(staff_client, job_id, "approve")
    assert response.status_code == 303
    from fabserver.store.models import Job

    with runtime.db.session() as s:
        assert s.get(Job, job_id).state == "approved"
    assert not (runtime.settings.data_dir / "outbox").exists()


def test_a_mail_refused_at_first_is_retried_by_the_queue(
    monkeypatch, staff_client, client, runtime
):
    port = _free_port()
    monkeypatch.setenv("FABSERVER_SMTP_URL", f"smtp://127.0.0.1:{port}")
    job_id, token = _new_job(client, runtime)
    staff_post(staff_client, job_id, "approve")  # the mail server is down
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)  # past the back-off
    due = runtime.huey.read_schedule(later)
    assert [t.name for t in due] == ["fabserver.mail_job"]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for task in due:
            runtime.huey.execute(task, timestamp=later)
    finally:
        controller.stop()
    (message,) = inbox.messages
    assert "validée" in message["Subject"] and f"/j/{token}" in _body(message)
