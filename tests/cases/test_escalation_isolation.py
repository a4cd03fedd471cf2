"""Escalation runs case by case: one organisation's bad data is logged and never stops the others'."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import Client

from avis.accounts.models import Organisation
from avis.cases.models import Case
from avis.cases.services import escalate_overdue_cases
from avis.surveys.models import Invitation
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = pytest.mark.django_db


def test_a_failing_organisation_does_not_stop_the_others_escalations(org, other_org, respond, caplog) -> None:
    respond(customer="C-1", nps=2)  # a case in the first organisation
    other_api = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    open_all_day(other_org.organisation, quarantine_days=0)
    assert post_interaction(other_api, "n-1", customer="N-1", touchpoint="call_center.call").status_code in (
        200,
        201,
    )
    invitation = Invitation.objects.get(organisation=other_org.organisation)
    assert answer(invitation.token, nps="2").status_code == 200
    broken, healthy = (
        Case.objects.get(organisation=org.organisation),
        Case.objects.get(organisation=other_org.organisation),
    )
    # Bad data in the first organisation (stored before any check): a time zone that does not exist.
    Organisation.objects.filter(id=org.organisation.id).update(default_time_zone="Mars/Olympus_Mons")
    late = max(broken.due_at, healthy.due_at) + timedelta(hours=1)
    with caplog.at_level(logging.ERROR):
        assert escalate_overdue_cases(now=late) == 1
    healthy.refresh_from_db()
    broken.refresh_from_db()
    assert (healthy.escalation_level, broken.escalation_level) == (1, 0)
    assert any(
        r.getMessage().startswith(f"escalate_overdue_cases failed for organisation {org.organisation.id}")
        for r in caplog.records
    )
