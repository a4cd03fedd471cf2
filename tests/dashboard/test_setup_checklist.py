"""The set-up checklist: a new organisation's admin sees what is missing; done, it goes away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from avis.accounts.models import Role
from avis.accounts.services import add_member, create_api_key, create_organisation, invite_member
from avis.dashboard.queries import setup_checklist
from avis.governance.services import update_policy
from avis.interactions.services import create_touchpoint, update_touchpoint
from avis.messaging.channel_settings import ChannelForm, save_channel_settings
from avis.surveys.services import create_standard_survey
from tests.factories import PASSWORD, interaction_payload

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # a Sunday morning


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def newcomer():
    """What `avis createorg` leaves: an organisation and its administrator, nothing else."""
    organisation = create_organisation(name="Garage Martin")
    add_member(
        organisation=organisation, email="admin@garage-martin.example", role=Role.ADMIN, password=PASSWORD
    )
    return organisation


def states(organisation) -> dict[str, bool]:
    return {step.key: step.done for step in setup_checklist(organisation=organisation).steps}


def admin_home() -> str:
    client = Client()
    assert client.login(username="admin@garage-martin.example", password=PASSWORD)
    return client.get("/").content.decode()


def test_a_new_organisation_lands_on_every_step_to_do(newcomer) -> None:
    assert states(newcomer) == {
        "touchpoints": False,
        "surveys": False,
        "channels": False,
        "policy": False,
        "team": False,
        "interactions": False,
    }
    page = admin_home()
    assert 'id="setup-steps"' in page
    assert "0 of 6 steps done" in page
    for link in (
        "/settings/touchpoints/",
        "/settings/surveys/",
        "/settings/channels/",
        "/settings/policy/",
        "/settings/people/",
    ):
        assert f'href="{link}"' in page


def test_each_step_is_done_by_what_it_asks_and_the_list_goes_away(newcomer) -> None:
    touchpoint = create_touchpoint(
        organisation=newcomer, code="workshop.visit", name_fr="Passage à l'atelier"
    )
    assert states(newcomer)["touchpoints"]
    assert not states(newcomer)["surveys"]
    assert "workshop.visit" in admin_home()  # named among those without a survey

    create_standard_survey(organisation=newcomer, touchpoint=touchpoint)
    save_channel_settings(
        organisation=newcomer, form=ChannelForm(sms_provider="simulator", email_sender_name="Garage Martin")
    )
    update_policy(organisation=newcomer, changes={"quarantine_days": 30})
    add_member(organisation=newcomer, email="claire@garage-martin.example", role=Role.MANAGER)
    assert states(newcomer) == dict.fromkeys(states(newcomer), True) | {"interactions": False}
    page = admin_home()
    assert "5 of 6 steps done" in page
    assert 'href="/settings/touchpoints/workshop.visit/#getting-interactions-in"' in page

    client = Client()
    client.login(username="admin@garage-martin.example", password=PASSWORD)
    _, key = create_api_key(organisation=newcomer, name="CRM")
    payload = interaction_payload(
        "first", touchpoint="workshop.visit", occurred_at=NOW - timedelta(minutes=5)
    )
    reply = Client(headers={"Authorization": f"Bearer {key}"}).post(
        "/api/v1/interactions", payload, content_type="application/json"
    )
    assert reply.status_code == 200

    assert all(states(newcomer).values())
    assert 'id="setup-steps"' not in admin_home()
    setup_page = client.get("/setup/").content.decode()
    assert "Everything is set up" in setup_page


def test_history_alone_is_no_first_interaction_and_an_archived_touchpoint_none_in_use(newcomer) -> None:
    create_touchpoint(organisation=newcomer, code="workshop.visit", name_en="Workshop visit")
    _, key = create_api_key(organisation=newcomer, name="CRM")
    contact = interaction_payload(
        "campaign-1", touchpoint="workshop.visit", occurred_at=NOW - timedelta(days=3)
    )
    contact["contact_only"] = True  # a campaign sent by another tool: counted, never surveyed
    api = Client(headers={"Authorization": f"Bearer {key}"})
    assert api.post("/api/v1/interactions", contact, content_type="application/json").status_code == 200

    assert not states(newcomer)["interactions"]
    update_touchpoint(organisation=newcomer, code="workshop.visit", archived=True)
    assert not states(newcomer)["touchpoints"]


def test_the_states_are_read_in_one_statement(newcomer) -> None:
    with CaptureQueriesContext(connection) as queries:
        checklist = setup_checklist(organisation=newcomer)

    assert not checklist.complete
    assert len(queries) == 1


def test_another_organisation_s_progress_counts_for_nothing(newcomer, org) -> None:
    # org (the tests' usual organisation) has touchpoints, surveys, a team: none of it is the newcomer's.
    assert not any(states(newcomer).values())
    assert states(org.organisation)["touchpoints"]


def test_a_manager_does_not_get_the_checklist_on_the_overview(newcomer) -> None:
    add_member(
        organisation=newcomer, email="claire@garage-martin.example", role=Role.MANAGER, password=PASSWORD
    )
    client = Client()
    client.login(username="claire@garage-martin.example", password=PASSWORD)

    assert 'id="setup-steps"' not in client.get("/").content.decode()
    assert client.get("/setup/").status_code == 200


def test_a_colleague_invited_counts_for_the_team_until_the_invitation_lapses(newcomer, settings) -> None:
    invite_member(organisation=newcomer, email="claire@garage-martin.example", role=Role.ANALYST)

    team = next(step for step in setup_checklist(organisation=newcomer).steps if step.key == "team")
    assert team.done
    assert "1 invitation waiting for an answer." in team.detail
    lapsed = setup_checklist(organisation=newcomer, now=NOW + timedelta(days=365))
    assert not next(step for step in lapsed.steps if step.key == "team").done
