"""GET/PATCH /api/v1/surveys: what each question's SMS says and costs, and rewording its draft by API."""

from __future__ import annotations

import pytest

from avis.surveys.models import Survey
from avis.surveys.queries import version_being_designed

pytestmark = pytest.mark.django_db


def design(survey: Survey) -> dict[str, tuple]:
    return {q.code: (q.prompt, q.choices) for q in version_being_designed(survey).questions.all()}


def call_center_survey(setup) -> Survey:  # noqa: ANN001
    return Survey.objects.get(
        organisation=setup.organisation, touchpoint=setup.touchpoints["call_center.call"]
    )


def test_the_list_holds_the_organisations_surveys_only(api, org, other_org) -> None:  # noqa: ANN001
    listed = api.get("/api/v1/surveys").json()
    assert {s["touchpoint"] for s in listed} == {"call_center.call", "branch.visit", "claim.settled"}
    assert call_center_survey(other_org).id not in {s["id"] for s in listed}
    assert api.get(f"/api/v1/surveys/{call_center_survey(other_org).id}").status_code == 404


def test_each_question_carries_the_sms_it_sends_in_each_language(api, org, settings) -> None:  # noqa: ANN001
    settings.AVIS_SMS_PRICE_PER_SEGMENT = "0.05"
    survey = api.get(f"/api/v1/surveys/{call_center_survey(org).id}").json()
    nps, resolved = survey["questions"][0], survey["questions"][1]
    assert nps["sms"]["fr"]["text"].startswith("Recommanderiez-vous Assurances du Centre à un proche")
    assert nps["sms"]["fr"]["text"].endswith("STOP pour vous désabonner")
    assert nps["sms"]["fr"]["encoding"] == "GSM-7" and nps["sms"]["fr"]["segments"] == 1
    assert float(nps["sms"]["fr"]["cost"]) == 0.05
    assert resolved["sms"]["en"]["text"] == "Was your problem resolved? (Yes / Partly / No)"


def test_patch_rewords_and_reports_the_new_cost(api, org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    reply = api.patch(
        f"/api/v1/surveys/{survey.id}",
        {
            "questions": {
                "resolved": {"prompt": {"fr": "C’est réglé ?"}, "choices": {"partly": {"fr": "Bof"}}}
            }
        },
        content_type="application/json",
    )
    assert reply.status_code == 200, reply.json()
    sms = reply.json()["questions"][1]["sms"]["fr"]
    assert sms["text"] == "C’est réglé ? (Oui / Bof / Non)"
    assert sms["encoding"] == "UCS-2" and sms["ucs2_characters"] == ["’"]
    assert sms["gsm7_alternative"] == "C'est réglé ? (Oui / Bof / Non)"
    assert design(survey)["resolved"][0]["fr"] == "C’est réglé ?"
    assert reply.json()["has_draft"] and reply.json()["published_version"] == 1


def test_patch_refuses_every_wrong_field_at_once_and_saves_nothing(api, org) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    before = design(survey)
    reply = api.patch(
        f"/api/v1/surveys/{survey.id}",
        {
            "questions": {
                "nps": {"prompt": {"fr": "", "en": "Fine?"}},
                "resolved": {"choices": {"yes": {"fr": "{oui}"}}},
                "nowhere": {"prompt": {"fr": "?"}},
            }
        },
        content_type="application/json",
    )
    assert reply.status_code == 422
    fields = {error["field"] for error in reply.json()["errors"]}
    assert fields == {"nps.prompt.fr", "resolved.choices.yes.fr", "nowhere"}
    assert not version_being_designed(survey).is_draft  # no draft was even started
    assert design(survey) == before
