"""The retention policy: comments and messages blanked after their months, inactive customers erased
after theirs, the figures unchanged; applied nightly per organisation, one failure stopping no other;
its report on the privacy page."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import time_machine

from avis.analytics.models import DailyRollup
from avis.audit.models import AuditEvent
from avis.customers.models import Customer
from avis.messaging.models import InboundMessage, OutboundMessage
from avis.privacy.models import RetentionPolicy, RetentionRun
from avis.privacy.services import apply_retention, apply_retention_everywhere, months_before
from avis.privacy.tasks import apply_retention as nightly_task
from avis.surveys.models import Answer
from tests.privacy.conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def rollups(organisation) -> list[dict]:  # noqa: ANN001
    return [
        {k: v for k, v in row.items() if k != "id"}
        for row in DailyRollup.objects.filter(organisation=organisation).order_by("id").values()
    ]


def test_months_are_calendar_months() -> None:
    assert months_before(datetime(2026, 3, 31, 12, tzinfo=UTC), 1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 36) == datetime(2023, 1, 15, tzinfo=UTC)


def test_comments_and_messages_go_after_24_months_and_the_customer_after_36(org, marie) -> None:
    figures = rollups(org.organisation)
    start = marie.created_at

    run = apply_retention(organisation=org.organisation, now=months_before(start, -23))
    assert run.report["comments"] == run.report["messages"] == run.report["customers"] == 0
    assert Answer.objects.filter(response__customer=marie).exclude(text="").exists()

    run = apply_retention(organisation=org.organisation, now=months_before(start, -25))
    assert run.ok and run.report["comments"] == 1 and run.report["messages"] > 0
    assert run.report["case_notes"] == 0 and run.report["customers"] == 0
    assert not Answer.objects.filter(organisation=org.organisation).exclude(text="").exists()
    assert not OutboundMessage.objects.filter(organisation=org.organisation).exclude(body_text="").exists()
    assert not InboundMessage.objects.filter(organisation=org.organisation).exclude(text="").exists()
    marie.refresh_from_db()
    assert marie.phone == PHONE  # still a customer: 36 months are not over

    run = apply_retention(organisation=org.organisation, now=months_before(start, -37))
    assert run.report["customers"] == 2  # Marie and Paul, both silent for three years
    assert not Customer.objects.filter(organisation=org.organisation).exclude(phone="", email="").exists()
    assert rollups(org.organisation) == figures
    # A second run finds nothing left to do.
    again = apply_retention(organisation=org.organisation, now=months_before(start, -38))
    assert again.report["customers"] == again.report["comments"] == again.report["messages"] == 0


def test_a_recent_interaction_keeps_the_customer(org, api, marie) -> None:
    from tests.helpers import post_interaction

    later = months_before(marie.created_at, -30)
    with time_machine.travel(later, tick=False):
        post_interaction(api, "evt-late", customer="C-MARIE", email=None, phone="06 12 34 56 78")
    apply_retention(organisation=org.organisation, now=months_before(marie.created_at, -37))
    assert Customer.objects.get(id=marie.id).phone == PHONE
    assert Customer.objects.get(organisation=org.organisation, external_id__startswith="erased-")  # Paul


def test_a_policy_turned_off_erases_nothing(org, marie) -> None:
    RetentionPolicy.objects.create(organisation=org.organisation, is_active=False)
    run = apply_retention(organisation=org.organisation, now=months_before(marie.created_at, -100))
    assert run.ok and run.report["active"] is False and run.report["customers"] == 0
    assert Answer.objects.exclude(text="").exists()


def test_one_organisation_failing_stops_no_other(org, other_org, marie, caplog) -> None:
    # A policy written around the validators (straight into the table) that cannot be applied.
    RetentionPolicy.objects.create(organisation=org.organisation)
    RetentionPolicy.objects.filter(organisation=org.organisation).update(comment_months=32000)
    with caplog.at_level(logging.INFO, logger="avis.privacy.services"):
        runs = apply_retention_everywhere(now=months_before(marie.created_at, -37))
    outcome = {run.organisation_id: run.ok for run in runs}
    assert outcome == {org.organisation.id: False, other_org.organisation.id: True}
    failed = RetentionRun.objects.get(organisation=org.organisation)
    assert "ValueError" in failed.error
    assert Customer.objects.get(id=marie.id).phone == PHONE  # nothing half-done in the failed one
    assert "retention failed for organisation" in caplog.text
    assert f"retention for organisation {other_org.organisation.slug}" in caplog.text
    assert PHONE not in caplog.text


def test_the_scheduler_task_runs_every_organisation(org, other_org, marie) -> None:
    with time_machine.travel(months_before(marie.created_at, -37), tick=False):
        assert nightly_task.call_local() == 2
    assert RetentionRun.objects.filter(ok=True).count() == 2
    assert Customer.objects.get(id=marie.id).phone == ""


def test_the_privacy_page_edits_the_policy_and_shows_the_report(org, admin, marie) -> None:
    apply_retention(organisation=org.organisation, now=months_before(marie.created_at, -25))
    page = admin.get("/settings/privacy/").content.decode()
    assert "applied" in page and 'value="24"' in page and 'value="36"' in page
    bad = admin.post(
        "/settings/privacy/",
        {
            "is_active": "on",
            "comment_months": "abc",
            "message_months": "24",
            "inactive_customer_months": "36",
        },
    )
    assert bad.status_code == 422
    assert (
        admin.post(
            "/settings/privacy/",
            {
                "is_active": "on",
                "comment_months": "0",
                "message_months": "24",
                "inactive_customer_months": "36",
            },
        ).status_code
        == 422
    )
    ok = admin.post(
        "/settings/privacy/",
        {"is_active": "on", "comment_months": "12", "message_months": "18", "inactive_customer_months": "36"},
    )
    assert ok.status_code == 302
    policy = RetentionPolicy.objects.get(organisation=org.organisation)
    assert (policy.is_active, policy.comment_months, policy.message_months) == (True, 12, 18)
    change = AuditEvent.objects.get(organisation=org.organisation, action="retention.changed")
    assert (change.after["comment_months"], change.actor_user.email) == (12, org.admin_email)


def test_the_privacy_page_speaks_french(admin, org) -> None:
    page = admin.get("/settings/privacy/", headers={"Accept-Language": "fr"}).content.decode()
    assert "Durées de conservation" in page and "Voir ce que nous détenons" in page, page
