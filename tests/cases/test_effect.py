from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from avis.cases.models import Case
from avis.cases.services import escalate_overdue_cases, mark_customer_contacted, resolve_case, save_root_cause
from avis.interactions.services import create_touchpoint
from tests.factories import PASSWORD
from tests.helpers import post_interaction

pytestmark = pytest.mark.django_db


def test_recovery_and_churn_compare_customers_handled_in_time_with_the_others(org, api, respond) -> None:
    organisation = org.organisation
    cause = save_root_cause(organisation=organisation, label="Délai de traitement")
    respond(customer="C-1", nps=2)
    handled = Case.objects.get(customer__external_id="C-1")
    mark_customer_contacted(organisation=organisation, case_id=handled.id, user=None, channel="email")
    resolve_case(
        organisation=organisation, case_id=handled.id, user=None, outcome="solved", root_cause_id=cause.id
    )
    respond(customer="C-1", nps=9, resolved="yes")  # a later survey: recovered

    respond(customer="C-2", nps=2, team="paris")
    late = Case.objects.get(customer__external_id="C-2")
    assert escalate_overdue_cases(now=late.due_at) == 1
    respond(customer="C-2", nps=3)  # still unhappy
    create_touchpoint(organisation=organisation, code="customer.left", name_fr="Départ", name_en="Left")
    post_interaction(api, "evt-left", customer="C-2", touchpoint="customer.left", occurred_at=timezone.now())

    effect = api.get("/api/v1/cases/effect?days=30").json()
    assert effect["cases"] == 2
    assert (effect["resolved"]["value"], effect["resolved"]["n"]) == (0.5, 2)
    assert effect["sla_attainment"]["value"] == 0.5
    assert [(t["team"], t["sla_attainment"]["value"]) for t in effect["by_team"]] == [
        ("lyon", 1.0),
        ("paris", 0.0),
    ]
    recovered, not_in_time = effect["recovered"], effect["not_in_time"]
    assert (
        recovered["customers"],
        recovered["answered_later"]["value"],
        recovered["later_nps"]["value"],
    ) == (
        1,
        1.0,
        100.0,
    )
    assert recovered["churned"]["value"] == 0.0
    assert (not_in_time["later_nps"]["value"], not_in_time["churned"]["value"]) == (-100.0, 1.0)
    assert recovered["later_nps"]["ci_low"] < 100.0  # one customer: a wide interval, shown as such
    assert effect["root_causes"] == [["Délai de traitement", 1]]

    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    page = manager.get("/cases/effect?days=30").content.decode()
    assert "n = 2" in page
    assert "<td>Délai de traitement</td><td>1</td>" in page
