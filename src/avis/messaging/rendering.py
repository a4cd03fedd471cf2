"""What an invitation says, on each channel, in the customer's language."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from avis.messaging.providers import Envelope
from avis.surveys.models import SCALES, Invitation, Question, QuestionKind, scale_of


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


def sms_invitation_text(
    first: Question | None, *, language: str, company: str, link: str = "", reminder: bool = False
) -> str:
    """The text that opens an SMS survey: who asks, the first question, how to stop.

    The real send and the survey editor's preview both read it here, so what an admin sees
    priced in the editor is, character for character, what the customer's phone receives.
    """
    context = {"company": company, "link": link}
    with translation.override(language):
        if first is None:
            return _("%(company)s: how did it go? Two minutes to tell us: %(link)s") % context
        question = sms_question(first, language=language, company=company)
        # Who is asking, unless the question already names the company.
        intro = "" if company in question else "%(company)s:"
        if reminder:
            intro = _("Reminder from %(company)s:")
        return f"{intro % context} {question} ".lstrip() + _("STOP to opt out")


def survey_sms_text(question: Question, *, opens_survey: bool, language: str, company: str) -> str:
    """What a customer's phone shows for this question: the invitation itself when the question
    opens the survey, a turn of the conversation otherwise."""
    if opens_survey:
        return sms_invitation_text(question, language=language, company=company)
    with translation.override(language):
        return sms_question(question, language=language, company=company)


def first_question(invitation: Invitation) -> Question | None:
    """The question the survey opens with; the survey's questions, when prefetched, are read as they are.

    ``Question.Meta.ordering`` is by position: dispatch prefetches them for a whole batch.
    """
    return invitation.survey.questions.first()


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
            link=link,
            reminder=reminder,
        )
        return Envelope(recipient=recipient, subject="", text=text, idempotency_key=idempotency_key)
    context = {
        "company": organisation.name,
        "link": link,
        "touchpoint": invitation.touchpoint.label(invitation.locale),
        "expires_at": invitation.expires_at,
        "reminder": reminder,
    }
    with translation.override(invitation.locale):
        first = first_question(invitation)
        if first is not None and first.kind in SCALES:
            # The first question answered in one click: each score is a link to the page with it chosen.
            context["question"] = _localised(first.prompt, invitation.locale).replace(
                "{company}", organisation.name
            )
            context["scale"] = [(score, f"{link}?{first.code}={score}") for score in scale_of(first.kind)]
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
