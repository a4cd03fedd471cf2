from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from avis.messaging.providers import Envelope, PermanentFailure, TransientFailure

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class SmtpProvider:
    """Email through Django's SMTP backend: a plain-text part and an HTML part."""

    name = "smtp"
    channel = "email"

    def send(self, envelope: Envelope) -> str:
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "avis.localhost"
        message_id = f"<{envelope.idempotency_key}@{domain}>"
        email = EmailMultiAlternatives(
            subject=envelope.subject,
            body=envelope.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[envelope.recipient],
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
