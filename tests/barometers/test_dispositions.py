"""Each sampled case of a wave ends with one AAPOR disposition, read from the contact ledger; the
wave's and each stratum's outcome rates follow (formulas checked in tests/analytics/test_aapor.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction as F
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from avis.barometers.dispositions import assign_dispositions, case_dispositions, wave_rates
from avis.barometers.models import SampledCase
from avis.customers.models import Customer, EmailStatus, OptOut
from avis.messaging.models import Conversation, ConversationEnd, DeliveryStatus, OutboundMessage
from avis.surveys.models import Question, Survey
from avis.surveys.queries import forget_version_questions
from tests.analytics.answering import survey_and_answer
from tests.barometers.waves import make_wave, sample
from tests.helpers import open_all_day

pytestmark = pytest.mark.django_db(transaction=True)
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def fieldwork(org):  # noqa: ANN001, ANN201
    """Ten sampled customers, one for each way a case can end."""
    organisation = org.organisation
    open_all_day(organisation)
    started = timezone.now() - timedelta(hours=1)
    responses = survey_and_answer(
        org, datetime(2026, 3, 3, 11, tzinfo=PARIS), [9, *[None] * 7], agent_scores=["5"] * 8
    )
    invitation = responses[0].invitation
    survey, version = invitation.survey, invitation.version
    # Three essential questions: NPS, resolved and the agent's score (a test's shortcut).
    Question.objects.filter(version=version, code__in=["resolved", "agent"]).update(required=True)
    forget_version_questions()
    others = sorted(
        (m.invitation for m in OutboundMessage.objects.filter(organisation=organisation)),
        key=lambda i: i.pk,
    )
    invitations = [invitation, *(i for i in others if i.pk != invitation.pk)]
    wave, north, south = make_wave(organisation, survey, started=started)
    cases = [sample(wave, north, i.customer, invitation=i, channel=i.channel) for i in invitations]
    complete, partial, broke_off, stop, delivered, silent, bounced, erased = invitations
    for invitation, answers in ((partial, {"nps": "8", "resolved": "yes"}), (broke_off, {"nps": "3"})):
        Conversation.objects.create(
            organisation=organisation,
            invitation=invitation,
            customer=invitation.customer,
            phone="+33612345678",
            answers=answers,
            state="closed",
            end_reason=ConversationEnd.IDLE,
        )
    OptOut.objects.create(organisation=organisation, customer=stop.customer, source="sms")
    OutboundMessage.objects.filter(invitation=delivered).update(delivery_status=DeliveryStatus.DELIVERED)
    OutboundMessage.objects.filter(invitation=bounced).update(delivery_status=DeliveryStatus.UNDELIVERED)
    Customer.objects.filter(pk=bounced.customer_id).update(email_status=EmailStatus.INVALID)
    Customer.objects.filter(pk=erased.customer_id).update(external_id=f"erased-{erased.customer_id}")
    no_channel = Customer.objects.create(organisation=organisation, external_id="C-no-channel")
    cases.append(sample(wave, north, no_channel, not_sent_reason="no_channel"))
    quota = Customer.objects.create(organisation=organisation, external_id="C-quota", email="q@example.fr")
    cases.append(sample(wave, south, quota))  # its stratum wants no complete: full before it left
    return wave, cases, silent


def test_each_case_ends_with_the_disposition_its_facts_give(fieldwork) -> None:  # noqa: ANN001
    wave, cases, _silent = fieldwork
    found = {d.case_id: (d.disposition.value, d.reason, d.final) for d in case_dispositions(wave=wave)}
    assert [found[case.pk][:2] for case in cases] == [
        ("I", "complete"),
        ("P", "partial"),  # 2 of 3 essential questions
        ("R", "break_off"),  # 1 of 3
        ("R", "stop"),
        ("UO", "delivered_no_reply"),
        ("UH", "sent_no_reply"),
        ("NE", "bounced"),
        ("O", "erased"),
        ("NC", "not_sent"),
        ("NE", "quota_full"),
    ]
    assert not any(final for *_, final in found.values())  # fieldwork still running: provisional


def test_the_wave_and_each_stratum_have_every_outcome_rate(fieldwork) -> None:  # noqa: ANN001
    wave, _cases, _silent = fieldwork
    rates = wave_rates(wave=wave)
    counts = rates.overall.counts
    assert counts.as_dict() == {"I": 1, "P": 1, "R": 2, "NC": 1, "O": 1, "UH": 1, "UO": 1, "NE": 2}
    # e = (I+P+R+NC+O) / (… + NE) = 6 / 8; by hand from the Standard Definitions' formulas:
    assert rates.overall.eligibility.e == F(3, 4) and rates.overall.eligibility.method == "known_share"
    assert rates.overall["RR1"] == F(1, 8) and rates.overall["RR2"] == F(2, 8)
    assert rates.overall["RR3"] == F(1, 6 + F(3, 4) * 2) and rates.overall["RR5"] == F(1, 6)
    assert rates.overall["COOP1"] == F(1, 5) and rates.overall["COOP4"] == F(2, 4)
    assert rates.overall["REF1"] == F(2, 8) and rates.overall["CON1"] == F(5, 8)
    assert rates.overall["CON3"] == F(5, 6)
    north, south = rates.strata
    assert (north.stratum.key, north.rates.counts.total, north.rates.counts.NE) == ("north", 9, 1)
    assert north.rates.eligibility.method == "wave_share" and north.rates.eligibility.e == F(3, 4)
    assert north.rates["RR1"] == F(1, 8)
    assert south.rates.counts.NE == 1 and south.rates["RR1"] is None  # no eligible case: no rate
    assert not rates.final


def test_closing_stores_final_dispositions_that_later_facts_do_not_change(fieldwork) -> None:  # noqa: ANN001
    wave, cases, silent = fieldwork
    counts = assign_dispositions(wave=wave, now=timezone.now())
    assert counts.total == 10
    stored = SampledCase.objects.get(pk=cases[5].pk)
    assert (stored.disposition, stored.disposition_reason) == ("UH", "sent_no_reply")
    assert stored.disposed_at is not None
    # A receipt arriving after the close changes nothing: the disposition is final.
    OutboundMessage.objects.filter(invitation=silent).update(delivery_status=DeliveryStatus.DELIVERED)
    rates = wave_rates(wave=wave)
    assert rates.final and rates.overall.counts.UH == 1 and rates.overall.counts.UO == 1
    assert assign_dispositions(wave=wave).as_dict() == counts.as_dict()


def test_a_wave_counts_only_its_own_organisation_s_cases(fieldwork, other_org) -> None:  # noqa: ANN001
    wave, _cases, _silent = fieldwork
    survey = Survey.objects.filter(organisation=other_org.organisation).first()
    theirs, stratum, _ = make_wave(other_org.organisation, survey, started=timezone.now())
    customer = Customer.objects.create(organisation=other_org.organisation, external_id="C-1")
    sample(theirs, stratum, customer)
    assert wave_rates(wave=theirs).overall.counts.as_dict() == {
        **dict.fromkeys("I P R NC O UH UO NE".split(), 0),
        "NC": 1,
    }
    assert wave_rates(wave=wave).overall.counts.total == 10


def test_a_wave_without_cases_has_no_rate(org) -> None:  # noqa: ANN001
    survey = Survey.objects.filter(organisation=org.organisation).first()
    wave, _north, _south = make_wave(org.organisation, survey, started=timezone.now())
    rates = wave_rates(wave=wave)
    assert rates.overall.counts.total == 0 and rates.overall["RR1"] is None and not rates.final


def test_a_soft_failure_is_not_a_bounce_and_our_own_failure_is_a_non_contact(org) -> None:  # noqa: ANN001
    open_all_day(org.organisation)
    survey_and_answer(org, datetime(2026, 3, 3, 11, tzinfo=PARIS), [None, None])
    failed, undelivered = sorted(
        (m.invitation for m in OutboundMessage.objects.filter(organisation=org.organisation)),
        key=lambda i: i.pk,
    )
    wave, north, _south = make_wave(
        org.organisation, failed.survey, started=timezone.now() - timedelta(hours=1)
    )
    # The provider refused to take the message (our side); the other was not delivered (a phone
    # switched off), which the fieldwork marks as bounced to stop reminders: its address is valid.
    OutboundMessage.objects.filter(invitation=failed).update(status="failed")
    OutboundMessage.objects.filter(invitation=undelivered).update(delivery_status=DeliveryStatus.UNDELIVERED)
    first = sample(wave, north, failed.customer, invitation=failed, channel=failed.channel)
    second = sample(
        wave,
        north,
        undelivered.customer,
        invitation=undelivered,
        channel=undelivered.channel,
        bounced_at=timezone.now(),
    )
    found = {d.case_id: (d.disposition.value, d.reason) for d in case_dispositions(wave=wave)}
    assert found[first.pk] == ("NC", "not_sent")
    assert found[second.pk] == ("UH", "sent_no_reply")


@pytest.fixture(autouse=True)
def _a_weekday_morning_in_paris():
    """The wave's dates and deadlines are read from one set instant, not the machine's clock."""
    import time_machine

    with time_machine.travel(datetime(2026, 12, 2, 9, 30, tzinfo=UTC), tick=True):
        yield
