"""The survey designer's wording: admins reword questions and publish, the next SMS says it; bad
input changes nothing."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client

from avis.messaging.models import OutboundMessage
from avis.surveys.design import choice_field, prompt_field
from avis.surveys.models import Question, Survey
from avis.surveys.queries import version_being_designed
from tests.factories import PASSWORD, OrganisationSetup
from tests.helpers import open_all_day, post_interaction

NEW_PROMPT = "Sur 10, conseilleriez-vous {company} a un ami ? (0 = non, 10 = oui)"


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def call_center_survey(org: OrganisationSetup) -> Survey:
    return Survey.objects.get(organisation=org.organisation, touchpoint=org.touchpoints["call_center.call"])


def form_of(survey: Survey, **changes: str) -> dict[str, str]:
    """The editor's form as the browser posts it: every text as saved, with ``changes`` typed in."""
    data = {}
    for question in version_being_designed(survey).questions.all():
        for language in ("fr", "en"):
            data[prompt_field(question.code, language)] = question.prompt.get(language, "")
            for choice in question.choices:
                label = choice["label"].get(language, "")
                data[choice_field(question.code, choice["value"], language)] = label
    return data | {name.replace("__", "."): value for name, value in changes.items()}


def prompts(survey: Survey) -> dict[str, dict[str, str]]:
    """The wording the designer shows: the draft's, else the published version's."""
    return {q.code: q.prompt for q in version_being_designed(survey).questions.all()}


@pytest.mark.django_db(transaction=True)
def test_a_reworded_first_question_is_the_next_sms_sent(org, api, settings) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    survey = call_center_survey(org)
    admin = signed_in(org.admin_email)
    saved = admin.post(f"/settings/surveys/{survey.id}/", form_of(survey, nps__prompt__fr=NEW_PROMPT))
    assert saved.status_code == 302
    assert "Draft saved" in admin.get(saved.url).content.decode()
    published = admin.post(f"/settings/surveys/{survey.id}/", form_of(survey) | {"action": "publish"})
    assert published.status_code == 302
    assert post_interaction(api, "evt-1", email=None, phone="06 12 34 56 78").status_code == 200
    sent = OutboundMessage.objects.get(channel="sms", kind="invitation", status="sent")
    assert sent.body_text == (
        "Sur 10, conseilleriez-vous Assurances du Centre a un ami ? (0 = non, 10 = oui) "
        "STOP pour vous désabonner"
    )


@pytest.mark.django_db
def test_the_preview_shows_the_exact_sms_that_is_sent(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    fragment = unescape(
        signed_in(org.manager_email)
        .get(
            f"/settings/surveys/{survey.id}/sms/nps/fr/",
            {"nps.prompt.fr": NEW_PROMPT},
            HTTP_HX_REQUEST="true",
        )
        .content.decode()
    )
    assert "<html" not in fragment
    assert (
        "Sur 10, conseilleriez-vous Assurances du Centre a un ami ? (0 = non, 10 = oui) "
        "STOP pour vous désabonner"
    ) in fragment
    assert 'data-field="encoding">GSM-7<' in fragment
    assert 'data-field="segments">1<' in fragment


@pytest.mark.django_db
def test_a_later_question_previews_as_its_turn_of_the_conversation_with_its_choices(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    fragment = unescape(
        signed_in(org.admin_email)
        .get(
            f"/settings/surveys/{survey.id}/sms/resolved/en/",
            {"resolved.prompt.en": "Is it sorted?", "resolved.choices.partly.en": "Half"},
            HTTP_HX_REQUEST="true",
        )
        .content.decode()
    )
    assert 'data-field="sms">Is it sorted? (Yes / Half / No)</p>' in fragment
    assert "STOP" not in fragment


@pytest.mark.django_db
def test_one_typographic_apostrophe_is_named_priced_and_replaced_in_one_click(org, settings) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PRICE_PER_SEGMENT = "0.05"
    survey = call_center_survey(org)
    admin = signed_in(org.admin_email)
    typed = {"nps.prompt.fr": "C’est à vous : recommanderiez-vous {company} à un proche ? (0 à 10)"}
    url = f"/settings/surveys/{survey.id}/sms/nps/fr/"
    fragment = unescape(admin.get(url, typed, HTTP_HX_REQUEST="true").content.decode())
    assert 'data-field="encoding">UCS-2<' in fragment
    assert 'data-field="segments">2<' in fragment
    assert "<code>’</code>" in fragment and "U+2019" in fragment
    assert "from 1 to 2 segments" in fragment
    assert "0.05 more per message" in fragment
    assert "Use the GSM-7 version" in fragment
    group = unescape(admin.get(url, typed | {"gsm7": "1"}, HTTP_HX_REQUEST="true").content.decode())
    assert "C'est à vous : recommanderiez-vous {company} à un proche ? (0 à 10)</textarea>" in group
    assert 'data-field="encoding">GSM-7<' in group
    assert 'data-field="segments">1<' in group


@pytest.mark.django_db
def test_wrong_texts_are_refused_with_their_field_errors_and_nothing_is_saved(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    before = prompts(survey)
    admin = signed_in(org.admin_email)
    page = admin.post(
        f"/settings/surveys/{survey.id}/",
        form_of(
            survey,
            nps__prompt__fr="   ",  # the organisation's default language may not be empty
            nps__prompt__en="How likely are you to recommend us?",  # valid, yet saved with the rest or not
            agent__prompt__fr="Bonjour {prenom}, notez-nous de 1 à 5",
            comment__prompt__en="x" * 400,
        ),
    )
    assert page.status_code == 422
    html = unescape(page.content.decode())
    assert "Nothing was saved" in html
    assert 'id="nps.prompt.fr-error">Please write this text' in html
    assert 'id="agent.prompt.fr-error">Only {company} (the organisation' in html
    assert "{prenom} would reach customers as is" in html
    assert 'id="comment.prompt.en-error">At most 320 characters (now 400)' in html
    assert "How likely are you to recommend us?</textarea>" in html  # what was typed is kept
    assert "Bonjour {prenom}, notez-nous de 1 à 5</textarea>" in html
    assert prompts(survey) == before


@pytest.mark.django_db
def test_an_empty_english_prompt_is_allowed_for_a_french_organisation(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    admin = signed_in(org.admin_email)
    response = admin.post(f"/settings/surveys/{survey.id}/", form_of(survey, comment__prompt__en=""))
    assert response.status_code == 302
    assert prompts(survey)["comment"]["en"] == ""


@pytest.mark.django_db
def test_a_manager_reads_the_texts_and_their_cost_but_cannot_change_them(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    before = prompts(survey)
    manager = signed_in(org.manager_email)
    page = manager.get(f"/settings/surveys/{survey.id}/").content.decode()
    assert 'class="question" disabled' in page
    assert 'data-field="cost"' in page
    refused = manager.post(f"/settings/surveys/{survey.id}/", form_of(survey, nps__prompt__fr=NEW_PROMPT))
    assert refused.status_code == 403
    assert prompts(survey) == before


@pytest.mark.django_db
def test_another_organisations_survey_is_not_found(org, other_org) -> None:  # noqa: ANN001
    theirs = call_center_survey(other_org)
    before = prompts(theirs)
    admin = signed_in(org.admin_email)
    listing = admin.get("/settings/surveys/").content.decode()
    assert f"/settings/surveys/{call_center_survey(org).id}/" in listing
    assert f"/settings/surveys/{theirs.id}/" not in listing
    assert admin.get(f"/settings/surveys/{theirs.id}/").status_code == 404
    assert admin.post(f"/settings/surveys/{theirs.id}/", form_of(theirs)).status_code == 404
    assert admin.get(f"/settings/surveys/{theirs.id}/sms/nps/fr/").status_code == 404
    assert prompts(theirs) == before


@pytest.mark.django_db
def test_call_back_consent_from_the_library_asks_how_and_when_only_after_a_yes(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    admin = signed_in(org.admin_email)
    added = admin.post(f"/settings/surveys/{survey.id}/", form_of(survey) | {"action": "add:callback"})
    assert added.status_code == 302
    design = list(version_being_designed(survey).questions.all())
    assert [q.code for q in design][-3:] == ["callback", "callback_channel", "callback_time"]
    assert design[-1].condition == {"question": "callback", "among": ["yes"]}
    assert not Question.objects.filter(version=survey.current_version, code="callback").exists()
