"""What an invitation says, on each channel, in the customer's language."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from avis.messaging.providers import Envelope
from avis.surveys.models import Invitation, Question, QuestionKind


def respondent_link(invitation: Invitation) -> str:
    return settings.AVIS_BASE_URL + reverse("surveys:respond", args=[invitation.token])


def unsubscribe_link(invitation: Invitation) -> str:
    return settings.AVIS_BASE_URL + reverse("messaging:unsubscribe", args=[invitation.token])


def _localised(values: dict[str, str], language: str) -> str:
    return values.get(language) or values.get("en") or next(iter(values.values()), "")


def sms_question(question: Question, *, language: str, company: str) -> str:
    """One question as a text message: the prompt, and the words a reply may use when it has choices.

    Call it inside ``translation.override(language)``.
    """
    text = _localised(question.prompt, language).replace("{company}", company)
    if question.kind == QuestionKind.CHOICE and question.choices:
        labels = " / ".join(_localised(choice["label"], language) for choice in question.choices)
        text = f"{text} ({labels})"
    if question.allows_not_applicable:
        text = f"{text} " + _("Reply N/A if it does not apply.")
    return text


def render_invitation(
    invitation: Invitation, *, recipient: str, idempotency_key: str, reminder: bool = False
) -> Envelope:
    organisation = invitation.organisation
    link = respondent_link(invitation)
    context = {
        "company": organisation.name,
        "link": link,
        "touchpoint": invitation.touchpoint.label(invitation.locale),
        "expires_at": invitation.expires_at,
        "reminder": reminder,
    }
    with translation.override(invitation.locale):
        if invitation.channel == "sms":
            # An SMS survey is a conversation: the first question goes out at once.
            first = invitation.survey.questions.order_by("position").first()
            if first is None:
                text = _("%(company)s: how did it go? Two minutes to tell us: %(link)s") % context
            else:
                question = sms_question(first, language=invitation.locale, company=organisation.name)
                # Who is asking, unless the question already names the company.
                names_company = organisation.name in question
                intro = (
                    _("Reminder from %(company)s:") if reminder else ("" if names_company else "%(company)s:")
                )
                text = f"{intro % context} {question} ".lstrip() + _("STOP to opt out")
            return Envelope(recipient=recipient, subject="", text=text, idempotency_key=idempotency_key)
        first = invitation.survey.questions.order_by("position").first()
        if first is not None and first.kind in (QuestionKind.NPS, QuestionKind.CSAT):
            # The first question answered in one click: each score is a link to the page with it chosen.
            low, high = (0, 10) if first.kind == QuestionKind.NPS else (1, 5)
            context["question"] = _localised(first.prompt, invitation.locale).replace(
                "{company}", organisation.name
            )
            context["scale"] = [(score, f"{link}?{first.code}={score}") for score in range(low, high + 1)]
        unsubscribe = unsubscribe_link(invitation)
        context["unsubscribe"] = unsubscribe
        subject = _("%(company)s — how did it go?") % context
        if reminder:
            subject = _("Reminder: %(subject)s") % {"subject": subject}
        return Envelope(
            recipient=recipient,
            subject=subject,
            text=render_to_string("messaging/invitation_email.txt", context),
            html=render_to_string("messaging/invitation_email.html", context),
            idempotency_key=idempotency_key,
            headers={
                # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that
                # POSTs "List-Unsubscribe=One-Click" to the URL, without opening a page.
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
