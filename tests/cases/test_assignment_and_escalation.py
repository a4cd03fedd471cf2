from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from avis.accounts.models import Role
from avis.accounts.services import add_member
from avis.cases.models import Case
from avis.cases.services import add_team_owner, escalate_overdue_cases, save_assignment_rules, save_calendar
from avis.interactions.models import Team
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def people(org):  # noqa: ANN001, ANN201
    """Lyon's team lead, its site manager, two agents' colleagues for round robin, a fallback."""
    organisation = org.organisation
    lyon, _ = Team.objects.get_or_create(organisation=organisation, code="lyon")
    made = {}
    for name in ("lead", "site", "ana", "bob", "fallback"):
        made[name] = add_member(
            organisation=organisation, email=f"{name}@example.fr", role=Role.MANAGER, password=PASSWORD
        ).user
    add_team_owner(organisation=organisation, team_id=lyon.id, user=made["lead"], role="lead")
    add_team_owner(organisation=organisation, team_id=lyon.id, user=made["site"], role="manager")
    add_team_owner(organisation=organisation, team_id=lyon.id, user=made["ana"], role="member")
    add_team_owner(organisation=organisation, team_id=lyon.id, user=made["bob"], role="member")
    return made


def _owner(case: Case) -> str:
    case.refresh_from_db()
    return case.assigned_to.email if case.assigned_to else ""


def _ladder(org, people, *strategies: str) -> None:  # noqa: ANN001
    save_assignment_rules(
        organisation=org.organisation,
        steps=[
            {"strategy": s, "user_id": people["fallback"].pk if s == "fallback" else None} for s in strategies
        ],
    )


def test_the_agents_team_lead_owns_the_case(org, people, respond) -> None:
    _ladder(org, people, "team_lead", "site_manager", "fallback")
    respond(nps=3)
    case = Case.objects.get()
    assert _owner(case) == "lead@example.fr"
    assert case.events.filter(kind="assigned").exists()


def test_round_robin_takes_turns_in_the_team(org, people, respond) -> None:
    _ladder(org, people, "round_robin")
    owners = [_owner(Case.objects.get(response=respond(customer=f"C-{n}", nps=2))) for n in range(4)]
    assert owners == ["ana@example.fr", "bob@example.fr", "ana@example.fr", "bob@example.fr"]


def test_a_case_without_a_team_goes_to_the_fallback(org, people, respond) -> None:
    _ladder(org, people, "team_lead", "fallback")
    respond(nps=2, team=None)
    assert _owner(Case.objects.get()) == "fallback@example.fr"


@pytest.mark.clock
def test_escalation_counts_open_hours_across_a_weekend_and_christmas(org, people, respond, settings) -> None:
    """Opened Thursday 24 December 2026 at 15:00 with an SLA of 8 open hours (Mon–Fri 9–18):
    3 hours on Thursday, Friday is Christmas, then the weekend: due Monday 28 at 14:00."""
    settings.AVIS_INVITATION_TTL_DAYS = 60
    _ladder(org, people, "team_lead", "site_manager", "fallback")
    save_calendar(
        organisation=org.organisation,
        hours={str(day): ["09:00", "18:00"] for day in range(5)},
        sla_hours=8,
    )
    respond(nps=1, at=datetime(2026, 12, 24, 15, 0, tzinfo=PARIS))
    case = Case.objects.get()
    assert case.due_at == datetime(2026, 12, 28, 14, 0, tzinfo=PARIS)

    assert escalate_overdue_cases(now=datetime(2026, 12, 25, 15, 0, tzinfo=PARIS)) == 0
    assert escalate_overdue_cases(now=datetime(2026, 12, 28, 13, 59, tzinfo=PARIS)) == 0
    assert _owner(case) == "lead@example.fr"

    assert escalate_overdue_cases(now=datetime(2026, 12, 28, 14, 0, tzinfo=PARIS)) == 1
    assert _owner(case) == "site@example.fr"
    assert case.escalation_level == 1
    assert case.due_at == datetime(2026, 12, 29, 13, 0, tzinfo=PARIS)  # 4 h Monday + 4 h Tuesday
    assert escalate_overdue_cases(now=datetime(2026, 12, 28, 14, 1, tzinfo=PARIS)) == 0  # ran twice: once

    assert escalate_overdue_cases(now=datetime(2026, 12, 29, 13, 0, tzinfo=PARIS)) == 1
    assert _owner(case) == "fallback@example.fr"
    escalated = case.events.filter(kind="escalated")
    assert [e.note for e in escalated] == ["site@example.fr", "fallback@example.fr"]


@pytest.mark.clock
def test_a_case_contacted_in_time_is_not_escalated(org, people, respond, settings) -> None:
    settings.AVIS_INVITATION_TTL_DAYS = 60
    _ladder(org, people, "team_lead", "site_manager")
    respond(nps=1, at=datetime(2026, 12, 24, 15, 0, tzinfo=PARIS))
    case = Case.objects.get()
    from avis.cases.services import mark_customer_contacted

    mark_customer_contacted(
        organisation=org.organisation,
        case_id=case.id,
        user=people["lead"],
        at=datetime(2026, 12, 28, 10, 0, tzinfo=PARIS),
    )
    assert escalate_overdue_cases(now=datetime(2026, 12, 30, 10, 0, tzinfo=PARIS)) == 0
    assert _owner(case) == "lead@example.fr"


@pytest.mark.clock
def test_escalation_emails_the_new_owner(org, people, respond, settings, smtp_server) -> None:
    settings.AVIS_INVITATION_TTL_DAYS = 60
    _ladder(org, people, "team_lead", "site_manager")
    respond(nps=1, at=datetime(2026, 12, 24, 15, 0, tzinfo=PARIS))
    escalate_overdue_cases(now=datetime(2026, 12, 28, 14, 0, tzinfo=PARIS))
    from avis.messaging.models import OutboundMessage

    subjects = dict(OutboundMessage.objects.values_list("recipient", "subject"))
    assert "lead@example.fr" in subjects
    assert "site@example.fr" in subjects
    assert org.manager_email not in subjects  # an owner is known: managers are not flooded


def test_the_ladder_and_calendar_are_set_through_the_api(org, people, api, respond) -> None:
    ladder = api.put(
        "/api/v1/cases/assignment",
        {"steps": [{"strategy": "site_manager"}, {"strategy": "fallback", "user_id": people["fallback"].pk}]},
        content_type="application/json",
    )
    assert ladder.status_code == 200, ladder.content
    calendar = api.put(
        "/api/v1/cases/calendar",
        {"hours": {"5": ["10:00", "12:00"]}, "sla_hours": 2},
        content_type="application/json",
    )
    assert calendar.json()["country"] == "FR"
    respond(nps=2)
    case = Case.objects.get()
    assert _owner(case) == "site@example.fr"
    assert case.due_at.astimezone(PARIS).weekday() == 5  # Saturdays only


def test_a_person_from_another_organisation_cannot_be_the_fallback(org, other_org, api) -> None:
    stranger = add_member(
        organisation=other_org.organisation, email="x@elsewhere.fr", role=Role.MANAGER, password=PASSWORD
    ).user
    reply = api.put(
        "/api/v1/cases/assignment",
        {"steps": [{"strategy": "fallback", "user_id": stranger.pk}]},
        content_type="application/json",
    )
    assert reply.status_code == 404


def test_the_escalation_email_says_it_is_an_escalation_not_a_new_case(
    org, people, respond, settings, smtp_server
) -> None:
    """Both e-mails, as received by the SMTP server: each its own wording, plain text without entities.

    The clock is set (the case e-mails are queued "now"): the answer on 24 December, the
    escalation and the deliveries four days later."""
    from avis.messaging.dispatch import deliver_message
    from avis.messaging.models import OutboundMessage

    settings.AVIS_INVITATION_TTL_DAYS = 60
    _ladder(org, people, "team_lead", "site_manager")
    comment = "25 minutes d'attente avant d'avoir quelqu'un"
    answered, later = datetime(2026, 12, 24, 15, 0, tzinfo=PARIS), datetime(2026, 12, 28, 14, 0, tzinfo=PARIS)
    with time_machine.travel(answered, tick=False):
        respond(nps=1, comment=comment, at=answered)
    with time_machine.travel(later, tick=False):
        escalate_overdue_cases(now=later)
        for message in OutboundMessage.objects.filter(channel="email", status="pending"):
            deliver_message(message_id=message.id, now=later)
    (opened,) = smtp_server.to("lead@example.fr")
    (escalated,) = smtp_server.to("site@example.fr")
    new_case = opened.get_payload(decode=True).decode()
    escalation = escalated.get_payload(decode=True).decode()
    case = Case.objects.get()
    assert f"Le dossier {case.id} est ouvert." in new_case
    assert "dépassé son échéance" not in new_case
    assert f"Le dossier {case.id} (« " in escalation and "a dépassé son échéance" in escalation
    assert "niveau 1" in escalation
    assert "est ouvert" not in escalation
    assert opened["Subject"] != escalated["Subject"]
    for body in (new_case, escalation):
        assert comment in body
        assert "&#x27;" not in body and "&amp;" not in body and "&quot;" not in body
