"""What an invitation says, on each channel, in the customer's language."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from avis.messaging.providers import Envelope
from avis.surveys.models import Invitation


def respondent_link(invitation: Invitation) -> str:
    return settings.AVIS_BASE_URL + reverse("surveys:respond", args=[invitation.token])


def render_invitation(invitation: Invitation, *, recipient: str, idempotency_key: str) -> Envelope:
    organisation = invitation.organisation
    context = {
        "company": organisation.name,
        "link": respondent_link(invitation),
        "touchpoint": invitation.touchpoint.label(invitation.locale),
        "expires_at": invitation.expires_at,
    }
    with translation.override(invitation.locale):
        if invitation.channel == "sms":
            text = _("%(company)s: how did it go? Two minutes to tell us: %(link)s") % context
            return Envelope(recipient=recipient, subject="", text=text, idempotency_key=idempotency_key)
        return Envelope(
            recipient=recipient,
            subject=_("%(company)s — how did it go?") % context,
            text=render_to_string("messaging/invitation_email.txt", context),
            html=render_to_string("messaging/invitation_email.html", context),
            idempotency_key=idempotency_key,
        )
