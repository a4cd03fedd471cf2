"""POST /api/v1/surveys, PATCH its draft, POST …/publish, GET …/versions: set-up without code, by API."""

from __future__ import annotations

import pytest

from avis.interactions.services import create_touchpoint
from avis.surveys.models import Survey

pytestmark = pytest.mark.django_db


def call_center_survey(setup) -> Survey:  # noqa: ANN001
    return Survey.objects.get(organisation=setup.organisation, touchpoint__code="call_center.call")


def patch(api, survey_id: int, body: dict):  # noqa: ANN001, ANN201
    return api.patch(f"/api/v1/surveys/{survey_id}", body, content_type="application/json")


def test_a_survey_is_designed_published_and_versioned_through_the_api(api, org) -> None:  # noqa: ANN001
    create_touchpoint(
        organisation=org.organisation, code="claim.opened", name_fr="Déclaration", name_en="Claim"
    )
    created = api.post(
        "/api/v1/surveys",
        {"touchpoint": "claim.opened", "name": "Déclaration", "questions": ["csat", "resolution"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    survey = created.json()
    assert survey["published_version"] is None and survey["has_draft"]
    assert [q["code"] for q in survey["questions"]] == ["csat", "resolved"]
    assert survey["questions"][0]["sms"]["fr"]["text"].startswith(
        "Assurances du Centre: Êtes-vous satisfait de votre Déclaration ?"
    )

    changed = patch(
        api,
        survey["id"],
        {
            "add": ["text", "callback"],
            "questions": {"comment": {"condition": {"question": "resolved", "among": ["partly", "no"]}}},
            "order": ["resolved", "csat", "comment", "callback", "callback_channel", "callback_time"],
        },
    )
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert [q["code"] for q in body["questions"]][:3] == ["resolved", "csat", "comment"]
    assert body["questions"][2]["condition"] == {
        "question": "resolved",
        "at_most": None,
        "among": ["partly", "no"],
    }
    assert body["sms_cost"]["fr"]["too_long"] is True  # six questions at most
    assert body["sms_cost"]["fr"]["shortest"]["questions"] == 3  # no follow-up: resolved, csat, callback

    published = api.post(f"/api/v1/surveys/{survey['id']}/publish")
    assert published.status_code == 201 and published.json()["number"] == 1
    patch(api, survey["id"], {"remove": ["csat"]})
    assert api.post(f"/api/v1/surveys/{survey['id']}/publish").json()["number"] == 2
    versions = api.get(f"/api/v1/surveys/{survey['id']}/versions").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert "csat" in [q["code"] for q in versions[1]["questions"]]
    assert "csat" not in [q["code"] for q in versions[0]["questions"]]
    assert api.get(f"/api/v1/surveys/{survey['id']}").json()["published_version"] == 2


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"questions": {"nps": {"prompt": {"fr": "Bonjour {prenom} !"}}}}, "nps.prompt.fr", "{prenom}"),
        (
            {"questions": {"comment": {"condition": {"question": "comment", "at_most": 6}}}},
            "comment.condition",
            "earlier question",
        ),
        (
            {"questions": {"agent": {"condition": {"question": "resolved", "at_most": 6}}}},
            "agent.condition",
            "applies to a score",
        ),
        ({"questions": {"nps": {"condition": {"question": "x", "among": ["a"]}}}}, "nps.condition", "first"),
        (
            {"remove": ["nps", "resolved", "agent", "comment"], "add": ["choice"], "order": ["x"]},
            "order",
            "once",
        ),
        ({"add": ["poll"]}, "add.0", ""),
        ({"remove": ["nowhere"]}, "nowhere", "no question nowhere"),
    ],
)
def test_bad_changes_are_refused_with_field_and_reason_and_change_nothing(
    api, org, body, field, reason
) -> None:  # noqa: ANN001
    survey = call_center_survey(org)
    before = api.get(f"/api/v1/surveys/{survey.id}").json()
    reply = patch(api, survey.id, body)
    assert reply.status_code == 422
    errors = {error["field"]: error["message"] for error in reply.json()["errors"]}
    assert field in errors and reason in errors[field]
    assert api.get(f"/api/v1/surveys/{survey.id}").json() == before


def test_a_touchpoint_gets_one_survey_and_bad_creations_name_their_field(api, org) -> None:  # noqa: ANN001
    for body, field in [
        ({"touchpoint": "call_center.call"}, "touchpoint"),  # already has one
        ({"touchpoint": "nowhere"}, "touchpoint"),
        ({"touchpoint": "call_center.call", "questions": ["quiz"]}, "questions.0"),
    ]:
        reply = api.post("/api/v1/surveys", body, content_type="application/json")
        assert reply.status_code == 422
        assert field in {error["field"] for error in reply.json()["errors"]}
    assert Survey.objects.filter(organisation=org.organisation).count() == 3


def test_nothing_to_publish_is_said_so(api, org) -> None:  # noqa: ANN001
    reply = api.post(f"/api/v1/surveys/{call_center_survey(org).id}/publish")
    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {"field": "draft", "message": "Nothing to publish: nothing changed since the last version."}
    ]


def test_no_organisation_reads_or_changes_another_ones_surveys(api, org, other_org) -> None:  # noqa: ANN001
    theirs = call_center_survey(other_org)
    assert theirs.id not in {s["id"] for s in api.get("/api/v1/surveys").json()}
    assert api.get(f"/api/v1/surveys/{theirs.id}").status_code == 404
    assert api.get(f"/api/v1/surveys/{theirs.id}/versions").status_code == 404
    assert patch(api, theirs.id, {"add": ["ces"]}).status_code == 404
    assert api.post(f"/api/v1/surveys/{theirs.id}/publish").status_code == 404
    theirs.refresh_from_db()
    assert theirs.current_version.number == 1
    assert not theirs.versions.filter(number__isnull=True).exists()
