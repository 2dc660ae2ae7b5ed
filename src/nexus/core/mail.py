"""E-mail: queued in the caller's transaction, sent by the worker after commit through SMTP.

`NEXUS_SMTP_URL`: `smtp://[user:password@]host[:port]` (plain, STARTTLS when the server offers
it), `smtps://…` (TLS from the start). In dev mode without SMTP the message is written to the log.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from nexus.core.context import RequestContext
from nexus.core.jobs import enqueue
from nexus.core.settings import Settings

SEND_MAIL_JOB = "core.mail.send"
log = logging.getLogger("nexus.mail")


def send_mail(
    session: AsyncSession, *, to: str, subject: str, text: str, html: str | None = None
) -> None:
    """Queue a message; it leaves only if the caller's transaction commits."""
    payload = {"to": to, "subject": subject, "text": text, "html": html}
    enqueue(session, SEND_MAIL_JOB, payload, max_attempts=10)


def build_message(settings: Settings, payload: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


def _deliver(smtp_url: str, message: EmailMessage) -> None:
    url = urlsplit(smtp_url)
    host = url.hostname or "localhost"
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=30, context=ssl.create_default_context()
        )
    elif url.scheme == "smtp":
        client = smtplib.SMTP(host, url.port or 25, timeout=30)
    else:
        raise ValueError(f"NEXUS_SMTP_URL scheme must be smtp or smtps, not {url.scheme!r}")
    with client:
        if url.scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


async def send_mail_job(
    session: AsyncSession, ctx: RequestContext, payload: dict[str, Any]
) -> None:
    settings: Settings = session.info["settings"]
    message = build_message(settings, payload)
    if settings.smtp_url:
        await asyncio.to_thread(_deliver, settings.smtp_url, message)
        return
    if not settings.dev:
        raise RuntimeError("NEXUS_SMTP_URL is not set; cannot send e-mail")
    log.info("mail (dev mode, not sent)\n%s", message.as_string())
