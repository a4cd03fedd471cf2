"""The respondent's page, rendered once per published version, language and wording, then filled in.

A published version's questions never change (``SurveyVersion``), and neither does their page for
a given language, company name and touchpoint label: about 1,500 template nodes (an 11-point scale
drawn with a loop in a loop) that took half the CPU of a ``GET /s/<token>``. The page is rendered
once per process with nothing chosen, kept, and each request only marks the choices it arrived with
(``?nps=9`` from the e-mail's score, or the answers sent back with a follow-up) in the HTML. A page
with errors, or the notice of one more question, is rendered in full: they are rare and say more.

A kept page goes as it is to most respondents (nothing chosen yet; the thank-you page), so it is
also compressed once, when it is rendered: ``page_response`` sends that copy to a browser that takes
gzip instead of compressing the same bytes at every request (``gzip_page`` leaves an encoded
response as it is).

``tests/surveys/test_respondent_page.py`` holds the filled page equal to the full rendering.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import re_accepts_gzip
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.html import escape
from django.utils.text import compress_string

from avis.surveys.models import Question, QuestionKind, SurveyVersion, scale_of
from avis.surveys.wording import page_questions

# Enough for every version, language and shown-questions set an installation answers at once;
# when full, it starts again (a renamed company leaves its old pages behind until then).
MAX_PAGES = 512
_pages: dict[tuple[object, ...], str] = {}
# A kept page's compressed copy, by the page's identity (the kept string itself is what
# ``questions_page`` returns when it marks nothing).
_packed: dict[int, tuple[str, bytes]] = {}


def _kept(key: tuple[object, ...], render: object) -> str:
    page = _pages.get(key)
    if page is None:
        if len(_pages) >= MAX_PAGES:
            _pages.clear()
            _packed.clear()
        page = _pages[key] = render()  # type: ignore[operator]
        _packed[id(page)] = (page, compress_string(page.encode()))
    return page


def page_response(request: HttpRequest, page: str) -> HttpResponse:
    """The page as the response; a kept page compressed once, for a browser that takes gzip."""
    packed = _packed.get(id(page))
    if (
        packed is None
        or packed[0] is not page
        or not re_accepts_gzip.search(request.headers.get("Accept-Encoding", ""))
    ):
        return HttpResponse(page)
    response = HttpResponse(packed[1])
    response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


def laid_out(
    questions: Sequence[Question], every: Sequence[Question], *, language: str, company: str, touchpoint: str
) -> dict[str, object]:
    """What ``surveys/_questions.html`` shows of the questions, whoever answers them."""
    return {
        "questions": page_questions(questions, language, company=company, touchpoint=touchpoint),
        "shown": ",".join(question.code for question in questions),
        # The questions whose answer a condition reads: changing one may show or hide a follow-up.
        "drivers": {str(question.condition["question"]) for question in every if question.condition},
    }


def questions_page(
    request: HttpRequest,
    *,
    version: SurveyVersion,
    language: str,
    touchpoint: str,
    context: dict[str, object],
    questions: Sequence[Question],
    every: Sequence[Question],
    posted: Mapping[str, str],
) -> str:
    """``surveys/respond.html`` for these questions (``every`` is the version's), with the posted
    choices marked and a posted text kept; ``context`` holds the company's name."""
    key = (
        "questions",
        version.pk,
        version.published_at,
        language,
        context["company"],
        touchpoint,
        tuple(question.code for question in questions),
    )

    def render() -> str:
        company = str(context["company"])
        shown = context | laid_out(
            questions, every, language=language, company=company, touchpoint=touchpoint
        )
        shown |= {"posted": {}, "errors": {}, "more": False}
        return render_to_string("surveys/respond.html", shown, request)

    page = _kept(key, render) if version.published_at is not None else render()
    return fill_answers(page, questions, posted)


def fill_answers(page: str, questions: Sequence[Question], posted: Mapping[str, str]) -> str:
    """Mark each posted choice ``checked`` and put a posted text in its box, as the template would.

    Matches the markup of ``surveys/_questions.html``: a radio is ``name="<code>" value="<value>"``
    followed by its attributes, a text box ``name="<code>" rows="4" maxlength="5000">``.
    """
    for question in questions:
        value = posted.get(question.code)
        if value is None or value == "":
            continue
        if scale_of(question.kind) or question.kind == QuestionKind.CHOICE:
            radio = f'name="{question.code}" value="{escape(value)}"'
            page = page.replace(radio, radio + " checked", 1)
        else:
            box = f'name="{question.code}" rows="4" maxlength="5000">'
            page = page.replace(box, box + escape(value), 1)
    return page


def thanks_page(request: HttpRequest, *, language: str, context: dict[str, object]) -> str:
    """The thank-you page: the same for every respondent of a company in a language."""
    return _kept(
        ("thanks", language, context["company"]),
        lambda: render_to_string("surveys/thanks.html", context, request),
    )


def forget_respondent_pages() -> None:
    """Empty the cache (tests whose rolled-back rows reuse ids)."""
    _pages.clear()
