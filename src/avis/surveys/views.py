from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from avis.accounts.decorators import member_required
from avis.messaging.billing import price_per_segment
from avis.surveys.editor_form import editor_languages, editor_questions, sms_group, texts_from_form
from avis.surveys.models import InvitationStatus, Survey, scale_of
from avis.surveys.queries import invitation_for_token, organisation_surveys, survey_for_editing
from avis.surveys.services import (
    SURVEY_EDITORS,
    AnswersInvalid,
    InvitationUnavailable,
    SurveyTextsInvalid,
    asks_callback,
    submit_response,
    update_survey_texts,
)


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
                "scale": list(scale_of(question.kind)),
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


def _survey_or_404(request: HttpRequest, survey_id: int) -> Survey:
    """Another organisation's survey does not exist, as far as this user can tell."""
    survey = survey_for_editing(organisation=request.organisation, survey_id=survey_id)  # type: ignore[attr-defined]
    if survey is None:
        raise Http404
    return survey


@login_required
@member_required()
def survey_list(request: HttpRequest) -> HttpResponse:
    surveys = organisation_surveys(organisation=request.organisation)  # type: ignore[attr-defined]
    return render(request, "surveys/editor_list.html", {"surveys": surveys})


@login_required
@member_required()
def survey_edit(request: HttpRequest, survey_id: int) -> HttpResponse:
    """A survey's wording in each language, an SMS preview beside each text; saved by admins and analysts."""
    organisation = request.organisation  # type: ignore[attr-defined]
    survey = _survey_or_404(request, survey_id)
    may_edit = request.membership.role in SURVEY_EDITORS  # type: ignore[attr-defined]
    languages = editor_languages(organisation)
    data, problems = None, {}
    if request.method == "POST":
        if not may_edit:
            return HttpResponseForbidden(_("Only an admin or an analyst may change what a survey says."))
        try:
            update_survey_texts(
                organisation=organisation,
                survey_id=survey.id,
                texts=texts_from_form(survey.questions.all(), request.POST, languages),
                ask_callback="ask_callback" in request.POST,
            )
        except SurveyTextsInvalid as exc:
            data, problems = request.POST, exc.problems
        else:
            messages.success(request, _("Saved: the next messages sent use this wording."))
            return redirect("survey_editor:edit", survey.id)
    price = price_per_segment()
    context = {
        "survey": survey,
        "may_edit": may_edit,
        "problems": problems,
        "price": price,
        "ask_callback": "ask_callback" in data if data else asks_callback(survey.questions.all()),
        "questions": editor_questions(
            survey, languages=languages, data=data, problems=problems, price_per_segment=price
        ),
    }
    return render(request, "surveys/editor.html", context, status=422 if problems else 200)


@login_required
@member_required()
def sms_preview(request: HttpRequest, survey_id: int, code: str, language: str) -> HttpResponse:
    """The live preview of one question in one language, from the text being typed (htmx, GET).

    ``gsm7=1`` (the "use the GSM-7 version" button) sends back the fields themselves, rewritten.
    """
    survey = _survey_or_404(request, survey_id)
    question = next((q for q in survey.questions.all() if q.code == code), None)
    if question is None or language not in dict(settings.LANGUAGES):
        raise Http404
    gsm7 = request.GET.get("gsm7") == "1"
    group = sms_group(
        survey,
        question,
        language=language,
        data=request.GET,
        problems={},
        price_per_segment=price_per_segment(),
        gsm7=gsm7,
    )
    template = "surveys/_sms_group.html" if gsm7 else "surveys/_sms_preview.html"
    return render(request, template, {"group": group})
