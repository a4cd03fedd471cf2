"""`avis touchpoint …`: what an administrator scripts, with the same checks as the API and the pages."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from avis.interactions.models import Touchpoint

pytestmark = pytest.mark.django_db


def avis_touchpoint(*args: str) -> str:
    out = io.StringIO()
    call_command("touchpoint", *args, stdout=out)
    return out.getvalue()


def test_create_rename_archive_restore_and_list(org) -> None:
    slug = org.organisation.slug
    created = avis_touchpoint(
        "create", "shop.visit", "--name-fr", "Visite en boutique", "--organisation", slug
    )
    assert created == "shop.visit\tactive\tVisite en boutique / \n"

    avis_touchpoint("rename", "shop.visit", "--name-en", "Shop visit", "--organisation", slug)
    avis_touchpoint("archive", "shop.visit", "--organisation", slug)
    listing = avis_touchpoint("list", "--organisation", slug).splitlines()

    assert listing[-1] == "shop.visit\tarchived\tVisite en boutique / Shop visit"
    avis_touchpoint("restore", "shop.visit", "--organisation", slug)
    assert Touchpoint.objects.get(organisation=org.organisation, code="shop.visit").archived_at is None


def test_a_bad_code_stops_with_each_field_and_its_reason(org) -> None:
    with pytest.raises(CommandError) as refused:
        avis_touchpoint("create", "Shop Visit", "--organisation", org.organisation.slug)

    assert "code: Use lowercase letters" in str(refused.value)
    assert "name.fr: Give the touchpoint a name" in str(refused.value)


def test_the_webhook_secret_is_printed_and_rotated(org, settings) -> None:
    settings.AVIS_BASE_URL = "https://avis.example.fr"
    shown = dict(
        line.split("\t")
        for line in avis_touchpoint("webhook", "--organisation", org.organisation.slug).splitlines()
    )
    rotated = dict(
        line.split("\t")
        for line in avis_touchpoint(
            "webhook", "--rotate", "--organisation", org.organisation.slug
        ).splitlines()
    )

    assert shown["url"].startswith("https://avis.example.fr/api/v1/interactions/webhook/")
    assert rotated["url"] == shown["url"]
    assert rotated["secret"] != shown["secret"]
    assert rotated["secret"].startswith("whsec_")
