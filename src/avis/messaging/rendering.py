"""What an invitation says, on each channel, in the customer's language."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from avis.messaging.providers import Envelope
from avis.surveys.models import SCALES, Invitation, Question, QuestionKind, scale_of
from avis.surveys.wording import localised, prompt_for


def respondent_link(invitation: Invitation) -> str:
    return settings.AVIS_BASE_URL + reverse("surveys:respond", args=[invitation.token])


def unsubscribe_link(invitation: Invitation) -> str:
    return settings.AVIS_BASE_URL + reverse("messaging:unsubscribe", args=[invitation.token])


def sms_question(question: Question, *, language: str, company: str, touchpoint: str = "") -> str:
    """One question as a text message: the prompt, and the words a reply may use when it has choices.

    Call it inside ``translation.override(language)``. ``touchpoint`` is the touchpoint's name
    in ``language``, for prompts that write ``{touchpoint}``.
    """
    text = prompt_for(question.prompt, language, company=company, touchpoint=touchpoint)
    if question.kind == QuestionKind.CHOICE and question.choices:
        labels = " / ".join(localised(choice["label"], language) for choice in question.choices)
        text = f"{text} ({labels})"
    if question.allows_not_applicable:
        text = f"{text} " + _("Reply N/A if it does not apply.")
    return text


def sms_invitation_text(
    first: Question | None,
    *,
    language: str,
    company: str,
    touchpoint: str = "",
    link: str = "",
    reminder: bool = False,
) -> str:
    """The text that opens an SMS survey: who asks, the first question, how to stop.

    The real send and the survey editor's preview both read it here, so what an admin sees
    priced in the editor is, character for character, what the customer's phone receives.
    """
    context = {"company": company, "link": link}
    with translation.override(language):
        if first is None:
            return _("%(company)s: how did it go? Two minutes to tell us: %(link)s") % context
        question = sms_question(first, language=language, company=company, touchpoint=touchpoint)
        # Who is asking, unless the question already names the company.
        intro = "" if company in question else "%(company)s:"
        if reminder:
            intro = _("Reminder from %(company)s:")
        return f"{intro % context} {question} ".lstrip() + _("STOP to opt out")


def survey_sms_text(
    question: Question, *, opens_survey: bool, language: str, company: str, touchpoint: str = ""
) -> str:
    """What a customer's phone shows for this question: the invitation itself when the question
    opens the survey, a turn of the conversation otherwise."""
    if opens_survey:
        return sms_invitation_text(question, language=language, company=company, touchpoint=touchpoint)
    with translation.override(language):
        return sms_question(question, language=language, company=company, touchpoint=touchpoint)


def sms_completion_text(*, language: str, company: str) -> str:
    """The thank-you that ends an SMS survey answered to the last question."""
    with translation.override(language):
        return _("Thank you, your answers have been recorded. %(company)s") % {"company": company}


def first_question(invitation: Invitation) -> Question | None:
    """The question the survey opens with (never conditional); the version's questions, when
    prefetched, are read as they are.

    ``Question.Meta.ordering`` is by position: dispatch prefetches them for a whole batch.
    """
    return invitation.version.questions.first()


def render_invitation(
    invitation: Invitation, *, recipient: str, idempotency_key: str, reminder: bool = False
) -> Envelope:
    organisation = invitation.organisation
    link = respondent_link(invitation)
    if invitation.channel == "sms":
        # An SMS survey is a conversation: the first question goes out at once.
        text = sms_invitation_text(
            first_question(invitation),
            language=invitation.locale,
            company=organisation.name,
            touchpoint=invitation.touchpoint.label(invitation.locale),
            link=link,
            reminder=reminder,
        )
        return Envelope(recipient=recipient, subject="", text=text, idempotency_key=idempotency_key)
    unsubscribe = unsubscribe_link(invitation)
    subject, text, html = invitation_email(
        first_question(invitation),
        language=invitation.locale,
        company=organisation.name,
        touchpoint=invitation.touchpoint.label(invitation.locale),
        link=link,
        unsubscribe=unsubscribe,
        expires_at=invitation.expires_at,
        reminder=reminder,
    )
    return Envelope(
        recipient=recipient,
        subject=subject,
        text=text,
        html=html,
        idempotency_key=idempotency_key,
        headers={
            # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that
            # POSTs "List-Unsubscribe=One-Click" to the URL, without opening a page.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def invitation_email(
    first: Question | None,
    *,
    language: str,
    company: str,
    touchpoint: str,
    link: str,
    unsubscribe: str,
    expires_at: datetime,
    reminder: bool = False,
) -> tuple[str, str, str]:
    """The invitation email's subject, text and HTML; the send and the survey designer's preview
    both read it here."""
    context: dict[str, object] = {
        "company": company,
        "link": link,
        "touchpoint": touchpoint,
        "expires_at": expires_at,
        "reminder": reminder,
        "unsubscribe": unsubscribe,
    }
    with translation.override(language):
        if first is not None and first.kind in SCALES:
            # The first question answered in one click: each score is a link to the page with it chosen.
            context["question"] = prompt_for(first.prompt, language, company=company, touchpoint=touchpoint)
            context["scale"] = [(score, f"{link}?{first.code}={score}") for score in scale_of(first.kind)]
        subject = _("%(company)s — how did it go?") % context
        if reminder:
            subject = _("Reminder: %(subject)s") % {"subject": subject}
        text = render_to_string("messaging/invitation_email.txt", context)
        html = render_to_string("messaging/invitation_email.html", context)
    return subject, text, html
