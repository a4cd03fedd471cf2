"""Root causes across cases point to process fixes: where each shows up, and whether it falls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from avis.cases.models import Case
from avis.cases.services import save_root_cause, set_root_cause
from avis.interactions.services import create_touchpoint
from tests.helpers import post_interaction

pytestmark = pytest.mark.django_db


def test_each_root_cause_says_where_it_shows_up_and_how_often_before(org, api, respond) -> None:
    organisation = org.organisation
    billing = save_root_cause(organisation=organisation, label="Erreur de facturation")
    now = timezone.now()

    def caused(customer: str, **where: object) -> Case:
        case = Case.objects.get(response=respond(customer=customer, nps=2, **where))
        set_root_cause(organisation=organisation, case_id=case.id, user=None, root_cause_id=billing.id)
        return case

    caused("C-old", at=now - timedelta(days=45))  # the period before
    caused("C-1", at=now - timedelta(days=3))
    caused("C-2", at=now - timedelta(days=2), touchpoint="claim.settled", team="paris")
    caused("C-3", at=now - timedelta(days=1))
    create_touchpoint(organisation=organisation, code="customer.left", name_fr="Départ", name_en="Left")
    post_interaction(api, "evt-left", customer="C-2", touchpoint="customer.left", occurred_at=now)

    (cause,) = api.get("/api/v1/cases/effect?days=30").json()["outer_loop"]
    assert cause == {
        "label": "Erreur de facturation",
        "cases": 3,
        "previous_period_cases": 1,
        "touchpoints": [["call_center.call", 2], ["claim.settled", 1]],
        "teams": [["lyon", 2], ["paris", 1]],
        "customers_left": 1,
    }
