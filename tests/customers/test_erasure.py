"""Erasing a customer (GDPR): who they were is gone everywhere, the figures their answers made stay,
and the erasure is journaled beside the backups so that restoring an older backup erases them again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from avis import journal
from avis.analytics.models import DailyRollup
from avis.customers.models import Customer
from avis.messaging.models import OutboundMessage
from avis.surveys.models import Answer, Invitation
from tests.helpers import answer, open_all_day, post_interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def journal_dir(settings, tmp_path):  # noqa: ANN001, ANN201
    settings.AVIS_JOURNAL_DIR = tmp_path / "journal"
    return settings.AVIS_JOURNAL_DIR


@pytest.fixture
def answered(org, api):  # noqa: ANN001, ANN201
    """Marie answered a survey, with a comment; a second customer is left alone."""
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-1", customer="C-MARIE").status_code == 200
    assert (
        post_interaction(api, "evt-2", customer="C-PAUL", email="paul@example.fr", phone=None).status_code
        == 200
    )
    invitation = Invitation.objects.get(customer__external_id="C-MARIE")
    answer(
        invitation.token,
        nps="3",
        resolved="no",
        agent="2",
        comment="Mon conseiller Julien Dubois m'a raccroché au nez",
    )
    return invitation


def rollups(organisation) -> list[tuple]:  # noqa: ANN001
    return sorted(
        DailyRollup.objects.filter(organisation=organisation).values_list(
            "day", "responses", "nps_detractors"
        )
    )


def test_erasing_a_customer_removes_who_they_are_and_keeps_the_figures(
    org, api, answered, journal_dir
) -> None:
    figures = rollups(org.organisation)
    reply = api.delete("/api/v1/customers/C-MARIE")
    assert reply.status_code == 200
    assert reply.json() == {"customer": "C-MARIE", "erased": True}

    assert not Customer.objects.filter(organisation=org.organisation, external_id="C-MARIE").exists()
    marie = Customer.objects.get(id=answered.customer_id)
    assert (marie.phone, marie.email, marie.attributes) == ("", "", {})
    assert set(OutboundMessage.objects.filter(invitation=answered).values_list("recipient", "body_text")) == {
        ("", "")
    }
    assert not Answer.objects.filter(response__customer=marie).exclude(text="").exists()
    assert Answer.objects.filter(response__customer=marie, kind="nps").get().number == 3  # the score stays
    assert rollups(org.organisation) == figures

    paul = Customer.objects.get(organisation=org.organisation, external_id="C-PAUL")
    assert paul.email == "paul@example.fr"
    assert OutboundMessage.objects.filter(invitation__customer=paul).exclude(recipient="").exists()


def test_an_erasure_is_journaled_beside_the_backups(org, api, answered, journal_dir) -> None:
    before = timezone.now() - timedelta(seconds=1)
    api.delete("/api/v1/customers/C-MARIE")
    erasures = [e for e in journal.entries_since(before, directory=journal_dir) if e["kind"] == "erasure"]
    assert erasures == [
        {
            "kind": "erasure",
            "at": erasures[0]["at"],
            "organisation": org.organisation.id,
            "customer": answered.customer_id,
        }
    ]


def test_an_unknown_customer_cannot_be_erased(api, journal_dir) -> None:
    reply = api.delete("/api/v1/customers/NOBODY")
    assert reply.status_code == 404


def test_another_organisation_cannot_erase_our_customer(org, other_org, answered, journal_dir) -> None:
    other = Client(headers={"Authorization": f"Bearer {other_org.api_key}"})
    assert other.delete("/api/v1/customers/C-MARIE").status_code == 404
    assert Customer.objects.filter(organisation=org.organisation, external_id="C-MARIE").exists()


def test_the_command_line_erases_too(org, answered, journal_dir, capsys) -> None:
    call_command("customer", "erase", "C-MARIE", "--organisation", org.organisation.slug)
    assert "erased" in capsys.readouterr().out
    assert not Customer.objects.filter(organisation=org.organisation, external_id="C-MARIE").exists()
