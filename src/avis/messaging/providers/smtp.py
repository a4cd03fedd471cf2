from __future__ import annotations

import smtplib
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from avis.messaging.providers import Envelope, PermanentFailure, TransientFailure

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class SmtpProvider:
    """Email through Django's SMTP backend: a plain-text part and an HTML part."""

    name = "smtp"
    channel = "email"

    def __init__(self, *, sender_name: str = "", reply_to: str = "") -> None:
        # An organisation names the sender its customers see and where their replies go; the
        # address itself stays the installation's (AVIS_EMAIL_FROM), the one its mail server may send as.
        address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        self.from_email = formataddr((sender_name, address)) if sender_name else settings.DEFAULT_FROM_EMAIL
        self.domain = address.rsplit("@", 1)[-1] or "avis.localhost"
        self.reply_to = [reply_to] if reply_to else None

    def send(self, envelope: Envelope) -> str:
        message_id = f"<{envelope.idempotency_key}@{self.domain}>"
        email = EmailMultiAlternatives(
            subject=envelope.subject,
            body=envelope.text,
            from_email=self.from_email,
            to=[envelope.recipient],
            reply_to=self.reply_to,
            headers={"Message-ID": message_id, **envelope.headers},
            connection=get_connection(SMTP_BACKEND, fail_silently=False),
        )
        if envelope.html:
            email.attach_alternative(envelope.html, "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise TransientFailure(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientFailure(str(exc) or exc.__class__.__name__) from exc
        return message_id
