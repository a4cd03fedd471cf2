"""The designer page: questions from the library added, removed and reordered, conditions, placeholders,
publishing versions, the SMS-length flag, and who may do what."""

from __future__ import annotations

from html import unescape

import pytest
from django.test import Client

from avis.accounts.models import Role
from avis.accounts.services import add_member
from avis.interactions.services import create_touchpoint
from avis.surveys.models import Invitation, Response, Survey, SurveyVersion
from avis.surveys.queries import version_being_designed
from tests.factories import PASSWORD, OrganisationSetup
from tests.helpers import answer, open_all_day, post_interaction
from tests.surveys.test_survey_editor import form_of

pytestmark = pytest.mark.django_db


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def call_center_survey(org: OrganisationSetup) -> Survey:
    return Survey.objects.get(organisation=org.organisation, touchpoint__code="call_center.call")


def codes(survey: Survey) -> list[str]:
    return [q.code for q in version_being_designed(survey).questions.all()]


def press(client: Client, survey: Survey, action: str, **typed: str) -> tuple[int, str]:
    """Press a designer button, with the form as the browser sends it (texts as shown, ``typed`` changed)."""
    page = client.post(f"/settings/surveys/{survey.id}/", form_of(survey, **typed) | {"action": action})
    return page.status_code, unescape(page.content.decode())


def test_questions_are_added_from_the_library_moved_and_removed_keeping_what_was_typed(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    assert press(admin, survey, "add:ces", nps__prompt__en="Would you recommend {company}?")[0] == 302
    assert codes(survey) == ["nps", "resolved", "agent", "comment", "effort"]
    assert (
        version_being_designed(survey).questions.get(code="nps").prompt["en"]
        == "Would you recommend {company}?"
    )
    press(admin, survey, "up:effort")
    press(admin, survey, "up:effort")
    assert codes(survey) == ["nps", "resolved", "effort", "agent", "comment"]
    press(admin, survey, "add:nps")  # a second score gets a code of its own
    assert codes(survey)[-1] == "nps_2"
    press(admin, survey, "remove:agent")
    assert codes(survey) == ["nps", "resolved", "effort", "comment", "nps_2"]
    # Customers still receive version 1 until the draft is published.
    assert [q.code for q in survey.current_version.questions.all()] == ["nps", "resolved", "agent", "comment"]


def test_a_single_choice_gets_choices_added_and_removed(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    press(admin, survey, "add:choice")
    press(admin, survey, "add_choice:choice")
    choice = version_being_designed(survey).questions.get(code="choice")
    assert [c["value"] for c in choice.choices] == ["a", "b", "c3"]
    press(admin, survey, "remove_choice:choice:a")
    press(admin, survey, "remove_choice:choice:b")
    status, html = press(admin, survey, "remove_choice:choice:c3")
    assert status == 422 and "A question with choices offers from 2 to 8" in html


def test_the_touchpoint_name_is_a_placeholder_and_any_other_is_refused_by_field(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    status, html = press(admin, survey, "save", resolved__prompt__fr="Votre {interaction} est-elle réglée ?")
    assert status == 422
    assert 'id="resolved.prompt.fr-error">Only {company}' in html and "{interaction} would reach" in html
    fragment = unescape(
        admin.get(
            f"/settings/surveys/{survey.id}/sms/resolved/fr/",
            {"resolved.prompt.fr": "Votre {touchpoint} a-t-il réglé votre demande ?"},
            HTTP_HX_REQUEST="true",
        ).content.decode()
    )
    assert "Votre Appel au service client a-t-il réglé votre demande ? (Oui / En partie / Non)" in fragment


def test_a_condition_reads_an_earlier_answer_and_the_first_question_has_none(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    status, _html = press(
        admin, survey, "save", **{"comment__condition": "nps<=", "comment__condition__at_most": "6"}
    )
    assert status == 302
    assert version_being_designed(survey).questions.get(code="comment").condition == {
        "question": "nps",
        "at_most": 6,
    }
    press(admin, survey, "save", **{"agent__condition": "resolved!=yes"})
    assert version_being_designed(survey).questions.get(code="agent").condition == {
        "question": "resolved",
        "among": ["partly", "no"],
    }
    status, html = press(
        admin, survey, "save", **{"comment__condition": "nps<=", "comment__condition__at_most": "12"}
    )
    assert status == 422 and "Please choose a score from 0 to 9" in html
    # Moving the comment first would ask everyone a question meant for detractors.
    for _ in range(3):
        status, html = press(admin, survey, "up:comment")
    assert status == 422 and "The first question is asked to everyone" in html
    assert codes(survey) == ["nps", "comment", "resolved", "agent"]


def test_publishing_makes_a_new_version_and_earlier_invitations_keep_theirs(org, api) -> None:  # noqa: ANN001
    open_all_day(org.organisation)
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    post_interaction(api, "evt-before", customer="C-1")
    press(admin, survey, "save", nps__prompt__fr="Sur 10, recommanderiez-vous {company} ?")
    status, html = press(admin, survey, "publish")
    assert status == 302
    survey.refresh_from_db()
    assert survey.current_version.number == 2
    post_interaction(api, "evt-after", customer="C-2", phone="06 99 99 99 99", email="b@example.fr")
    before, after = Invitation.objects.order_by("id")
    assert (before.version.number, after.version.number) == (1, 2)
    assert (
        "Recommanderiez-vous Assurances du Centre à un proche"
        in Client().get(f"/s/{before.token}").content.decode()
    )
    assert "Sur 10, recommanderiez-vous" in Client().get(f"/s/{after.token}").content.decode()
    answer(before.token, nps="8", resolved="yes")
    assert Response.objects.get().version.number == 1  # answered after the change, counted under its version
    page = admin.get(f"/settings/surveys/{survey.id}/").content.decode()
    assert "Customers receive version 2" in page
    status, html = press(admin, survey, "publish")
    assert status == 422 and "Nothing to publish" in html
    assert SurveyVersion.objects.filter(survey=survey).count() == 2


def test_a_survey_too_long_for_sms_is_flagged_with_its_cost_per_completed_answer(org, settings) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PRICE_PER_SEGMENT = "0.05"
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    page = unescape(admin.get(f"/settings/surveys/{survey.id}/").content.decode())
    assert "Too long for SMS" in page and "It asks up to 4 questions by text (more than 3)" in page
    # 4 questions (the advisor's in 2 segments) and the thank-you: 5 texts, 6 segments at 0.05.
    assert "A completed SMS survey costs 0.30 to 0.30\n      (5 to 5 texts sent" in page
    assert "Each completed answer costs up to 0.30 in texts" in page
    press(admin, survey, "remove:comment")
    page = unescape(admin.get(f"/settings/surveys/{survey.id}/").content.decode())
    assert "Too long for SMS" not in page


def test_a_prompt_above_two_segments_is_flagged(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    press(admin, survey, "remove:comment")
    long = "Sur une échelle de 1 à 5, " * 10 + "{company} ?"
    preview = unescape(
        admin.post(
            f"/settings/surveys/{survey.id}/preview/",
            form_of(survey, agent__prompt__fr=long) | {"preview": "fr"},
            HTTP_HX_REQUEST="true",
        ).content.decode()
    )
    assert "Too long for SMS" in preview and "These texts take more than 2 segments: agent" in preview


def test_a_survey_is_started_for_a_touchpoint_without_one_and_sends_nothing_before_it_is_published(
    org,
    api,  # noqa: ANN001
) -> None:
    open_all_day(org.organisation)
    create_touchpoint(
        organisation=org.organisation, code="claim.opened", name_fr="Sinistre déclaré", name_en="Claim"
    )
    admin = signed_in(org.admin_email)
    listing = admin.get("/settings/surveys/").content.decode()
    assert 'value="claim.opened"' in listing and 'value="call_center.call"' not in listing
    started = admin.post("/settings/surveys/", {"touchpoint": "claim.opened"})
    assert started.status_code == 302
    survey = Survey.objects.get(organisation=org.organisation, touchpoint__code="claim.opened")
    assert survey.current_version is None and codes(survey) == ["nps", "resolved", "agent", "comment"]
    reply = post_interaction(api, "evt-claim", touchpoint="claim.opened").json()
    assert reply["decision"]["reason"] == "no_survey"
    press(admin, survey, "publish")
    assert post_interaction(api, "evt-claim-2", touchpoint="claim.opened", customer="C-9").json()[
        "invitation"
    ]


def test_a_manager_reads_the_designer_but_may_not_change_or_publish(org) -> None:  # noqa: ANN001
    survey, manager = call_center_survey(org), signed_in(org.manager_email)
    assert manager.get(f"/settings/surveys/{survey.id}/").status_code == 200
    for action in ("add:ces", "publish", "remove:nps"):
        assert press(manager, survey, action)[0] == 403
    assert manager.post("/settings/surveys/", {"touchpoint": "call_center.call"}).status_code == 403
    assert (
        manager.patch(
            f"/api/v1/surveys/{survey.id}", {"add": ["ces"]}, content_type="application/json"
        ).status_code
        == 403
    )
    assert manager.post(f"/api/v1/surveys/{survey.id}/publish").status_code == 403
    assert codes(survey) == ["nps", "resolved", "agent", "comment"]


def test_an_advisor_neither_reads_nor_changes_surveys(org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    add_member(
        organisation=org.organisation, email="advisor@example.fr", role=Role.ADVISOR, password=PASSWORD
    )
    advisor = signed_in("advisor@example.fr")
    assert advisor.get("/settings/surveys/").status_code == 403
    assert advisor.get(f"/settings/surveys/{survey.id}/").status_code == 403
    assert press(advisor, survey, "publish")[0] == 403
    assert advisor.get("/api/v1/surveys").status_code == 403
    assert advisor.get(f"/api/v1/surveys/{survey.id}/versions").status_code == 403
    assert advisor.post(f"/api/v1/surveys/{survey.id}/publish").status_code == 403


def test_the_previews_show_the_page_the_email_and_the_sms_as_typed_in_the_chosen_language(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    typed = form_of(survey, nps__prompt__en="Would you recommend {company} after your {touchpoint}?")
    preview = unescape(
        admin.post(f"/settings/surveys/{survey.id}/preview/", typed | {"preview": "en"}).content.decode()
    )
    asked = "Would you recommend Assurances du Centre after your Call to customer service?"
    assert preview.count(asked) == 3  # the page, the email (its one-click question), the first SMS
    assert "Assurances du Centre — how did it go?" in preview
    assert version_being_designed(survey).is_draft is False  # a preview saves nothing


def test_discarding_the_draft_brings_back_the_published_version(org) -> None:  # noqa: ANN001
    survey, admin = call_center_survey(org), signed_in(org.admin_email)
    press(admin, survey, "remove:comment")
    assert "discard" in admin.get(f"/settings/surveys/{survey.id}/").content.decode()
    assert press(admin, survey, "discard")[0] == 302
    assert codes(survey) == ["nps", "resolved", "agent", "comment"]
    assert not version_being_designed(survey).is_draft
