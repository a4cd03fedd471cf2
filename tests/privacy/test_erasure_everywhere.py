"""Erasure reaches every table: after it, nothing in the database holds the customer's number,
address, reference or words, and the figures (the daily roll-ups, kept or rebuilt) are unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from avis import journal
from avis.analytics.models import DailyRollup
from avis.analytics.services import rebuild_rollups
from avis.cases.erasure import erase_customer_cases
from avis.cases.models import Case, WebhookDelivery, WebhookEndpoint
from avis.cases.services import add_case_note, case_payload
from avis.customers.models import Customer
from avis.messaging.models import InboundMessage, OutboundMessage
from avis.operations.services import reapply_journal
from avis.surveys.models import Invitation
from tests.helpers import answer, open_all_day, post_interaction
from tests.privacy.conftest import EMAIL, PHONE, text_from

pytestmark = pytest.mark.django_db(transaction=True)

NOTE = "Rappeler Mme Dupont le soir, elle travaille de jour"
TRACES = [
    PHONE,
    "612345678",
    "C-MARIE",
    "déçue par cet accueil",
    "Personne ne rappelle",
    "Mme Dupont",
]


def everything_stored() -> list[tuple[str, str]]:
    """Every row of every table, as text: (table, row)."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows += [(table, repr(row)) for row in cursor.fetchall()]
    return rows


def traces(rows: list[tuple[str, str]], wanted: list[str] = TRACES) -> set[tuple[str, str]]:
    return {(table, trace) for table, row in rows for trace in wanted if trace in row}


def rollups(organisation) -> list[dict]:  # noqa: ANN001
    return [
        {k: v for k, v in row.items() if k != "id"}
        for row in DailyRollup.objects.filter(organisation=organisation)
        .order_by("day", "touchpoint_id", "team_key", "agent_key", "channel")
        .values()
    ]


def test_nothing_of_the_customer_is_left_anywhere_and_the_figures_do_not_move(org, api, marie) -> None:
    case = Case.objects.get(organisation=org.organisation, customer=marie)
    add_case_note(organisation=org.organisation, case_id=case.id, user=None, note=NOTE)
    endpoint = WebhookEndpoint.objects.create(
        organisation=org.organisation, url="https://crm.example/hook", secret="s"
    )
    WebhookDelivery.objects.create(
        organisation=org.organisation,
        endpoint=endpoint,
        case=case,
        event="case.opened",
        key="k1",
        payload=case_payload(case, "case.opened", at=case.opened_at),
    )
    text_from(PHONE, "STOP")  # the keyword's answer is one more text to her number
    # Before: each trace is somewhere (the check below could not pass by looking in the wrong place).
    assert {trace for _, trace in traces(everything_stored())} == set(TRACES)
    figures = rollups(org.organisation)
    assert figures

    assert api.get("/api/v1/customers/C-MARIE/export").status_code == 200  # the trail records it
    assert api.delete("/api/v1/customers/C-MARIE").status_code == 200

    assert traces(everything_stored()) == set()
    assert rollups(org.organisation) == figures
    rebuild_rollups(organisation=org.organisation)
    assert rollups(org.organisation) == figures
    # Paul is untouched.
    paul = Customer.objects.get(organisation=org.organisation, external_id="C-PAUL")
    assert paul.email == "paul@example.fr"
    assert OutboundMessage.objects.filter(recipient="paul@example.fr").exists()
    # What the figures and the closed loop need stays: the case, its status, the answers' scores.
    case.refresh_from_db()
    assert case.customer_id == marie.id and case.events.filter(kind="note").exists()


def test_an_email_customer_leaves_no_address_nor_comment(org, api) -> None:
    open_all_day(org.organisation)
    assert post_interaction(api, "evt-9", customer="C-LEA", email=EMAIL, phone=None).status_code == 200
    invitation = Invitation.objects.get(customer__external_id="C-LEA")
    assert invitation.channel == "email"
    answer(
        invitation.token,
        nps="3",
        resolved="no",
        agent="2",
        comment="Votre conseiller Julien Dubois m'a raccroché au nez",
    )
    wanted = [EMAIL, "C-LEA", "Julien Dubois"]
    assert {trace for _, trace in traces(everything_stored(), wanted)} == set(wanted)
    figures = rollups(org.organisation)
    assert api.delete("/api/v1/customers/C-LEA").status_code == 200
    assert traces(everything_stored(), wanted) == set()
    assert rollups(org.organisation) == figures


def test_a_text_nobody_could_attribute_is_erased_with_the_number_it_came_from(org, api, marie) -> None:
    InboundMessage.objects.create(provider="simulator", sender=PHONE, text="c'est Marie, rappelez-moi")
    api.delete("/api/v1/customers/C-MARIE")
    assert not InboundMessage.objects.filter(text__contains="Marie").exists()
    assert not InboundMessage.objects.filter(sender=PHONE).exists()


def test_erasing_the_cases_twice_changes_nothing_more(org, marie) -> None:
    api_erase = erase_customer_cases(organisation=org.organisation, customer_ids=[marie.id])
    assert erase_customer_cases(organisation=org.organisation, customer_ids=[marie.id]) == 0
    assert api_erase >= 0


def test_a_restored_database_loses_the_notes_again_from_the_journal(org, marie, journal_dir) -> None:
    """The erasure was journaled after the backup; the restored picture still has the note."""
    case = Case.objects.get(customer=marie)
    add_case_note(organisation=org.organisation, case_id=case.id, user=None, note=NOTE)
    backup_began = timezone.now() - timedelta(seconds=1)
    journal.record_erasure(organisation_id=org.organisation.id, customer_id=marie.id, at=timezone.now())
    assert reapply_journal(since=backup_began, directory=journal_dir) == (1, 0)
    assert traces(everything_stored()) == set()
