from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.test import Client

from avis.customers.models import Customer
from avis.messaging.conversations import receive_sms
from tests.factories import PASSWORD
from tests.helpers import open_all_day, post_interaction

PHONE = "+33612345678"
EMAIL = "marie.dupont@example.fr"


@pytest.fixture(autouse=True)
def journal_dir(settings, tmp_path: Path) -> Path:  # noqa: ANN001
    settings.AVIS_JOURNAL_DIR = tmp_path / "journal"
    return settings.AVIS_JOURNAL_DIR


def text_from(phone: str, text: str) -> None:
    receive_sms(
        provider="simulator", provider_message_id=uuid.uuid4().hex, sender=phone, recipient="AVIS", text=text
    )


@pytest.fixture
def marie(org, api, settings) -> Customer:  # noqa: ANN001
    """Marie was surveyed by SMS, answered unhappily with a comment, and a case was opened; Paul is
    another customer, left alone."""
    settings.AVIS_SMS_PROVIDER = "simulator"
    open_all_day(org.organisation)
    assert (
        post_interaction(api, "evt-1", customer="C-MARIE", email=None, phone="06 12 34 56 78").status_code
        == 200
    )
    for text in ["2 vraiment déçue par cet accueil", "Non", "1", "Personne ne rappelle jamais"]:
        text_from(PHONE, text)
    assert (
        post_interaction(api, "evt-2", customer="C-PAUL", email="paul@example.fr", phone=None).status_code
        == 200
    )
    return Customer.objects.get(organisation=org.organisation, external_id="C-MARIE")


@pytest.fixture
def admin(org) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=org.admin_email, password=PASSWORD)
    return client


@pytest.fixture
def manager(org) -> Client:  # noqa: ANN001
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    return client
