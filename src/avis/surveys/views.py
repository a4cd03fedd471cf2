from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.gzip import gzip_page

from avis.accounts.decorators import member_required
from avis.errors import ValidationFailed
from avis.http import never_cached
from avis.messaging.billing import price_per_segment
from avis.surveys.conditions import applicable_questions
from avis.surveys.design import (
    LIBRARY,
    SURVEY_EDITORS,
    SURVEY_READERS,
    SurveyDesignInvalid,
    change_draft,
    create_survey,
    design_problems,
    designed_questions,
    discard_draft,
    publish_survey,
)
from avis.surveys.editor_form import (
    changes_from_form,
    channel_previews,
    designer_questions,
    editor_languages,
    sms_group,
)
from avis.surveys.models import InvitationStatus, Question, Survey
from avis.surveys.queries import (
    draft_of,
    invitation_for_answer,
    invitation_for_token,
    organisation_surveys,
    shown_invitations,
    survey_for_editing,
    survey_versions,
    touchpoints_without_survey,
    version_being_designed,
    version_questions,
)
from avis.surveys.respondent_page import laid_out, page_response, questions_page, thanks_page
from avis.surveys.services import AnswersInvalid, InvitationUnavailable, submit_response


# The token is the respondent's credential and the page is reached from an SMS
# or an email with no session: CSRF protection has nothing to protect here, and
# a single-use token already stops replays.
# Compressed (gzip) for the phones on slow networks. BREACH needs a secret in the page beside
# input an attacker chooses: the page's one secret is the token itself, in its URL, which an
# attacker must already know to make the page reflect anything; it holds no CSRF token nor
# session (and Django's GZip pads each response at random besides).
@csrf_exempt
@never_cached
@gzip_page
def respond(request: HttpRequest, token: str) -> HttpResponse:
    answering = request.method == "POST"
    invitation = invitation_for_answer(token) if answering else invitation_for_token(token)
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
    # A score clicked in the invitation email arrives as ?nps=9: shown chosen, sent with the rest.
    posted = request.POST if request.method == "POST" else request.GET
    # The questions the answers so far lead to: a follow-up ("only if NPS ≤ 6") appears once its
    # condition is met — at once with htmx, or when the form is sent without JavaScript.
    every = version_questions(invitation.version)
    questions = applicable_questions(every, posted)
    errors: dict[str, str] = {}
    # The page says which questions it showed: one that applies now but was not shown (a follow-up
    # of an answer just given, without JavaScript) is shown before anything is recorded.
    seen = set(posted.get("shown", "").split(","))
    more = request.method == "POST" and "shown" in posted and not {q.code for q in questions} <= seen
    partial = bool(request.headers.get("HX-Request"))  # an answer changed: which questions now apply
    if request.method == "POST" and not more and not partial:
        try:
            submit_response(token=token, answers=posted, invitation=invitation)
        except InvitationUnavailable as exc:
            return render(request, "surveys/unavailable.html", context | {"state": exc.state}, status=410)
        except AnswersInvalid as exc:
            errors = exc.problems
        else:
            return page_response(request, thanks_page(request, language=language, context=context))
    touchpoint = invitation.touchpoint.label(language)
    shown_invitations.keep(invitation)  # the page is shown: its answer takes this row (ShownInvitations)
    if partial or errors or more:
        company = invitation.organisation.name
        context |= laid_out(questions, every, language=language, company=company, touchpoint=touchpoint)
        context |= {"errors": errors, "posted": posted, "more": more}
        if partial:
            return render(request, "surveys/_questions.html", context)
        return render(request, "surveys/respond.html", context, status=422 if errors else 200)
    # The usual page: rendered once per published version and wording, the choices marked in it.
    page = questions_page(
        request,
        version=invitation.version,
        language=language,
        touchpoint=touchpoint,
        context=context,
        questions=questions,
        every=every,
        posted=posted,
    )
    return page_response(request, page)


def _survey_or_404(request: HttpRequest, survey_id: int) -> Survey:
    """Another organisation's survey does not exist, as far as this user can tell."""
    survey = survey_for_editing(organisation=request.organisation, survey_id=survey_id)  # type: ignore[attr-defined]
    if survey is None:
        raise Http404
    return survey


def _refuse_unless_editor(request: HttpRequest) -> HttpResponse | None:
    if request.membership.role not in SURVEY_EDITORS:  # type: ignore[attr-defined]
        return HttpResponseForbidden(_("Only an admin or an analyst may change or publish a survey."))
    return None


@login_required
@member_required(*SURVEY_READERS)
def survey_list(request: HttpRequest) -> HttpResponse:
    """Every survey, and a survey to start for each touchpoint that has none."""
    organisation = request.organisation  # type: ignore[attr-defined]
    problems: dict[str, str] = {}
    if request.method == "POST":
        if refused := _refuse_unless_editor(request):
            return refused
        touchpoint = touchpoints_without_survey(organisation=organisation).get(
            request.POST.get("touchpoint", "")
        )
        try:
            if touchpoint is None:
                raise ValidationFailed(_("Please choose a touchpoint without a survey."), field="touchpoint")
            survey = create_survey(
                organisation=organisation, touchpoint=touchpoint, name=request.POST.get("name", "")
            )
        except ValidationFailed as exc:
            problems = getattr(exc, "problems", None) or {exc.field or "touchpoint": exc.message}
        else:
            messages.success(request, _("Survey started: change it, then publish it to send it."))
            return redirect("survey_editor:edit", survey.id)
    context = {
        "surveys": organisation_surveys(organisation=organisation),
        "without_survey": list(touchpoints_without_survey(organisation=organisation).values()),
        "may_edit": request.membership.role in SURVEY_EDITORS,  # type: ignore[attr-defined]
        "problems": problems,
    }
    return render(request, "surveys/editor_list.html", context, status=422 if problems else 200)


def _designer_context(
    request: HttpRequest,
    survey: Survey,
    questions: list[Question],
    *,
    data: Mapping[str, str] | None,
    problems: dict,
) -> dict[str, object]:
    organisation = request.organisation  # type: ignore[attr-defined]
    languages = editor_languages(organisation)
    price = price_per_segment()
    preview_language = request.GET.get("preview", languages[0])
    return {
        "survey": survey,
        "draft": draft_of(survey),
        "may_edit": request.membership.role in SURVEY_EDITORS,  # type: ignore[attr-defined]
        "problems": problems,
        "price": price,
        "name": data.get("name", survey.name) if data else survey.name,
        "questions": designer_questions(
            survey, questions, languages=languages, data=data, problems=problems, price_per_segment=price
        ),
        "library": [(kind, item.label) for kind, item in LIBRARY.items()],
        "languages": [(code, dict(settings.LANGUAGES)[code]) for code in languages],
        "previews": channel_previews(
            survey,
            questions,
            language=preview_language if preview_language in languages else languages[0],
            price_per_segment=price,
        ),
        "versions": survey_versions(organisation=organisation, survey=survey),
    }


@login_required
@member_required(*SURVEY_READERS)
def survey_edit(request: HttpRequest, survey_id: int) -> HttpResponse:
    """The designer: a survey's questions, wording, conditions and versions, with the mobile page,
    the email and the SMS conversation previewed beside it. Admins and analysts change and publish.

    Every button posts the whole form (texts typed are never lost) with its ``action``; htmx swaps
    the designer in place, and without JavaScript the page reloads.
    """
    organisation = request.organisation  # type: ignore[attr-defined]
    survey = _survey_or_404(request, survey_id)
    version = version_being_designed(survey)
    questions = list(version.questions.all()) if version else []
    data, problems = None, {}
    if request.method == "POST":
        if refused := _refuse_unless_editor(request):
            return refused
        action = request.POST.get("action", "save")
        try:
            if action == "discard":
                discard_draft(organisation=organisation, survey_id=survey.id)
                done = _("Draft discarded: the designer shows the published version.")
            else:
                changes, problems = changes_from_form(questions, request.POST, editor_languages(organisation))
                if problems:
                    raise SurveyDesignInvalid(problems)
                change_draft(organisation=organisation, survey_id=survey.id, changes=changes)
                done = _("Draft saved. Customers still receive the published version until you publish.")
                if action == "publish":
                    published = publish_survey(
                        organisation=organisation, survey_id=survey.id, by=request.user
                    )
                    done = _("Version %(number)s published: new invitations are sent with it.") % {
                        "number": published.number
                    }
        except ValidationFailed as exc:
            data = request.POST
            problems = getattr(exc, "problems", None) or {exc.field or "draft": exc.message}
        else:
            messages.success(request, done)
            return redirect("survey_editor:edit", survey.id)
    context = _designer_context(request, survey, questions, data=data, problems=problems)
    # htmx swaps only successful answers: a refused change comes back as a page to show, marked.
    refused = 422 if problems and not request.headers.get("HX-Request") else 200
    return render(request, "surveys/editor.html", context, status=refused)


def _question_or_404(
    request: HttpRequest, survey_id: int, code: str, language: str
) -> tuple[Survey, Question, bool]:
    survey = _survey_or_404(request, survey_id)
    version = version_being_designed(survey)
    questions = list(version.questions.all()) if version else []
    question = next((q for q in questions if q.code == code), None)
    if question is None or language not in dict(settings.LANGUAGES):
        raise Http404
    return survey, question, question is questions[0]


@login_required
@member_required(*SURVEY_READERS)
def sms_preview(request: HttpRequest, survey_id: int, code: str, language: str) -> HttpResponse:
    """The live preview of one question in one language, from the text being typed (htmx, GET).

    ``gsm7=1`` (the "use the GSM-7 version" button) sends back the fields themselves, rewritten.
    """
    survey, question, opens_survey = _question_or_404(request, survey_id, code, language)
    gsm7 = request.GET.get("gsm7") == "1"
    group = sms_group(
        survey,
        question,
        opens_survey=opens_survey,
        language=language,
        data=request.GET,
        problems={},
        price_per_segment=price_per_segment(),
        gsm7=gsm7,
    )
    template = "surveys/_sms_group.html" if gsm7 else "surveys/_sms_preview.html"
    return render(request, template, {"group": group})


@login_required
@member_required(*SURVEY_READERS)
def channel_preview(request: HttpRequest, survey_id: int) -> HttpResponse:
    """The mobile page, the email and the SMS conversation of the design as typed (htmx, POST of the
    whole form; nothing is saved). Wording the designer would refuse is previewed as last saved."""
    organisation = request.organisation  # type: ignore[attr-defined]
    survey = _survey_or_404(request, survey_id)
    version = version_being_designed(survey)
    saved = list(version.questions.all()) if version else []
    data = request.POST if request.method == "POST" else request.GET
    typed = {**data.dict(), "action": "save"}  # previewed as typed: no button was pressed
    changes, problems = changes_from_form(saved, typed, editor_languages(organisation))
    questions, problems = designed_questions(saved, changes) if not problems else (saved, problems)
    if problems or design_problems(questions, required_language=organisation.default_locale):
        questions = saved
    language = data.get("preview", editor_languages(organisation)[0])
    if language not in dict(settings.LANGUAGES):
        raise Http404
    previews = channel_previews(survey, questions, language=language, price_per_segment=price_per_segment())
    return render(request, "surveys/_previews.html", {"previews": previews, "survey": survey})
