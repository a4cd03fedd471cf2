"""No personal data in logs: customers' phone numbers and e-mails, survey and invitation tokens and
customer ids in request paths are replaced before any line is written.

Installed as a filter on the log handlers (settings.LOGGING), so it covers every logger, Django's
request log ("Not Found: /s/<token>") included.
"""

from __future__ import annotations

import logging
import re

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# International (+33…, %2B33…) or national (06 12 34 56 78) numbers: nine digits or more, spaced or not.
# Dashes are not separators here, so dates stay readable.
PHONE = re.compile(r"(?:\+|%2B)?\d(?:[ .]?\d){8,}")
# Path segments that are secrets or identify a customer: /s/<token>, /join/<token>, /unsubscribe/<token>,
# /simulation/<token>/, /customers/<external id>/, /webhook/<token>.
SECRET_SEGMENT = re.compile(r"(/(?:s|join|unsubscribe|simulation|customers|webhook)/)[^/\s?\"']+")
QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    text = SECRET_SEGMENT.sub(r"\1…", text)
    text = QUERY.sub("?…", text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub("[phone]", text)


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def mask_recipient(recipient: str) -> str:
    """``m•••@example.fr``, ``+33•••••••78``: enough to tell two messages apart in development."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}•••@{domain}"
    return f"{recipient[:3]}•••{recipient[-2:]}" if len(recipient) > 5 else "•••"
