from __future__ import annotations

import pytest
from django.test import Client

from avis.cases.models import Case, Condition
from avis.cases.services import ensure_alert_rules, save_alert_rule
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_organisation_starts_with_todays_rules(org) -> None:
    rules = ensure_alert_rules(organisation=org.organisation)
    assert sorted((r.condition, r.threshold) for r in rules) == [("detractor", 6), ("not_resolved", None)]


def test_raising_the_nps_threshold_opens_a_case_for_a_passive(org, respond) -> None:
    respond(nps=7, resolved="yes")
    assert not Case.objects.exists()
    rule = next(r for r in ensure_alert_rules(organisation=org.organisation) if r.condition == "detractor")
    save_alert_rule(organisation=org.organisation, rule_id=rule.id, changes={"threshold": 8})
    respond(customer="C-2", nps=7, resolved="yes")
    assert Case.objects.get().reasons == ["detractor"]


def test_a_low_agent_score_rule_only_on_one_touchpoint(org, respond) -> None:
    save_alert_rule(
        organisation=org.organisation,
        changes={
            "condition": Condition.LOW_AGENT_SCORE,
            "threshold": 2,
            "severity": 3,
            "touchpoint": org.touchpoints["branch.visit"],
        },
    )
    respond(nps=9, resolved="yes", agent=1)  # call centre: the rule does not apply
    assert not Case.objects.exists()
    respond(customer="C-2", touchpoint="branch.visit", nps=9, resolved="yes", agent=1)
    case = Case.objects.get()
    assert (case.reasons, case.severity) == (["low_agent_score"], 3)


def test_not_applicable_agent_score_never_counts_as_low(org, respond) -> None:
    save_alert_rule(organisation=org.organisation, changes={"condition": "low_agent_score", "threshold": 2})
    respond(nps=9, resolved="yes", agent="na")
    assert not Case.objects.exists()


def test_words_in_the_comment_open_a_case(org, respond) -> None:
    save_alert_rule(
        organisation=org.organisation,
        changes={"condition": "comment_words", "words": "résilier, avocat", "severity": 4},
    )
    respond(nps=9, resolved="yes", comment="Tout va bien")
    respond(customer="C-2", nps=9, resolved="yes", comment="Je vais RÉSILIER mon contrat")
    case = Case.objects.get()
    assert case.customer.external_id == "C-2"
    assert (case.reasons, case.severity) == (["comment_words"], 4)


def test_a_second_unhappy_answer_joins_the_open_case(org, respond) -> None:
    first = respond(nps=3)
    second = respond(nps=2, resolved="no")
    case = Case.objects.get()
    assert case.response_id == first.id
    assert case.reasons == ["detractor", "not_resolved"]
    joined = case.events.get(kind="joined")
    assert joined.response_id == second.id
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    page = manager.get(f"/cases/{case.id}/").content.decode()
    assert "Later answer" in page


def test_another_subject_opens_another_case(org, respond) -> None:
    respond(nps=3)
    respond(nps=3, touchpoint="branch.visit")
    assert Case.objects.count() == 2


def test_repeat_contact_raises_the_severity_of_the_second_case(org, respond) -> None:
    save_alert_rule(
        organisation=org.organisation,
        changes={"condition": "repeat_contact", "window_days": 30, "severity": 4},
    )
    respond(nps=3)
    assert Case.objects.get().severity == 2
    respond(nps=4, touchpoint="branch.visit")
    second = Case.objects.order_by("id").last()
    assert second.reasons == ["detractor", "repeat_contact"]
    assert second.severity == 4


def test_a_switched_off_rule_opens_nothing(org, respond) -> None:
    for rule in ensure_alert_rules(organisation=org.organisation):
        save_alert_rule(organisation=org.organisation, rule_id=rule.id, changes={"is_active": False})
    respond(nps=0, resolved="no")
    assert not Case.objects.exists()


def test_rules_are_edited_through_the_api(api, org, respond) -> None:
    listed = api.get("/api/v1/cases/rules").json()
    assert {r["condition"] for r in listed} == {"detractor", "not_resolved"}
    made = api.post(
        "/api/v1/cases/rules",
        {"condition": "low_csat", "threshold": 2, "severity": 3, "name": "CSAT ≤ 2"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    bad = api.post("/api/v1/cases/rules", {"condition": "low_csat"}, content_type="application/json")
    assert bad.status_code == 422
    off = api.patch(
        f"/api/v1/cases/rules/{listed[0]['id']}", {"is_active": False}, content_type="application/json"
    )
    assert off.json()["is_active"] is False
    respond(nps=2, resolved="yes", agent=2)  # detractor rule off; the agent CSAT ≤ 2 opens it
    assert Case.objects.get().reasons == ["low_csat"]


def test_rules_of_another_organisation_are_out_of_reach(api, other_org) -> None:
    theirs = ensure_alert_rules(organisation=other_org.organisation)[0]
    reply = api.patch(
        f"/api/v1/cases/rules/{theirs.id}", {"is_active": False}, content_type="application/json"
    )
    assert reply.status_code == 404


def test_a_negative_comment_opens_a_case_when_the_sentiment_rule_is_on(org, respond) -> None:
    save_alert_rule(organisation=org.organisation, changes={"condition": "negative_sentiment", "severity": 3})
    respond(nps=8, resolved="yes", comment="Tout va bien, merci beaucoup")
    assert not Case.objects.exists()
    respond(customer="C-2", nps=8, resolved="yes", comment="Service horrible, je suis furieux")
    case = Case.objects.get()
    assert (case.customer.external_id, case.reasons) == ("C-2", ["negative_sentiment"])


def test_a_sentiment_threshold_must_be_negative(org) -> None:
    from avis.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        save_alert_rule(
            organisation=org.organisation, changes={"condition": "negative_sentiment", "threshold": 20}
        )
