from __future__ import annotations

import pytest
from django.test import Client

from avis.cases.models import AlertRule, AssignmentRule, BusinessCalendar, RootCause, TeamOwner
from avis.interactions.models import Team
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


def test_an_admin_adds_a_rule_from_the_page(org) -> None:
    admin = _signed_in(org.admin_email)
    page = admin.get("/cases/settings").content.decode()
    # The default rules are named in the organisation's language (French here): their names are its own.
    assert "Non résolu" in page
    reply = admin.post(
        "/cases/settings/rule",
        {
            "name": "Churn words",
            "condition": "comment_words",
            "words": "résilier, concurrent",
            "severity": "4",
            "is_active": "on",
        },
        follow=True,
    )
    assert "Saved" in reply.content.decode()
    rule = AlertRule.objects.get(name="Churn words")
    assert (rule.words, rule.severity) == (["résilier", "concurrent"], 4)


def test_a_bad_threshold_is_explained(org) -> None:
    admin = _signed_in(org.admin_email)
    reply = admin.post("/cases/settings/rule", {"condition": "detractor", "threshold": "12"}, follow=True)
    assert "highest score" in reply.content.decode()
    assert AlertRule.objects.filter(threshold=12).count() == 0


def test_an_admin_sets_hours_owners_ladder_causes_and_a_webhook(org) -> None:
    admin = _signed_in(org.admin_email)
    team = Team.objects.create(organisation=org.organisation, code="lyon")
    manager_id = str(admin.get("/cases/settings").context["users"][1].pk)
    admin.post("/cases/settings/calendar", {"open_0": "08:00", "close_0": "12:00", "sla_hours": "4"})
    admin.post("/cases/settings/owner", {"team_id": team.id, "role": "lead", "user_id": manager_id})
    admin.post(
        "/cases/settings/ladder",
        {"strategy": ["team_lead", "fallback"], "team_id": ["", ""], "user_id": ["", manager_id]},
    )
    admin.post("/cases/settings/root-cause", {"label": "Panne réseau"})
    admin.post("/cases/settings/webhook", {"url": "https://crm.example.com/hook"})
    assert BusinessCalendar.objects.get().hours == {"0": ["08:00", "12:00"]}
    assert TeamOwner.objects.get().role == "lead"
    assert list(AssignmentRule.objects.values_list("strategy", flat=True)) == ["team_lead", "fallback"]
    assert RootCause.objects.get().label == "Panne réseau"
    assert "https://crm.example.com/hook" in admin.get("/cases/settings").content.decode()


def test_managers_cannot_change_the_settings(org) -> None:
    manager = _signed_in(org.manager_email)
    assert manager.get("/cases/settings").status_code == 403
    assert (
        manager.post("/cases/settings/rule", {"condition": "detractor", "threshold": "9"}).status_code == 403
    )
