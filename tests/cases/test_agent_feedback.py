from __future__ import annotations

import pytest
from django.test import Client

from avis.accounts.models import Role
from avis.accounts.services import add_member
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_agent_reads_the_answers_about_their_own_interactions_only(org, respond) -> None:
    add_member(organisation=org.organisation, email="julie@example.fr", role=Role.ANALYST, password=PASSWORD)
    respond(nps=9, resolved="yes", agent=5, comment="Julie a été parfaite", handled_by="A-7")
    respond(customer="C-2", nps=3, comment="Autre conseiller, autre histoire", handled_by="A-8")
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    julie_id = next(
        u.pk for u in admin.get("/cases/settings").context["users"] if u.username == "julie@example.fr"
    )
    admin.post("/cases/settings/agent-link", {"user_id": julie_id, "agent": "A-7"})

    julie = Client()
    assert julie.login(username="julie@example.fr", password=PASSWORD)
    page = julie.get("/cases/my-feedback").content.decode()
    assert "Julie a été parfaite" in page
    assert "Autre conseiller" not in page
    for ranking_word in ("rank", "classement", "percentile", "team average"):
        assert ranking_word not in page.lower()


def test_an_unlinked_user_is_told_how_to_get_linked(org) -> None:
    manager = Client()
    assert manager.login(username=org.manager_email, password=PASSWORD)
    assert "not linked to an agent" in manager.get("/cases/my-feedback").content.decode()


def test_linking_an_unknown_agent_is_refused(org) -> None:
    admin = Client()
    assert admin.login(username=org.admin_email, password=PASSWORD)
    admin_id = admin.get("/cases/settings").context["users"][0].pk
    reply = admin.post("/cases/settings/agent-link", {"user_id": admin_id, "agent": "nobody"}, follow=True)
    assert "No agent with this id" in reply.content.decode()
