"""E-mails to makers: approved, rejected (with the reason), ready to collect, a note.

Sent from the queue, never from a request: a slow or unreachable mail server
costs a retry, not a page. ``FABSERVER_SMTP_URL`` (``smtp://host:port`` or
``smtps://user:password@host:port``) and ``FABSERVER_MAIL_FROM`` say where and
as whom; with no SMTP configured each mail is written as one ``.eml`` file in
the data directory's ``outbox/``, so a small lab still sees what was sent.
Every mail is in the maker's language (chosen at upload) and carries the job's
link, which is the maker's only way back to the job.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from ..errors import FabError
from ..i18n import Text
from ..store.models import Job, utcnow

if TYPE_CHECKING:
    from ..jobs.runtime import Runtime

log = logging.getLogger("fabserver.mail")

MailEvent = Literal["approved", "rejected", "done", "note"]
MAIL_EVENTS: tuple[MailEvent, ...] = ("approved", "rejected", "done", "note")
DEFAULT_FROM = "fablab@localhost"

_SUBJECTS: dict[str, Text] = {
    "approved": Text("Votre demande n° {id} est validée", "Your job {id} is approved"),
    "rejected": Text("Votre demande n° {id} est refusée", "Your job {id} was rejected"),
    "done": Text("Votre demande n° {id} est prête", "Your job {id} is ready to collect"),
    "note": Text("Un message du fablab sur la demande n° {id}", "A note from the lab on job {id}"),
}

_BODIES: dict[str, Text] = {
    "approved": Text(
        "L'équipe a validé votre demande « {design} » ({machine}). "
        "Nous vous prévenons quand elle est prête.",
        "The staff approved your job '{design}' ({machine}). We will tell you when it is ready.",
    ),
    "rejected": Text(
        "L'équipe a refusé votre demande « {design} » ({machine}).\n\nRaison : {reason}\n\n"
        "Vous pouvez corriger le fichier et l'envoyer de nouveau, ou venir nous voir.",
        "The staff rejected your job '{design}' ({machine}).\n\nReason: {reason}\n\n"
        "You may fix the file and send it again, or come and see us.",
    ),
    "done": Text(
        "Votre demande « {design} » ({machine}) est terminée : "
        "vous pouvez venir la chercher au fablab.",
        "Your job '{design}' ({machine}) is done: you can collect it at the lab.",
    ),
    "note": Text(
        "L'équipe vous a écrit au sujet de votre demande « {design} » ({machine}) :\n\n{note}",
        "The staff wrote to you about your job '{design}' ({machine}):\n\n{note}",
    ),
}

_FOOTER = Text(
    "Suivre la demande : {link}\n\n— L'équipe du fablab",
    "Follow the job: {link}\n\n— The lab's staff",
)


class MailError(FabError):
    """The mail server refused or could not be reached; the queue retries."""


@dataclass(frozen=True)
class MailSettings:
    smtp_url: str | None
    sender: str
    outbox: Path

    @classmethod
    def from_env(cls, data_dir: Path) -> MailSettings:
        return cls(
            smtp_url=os.environ.get("FABSERVER_SMTP_URL") or None,
            sender=os.environ.get("FABSERVER_MAIL_FROM") or DEFAULT_FROM,
            outbox=Path(data_dir) / "outbox",
        )


def job_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/j/{token}"


def compose(job: Job, event: MailEvent, link: str, sender: str, note: str = "") -> EmailMessage:
    """The mail for ``event`` on ``job``, in the maker's language."""
    lang = job.maker_locale if job.maker_locale in ("fr", "en") else "fr"
    machine = Text.from_dict(job.machine_snapshot.get("name") or job.machine_id).get(lang)
    values = {
        "id": job.id,
        "design": job.design.upload.original_name or f"job-{job.id}",
        "machine": machine,
        "reason": job.rejection_reason or "",
        "note": note,
        "link": link,
    }
    greeting = Text("Bonjour {name},", "Hello {name},").format(name=job.maker_name).get(lang)
    body = _BODIES[event].format(**values).get(lang)
    footer = _FOOTER.format(link=link).get(lang)
    message = EmailMessage()
    message["Subject"] = _SUBJECTS[event].format(id=job.id).get(lang)
    message["From"] = sender
    message["To"] = job.maker_email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(f"{greeting}\n\n{body}\n\n{footer}\n")
    message["Content-Language"] = lang  # after set_content, which resets Content-* headers
    return message


def deliver(message: EmailMessage, settings: MailSettings, name_hint: str) -> str:
    """Send through SMTP, or write to the outbox; returns where it went."""
    if not settings.smtp_url:
        settings.outbox.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        path = settings.outbox / f"{stamp}-{name_hint}.eml"
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(bytes(message))
        tmp.replace(path)
        return str(path)
    url = urlsplit(settings.smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise MailError(
            Text(
                "FABSERVER_SMTP_URL doit être smtp://hôte:port ou smtps://utilisateur:mot-de-passe@hôte:port.",
                "FABSERVER_SMTP_URL must be smtp://host:port or smtps://user:password@host:port.",
            )
        )
    try:
        if url.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                url.hostname, url.port or 465, timeout=30, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(url.hostname, url.port or 25, timeout=30)
        with client:
            if url.scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
            if url.username:
                client.login(unquote(url.username), unquote(url.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            Text(
                f"Envoi de l'e-mail impossible ({url.hostname}) : {exc}",
                f"Cannot send the e-mail ({url.hostname}): {exc}",
            )
        ) from exc
    return f"{url.scheme}://{url.hostname}:{url.port or ''}"


def send_job_mail(
    runtime: Runtime, job_id: int, event: MailEvent, note: str = "", base_url: str | None = None
) -> str | None:
    """Compose and send one mail to the job's maker; an audit row says where it went.

    Returns where it went, or ``None`` when the maker left no e-mail address.
    """
    from ..jobs.states import record

    settings = MailSettings.from_env(runtime.settings.data_dir)
    base = base_url or runtime.settings.public_url or "http://127.0.0.1:8080"
    with runtime.db.session() as s:
        job = s.get(Job, job_id)
        if job is None or not job.maker_email:
            return None
        message = compose(job, event, job_link(base, job.token), settings.sender, note)
    where = deliver(message, settings, f"job-{job_id}-{event}")
    with runtime.db.session() as s:
        record(
            s,
            job_id,
            "mail",
            actor="worker",
            reason=str(message["Subject"]),
            data={"event": event, "to": message["To"], "via": where},
        )
    return where


def send_queued(
    runtime: Runtime, job_id: int, event: str, note: str = "", base_url: str | None = None
) -> None:
    """What the queue's mail task does; it is retried with back-off while the mail server
    is away (see fabserver.jobs.queue)."""
    try:
        send_job_mail(runtime, job_id, event, note, base_url)  # type: ignore[arg-type]
    except MailError as exc:
        log.warning("mail %s of job %s: %s", event, job_id, exc.message.en)
        raise
