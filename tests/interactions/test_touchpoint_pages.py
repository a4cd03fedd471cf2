"""The touchpoint pages: what an admin creates, renames and archives, and what each page hands integrators."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from avis.interactions.models import Interaction, Touchpoint
from avis.interactions.services import inbound_webhook, update_touchpoint
from tests.factories import PASSWORD
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)  # 23:30 in Paris on New Year's Eve


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def signed_in(email: str) -> Client:
    client = Client()
    assert client.login(username=email, password=PASSWORD)
    return client


@pytest.fixture
def admin(org) -> Client:
    return signed_in(org.admin_email)


def test_an_admin_creates_a_touchpoint_on_screen(admin, org) -> None:
    reply = admin.post(
        "/settings/touchpoints/",
        {"code": "shop.visit", "name_fr": "Visite en boutique", "name_en": "Shop visit"},
    )

    assert reply.status_code == 302
    assert reply["Location"] == "/settings/touchpoints/shop.visit/"
    page = admin.get(reply["Location"]).content.decode()
    assert "Shop visit" in page
    assert Touchpoint.objects.get(organisation=org.organisation, code="shop.visit").name == {
        "fr": "Visite en boutique",
        "en": "Shop visit",
    }


def test_a_bad_form_shows_each_field_and_its_reason_and_keeps_what_was_typed(admin, org) -> None:
    reply = admin.post("/settings/touchpoints/", {"code": "Visite Boutique", "name_fr": "", "name_en": ""})

    assert reply.status_code == 422
    page = reply.content.decode()
    assert 'id="tp-code-error"' in page
    assert "Use lowercase letters and digits" in page
    assert 'id="tp-name-fr-error"' in page
    assert 'value="Visite Boutique"' in page
    assert not Touchpoint.objects.filter(organisation=org.organisation, code__icontains="visite").exists()


def test_the_page_speaks_french_to_a_french_browser(admin) -> None:
    reply = admin.post(
        "/settings/touchpoints/", {"code": "call_center.call", "name_fr": "Encore"}, HTTP_ACCEPT_LANGUAGE="fr"
    )

    assert reply.status_code == 422
    assert "déjà utilisé" in reply.content.decode()


def test_rename_archive_and_restore_from_the_page(admin, org) -> None:
    page = "/settings/touchpoints/branch.visit/"
    assert (
        admin.post(page, {"action": "rename", "name_fr": "Rendez-vous en agence", "name_en": ""}).status_code
        == 302
    )
    assert admin.post(page, {"action": "archive"}).status_code == 302

    touchpoint = Touchpoint.objects.get(organisation=org.organisation, code="branch.visit")
    assert touchpoint.name == {"fr": "Rendez-vous en agence"}
    assert touchpoint.archived_at == NOW
    shown = admin.get(page).content.decode()
    assert "new interactions of this touchpoint are refused" in shown
    assert "Restore this touchpoint" in shown
    assert "archived" in admin.get("/settings/touchpoints/").content.decode()

    admin.post(page, {"action": "restore"})
    touchpoint.refresh_from_db()
    assert touchpoint.archived_at is None


def test_the_page_hands_the_curl_call_the_template_and_the_webhook(admin, org, settings) -> None:
    settings.AVIS_BASE_URL = "https://avis.example.fr"
    hook = inbound_webhook(organisation=org.organisation)

    page = admin.get("/settings/touchpoints/claim.settled/").content.decode()

    assert "curl -s https://avis.example.fr/api/v1/interactions" in page
    assert "&quot;touchpoint&quot;: &quot;claim.settled&quot;" in page
    assert f"https://avis.example.fr/api/v1/interactions/webhook/{hook.token}" in page
    assert hook.secret in page
    assert "/settings/touchpoints/claim.settled/template.csv" in page


def test_the_csv_template_is_taken_by_the_import_as_it_is(admin, org, tmp_path: Path) -> None:
    reply = admin.get("/settings/touchpoints/claim.settled/template.csv")

    assert reply["Content-Type"].startswith("text/csv")
    text = reply.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["external_id", "touchpoint", "occurred_at", "customer_id"]
    assert rows[1][1] == "claim.settled"
    assert rows[1][2] == "2026-12-31 23:30"  # the organisation's time, year first: never ambiguous

    # Downloaded, then imported unchanged: its example row goes into the contact history.
    template = tmp_path / "interactions.csv"
    template.write_bytes(reply.content)
    call_command(
        "import",
        "interactions",
        str(template),
        "--organisation",
        org.organisation.slug,
        "--yes",
        stdout=io.StringIO(),
    )
    imported = Interaction.objects.get(organisation=org.organisation, external_id=rows[1][0])
    assert imported.touchpoint.code == "claim.settled"
    assert imported.contact_only


def test_a_manager_reads_the_page_without_the_secret_and_changes_nothing(org) -> None:
    hook = inbound_webhook(organisation=org.organisation)
    manager = signed_in(org.manager_email)

    page = manager.get("/settings/touchpoints/claim.settled/").content.decode()
    assert hook.secret not in page
    assert "Ask an administrator" in page
    assert manager.post("/settings/touchpoints/claim.settled/", {"action": "archive"}).status_code == 403
    assert (
        manager.post("/settings/touchpoints/", {"code": "shop.visit", "name_en": "Shop"}).status_code == 403
    )
    assert manager.post("/settings/touchpoints/webhook/rotate").status_code == 403
    assert Touchpoint.objects.get(organisation=org.organisation, code="claim.settled").archived_at is None


def test_another_organisation_reaches_none_of_the_pages(org, other_org) -> None:
    update_touchpoint(organisation=org.organisation, code="claim.settled", names={"en": "Claim of A"})
    hook = inbound_webhook(organisation=org.organisation)
    other = signed_in(other_org.admin_email)

    # other_org has its own claim.settled: its page shows its own, never A's names or secret.
    page = other.get("/settings/touchpoints/claim.settled/").content.decode()
    assert "Claim of A" not in page
    assert hook.secret not in page
    assert other.get("/settings/touchpoints/shop.visit/").status_code == 404
    made = signed_in(org.admin_email).post(
        "/settings/touchpoints/", {"code": "shop.visit", "name_en": "Shop"}
    )
    assert made.status_code == 302
    assert other.get("/settings/touchpoints/shop.visit/").status_code == 404
    assert other.get("/settings/touchpoints/shop.visit/template.csv").status_code == 404
    other.post("/settings/touchpoints/webhook/rotate")
    assert type(hook).objects.get(pk=hook.pk).secret == hook.secret


@pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("curl") is None, reason="needs openssl and curl"
)
def test_the_shell_example_signs_and_posts_an_interaction(live_server, org, settings, tmp_path: Path) -> None:
    settings.AVIS_BASE_URL = live_server.url
    open_all_day(org.organisation)
    hook = inbound_webhook(organisation=org.organisation)
    from avis.interactions.intake import signed_example, webhook_url

    script = signed_example(touchpoint=org.touchpoints["claim.settled"], url=webhook_url(hook), now=NOW)
    # `date` stands for the clock the test set: the rest of the script runs as written.
    fake_date = tmp_path / "date"
    fake_date.write_text(f"#!/bin/sh\necho {int(NOW.timestamp())}\n")
    fake_date.chmod(fake_date.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "AVIS_WEBHOOK_SECRET": hook.secret}

    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30, check=True
    )  # noqa: S603, S607

    assert json.loads(done.stdout)["external_id"] == "crm-2026-000123"
    assert Interaction.objects.get(organisation=org.organisation).touchpoint.code == "claim.settled"
