from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from avis.surveys.models import InvitationStatus
from avis.surveys.queries import invitation_for_token
from avis.surveys.services import AnswersInvalid, InvitationUnavailable, submit_response


def _questions(invitation, language: str) -> list[dict[str, object]]:  # noqa: ANN001
    company = invitation.organisation.name
    shown = []
    for question in invitation.survey.questions.all():
        prompt = question.prompt.get(language) or question.prompt.get("en", "")
        shown.append(
            {
                "q": question,
                "prompt": prompt.replace("{company}", company),
                "choices": [
                    {"value": c["value"], "label": c["label"].get(language) or c["label"].get("en")}
                    for c in question.choices
                ],
                "scale": list(range(0, 11)) if question.kind == "nps" else list(range(1, 6)),
                "na_label": question.not_applicable_label.get(language, ""),
            }
        )
    return shown


# The token is the respondent's credential and the page is reached from an SMS
# or an email with no session: CSRF protection has nothing to protect here, and
# a single-use token already stops replays.
@csrf_exempt
@never_cache
def respond(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_for_token(token)
    if invitation is None:
        return render(request, "surveys/unavailable.html", {"state": "unknown"}, status=404)
    language = invitation.locale
    translation.activate(language)
    request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
    context: dict[str, object] = {"invitation": invitation, "company": invitation.organisation.name}
    if invitation.status == InvitationStatus.RESPONDED:
        return render(request, "surveys/unavailable.html", context | {"state": "used"}, status=410)
    if invitation.status == InvitationStatus.CANCELLED or invitation.expires_at <= timezone.now():
        return render(request, "surveys/unavailable.html", context | {"state": "expired"}, status=410)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            submit_response(token=token, answers=request.POST)
        except InvitationUnavailable as exc:
            return render(request, "surveys/unavailable.html", context | {"state": exc.state}, status=410)
        except AnswersInvalid as exc:
            errors = exc.problems
        else:
            return render(request, "surveys/thanks.html", context)
    # A score clicked in the invitation email arrives as ?nps=9: shown chosen, sent with the rest.
    posted = request.POST if request.method == "POST" else request.GET
    context |= {"questions": _questions(invitation, language), "errors": errors, "posted": posted}
    return render(request, "surveys/respond.html", context, status=422 if errors else 200)
