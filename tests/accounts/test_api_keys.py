from __future__ import annotations

import pytest
from django.test import Client

from avis.accounts.models import ApiKey
from avis.accounts.services import create_api_key, revoke_api_key
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_key_is_stored_only_as_a_digest(org) -> None:
    key, plaintext = create_api_key(organisation=org.organisation, name="CRM")
    stored = ApiKey.objects.get(id=key.id)
    assert plaintext not in {stored.digest, stored.prefix, stored.name}
    assert plaintext.split("_")[2] not in stored.digest


def test_revoked_key_is_refused(org) -> None:
    key, plaintext = create_api_key(organisation=org.organisation, name="CRM")
    client = Client(headers={"Authorization": f"Bearer {plaintext}"})
    assert client.get("/api/v1/cases").status_code == 200
    revoke_api_key(organisation=org.organisation, key_id=key.id)
    refused = client.get("/api/v1/cases")
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"


def test_requests_without_or_with_a_wrong_key_are_refused(db, org) -> None:
    assert Client().get("/api/v1/cases").status_code == 401
    forged = org.api_key[:-4] + "AAAA"
    assert Client(headers={"Authorization": f"Bearer {forged}"}).get("/api/v1/cases").status_code == 401


def test_admin_creates_a_key_in_the_ui_and_sees_it_once(org) -> None:
    client = Client()
    assert client.login(username=org.admin_email, password=PASSWORD)
    created = client.post("/settings/api-keys/", {"name": "Zapier"})
    page = created.content.decode()
    key = ApiKey.objects.get(organisation=org.organisation, name="Zapier")
    shown = page.split('id="new-key">')[1].split("<")[0]
    assert shown.startswith(f"avis_{key.prefix}_")
    assert Client(headers={"Authorization": f"Bearer {shown}"}).get("/api/v1/cases").status_code == 200
    again = client.get("/settings/api-keys/").content.decode()
    assert shown not in again


def test_manager_cannot_manage_keys(org) -> None:
    client = Client()
    assert client.login(username=org.manager_email, password=PASSWORD)
    assert client.get("/settings/api-keys/").status_code == 403
